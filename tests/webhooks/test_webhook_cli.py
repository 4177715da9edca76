"""``clerk-auth webhook sign|verify``, run in-process."""

from __future__ import annotations

import io
import json
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from webhook_helpers import NOW, SECRET, sign

from clerk_auth_core.cli import main

Run = tuple[int, str, str]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., Run]:
    """``cli(*argv, env=..., stdin=...) -> (exit code, stdout, stderr)``; the secret must
    appear in neither."""

    def run(*argv: str, env: dict[str, str] | None = None, stdin: str = "") -> Run:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        capsys.readouterr()
        code = main(list(argv), env=env or {})
        out, err = capsys.readouterr()
        for secret in (SECRET, SECRET[len("whsec_") :]):
            assert secret not in out
            assert secret not in err
        return code, out, err

    return run


def _sign_json(cli: Callable[..., Run], *extra: str, **kw: Any) -> dict[str, Any]:
    code, out, err = cli("webhook", "sign", "--json", "--id", "msg_cli", *extra, **kw)
    assert code == 0, err
    document: dict[str, Any] = json.loads(out)
    return document


def test_sign_is_the_published_scheme(cli: Callable[..., Run]) -> None:
    document = _sign_json(
        cli, "--type", "user.deleted", "--data", '{"id": "user_1"}', "--timestamp", str(NOW),
        "--secret", SECRET,
    )  # fmt: skip
    headers, body = document["headers"], document["body"].encode()
    assert headers["svix-signature"] == "v1," + sign(SECRET, "msg_cli", str(NOW), body)
    assert (headers["svix-id"], headers["svix-timestamp"]) == ("msg_cli", str(NOW))
    payload = json.loads(body)
    assert (payload["type"], payload["data"]) == ("user.deleted", {"id": "user_1"})


@pytest.mark.parametrize("source", ["flag", "env", "stdin"])
def test_secret_sources(cli: Callable[..., Run], source: str) -> None:
    argv, kw = {
        "flag": (["--secret", SECRET], {}),
        "env": ([], {"env": {"CLERK_WEBHOOK_SIGNING_SECRET": SECRET}}),
        "stdin": (["--secret", "-"], {"stdin": SECRET + "\n"}),
    }[source]
    document = _sign_json(cli, "--timestamp", str(NOW), *argv, **kw)
    body = document["body"].encode()
    assert document["headers"]["svix-signature"] == "v1," + sign(SECRET, "msg_cli", str(NOW), body)


def test_no_secret_is_a_usage_error(cli: Callable[..., Run]) -> None:
    code, _, err = cli("webhook", "sign")
    assert code == 2
    assert "CLERK_WEBHOOK_SIGNING_SECRET" in err


def test_unusable_secret_is_refused_unechoed(cli: Callable[..., Run]) -> None:
    code, out, err = cli("webhook", "sign", "--secret", "whsec_notbase64!!")
    assert code == 2
    assert "webhook-secret-invalid" in err
    assert "notbase64" not in out + err


def test_curl_command_posts_the_signed_bytes(cli: Callable[..., Run]) -> None:
    code, out, _ = cli(
        "webhook", "sign", "--id", "msg_c", "--timestamp", str(NOW), "--secret", SECRET,
        "--curl", "http://127.0.0.1:8000/webhooks/clerk",
    )  # fmt: skip
    assert code == 0
    words = shlex.split(out)
    assert words[:5] == ["curl", "-sS", "-X", "POST", "http://127.0.0.1:8000/webhooks/clerk"]
    headers = dict(words[i + 1].split(": ", 1) for i, word in enumerate(words) if word == "-H")
    body = words[words.index("--data-binary") + 1].encode()
    assert headers["svix-signature"] == "v1," + sign(SECRET, "msg_c", str(NOW), body)


def _delivery(cli: Callable[..., Run], tmp_path: Path) -> tuple[list[str], Path]:
    code, out, _ = cli("webhook", "sign", "--timestamp", str(NOW), "--secret", SECRET)
    assert code == 0
    head, _, body = out.partition("\n\n")
    path = tmp_path / "body.json"
    path.write_bytes(body.removesuffix("\n").encode())
    return [arg for line in head.splitlines() for arg in ("--header", line)], path


def test_verify_a_signed_delivery(cli: Callable[..., Run], tmp_path: Path) -> None:
    headers, path = _delivery(cli, tmp_path)
    env = {"CLERK_WEBHOOK_SIGNING_SECRET": SECRET}
    code, out, _ = cli(
        "webhook", "verify", *headers, "--body", str(path), "--now", str(NOW), env=env
    )
    assert code == 0
    assert out.startswith("valid: user.created")
    code, out, _ = cli(
        "webhook", "verify", "--json", *headers, "--body", "-", "--now", str(NOW), env=env,
        stdin=path.read_text(),
    )  # fmt: skip
    assert code == 0
    assert json.loads(out)["valid"] is True


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("body", "webhook-signature-invalid"),
        ("late", "webhook-timestamp-too-old"),
        ("no-headers", "webhook-headers-missing"),
        ("other-secret", "webhook-signature-invalid"),
    ],
)
def test_verify_refuses(cli: Callable[..., Run], tmp_path: Path, change: str, reason: str) -> None:
    headers, path = _delivery(cli, tmp_path)
    now, secret = str(NOW), SECRET
    if change == "body":
        path.write_bytes(path.read_bytes().replace(b"user.created", b"user.deleted"))
    elif change == "late":
        now = str(NOW + 301)
    elif change == "no-headers":
        headers = []
    else:
        secret = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
    code, out, err = cli(
        "webhook", "verify", "--json", *headers, "--body", str(path), "--now", now,
        "--secret", secret,
    )  # fmt: skip
    assert code == 1
    assert json.loads(out) == {
        "valid": False,
        "reason": reason,
        "message": json.loads(out)["message"],
    }
    assert reason in err


def test_verify_stdin_twice_is_a_usage_error(cli: Callable[..., Run]) -> None:
    code, _, err = cli("webhook", "verify", "--secret", "-", "--body", "-")
    assert code == 2
    assert "stdin" in err


def test_bad_header_syntax(cli: Callable[..., Run], tmp_path: Path) -> None:
    path = tmp_path / "b"
    path.write_bytes(b"{}")
    code, _, err = cli("webhook", "verify", "--header", "svix-id", "--body", str(path))
    assert code == 2
    assert "NAME: VALUE" in err
