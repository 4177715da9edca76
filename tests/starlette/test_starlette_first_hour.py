"""Issue 16 in Starlette: refusals are logged (rate-limited, with hints, never the
token), ``get_auth`` says when no middleware is on the app, ``require_claims`` is never
``None``, and warm-up in the lifespan is on by default and says what is wrong."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import clerk_auth_starlette._auth as auth_module
from clerk_auth_core import ClerkConfig, SessionClaims
from clerk_auth_core.testing import MockClerk
from clerk_auth_starlette import ClerkAuthMiddleware, get_auth, require_auth, require_claims

pytestmark = pytest.mark.anyio
WRONG_SECRET = "sk_test_WrongKeyNeverEchoed0123456789abcdefXYZ"


async def me(request: Request) -> Response:
    claims: SessionClaims = require_claims(request)  # typed: never None
    return JSONResponse({"user_id": claims.user_id})


async def maybe(request: Request) -> Response:
    claims = get_auth(request)
    return JSONResponse({"user_id": claims and claims.user_id})


def make_app(config: ClerkConfig, mode: str = "reject", **options: Any) -> Starlette:
    return Starlette(
        routes=[
            Route("/me", me),
            Route("/admin", require_auth(role="org:admin")(me)),
            Route("/maybe", maybe),
        ],
        middleware=[Middleware(ClerkAuthMiddleware, config=config, mode=mode, **options)],
    )


@contextlib.asynccontextmanager
async def client_for(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "clerk_auth"]


async def test_the_middleware_logs_a_refusal_once_per_interval_with_its_hint(
    clerk: MockClerk, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [50.0]
    monkeypatch.setattr(auth_module, "_monotonic", lambda: clock[0])
    token = clerk.mint(iss="https://clerk.other.example")
    caplog.set_level(logging.INFO, logger="clerk_auth")
    async with client_for(make_app(clerk.pem_config())) as client:
        assert (await client.get("/me", headers=bearer(token))).status_code == 401
        [line] = _records(caplog)
        assert line.levelno == logging.INFO
        message = line.getMessage()
        assert "401 token-invalid-issuer" in message
        assert "iss is 'https://clerk.other.example'" in message
        assert repr(clerk.issuer) in message
        assert token not in caplog.text
        caplog.clear()
        assert (await client.get("/me", headers=bearer(token))).status_code == 401
        assert _records(caplog) == []
        clock[0] += 11
        assert (await client.get("/me", headers=bearer(token))).status_code == 401
        [again] = _records(caplog)
        assert "(1 more token-invalid-issuer since the last such line.)" in again.getMessage()


async def test_the_route_guard_logs_its_refusal(
    clerk: MockClerk, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="clerk_auth")
    member = clerk.mint(org={"id": "org_1", "role": "member"})
    async with client_for(make_app(clerk.pem_config(), mode="annotate")) as client:
        assert (await client.get("/admin", headers=bearer(member))).status_code == 403
    [line] = _records(caplog)
    assert line.levelno == logging.INFO
    assert "403 insufficient-scope" in line.getMessage()


async def test_a_signed_in_request_logs_nothing(
    clerk: MockClerk, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="clerk_auth")
    async with client_for(make_app(clerk.pem_config())) as client:
        response = await client.get("/me", headers=bearer(clerk.mint(sub="user_1")))
    assert response.json() == {"user_id": "user_1"}
    assert _records(caplog) == []


async def test_require_claims_when_not_signed_in_is_a_programming_error(
    clerk: MockClerk,
) -> None:
    async with client_for(make_app(clerk.pem_config(), mode="annotate")) as client:
        with pytest.raises(RuntimeError, match="not signed in"):
            await client.get("/me")  # an unguarded route in annotate mode


async def test_get_auth_without_the_middleware_warns_once(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth_module, "_warned_no_middleware", [])
    app = Starlette(routes=[Route("/maybe", maybe)])
    caplog.set_level(logging.INFO, logger="clerk_auth")
    async with client_for(app) as client:
        for _ in range(3):
            assert (await client.get("/maybe")).json() == {"user_id": None}
    [line] = _records(caplog)
    assert line.levelno == logging.WARNING
    assert "found no ClerkAuthMiddleware" in line.getMessage()
    assert "add_middleware(ClerkAuthMiddleware)" in line.getMessage()


async def test_get_auth_on_an_excluded_path_does_not_warn(
    clerk: MockClerk, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth_module, "_warned_no_middleware", [])
    caplog.set_level(logging.INFO, logger="clerk_auth")
    app = make_app(clerk.pem_config(), exclude_paths=["/maybe"])
    async with client_for(app) as client:
        assert (await client.get("/maybe")).json() == {"user_id": None}
    assert _records(caplog) == []


def test_warm_up_runs_in_the_lifespan_by_default(clerk: MockClerk, serve: Any) -> None:
    with serve(make_app(clerk.config())):
        assert clerk.jwks_hits == 1


def test_warm_up_can_be_turned_off(clerk: MockClerk, serve: Any) -> None:
    with serve(make_app(clerk.config(), warm_up=False)):
        assert clerk.jwks_hits == 0


def test_a_refused_secret_key_is_an_error_at_start_up_with_the_fix(
    clerk: MockClerk, caplog: pytest.LogCaptureFixture, serve: Any
) -> None:
    caplog.set_level(logging.ERROR, logger="clerk_auth")
    with serve(make_app(clerk.config(secret_key=WRONG_SECRET))):
        pass  # the start does not fail
    [line] = _records(caplog)
    assert "CLERK_SECRET_KEY was refused by Clerk's Backend API" in line.getMessage()
    assert WRONG_SECRET not in caplog.text


def test_unreachable_keys_are_an_error_at_start_up_saying_so(
    clerk: MockClerk, caplog: pytest.LogCaptureFixture, serve: Any
) -> None:
    clerk.set_fault("down")
    caplog.set_level(logging.ERROR, logger="clerk_auth")
    with serve(make_app(clerk.config())):
        pass
    [line] = _records(caplog)
    assert "could not be fetched from" in line.getMessage()
