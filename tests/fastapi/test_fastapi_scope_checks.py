"""Issue 16: a FastAPI scope typo is refused at start-up (``check_scopes``, run by
``install_exception_handler`` in the lifespan), not answered 500 per request; a
requirement typo fails when the dependency is built; a 403 names what was required."""

# No ``from __future__ import annotations``: FastAPI resolves route annotations at runtime.

import contextlib
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Security
from starlette.testclient import TestClient

from clerk_auth_core import ConfigurationError, SessionClaims
from clerk_auth_core.testing import MockClerk
from clerk_auth_starlette.fastapi import (
    ClerkAuth,
    check_scopes,
    install_exception_handler,
    requires_auth,
)

MEMBER = {"id": "org_1", "role": "member", "permissions": ["org:billing:read"]}


def app_with(auth: ClerkAuth, *scopes: str, nested: bool = False) -> FastAPI:
    app = FastAPI()
    install_exception_handler(app)
    if nested:
        # The scoped dependency deep in a sub-dependency, on an included router.
        async def member_of(
            claims: Annotated[SessionClaims, Security(auth.required, scopes=list(scopes))],
        ) -> str:
            return claims.user_id

        router = APIRouter()

        @router.get("/deep")
        async def deep(user: Annotated[str, Depends(member_of)]) -> Any:
            return {"user_id": user}

        app.include_router(router, prefix="/api")
    else:

        @app.get("/scoped")
        async def scoped(
            claims: Annotated[SessionClaims, Security(auth.required, scopes=list(scopes))],
        ) -> Any:
            return {"user_id": claims.user_id}

    return app


@pytest.mark.parametrize("nested", [False, True])
@pytest.mark.parametrize(
    ("scope", "says"),
    [
        ("admin", "unknown security scope 'admin'"),
        ("permission:reports:read", "cannot be a Clerk permission name"),
        ("reverification:Strict", "not a Clerk preset"),
    ],
)
def test_a_scope_typo_is_refused_at_start_up(
    clerk: MockClerk, scope: str, says: str, nested: bool
) -> None:
    app = app_with(ClerkAuth(clerk.pem_config()), "authenticated", scope, nested=nested)
    with pytest.raises(ConfigurationError) as info:
        check_scopes(app)
    path = "/api/deep" if nested else "/scoped"
    assert f"{path}: scope {scope!r}" in info.value.message
    assert says in info.value.message
    # The lifespan runs the same check: the app does not start.
    with (
        pytest.raises(ConfigurationError, match="invalid FastAPI security scopes"),
        TestClient(app),
    ):
        pass


def test_valid_scopes_start_and_still_run_the_lifespan(clerk: MockClerk) -> None:
    ran: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        ran.append("up")
        yield
        ran.append("down")

    auth = ClerkAuth(clerk.pem_config())
    app = FastAPI(lifespan=lifespan)
    install_exception_handler(app)

    @app.get("/scoped")
    async def scoped(
        claims: Annotated[
            SessionClaims,
            Security(auth.required, scopes=["role:admin", "reverification:lax", "plan:pro"]),
        ],
    ) -> Any:
        return {"user_id": claims.user_id}

    check_scopes(app)
    with TestClient(app) as client:
        assert client.get("/scoped").status_code == 401
    assert ran == ["up", "down"]


@pytest.mark.anyio
async def test_the_403_of_a_scope_names_it(clerk: MockClerk) -> None:
    app = app_with(ClerkAuth(clerk.pem_config()), "role:admin")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        token = clerk.mint(org=MEMBER)
        response = await client.get("/scoped", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.json() == {
        "error": "forbidden",
        "reason": "insufficient-scope",
        "message": "The session lacks a required role or permission.",
        "required": {"roles": ["admin"]},
    }


@pytest.mark.parametrize(
    "requirement",
    [{"permission": "reports:read"}, {"role": "org:admin:x"}, {"feature": "o:reports"}],
)
def test_a_requirement_typo_fails_when_the_dependency_is_built(
    requirement: dict[str, Any],
) -> None:
    with pytest.raises(ConfigurationError, match="cannot be a Clerk"):
        ClerkAuth().require(**requirement)
    with pytest.raises(ConfigurationError, match="cannot be a Clerk"):
        requires_auth(**requirement)
