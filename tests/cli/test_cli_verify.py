"""``clerk-auth verify``: the verdict, the hint, the exit code, against PEM keys and a JWKS.

Times are pinned with ``--now`` on both sides (mint and verify), so every hint is exact.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import CLI, Mint, Verify

from clerk_auth_core.testing import Fault, MockClerk

T = 1_714_564_800  # 2024-05-01T12:00:00Z
ISS = "https://clerk.mock.test"
AZP = "http://localhost:3000"


@pytest.fixture
def mint(cli: CLI, key_files: tuple[Path, Path]) -> Mint:
    """``mint("--sub", "x")``: a token from ``clerk-auth mint`` with the test key at T."""

    def run(*extra: str) -> str:
        result = cli("mint", "--key-file", str(key_files[0]), "--now", str(T), *extra)
        assert result.code == 0, result.err
        return result.out.strip()

    return run


@pytest.fixture
def verify(cli: CLI, key_files: tuple[Path, Path]) -> Verify:
    """``verify(token, "--now", …)``: ``clerk-auth verify --json`` with the test PEM,
    the default issuer and azp; answers ``(exit code, JSON document, stderr)``."""

    def run(token: str, *extra: str, now: float = T + 1) -> tuple[int, dict[str, Any], str]:
        result = cli(
            "verify",
            token,
            "--pem",
            str(key_files[1]),
            "--issuer",
            ISS,
            "--authorized-party",
            AZP,
            "--now",
            str(now),
            "--json",
            *extra,
        )
        return result.code, json.loads(result.out), result.err

    return run


class TestVerdicts:
    def test_valid_token_prints_its_claims(self, mint: Mint, verify: Verify) -> None:
        token = mint("--sub", "user_42", "--sid", "sess_42")
        code, doc, err = verify(token)
        assert code == 0
        assert doc["valid"] is True
        assert doc["claims"]["user_id"] == "user_42"
        assert doc["claims"]["session_id"] == "sess_42"
        assert doc["claims"]["payload"]["iss"] == ISS
        assert doc["checks"]["authorized_parties"] == [AZP]
        assert "PEM public key from" in err
        assert token not in json.dumps(doc) + err  # verify never echoes the token

    def test_human_output(self, cli: CLI, mint: Mint, key_files: tuple[Path, Path]) -> None:
        token = mint("--org-id", "org_1", "--org-role", "admin", "--org-permission", "org:x:read")
        result = cli("verify", token, "--pem", str(key_files[1]), "--now", str(T + 2))
        assert result.code == 0
        assert result.out.startswith("VALID")
        assert "user_local" in result.out
        assert "org:admin" in result.out
        assert "org:x:read" in result.out
        assert "2024-05-01T12:01:00Z (in 58s)" in result.out  # expires_at, relative to --now
        # What was not checked is said, on stderr.
        assert "iss not checked" in result.err
        assert "azp not checked" in result.err

    @pytest.mark.parametrize(
        ("extra", "now", "reason", "hint"),
        [
            pytest.param((), T + 60 + 192, "token-expired", "expired 3m12s ago", id="expired"),
            pytest.param(
                (), T - 100, "token-not-active-yet", "not valid for another 1m30s", id="nbf"
            ),
            pytest.param(
                ("--claim", f"nbf={T - 300}"),
                T - 100,
                "token-iat-in-the-future",
                "issued 1m40s in the future",
                id="iat-future",
            ),
            pytest.param(
                ("--azp", "http://localhost:5173"),
                T + 1,
                "token-invalid-authorized-parties",
                "azp 'http://localhost:5173', but only ['http://localhost:3000'] are allowed",
                id="azp",
            ),
            pytest.param(
                ("--no-azp",),
                T + 1,
                "token-invalid-authorized-parties",
                "the token has no azp",
                id="no-azp",
            ),
            pytest.param(
                ("--iss", "https://clerk.other.test"),
                T + 1,
                "token-invalid-issuer",
                "'https://clerk.other.test' but 'https://clerk.mock.test' is expected",
                id="issuer",
            ),
            pytest.param(
                ("--lifetime", "7200"),
                T + 1,
                "token-verification-failed",
                "it lives 2h (exp - iat), longer than the 1h",
                id="lifetime-cap",
            ),
            pytest.param(
                ("--sts", "pending"),
                T + 1,
                "session-pending",
                "sts: pending",
                id="pending",
            ),
        ],
    )
    def test_refusals_explain_themselves(
        self,
        mint: Mint,
        verify: Verify,
        extra: tuple[str, ...],
        now: float,
        reason: str,
        hint: str,
    ) -> None:
        code, doc, _ = verify(mint(*extra), now=now)
        assert code == 1
        assert doc["valid"] is False
        assert doc["reason"] == reason
        assert hint in doc["hint"]

    def test_clock_hints_carry_the_numbers(self, mint: Mint, verify: Verify) -> None:
        code, doc, _ = verify(mint(), now=T + 60 + 192)
        assert code == 1
        assert doc["details"] == {"exp": T + 60, "now": T + 252, "seconds_ago": 192}
        assert "check the server clock" in doc["hint"]

    def test_human_refusal(self, cli: CLI, mint: Mint, key_files: tuple[Path, Path]) -> None:
        token = mint()
        result = cli("verify", token, "--pem", str(key_files[1]), "--now", str(T + 600))
        assert result.code == 1
        assert result.out.splitlines()[0] == "INVALID: token-expired"
        assert "hint: expired 9m ago" in result.out

    def test_pending_allowed(self, mint: Mint, verify: Verify) -> None:
        code, doc, _ = verify(mint("--sts", "pending"), "--allow-pending")
        assert code == 0
        assert doc["claims"]["session_status"] == "pending"

    def test_wrong_key_is_a_signature_failure(self, cli: CLI, mint: Mint, tmp_path: Path) -> None:
        other = tmp_path / "other.pem"
        printed = cli("mint", "--key-file", str(other), "--print-pem")
        (tmp_path / "other.pub").write_text(printed.out)
        result = cli(
            "verify", mint(), "--pem", str(tmp_path / "other.pub"), "--now", str(T), "--json"
        )
        doc = json.loads(result.out)
        assert (result.code, doc["reason"]) == (1, "token-invalid-signature")
        assert "another instance's key" in doc["hint"]

    @pytest.mark.parametrize(
        ("token", "hint"),
        [
            ("abc.def", "expected three base64url parts separated by dots, got 2"),
            ("a.b.c", "the header is not base64url-encoded JSON"),
        ],
    )
    def test_malformed(self, verify: Verify, token: str, hint: str) -> None:
        code, doc, _ = verify(token)
        assert (code, doc["reason"]) == (1, "token-invalid")
        assert hint in doc["hint"]


class TestInput:
    def test_stdin_with_a_pasted_header(
        self, cli: CLI, mint: Mint, key_files: tuple[Path, Path]
    ) -> None:
        token = mint()
        pasted = f"  Authorization: Bearer {token}\n"
        result = cli("verify", "-", "--pem", str(key_files[1]), "--now", str(T), stdin=pasted)
        assert result.code == 0, result.both

    def test_jwt_key_from_the_environment(
        self, cli: CLI, mint: Mint, key_files: tuple[Path, Path]
    ) -> None:
        env = {"CLERK_JWT_KEY": key_files[1].read_text().replace("\n", "\\n")}
        result = cli("verify", mint(), "--jwt-key", "--now", str(T), env=env)
        assert result.code == 0, result.both
        assert "CLERK_JWT_KEY (--jwt-key)" in result.err

    def test_environment_settings_apply(
        self, cli: CLI, mint: Mint, key_files: tuple[Path, Path]
    ) -> None:
        env = {
            "CLERK_JWT_KEY": key_files[1].read_text(),
            "CLERK_AUTHORIZED_PARTIES": "https://app.example",
            "CLERK_ISSUER": ISS,
        }
        result = cli("verify", mint(), "--now", str(T), "--json", env=env)
        doc = json.loads(result.out)
        assert (result.code, doc["reason"]) == (1, "token-invalid-authorized-parties")
        assert "from CLERK_AUTHORIZED_PARTIES" in doc["hint"]
        # A flag wins over the environment.
        result = cli("verify", mint(), "--now", str(T), "--authorized-party", AZP, env=env)
        assert result.code == 0

    @pytest.mark.parametrize(
        ("argv", "message"),
        [
            (("verify", "x.y.z"), "no keys to verify with"),
            (("verify", "x.y.z", "--pem", "/nonexistent.pem"), "--pem /nonexistent.pem"),
            (("verify", "", "--jwt-key"), "no token given"),
            (("verify", "x.y.z", "--jwt-key"), "CLERK_JWT_KEY is not set"),
            (("verify", "x.y.z", "--jwks-url", "http://example.com/jwks"), "https://"),
            (("verify", "x.y.z", "--jwks-url", "https://a.example", "--now", "soon"), "--now"),
            (("verify", "x.y.z", "--jwks-url", "https://a.example", "--skew", "-1"), "skew"),
        ],
    )
    def test_usage_errors_exit_2(self, cli: CLI, argv: tuple[str, ...], message: str) -> None:
        result = cli(*argv)
        assert result.code == 2
        assert result.out == ""
        assert message in result.err

    @pytest.mark.parametrize(
        ("env", "message"),
        [
            ({"CLERK_CLOCK_SKEW": "soon"}, "CLERK_CLOCK_SKEW must be a number"),
            ({"CLERK_SECRET_KEY": "not-a-key"}, "CLERK_SECRET_KEY is not a valid Clerk secret key"),
            ({"CLERK_PUBLISHABLE_KEY": "pk_test_x"}, "CLERK_PUBLISHABLE_KEY is not a valid"),
        ],
    )
    def test_bad_environment_exits_2(self, cli: CLI, env: dict[str, str], message: str) -> None:
        result = cli("verify", "a.b.c", "--jwks-url", "https://a.example", env=env)
        if "CLERK_SECRET_KEY" in env:  # an explicit key source replaces the secret key
            result = cli("verify", "a.b.c", env=env)
        assert result.code == 2
        assert message in result.err
        assert "not-a-key" not in result.err

    def test_argparse_errors_exit_2(self, cli: CLI) -> None:
        with pytest.raises(SystemExit) as exc:
            cli("verify")
        assert exc.value.code == 2
        with pytest.raises(SystemExit) as exc:
            cli("verify", "t", "--pem", "a", "--jwks-url", "https://b.example")
        assert exc.value.code == 2


class TestAgainstTheMockJwks:
    """Keys from a real loopback JWKS: the Backend API with the secret key."""

    def test_valid_via_secret_key(
        self, cli: CLI, fresh_clerk: MockClerk, backend_env: dict[str, str]
    ) -> None:
        result = cli("verify", fresh_clerk.mint(sub="user_jwks"), "--json", env=backend_env)
        assert result.code == 0, result.err
        assert json.loads(result.out)["claims"]["user_id"] == "user_jwks"
        assert "Backend API JWKS" in result.err
        assert "CLERK_SECRET_KEY" in result.err
        assert fresh_clerk.secret_key not in result.both
        assert fresh_clerk.jwks_hits == 1

    def test_public_jwks_url(self, cli: CLI, fresh_clerk: MockClerk) -> None:
        token = fresh_clerk.mint()
        result = cli("verify", token, "--jwks-url", fresh_clerk.jwks_url)
        assert result.code == 0, result.err
        assert f"JWKS {fresh_clerk.jwks_url} (--jwks-url)" in result.err

    def test_unknown_kid_lists_the_jwks(
        self, cli: CLI, fresh_clerk: MockClerk, backend_env: dict[str, str]
    ) -> None:
        fresh_clerk.add_foreign_key("ins_elsewhere")
        token = fresh_clerk.mint(kid="ins_elsewhere")
        result = cli("verify", token, "--json", env=backend_env)
        doc = json.loads(result.out)
        assert (result.code, doc["reason"]) == (1, "jwk-kid-mismatch")
        assert doc["details"] == {"kid": "ins_elsewhere", "jwks_kids": [fresh_clerk.kid]}

    def test_jwt_template_token_is_named(
        self, cli: CLI, fresh_clerk: MockClerk, backend_env: dict[str, str]
    ) -> None:
        token = fresh_clerk.mint(cat="cl_B7d4PD222AAA")
        result = cli("verify", token, "--json", env=backend_env)
        doc = json.loads(result.out)
        assert (result.code, doc["reason"]) == (1, "token-type-mismatch")
        assert "JWT-template token" in doc["hint"]

    def test_malformed_token_fetches_nothing(
        self, cli: CLI, fresh_clerk: MockClerk, backend_env: dict[str, str]
    ) -> None:
        result = cli("verify", "not-a-token", env=backend_env)
        assert result.code == 1
        assert fresh_clerk.jwks_hits == 0

    def test_refused_secret_key_exits_3(
        self, cli: CLI, fresh_clerk: MockClerk, backend_env: dict[str, str]
    ) -> None:
        env = {**backend_env, "CLERK_SECRET_KEY": "sk_test_not_the_right_one"}
        result = cli("verify", fresh_clerk.mint(), env=env)
        assert result.code == 3
        assert result.out == ""  # no verdict: the token may be fine
        assert "secret-key-invalid" in result.err
        assert "sk_test_not_the_right_one" not in result.both

    @pytest.mark.parametrize("fault", ["down", "500", "garbage", "redirect", "empty"])
    def test_keys_unavailable_exit_3(
        self, cli: CLI, fresh_clerk: MockClerk, backend_env: dict[str, str], fault: Fault
    ) -> None:
        token = fresh_clerk.mint()
        fresh_clerk.set_fault(fault)
        result = cli("verify", token, "--json", env=backend_env)
        doc = json.loads(result.out)
        assert result.code == 3
        assert doc["valid"] is False
        assert doc["reason"] in ("jwk-remote-failed-to-load", "jwk-remote-invalid")
        assert fresh_clerk.url in doc["message"]
        assert fresh_clerk.secret_key not in result.both
