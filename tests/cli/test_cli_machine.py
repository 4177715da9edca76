"""``clerk-auth verify``, ``mint`` and ``decode`` with machine tokens, against the mock
issuer on loopback: M2M and OAuth JWTs with the instance's keys, opaque API keys, M2M
and OAuth tokens through its Backend API verify endpoints.

Every run checks that neither the secret keys nor the token reach the output (only
``mint`` prints a token)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import CLI, Run

from clerk_auth_core import REASONS
from clerk_auth_core.testing import MockClerk

T = 1_714_564_800  # 2024-05-01T12:00:00Z

#: The keys of every machine-token ``--json`` document, valid or not.
DOCUMENT_KEYS = [
    "valid",
    "token_type",
    "form",
    "reason",
    "message",
    "status",
    "hint",
    "details",
    "claims",
    "checks",
]


def _secret_free(result: Run, clerk: MockClerk, *tokens: str) -> None:
    for secret in (clerk.secret_key, clerk.machine.machine_secret_key, *tokens):
        assert secret not in result.both


def _verify(cli: CLI, token: str, env: dict[str, str], *extra: str) -> tuple[Run, dict[str, Any]]:
    result = cli("verify", "-", "--json", *extra, env=env, stdin=token)
    return result, json.loads(result.out) if result.out else {}


class TestMachineJwts:
    """Verified locally with the instance's keys: one JWKS fetch, no Backend API call."""

    def test_m2m_jwt(self, cli: CLI, fresh_clerk: MockClerk, backend_env: dict[str, str]) -> None:
        token = fresh_clerk.machine.mint_m2m_jwt(subject="mch_worker", scopes=["mch_a", "mch_b"])
        result, doc = _verify(cli, token, backend_env)
        assert result.code == 0, result.err
        assert list(doc) == DOCUMENT_KEYS
        assert (doc["valid"], doc["token_type"], doc["form"]) == (True, "m2m_token", "jwt")
        assert doc["reason"] is None
        claims = doc["claims"]
        assert claims["subject"] == claims["machine_id"] == "mch_worker"
        assert claims["scopes"] == ["mch_a", "mch_b"]
        assert claims["source"] == "jwt"
        assert claims["payload"]["sub"] == "mch_worker"
        assert doc["checks"]["keys"].startswith("Backend API JWKS")
        assert fresh_clerk.jwks_hits == 1
        assert fresh_clerk.machine.total_calls == 0
        # iss and azp are configured, and said not to apply (as on a server).
        assert "iss and azp are not checked for machine JWTs" in result.err
        _secret_free(result, fresh_clerk, token)

    def test_oauth_jwt_human_output(
        self, cli: CLI, fresh_clerk: MockClerk, backend_env: dict[str, str]
    ) -> None:
        token = fresh_clerk.machine.mint_oauth_jwt(
            subject="user_7", client_id="client_agent", scopes=["read:docs", "write:docs"], iat=T
        )
        result = cli("verify", "-", "--now", str(T + 60), env=backend_env, stdin=token)
        assert result.code == 0, result.err
        lines = result.out.splitlines()
        assert lines[0] == "VALID: an OAuth access token (JWT), verified with the instance's keys"
        rows = {line.split()[0]: line.split(None, 1)[1] for line in lines[1:]}
        assert rows["token_type"] == "oauth_token"
        assert rows["subject"] == "user_7"
        assert rows["client_id"] == "client_agent"
        assert rows["scopes"] == "read:docs, write:docs"
        assert rows["expires_at"] == "2024-05-01T13:00:00Z (in 59m)"
        # Valid, but a default server would refuse its kind: stderr says so.
        assert "the default: session tokens only" in result.err
        _secret_free(result, fresh_clerk, token)

    def test_another_instances_key_is_refused(
        self, cli: CLI, fresh_clerk: MockClerk, backend_env: dict[str, str]
    ) -> None:
        fresh_clerk.add_foreign_key("ins_elsewhere")
        token = fresh_clerk.machine.mint_m2m_jwt(header={"kid": "ins_elsewhere"})
        result, doc = _verify(cli, token, backend_env)
        assert (result.code, doc["reason"]) == (1, "jwk-kid-mismatch")
        assert doc["details"]["jwks_kids"] == [fresh_clerk.kid]
        assert doc["status"] == 401

    def test_foreign_category_is_refused_before_any_fetch(
        self, cli: CLI, fresh_clerk: MockClerk, backend_env: dict[str, str]
    ) -> None:
        token = fresh_clerk.machine.mint_m2m_jwt(cat="cl_B7d4PD222AAA")
        result, doc = _verify(cli, token, backend_env)
        assert (result.code, doc["token_type"], doc["reason"]) == (1, "m2m_token", "token-invalid")
        assert "cl_B7d4PD333AAA" in doc["hint"]
        assert fresh_clerk.jwks_hits == 0

    def test_expired_machine_jwt_hint(
        self, cli: CLI, fresh_clerk: MockClerk, backend_env: dict[str, str]
    ) -> None:
        token = fresh_clerk.machine.mint_oauth_jwt(iat=T, lifetime=600)
        result, doc = _verify(cli, token, backend_env, "--now", str(T + 600 + 75))
        assert (result.code, doc["reason"]) == (1, "token-expired")
        assert doc["details"] == {"exp": T + 600, "now": T + 675, "seconds_ago": 75}
        assert "expired 1m15s ago" in doc["hint"]
        assert "it lived 10m" in doc["hint"]

    def test_keys_unavailable_exit_3(
        self, cli: CLI, fresh_clerk: MockClerk, backend_env: dict[str, str]
    ) -> None:
        token = fresh_clerk.machine.mint_m2m_jwt()
        fresh_clerk.set_fault("down")
        result = cli("verify", "-", env=backend_env, stdin=token)
        assert result.code == 3
        assert result.out == ""
        assert "jwk-remote-failed-to-load" in result.err


class TestOpaqueTokens:
    """One Backend API call each, with the secret key; no JWKS fetch."""

    def test_api_key(self, cli: CLI, fresh_clerk: MockClerk, backend_env: dict[str, str]) -> None:
        token = fresh_clerk.machine.mint_api_key(
            subject="org_9", name="ci-key", scopes=["read"], claims={"tier": "pro"}
        )
        result, doc = _verify(cli, token, backend_env)
        assert result.code == 0, result.err
        assert list(doc) == DOCUMENT_KEYS
        assert (doc["token_type"], doc["form"]) == ("api_key", "opaque")
        claims = doc["claims"]
        assert (claims["subject"], claims["org_id"], claims["user_id"]) == ("org_9", "org_9", None)
        assert (claims["name"], claims["scopes"]) == ("ci-key", ["read"])
        assert claims["claims"] == {"tier": "pro"}
        assert claims["expires_at"] is None
        assert "payload" not in claims  # the Backend API's answer is not copied whole
        assert doc["checks"]["credential"] == "CLERK_SECRET_KEY"
        assert doc["checks"]["api_url"] == fresh_clerk.url
        assert fresh_clerk.machine.calls == {"api_key": 1}
        assert fresh_clerk.jwks_hits == 0
        _secret_free(result, fresh_clerk, token)

    def test_api_key_human_output(
        self, cli: CLI, fresh_clerk: MockClerk, backend_env: dict[str, str]
    ) -> None:
        token = fresh_clerk.machine.mint_api_key(subject="user_3", name="cli", scopes=["a", "b"])
        result = cli("verify", "-", env=backend_env, stdin=token)
        assert result.code == 0, result.err
        assert result.out.startswith("VALID: an API key (opaque), verified by Clerk\n")
        assert "  name          cli\n" in result.out
        assert "  scopes        a, b\n" in result.out
        assert "  expires_at    never\n" in result.out
        assert f"Backend API {fresh_clerk.url} (with CLERK_SECRET_KEY)" in result.err
        _secret_free(result, fresh_clerk, token)

    def test_m2m_token_with_the_machine_secret_key_only(
        self, cli: CLI, fresh_clerk: MockClerk
    ) -> None:
        token = fresh_clerk.machine.mint_m2m_token(subject="mch_cron", scopes=["mch_db"])
        env = {
            "CLERK_MACHINE_SECRET_KEY": fresh_clerk.machine.machine_secret_key,
            "CLERK_API_URL": fresh_clerk.url,
        }
        result, doc = _verify(cli, token, env)
        assert result.code == 0, result.err
        assert doc["claims"]["machine_id"] == "mch_cron"
        assert doc["claims"]["scopes"] == ["mch_db"]
        assert doc["checks"]["credential"] == "CLERK_MACHINE_SECRET_KEY"
        assert fresh_clerk.machine.calls == {"m2m_token": 1}
        _secret_free(result, fresh_clerk, token)

    def test_oauth_token(
        self, cli: CLI, fresh_clerk: MockClerk, backend_env: dict[str, str]
    ) -> None:
        token = fresh_clerk.machine.mint_oauth_token(
            subject="user_5", client_id="client_mcp", scopes=["profile"]
        )
        result, doc = _verify(cli, token, backend_env)
        assert result.code == 0, result.err
        assert doc["token_type"] == "oauth_token"
        assert (doc["claims"]["user_id"], doc["claims"]["client_id"]) == ("user_5", "client_mcp")
        assert fresh_clerk.machine.calls == {"oauth_token": 1}
        _secret_free(result, fresh_clerk, token)

    def test_revoked_token_as_clerk_answers_it(
        self, cli: CLI, fresh_clerk: MockClerk, backend_env: dict[str, str]
    ) -> None:
        # Clerk's Backend API answers 404 for a revoked key, as for an unknown one.
        token = fresh_clerk.machine.mint_api_key()
        fresh_clerk.machine.revoke(token)
        result = cli("verify", "-", env=backend_env, stdin=token)
        assert result.code == 1
        assert result.out.splitlines()[:2] == ["INVALID: token-invalid", "  API key not found."]
        assert "revoked or expired" in result.out
        _secret_free(result, fresh_clerk, token)

    @pytest.mark.parametrize(
        ("change", "reason", "hint"),
        [
            ("revoke", "token-revoked", "machine_cache_ttl"),
            ("expire", "token-expired", "create a new m2m_token"),
        ],
    )
    def test_revoked_or_expired_flags_in_the_answer(
        self,
        cli: CLI,
        fresh_clerk: MockClerk,
        backend_env: dict[str, str],
        change: str,
        reason: str,
        hint: str,
    ) -> None:
        # An answer of 200 with revoked/expired set is refused all the same.
        token = fresh_clerk.machine.mint_m2m_token()
        getattr(fresh_clerk.machine, change)(token)
        fresh_clerk.machine.flags_in_body = True
        result, doc = _verify(cli, token, backend_env)
        assert (result.code, doc["valid"], doc["reason"]) == (1, False, reason)
        assert (doc["status"], doc["claims"]) == (401, None)
        assert hint in doc["hint"]

    @pytest.mark.parametrize("fault", ["down", "500", "garbage"])
    def test_backend_api_unavailable_is_the_503_reason(
        self, cli: CLI, fresh_clerk: MockClerk, backend_env: dict[str, str], fault: Any
    ) -> None:
        token = fresh_clerk.machine.mint_api_key()
        fresh_clerk.machine.set_fault(fault)
        result, doc = _verify(cli, token, backend_env)
        assert result.code == 3
        assert doc["reason"] == "unexpected-error"
        assert doc["status"] == REASONS["unexpected-error"].status == 503
        assert "the token may be fine" in doc["hint"]
        assert doc["details"]["detail"]
        human = cli("verify", "-", env=backend_env, stdin=token)
        assert human.code == 3
        assert human.out == ""  # no verdict: the token may be fine
        assert "cannot verify: unexpected-error" in human.err
        assert "answers 503 with Retry-After" in human.err
        _secret_free(human, fresh_clerk, token)

    def test_refused_secret_key_exits_3(
        self, cli: CLI, fresh_clerk: MockClerk, backend_env: dict[str, str]
    ) -> None:
        token = fresh_clerk.machine.mint_oauth_token()
        wrong = "sk_test_not_the_right_one"
        result, doc = _verify(cli, token, {**backend_env, "CLERK_SECRET_KEY": wrong})
        assert (result.code, doc["reason"], doc["status"]) == (3, "secret-key-invalid", 500)
        assert "CLERK_SECRET_KEY" in doc["hint"]
        assert wrong not in result.both
        _secret_free(result, fresh_clerk, token)

    @pytest.mark.parametrize(
        ("mint", "keys", "message"),
        [
            ("mint_api_key", (), "an API key (opaque): Clerk's Backend API verifies it"),
            ("mint_m2m_token", (), "CLERK_SECRET_KEY or CLERK_MACHINE_SECRET_KEY"),
            ("mint_oauth_token", ("CLERK_MACHINE_SECRET_KEY",), "requires CLERK_SECRET_KEY"),
            ("mint_api_key", ("CLERK_MACHINE_SECRET_KEY",), "requires CLERK_SECRET_KEY"),
        ],
    )
    def test_missing_secret_key_is_a_usage_error(
        self, cli: CLI, fresh_clerk: MockClerk, mint: str, keys: tuple[str, ...], message: str
    ) -> None:
        token = getattr(fresh_clerk.machine, mint)()
        env = {"CLERK_API_URL": fresh_clerk.url}
        env.update({name: fresh_clerk.machine.machine_secret_key for name in keys})
        result = cli("verify", "-", "--json", env=env, stdin=token)
        assert result.code == 2
        assert result.out == ""
        assert message in result.err
        assert fresh_clerk.machine.total_calls == 0
        _secret_free(result, fresh_clerk, token)

    def test_verify_as_a_process(self, fresh_clerk: MockClerk, backend_env: dict[str, str]) -> None:
        # The console route: the key on stdin, the secret key in the environment only.
        token = fresh_clerk.machine.mint_api_key(subject="user_proc", scopes=["x"])
        environ = {k: v for k, v in os.environ.items() if not k.startswith("CLERK_")}
        verdict = subprocess.run(
            [sys.executable, "-m", "clerk_auth_core", "verify", "-", "--json"],
            input=token, capture_output=True, text=True, env={**environ, **backend_env},
            timeout=30,
        )  # fmt: skip
        assert verdict.returncode == 0, verdict.stderr
        assert json.loads(verdict.stdout)["claims"]["user_id"] == "user_proc"
        assert fresh_clerk.machine.calls == {"api_key": 1}
        for secret in (fresh_clerk.secret_key, token):
            assert secret not in verdict.stdout + verdict.stderr

    def test_malformed_secret_key_is_refused_before_any_call(
        self, cli: CLI, fresh_clerk: MockClerk
    ) -> None:
        token = fresh_clerk.machine.mint_api_key()
        env = {"CLERK_SECRET_KEY": "not-a-key", "CLERK_API_URL": fresh_clerk.url}
        result = cli("verify", "-", env=env, stdin=token)
        assert result.code == 2
        assert "CLERK_SECRET_KEY is not a valid Clerk secret key" in result.err
        assert "not-a-key" not in result.both
        assert fresh_clerk.machine.total_calls == 0


class TestAccepts:
    """``--accepts``: a route's accepts_token, checked before any key or Backend API."""

    def test_kind_not_accepted_costs_no_call(
        self, cli: CLI, fresh_clerk: MockClerk, backend_env: dict[str, str]
    ) -> None:
        token = fresh_clerk.machine.mint_api_key()
        result, doc = _verify(cli, token, backend_env, "--accepts", "m2m_token,oauth_token")
        assert result.code == 1
        assert list(doc) == DOCUMENT_KEYS
        assert (doc["reason"], doc["token_type"], doc["form"]) == (
            "token-type-mismatch",
            "api_key",
            "opaque",
        )
        assert doc["message"] == (
            "This route does not accept api_key tokens (it accepts m2m_token, oauth_token)."
        )
        assert doc["details"] == {"token_type": "api_key", "accepts": "m2m_token, oauth_token"}
        assert fresh_clerk.machine.total_calls == 0
        assert fresh_clerk.jwks_hits == 0

    def test_session_token_on_a_machine_route(
        self, cli: CLI, fresh_clerk: MockClerk, backend_env: dict[str, str]
    ) -> None:
        result = cli(
            "verify", "-", "--accepts", "api_key", env=backend_env, stdin=fresh_clerk.mint()
        )
        assert result.code == 1
        assert result.out.splitlines()[0] == "INVALID: token-type-mismatch"
        assert "this is a Clerk session token" in result.out
        assert fresh_clerk.jwks_hits == 0

    def test_accepted_kinds_verify(
        self, cli: CLI, fresh_clerk: MockClerk, backend_env: dict[str, str]
    ) -> None:
        session = fresh_clerk.mint(sub="user_same")
        plain, plain_doc = _verify(cli, session, backend_env)
        accepted, accepted_doc = _verify(cli, session, backend_env, "--accepts", "any")
        assert plain.code == accepted.code == 0
        # A session token the route accepts takes the session path, unchanged.
        plain_doc["checks"].pop("now")
        accepted_doc["checks"].pop("now")
        assert accepted_doc == plain_doc
        token = fresh_clerk.machine.mint_m2m_jwt()
        result, doc = _verify(cli, token, backend_env, "--accepts", "m2m_token")
        assert result.code == 0
        assert doc["checks"]["accepts"] == "m2m_token"
        assert "--accepts checks a setting" not in result.err

    def test_unknown_kind_is_a_usage_error(self, cli: CLI) -> None:
        result = cli("verify", "ak_x", "--accepts", "api_keys")
        assert result.code == 2
        assert "unknown token kind 'api_keys'" in result.err


class TestMintMachineJwts:
    @pytest.fixture
    def keys(self, cli: CLI, tmp_path: Path) -> tuple[str, str]:
        private, public = tmp_path / "dev.pem", tmp_path / "dev.pub.pem"
        public.write_text(cli("mint", "--key-file", str(private), "--print-pem").out)
        return str(private), str(public)

    def test_m2m_round_trip(self, cli: CLI, keys: tuple[str, str]) -> None:
        private, public = keys
        minted = cli(
            "mint", "--key-file", private, "--kind", "m2m", "--sub", "mch_ci",
            "--scopes", "mch_db mch_queue", "--scopes", "mch_cache", "--now", str(T), "--json",
        )  # fmt: skip
        assert minted.code == 0, minted.err
        out = json.loads(minted.out)
        assert out["token_type"] == "m2m_token"
        assert out["header"]["cat"] == "cl_B7d4PD333AAA"
        assert out["claims"]["scopes"] == "mch_db mch_queue mch_cache"
        assert out["claims"]["exp"] - out["claims"]["iat"] == 3600
        result, doc = _verify(cli, out["token"], {}, "--pem", public, "--now", str(T + 5))
        assert result.code == 0, result.err
        assert doc["claims"]["machine_id"] == "mch_ci"
        assert doc["claims"]["scopes"] == ["mch_db", "mch_queue", "mch_cache"]

    def test_oauth_round_trip(self, cli: CLI, keys: tuple[str, str]) -> None:
        private, public = keys
        token = cli(
            "mint", "--key-file", private, "--kind", "oauth", "--client-id", "client_x",
            "--scopes", "read,write", "--lifetime", "120", "--now", str(T),
        ).out.strip()  # fmt: skip
        result, doc = _verify(cli, token, {}, "--pem", public, "--now", str(T + 119))
        assert result.code == 0, result.err
        assert doc["token_type"] == "oauth_token"
        assert (doc["claims"]["client_id"], doc["claims"]["scopes"]) == (
            "client_x",
            ["read", "write"],
        )
        assert doc["claims"]["expires_at"] == T + 120

    def test_expired_machine_jwt(self, cli: CLI, keys: tuple[str, str]) -> None:
        private, public = keys
        token = cli("mint", "--key-file", private, "--kind", "m2m", "--lifetime", "0").out
        result, doc = _verify(cli, token.strip(), {}, "--pem", public)
        assert (result.code, doc["reason"]) == (1, "token-expired")

    def test_wrong_key_is_a_signature_failure(
        self, cli: CLI, keys: tuple[str, str], tmp_path: Path
    ) -> None:
        _, public = keys
        token = cli("mint", "--key-file", str(tmp_path / "other.pem"), "--kind", "oauth").out
        result, doc = _verify(cli, token.strip(), {}, "--pem", public)
        assert (result.code, doc["reason"]) == (1, "token-invalid-signature")

    @pytest.mark.parametrize(
        ("argv", "message"),
        [
            (("--kind", "m2m", "--sid", "sess_1"), "--sid shapes session tokens only"),
            (("--kind", "oauth", "--org-id", "org_1"), "--org-id shapes session tokens only"),
            (("--kind", "m2m", "--client-id", "c"), "--kind oauth only"),
            (("--scopes", "read"), "pass --kind m2m|oauth"),
        ],
    )
    def test_options_of_another_kind(self, cli: CLI, argv: tuple[str, ...], message: str) -> None:
        result = cli("mint", *argv)
        assert result.code == 2
        assert message in result.err
        assert result.out == ""

    def test_mint_and_verify_as_processes(self, keys: tuple[str, str]) -> None:
        # The console route, as docs/cli.md shows it: the token on stdin, not argv.
        private, public = keys
        environ = {k: v for k, v in os.environ.items() if not k.startswith("CLERK_")}
        command = [sys.executable, "-m", "clerk_auth_core"]
        minted = subprocess.run(
            [*command, "mint", "--key-file", private, "--kind", "m2m", "--sub", "mch_proc"],
            capture_output=True, text=True, env=environ, timeout=30, check=True,
        )  # fmt: skip
        token = minted.stdout.strip()
        verdict = subprocess.run(
            [*command, "verify", "-", "--pem", public, "--accepts", "m2m_token"],
            input=token, capture_output=True, text=True, env=environ, timeout=30,
        )  # fmt: skip
        assert verdict.returncode == 0, verdict.stderr
        assert verdict.stdout.startswith("VALID: an M2M token (JWT)")
        assert "  subject       mch_proc\n" in verdict.stdout
        assert token not in verdict.stdout + verdict.stderr


class TestDecode:
    def test_machine_jwt_shows_its_kind(self, cli: CLI, clerk: MockClerk) -> None:
        token = clerk.machine.mint_oauth_jwt()
        result = cli("decode", token)
        assert result.code == 0
        assert result.out.splitlines()[-1] == "kind: oauth_token (from the UNVERIFIED claims)"
        assert json.loads(cli("decode", token, "--json").out)["token_type"] == "oauth_token"
        session = cli("decode", clerk.mint())
        assert "kind:" not in session.out

    def test_opaque_token_is_not_decoded(self, cli: CLI) -> None:
        result = cli("decode", "mt_0123456789abcdef")
        assert result.code == 1
        assert result.out == ""
        assert "an opaque m2m_token token: nothing to decode" in result.err
