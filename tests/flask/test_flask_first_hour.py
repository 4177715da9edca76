"""Issue 16 in Flask: refusals are logged (rate-limited, with hints, never the token),
``require_claims()`` is never ``None``, and warm-up at ``init_app`` is on by default and
says what is wrong with the configuration."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from flask import Flask

import clerk_auth_flask._extension as extension
from clerk_auth_core import ClerkConfig, KeyResolutionError, KeySet, SessionClaims
from clerk_auth_core.testing import MockClerk
from clerk_auth_flask import ClerkAuth, ClerkAuthFailed, require_auth, require_claims

WRONG_SECRET = "sk_test_WrongKeyNeverEchoed0123456789abcdefXYZ"


def _records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "clerk_auth"]


def _guarded(app: Flask) -> None:
    @app.get("/me")
    @require_auth
    def me() -> dict[str, Any]:
        claims: SessionClaims = require_claims()  # typed: never None
        return {"user_id": claims.user_id}


class Down:
    """A key source whose keys cannot be had (a 503)."""

    def get_keys(self, kid: str | None) -> KeySet:
        raise KeyResolutionError()


def test_a_refusal_is_logged_once_per_reason_and_interval_with_its_hint(
    app: Flask,
    pem_config: ClerkConfig,
    idle_clerk: MockClerk,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(extension, "_monotonic", lambda: clock[0])
    ClerkAuth(app, config=pem_config)
    _guarded(app)
    client = app.test_client()
    token = idle_clerk.mint(azp="https://evil.example")
    headers = {"Authorization": f"Bearer {token}"}
    caplog.set_level(logging.INFO, logger="clerk_auth")

    assert client.get("/me", headers=headers).status_code == 401
    [line] = _records(caplog)
    assert line.levelno == logging.INFO
    message = line.getMessage()
    assert "401 token-invalid-authorized-parties" in message
    assert "azp 'https://evil.example'" in message
    assert repr([idle_clerk.origin]) in message
    assert token not in message
    assert token.split(".")[2] not in caplog.text  # not even the signature

    caplog.clear()
    for _ in range(3):
        assert client.get("/me", headers=headers).status_code == 401
    assert _records(caplog) == []  # within 10 s: left out, counted

    clock[0] += 10.0
    assert client.get("/me", headers=headers).status_code == 401
    [again] = _records(caplog)
    assert "(3 more token-invalid-authorized-parties since the last such line.)" in (
        again.getMessage()
    )


def test_an_unavailable_key_set_is_a_warning(
    app: Flask, pem_config: ClerkConfig, bearer: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    ClerkAuth(app, config=pem_config, key_source=Down())
    _guarded(app)
    caplog.set_level(logging.INFO, logger="clerk_auth")
    assert app.test_client().get("/me", headers=bearer).status_code == 503
    [line] = _records(caplog)
    assert line.levelno == logging.WARNING
    assert "503 jwk-remote-failed-to-load" in line.getMessage()


def test_a_signed_in_request_logs_nothing(
    app: Flask, pem_config: ClerkConfig, bearer: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    ClerkAuth(app, config=pem_config)
    _guarded(app)
    caplog.set_level(logging.DEBUG, logger="clerk_auth")
    assert app.test_client().get("/me", headers=bearer).json == {"user_id": "user_flask"}
    assert _records(caplog) == []


def test_require_claims_outside_a_guard_answers_the_core_401(
    app: Flask, pem_config: ClerkConfig, bearer: dict[str, str]
) -> None:
    ClerkAuth(app, config=pem_config)

    @app.get("/open")
    def open_view() -> dict[str, Any]:
        return {"user_id": require_claims().user_id}

    client = app.test_client()
    assert client.get("/open", headers=bearer).json == {"user_id": "user_flask"}
    response = client.get("/open")
    assert response.status_code == 401
    assert response.json is not None
    assert response.json["reason"] == "session-token-and-uat-missing"
    with app.test_request_context("/open"), pytest.raises(ClerkAuthFailed):
        require_claims()


def test_warm_up_is_on_by_default(app: Flask, shared_mock_clerk: MockClerk) -> None:
    ClerkAuth(app, config=shared_mock_clerk.config())
    assert shared_mock_clerk.jwks_hits == 1


def test_a_refused_secret_key_is_an_error_at_start_up_with_the_fix(
    app: Flask, shared_mock_clerk: MockClerk, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="clerk_auth"):
        ClerkAuth(app, config=shared_mock_clerk.config(secret_key=WRONG_SECRET))  # no raise
    [line] = _records(caplog)
    assert line.levelno == logging.ERROR
    assert "CLERK_SECRET_KEY was refused by Clerk's Backend API" in line.getMessage()
    assert "check the key" in line.getMessage()
    assert WRONG_SECRET not in caplog.text


def test_an_unreachable_jwks_is_an_error_at_start_up_saying_so(
    app: Flask, shared_mock_clerk: MockClerk, caplog: pytest.LogCaptureFixture
) -> None:
    shared_mock_clerk.set_fault("down")
    with caplog.at_level(logging.ERROR, logger="clerk_auth"):
        ClerkAuth(app, config=shared_mock_clerk.config())
    [line] = _records(caplog)
    assert "could not be fetched from" in line.getMessage()
    assert shared_mock_clerk.url in line.getMessage()


def test_warm_up_can_be_turned_off(app: Flask, shared_mock_clerk: MockClerk) -> None:
    ClerkAuth(app, config=shared_mock_clerk.config(), warm_up=False)
    assert shared_mock_clerk.jwks_hits == 0


def test_require_claims_without_clerk_auth_answers_the_core_500(app: Flask) -> None:
    @app.get("/open")
    def open_view() -> dict[str, Any]:
        return {"user_id": require_claims().user_id}

    response = app.test_client().get("/open")
    assert response.status_code == 500
    assert response.json is not None
    assert response.json["reason"] == "configuration-invalid"
