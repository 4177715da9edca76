"""Issue 12 in the FastAPI dependencies: a guard enforces its own configuration, and a
required one never runs its route for a preflight. Over real HTTP (uvicorn)."""

# No ``from __future__ import annotations``: FastAPI reads the routes' annotations.

from typing import Annotated

import httpx
from fastapi import Depends, FastAPI

from clerk_auth_core import SessionClaims
from clerk_auth_core.testing import MockClerk
from clerk_auth_starlette import ClerkAuthMiddleware
from clerk_auth_starlette.fastapi import ClerkAuth, install_exception_handler
from conformance.drivers.starlette import serve_asgi as serve


def test_a_stricter_dependency_is_never_replaced_by_the_middleware(clerk: MockClerk) -> None:
    # The middleware accepts the mock's origin; the route's own ClerkAuth does not.
    strict = ClerkAuth(clerk.config(authorized_parties=("https://admin.example",)))
    loose = ClerkAuth()  # the default kind: no configuration of its own, defers
    app = FastAPI()
    install_exception_handler(app)
    app.add_middleware(ClerkAuthMiddleware, config=clerk.config(), mode="annotate")

    @app.get("/strict")
    async def strict_route(
        claims: Annotated[SessionClaims, Depends(strict.required)],
    ) -> dict[str, str]:
        return {"user_id": claims.user_id}

    @app.get("/loose")
    async def loose_route(
        claims: Annotated[SessionClaims, Depends(loose.required)],
    ) -> dict[str, str]:
        return {"user_id": claims.user_id}

    token = {"Authorization": f"Bearer {clerk.mint()}"}
    with serve(app) as url:
        response = httpx.get(url + "/strict", headers=token)
        assert response.status_code == 401
        assert response.json()["reason"] == "token-invalid-authorized-parties"
        assert httpx.get(url + "/loose", headers=token).json() == {"user_id": "user_test"}
        admin = {"Authorization": f"Bearer {clerk.mint(azp='https://admin.example')}"}
        assert httpx.get(url + "/strict", headers=admin).json() == {"user_id": "user_test"}


def test_required_dependency_never_runs_its_route_for_a_preflight(clerk: MockClerk) -> None:
    auth = ClerkAuth(clerk.config())
    ran: list[str] = []
    app = FastAPI()
    install_exception_handler(app)

    @app.api_route("/items", methods=["POST", "OPTIONS"])
    async def items(claims: Annotated[SessionClaims, Depends(auth.required)]) -> dict[str, str]:
        ran.append(claims.user_id)
        return {"user_id": claims.user_id}

    @app.api_route("/maybe", methods=["POST", "OPTIONS"])
    async def maybe(
        claims: Annotated[SessionClaims | None, Depends(auth.optional)],
    ) -> dict[str, str | None]:
        return {"user_id": None if claims is None else claims.user_id}

    preflight = {"Origin": clerk.origin, "Access-Control-Request-Method": "POST"}
    with serve(app) as url:
        response = httpx.options(url + "/items", headers=preflight)
        assert (response.status_code, response.content) == (204, b"")
        assert ran == []
        assert httpx.options(url + "/maybe", headers=preflight).json() == {"user_id": None}
        # Without Origin it is no preflight: refused as any request without a token.
        response = httpx.options(url + "/items", headers={"Access-Control-Request-Method": "POST"})
        assert response.status_code == 401
        assert response.json()["reason"] == "session-token-and-uat-missing"
        assert ran == []
