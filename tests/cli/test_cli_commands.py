"""``clerk-auth decode``, ``jwks``, ``mint`` and ``demo``; the shared helpers; the
console entry points; and the promise that the CLI needs no web framework."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from cli_helpers import CLI

from clerk_auth_core import ClerkConfig, verify_token
from clerk_auth_core.cli._format import (
    UsageError,
    decode_segments,
    format_duration,
    parse_time,
    read_token,
)
from clerk_auth_core.testing import MockClerk

T = 1_714_564_800  # 2024-05-01T12:00:00Z


class TestDecode:
    def test_marks_everything_unverified(self, cli: CLI, clerk: MockClerk) -> None:
        token = clerk.mint(sub="user_dec", iat=T)
        result = cli("decode", token, "--now", str(T + 30))
        assert result.code == 0
        assert "UNVERIFIED" in result.err
        assert "header (UNVERIFIED)" in result.out
        assert '"sub": "user_dec"' in result.out
        assert "exp: 2024-05-01T12:01:00Z (in 30s)" in result.out
        assert token not in result.both

    def test_json(self, cli: CLI, clerk: MockClerk) -> None:
        result = cli("decode", clerk.mint(iat=T), "--json", "--now", str(T))
        doc = json.loads(result.out)
        assert doc["verified"] is False
        assert doc["header"]["kid"] == clerk.kid
        assert doc["payload"]["iat"] == T
        assert doc["signature_bytes"] == 256
        assert doc["times"]["iat"] == "2024-05-01T12:00:00Z (now)"
        assert "UNVERIFIED" in result.err

    def test_shows_tokens_the_verifier_refuses(self, cli: CLI, clerk: MockClerk) -> None:
        # alg none, no signature: decode still shows it (that is what it is for).
        token = clerk.mint_raw({"alg": "none"}, {"sub": "user_x"}, sign=False)
        result = cli("decode", token, "--json")
        assert result.code == 0
        assert json.loads(result.out)["header"] == {"alg": "none"}

    def test_not_a_jwt_exits_1(self, cli: CLI) -> None:
        result = cli("decode", "hello")
        assert result.code == 1
        assert "not a JWT" in result.err
        assert result.out == ""


class TestJwks:
    def test_lists_keys(
        self, cli: CLI, fresh_clerk: MockClerk, backend_env: dict[str, str]
    ) -> None:
        result = cli("jwks", env=backend_env)
        assert result.code == 0, result.err
        header, row = result.out.splitlines()
        assert header.split() == ["kid", "alg", "bits", "use", "status"]
        assert row.split() == [fresh_clerk.kid, "RS256", "2048", "sig", "ok"]
        assert "secret key from CLERK_SECRET_KEY" in result.err
        assert fresh_clerk.secret_key not in result.both

    def test_json_and_url(self, cli: CLI, fresh_clerk: MockClerk) -> None:
        result = cli("jwks", "--jwks-url", fresh_clerk.jwks_url, "--json")
        doc = json.loads(result.out)
        assert doc["ok"] is True
        assert doc["url"] == fresh_clerk.jwks_url
        assert doc["keys"] == [
            {
                "kid": fresh_clerk.kid,
                "kty": "RSA",
                "alg": "RS256",
                "use": "sig",
                "bits": 2048,
                "status": "ok",
            }
        ]
        assert doc["fresh_for"] == 300

    def test_shows_why_keys_are_dropped(self, cli: CLI, fresh_clerk: MockClerk) -> None:
        fresh_clerk.set_fault("bad-keys")
        result = cli("jwks", "--jwks-url", fresh_clerk.jwks_url, "--json")
        doc = json.loads(result.out)
        assert result.code == 3
        assert doc["reason"] == "jwk-remote-invalid"
        statuses = [key["status"] for key in doc["keys"]]
        assert "bad-modulus" in statuses
        assert "private-members" in statuses
        assert "ok" not in statuses

    def test_down_exits_3(self, cli: CLI, fresh_clerk: MockClerk) -> None:
        fresh_clerk.set_fault("down")
        result = cli("jwks", "--jwks-url", fresh_clerk.jwks_url)
        assert result.code == 3
        assert "jwk-remote-failed-to-load" in result.err

    def test_needs_a_remote_source(self, cli: CLI) -> None:
        result = cli("jwks", env={"CLERK_JWT_KEY": "-----BEGIN PUBLIC KEY-----"})
        assert result.code == 2
        assert "no JWKS to fetch" in result.err


class TestMint:
    def test_key_file_is_made_once_private_and_reused(self, cli: CLI, tmp_path: Path) -> None:
        key_file = tmp_path / "k.pem"
        first = cli("mint", "--key-file", str(key_file), "--json")
        assert "created" in first.err
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        second = cli("mint", "--key-file", str(key_file), "--json")
        assert "created" not in second.err
        kids = {json.loads(r.out)["header"]["kid"] for r in (first, second)}
        assert len(kids) == 1
        jwks = json.loads(cli("mint", "--key-file", str(key_file), "--print-jwks").out)
        assert [key["kid"] for key in jwks["keys"]] == list(kids)
        assert "PRIVATE" not in first.both + second.both

    def test_tokens_verify_with_the_printed_key(self, cli: CLI, tmp_path: Path) -> None:
        key_file = str(tmp_path / "k.pem")
        pem = cli("mint", "--key-file", key_file, "--print-pem").out
        assert pem.startswith("-----BEGIN PUBLIC KEY-----")
        token = cli(
            "mint",
            "--key-file",
            key_file,
            "--claims-version",
            "2",
            "--org-id",
            "org_1",
            "--org-role",
            "admin",
            "--org-permission",
            "org:reports:read",
            "--claim",
            'tier="gold"',
            "--claim",
            "seats=3",
        ).out.strip()
        config = ClerkConfig(
            jwt_key=pem,
            issuer="https://clerk.mock.test",
            authorized_parties=["http://localhost:3000"],
        )
        assert config.static_keys is not None
        claims = verify_token(token, config.static_keys, config, now=time.time())
        assert claims.version == 2
        assert claims.org_role == "org:admin"
        assert claims.org_permissions == ("org:reports:read",)
        assert claims.raw["tier"] == "gold"
        assert claims.raw["seats"] == 3

    @pytest.mark.parametrize(("lifetime", "skew"), [("0", None), ("-30", None), ("0", "120")])
    def test_zero_or_less_lifetime_is_refused_as_expired(
        self, cli: CLI, tmp_path: Path, lifetime: str, skew: str | None
    ) -> None:
        # docs/cli.md: "zero or less makes an expired token", whatever the skew.
        key_file = str(tmp_path / "k.pem")
        env = {"CLERK_CLOCK_SKEW": skew} if skew else {}
        pem = cli("mint", "--key-file", key_file, "--print-pem").out
        argv = ("mint", "--key-file", key_file, "--lifetime", lifetime, "--now", str(T))
        result = cli(*argv, env=env)
        assert result.code == 0, result.err
        assert "already expired" in result.err
        verify_env = {
            "CLERK_JWT_KEY": pem,
            "CLERK_ISSUER": "https://clerk.mock.test",
            "CLERK_AUTHORIZED_PARTIES": "http://localhost:3000",
            **env,
        }
        verdict = cli("verify", "-", "--now", str(T), env=verify_env, stdin=result.out)
        assert verdict.code == 1
        assert "token-expired" in verdict.both

    def test_throwaway_key(self, cli: CLI) -> None:
        result = cli("mint", "--sub", "user_t")
        assert result.code == 0
        assert result.out.count(".") == 2
        assert "throwaway key" in result.err

    @pytest.mark.parametrize(
        ("argv", "message"),
        [
            (("mint", "--print-pem"), "need --key-file"),
            (("mint", "--org-role", "admin"), "need --org-id"),
            (("mint", "--claim", "novalue"), "NAME=VALUE"),
            (("mint", "--now", "tomorrow"), "--now"),
        ],
    )
    def test_usage_errors(self, cli: CLI, argv: tuple[str, ...], message: str) -> None:
        result = cli(*argv)
        assert result.code == 2
        assert message in result.err

    def test_refuses_a_key_file_that_is_not_a_key(self, cli: CLI, tmp_path: Path) -> None:
        key_file = tmp_path / "k.pem"
        key_file.write_text("hello")
        result = cli("mint", "--key-file", str(key_file))
        assert result.code == 2
        assert "not an unencrypted PEM private key" in result.err


def test_demo_says_how_to_run_it(cli: CLI) -> None:
    result = cli("demo")
    assert result.code == 0
    assert "python -m demo" in result.out
    assert "python run.py demo" in result.out


class TestHelpers:
    @pytest.mark.parametrize(
        ("seconds", "shown"),
        [
            *((0, "0s"), (0.3, "<1s"), (59.6, "1m"), (192, "3m12s"), (-192, "3m12s")),
            *((3725, "1h2m5s"), (90061, "1d1h1m"), (7200, "2h")),
        ],
    )
    def test_format_duration(self, seconds: float, shown: str) -> None:
        assert format_duration(seconds) == shown

    @pytest.mark.parametrize(
        ("text", "value"),
        [
            ("1714564800", T),
            ("1714564800.5", T + 0.5),
            ("2024-05-01T12:00:00Z", T),
            ("2024-05-01T12:00:00", T),
            ("2024-05-01T14:00:00+02:00", T),
        ],
    )
    def test_parse_time(self, text: str, value: float) -> None:
        assert parse_time(text) == value

    @pytest.mark.parametrize("text", ["soon", "nan", "inf", ""])
    def test_parse_time_refuses(self, text: str) -> None:
        with pytest.raises(UsageError):
            parse_time(text)

    @pytest.mark.parametrize(
        "pasted",
        [
            "a.b.c",
            " a.b.c\n",
            "Bearer a.b.c",
            "bearer  a.b.c",
            "Authorization: Bearer a.b.c",
            '"a.b.c"',
        ],
    )
    def test_read_token_removes_what_people_paste_around_it(self, pasted: str) -> None:
        assert read_token(pasted) == "a.b.c"

    def test_decode_segments_is_lenient_but_says_what_is_wrong(self) -> None:
        with pytest.raises(ValueError, match="is not a JSON object"):
            decode_segments("WzFd.e30.")  # header [1]
        assert decode_segments("e30.e30.")[2] == 0


ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLERK_")}
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, **(extra_env or {})},
        check=False,
    )


class TestEntryPoints:
    def test_python_m_and_exit_codes(self, fresh_clerk: MockClerk) -> None:
        token = fresh_clerk.mint()
        env = {"CLERK_JWKS_URL": fresh_clerk.jwks_url, "CLERK_ISSUER": fresh_clerk.issuer}
        valid = _run("-m", "clerk_auth_core", "verify", token, extra_env=env)
        assert valid.returncode == 0, valid.stderr
        assert valid.stdout.startswith("VALID")
        refused = _run(
            "-m", "clerk_auth_core", "verify", token, "--issuer", "https://x.example", extra_env=env
        )
        assert refused.returncode == 1
        usage = _run("-m", "clerk_auth_core", "verify")
        assert usage.returncode == 2

    def test_version(self, capsys: pytest.CaptureFixture[str]) -> None:
        from clerk_auth_core import __version__
        from clerk_auth_core.cli import main

        with pytest.raises(SystemExit) as exc:
            main(["--version"])
        assert exc.value.code == 0
        assert capsys.readouterr().out.strip() == f"clerk-auth {__version__}"

    def test_console_script_target(self) -> None:
        from clerk_auth_core.__main__ import main

        assert main(["demo", "--json"]) == 0

    def test_needs_no_web_framework(self, tmp_path: Path) -> None:
        # The CLI (every command) runs with flask, starlette and fastapi unimportable.
        code = textwrap.dedent(
            f"""
            import sys

            class Blocker:
                def find_spec(self, name, path=None, target=None):
                    if name.split(".")[0] in ("flask", "starlette", "fastapi", "werkzeug"):
                        raise ImportError(name + " is blocked")

            sys.meta_path.insert(0, Blocker())
            from clerk_auth_core.cli import main
            key = {str(tmp_path / "k.pem")!r}
            assert main(["mint", "--key-file", key, "--print-pem"], env={{}}) == 0
            assert main(["decode", "a.b.c"], env={{}}) == 1
            assert main(["verify", "a.b.c", "--jwks-url", "https://a.example"], env={{}}) == 1
            assert main(["demo"], env={{}}) == 0
            loaded = [m for m in sys.modules if m.split(".")[0] in ("flask", "starlette")]
            assert not loaded, loaded
            print("ok")
            """
        )
        result = _run("-I", "-c", code)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().endswith("ok")
