"""Issue 16 in FastAPI: the dependencies log their refusals, the default dependencies
follow ``CLERK_*`` changes between tests (reset), and ``/openapi.json`` lists the
core's 401/403/503 on exactly the protected routes."""

# No ``from __future__ import annotations``: FastAPI resolves the routes' annotations.

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Request, Security

from clerk_auth_core import SessionClaims
from clerk_auth_core.testing import MockClerk
from clerk_auth_core.testing.pytest_plugin import _reset_default_dependencies
from clerk_auth_starlette.fastapi import (
    ClerkAuth,
    clerk_auth,
    install_exception_handler,
    require_auth,
    require_claims,
)

pytestmark = pytest.mark.anyio


@contextlib.asynccontextmanager
async def client_for(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def make_app(auth: ClerkAuth) -> FastAPI:
    app = FastAPI()
    install_exception_handler(app)

    @app.get("/me")
    async def me(claims: Annotated[SessionClaims, Depends(auth.required)]) -> Any:
        return {"user_id": claims.user_id}

    @app.get("/typed", dependencies=[Depends(auth.required)])
    async def typed(request: Request) -> Any:
        return {"user_id": require_claims(request).user_id}

    @app.get("/optional")
    async def optional(claims: Annotated[SessionClaims | None, Depends(auth.optional)]) -> Any:
        return {"user_id": claims and claims.user_id}

    @app.get("/admin")
    async def admin(
        claims: Annotated[SessionClaims, Security(auth.require(role="org:admin"))],
    ) -> Any:
        return {"user_id": claims.user_id}

    @app.get("/scoped")
    async def scoped(
        claims: Annotated[SessionClaims, Security(auth.required, scopes=["role:admin"])],
    ) -> Any:
        return {"user_id": claims.user_id}

    @app.get("/public")
    async def public() -> Any:
        return {"public": True}

    def nested(claims: Annotated[SessionClaims, Depends(auth.required)]) -> str:
        return claims.user_id

    router = APIRouter()

    @router.get("/nested")
    async def deep(user_id: Annotated[str, Depends(nested)]) -> Any:
        return {"user_id": user_id}

    app.include_router(router)
    return app


# -- the refusal log ---------------------------------------------------------------------


async def test_the_dependency_logs_its_refusal_with_the_kid_hint(
    clerk: MockClerk, caplog: pytest.LogCaptureFixture
) -> None:
    other = MockClerk(issuer=clerk.issuer)  # same issuer, another key
    token = other.mint()
    caplog.set_level(logging.INFO, logger="clerk_auth")
    async with client_for(make_app(ClerkAuth(clerk.pem_config()))) as client:
        response = await client.get("/me", headers=bearer(token))
        assert response.status_code == 401
        assert (await client.get("/me", headers=bearer(token))).status_code == 401
    records = [r for r in caplog.records if r.name == "clerk_auth"]
    assert len(records) == 1  # the second is within the interval
    message = records[0].getMessage()
    assert records[0].levelno == logging.INFO
    assert response.json()["reason"] in message
    assert token not in caplog.text


async def test_require_claims_after_the_dependency(clerk: MockClerk) -> None:
    async with client_for(make_app(ClerkAuth(clerk.pem_config()))) as client:
        response = await client.get("/typed", headers=bearer(clerk.mint(sub="user_t")))
        refused = await client.get("/typed")
    assert response.json() == {"user_id": "user_t"}
    assert refused.status_code == 401


# -- the default dependencies and a fresh mock per test ---------------------------------------


def _app_with_the_default_dependency() -> FastAPI:
    app = FastAPI()

    @app.get("/me")
    async def me(claims: Annotated[SessionClaims, Depends(require_auth)]) -> Any:
        return {"user_id": claims.user_id}

    return app


def _point_env_at(clerk: MockClerk, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLERK_SECRET_KEY", clerk.secret_key)
    monkeypatch.setenv("CLERK_API_URL", clerk.url)
    monkeypatch.setenv("CLERK_ISSUER", clerk.issuer)
    monkeypatch.setenv("CLERK_AUTHORIZED_PARTIES", clerk.origin)


async def _me_with(clerk: MockClerk) -> httpx.Response:
    async with client_for(_app_with_the_default_dependency()) as client:
        return await client.get("/me", headers=bearer(clerk.mint(sub="user_d")))


async def test_the_default_dependency_follows_a_new_mock_after_a_reset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("CLERK_JWT_KEY", "CLERK_JWKS_URL", "CLERK_PUBLISHABLE_KEY"):
        monkeypatch.delenv(name, raising=False)
    _reset_default_dependencies()
    try:
        with MockClerk() as first:
            _point_env_at(first, monkeypatch)
            assert (await _me_with(first)).json() == {"user_id": "user_d"}
        with MockClerk() as second:
            _point_env_at(second, monkeypatch)
            stale = await _me_with(second)
            assert stale.status_code == 401  # what issue 16 saw: the first mock's keys
            assert stale.json()["detail"]["reason"] == "jwk-kid-mismatch"
            _reset_default_dependencies()  # what mock_clerk does before each test
            assert (await _me_with(second)).json() == {"user_id": "user_d"}
            assert clerk_auth.config.api_url == second.url
    finally:
        _reset_default_dependencies()


def test_reset_keeps_a_given_configuration(clerk: MockClerk) -> None:
    config = clerk.pem_config()
    auth = ClerkAuth(config)
    auth.reset()
    assert auth.config is config


# -- OpenAPI ---------------------------------------------------------------------------------


async def test_openapi_lists_the_refusals_of_exactly_the_protected_routes(
    clerk: MockClerk,
) -> None:
    async with client_for(make_app(ClerkAuth(clerk.pem_config()))) as client:
        document = (await client.get("/openapi.json")).json()
    paths = document["paths"]

    def statuses(path: str) -> set[str]:
        return set(paths[path]["get"]["responses"]) - {"200", "422"}

    assert statuses("/me") == {"401", "503"}
    assert statuses("/typed") == {"401", "503"}
    assert statuses("/nested") == {"401", "503"}
    assert statuses("/optional") == {"503"}
    assert statuses("/admin") == {"401", "403", "503"}
    assert statuses("/scoped") == {"401", "403", "503"}
    assert statuses("/public") == set()

    admin = paths["/admin"]["get"]["responses"]
    schema = admin["401"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["error", "reason", "message"]
    assert {name: p["type"] for name, p in schema["properties"].items()} == {
        "error": "string",
        "reason": "string",
        "message": "string",
    }
    assert "WWW-Authenticate" in admin["401"]["headers"]
    assert "WWW-Authenticate" in admin["403"]["headers"]
    assert "Retry-After" in admin["503"]["headers"]


async def test_a_route_s_own_description_wins(clerk: MockClerk) -> None:
    auth = ClerkAuth(clerk.pem_config())
    app = FastAPI()
    install_exception_handler(app)

    @app.get("/me", responses={401: {"description": "Sign in first"}})
    async def me(claims: Annotated[SessionClaims, Depends(auth.required)]) -> Any:
        return {"user_id": claims.user_id}

    responses = app.openapi()["paths"]["/me"]["get"]["responses"]
    assert responses["401"]["description"] == "Sign in first"
    assert "content" in responses["401"]
