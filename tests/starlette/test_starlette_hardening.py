"""Issue 12 in the Starlette adapter: exclusions on the route path, preflights, guards.

Under a real uvicorn with ``--root-path`` (which puts the prefix into ``scope["path"]``),
and through a route that takes OPTIONS itself.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from clerk_auth_core import ClerkConfig
from clerk_auth_core.testing import MockClerk
from clerk_auth_starlette import ClerkAuthMiddleware, get_auth, require_auth
from conformance.drivers.starlette import serve_asgi


def serve_with_root(app: ASGIApp, root_path: str) -> AbstractContextManager[str]:
    """uvicorn on 127.0.0.1 with ``root_path`` (the deployment prefix)."""
    return serve_asgi(app, root_path=root_path)


async def who(request: Request) -> JSONResponse:
    claims = get_auth(request)
    return JSONResponse({"user_id": None if claims is None else claims.user_id})


def app_excluding(config: ClerkConfig, *excluded: str) -> Starlette:
    routes = [Route("/protected", who), Route("/public/page", who)]
    middleware = [Middleware(ClerkAuthMiddleware, config=config, exclude_paths=excluded)]
    return Starlette(routes=routes, middleware=middleware)


@pytest.mark.parametrize(
    ("path", "root", "expected"),
    [
        ("/public/protected", "/public", "/protected"),
        ("/public", "/public", "/"),
        ("/publicity/x", "/public", "/publicity/x"),
        ("/other/x", "/public", "/other/x"),
        ("/x", "", "/x"),
    ],
)
def test_route_path(path: str, root: str, expected: str) -> None:
    from clerk_auth_starlette._middleware import route_path

    assert route_path({"type": "http", "path": path, "root_path": root}) == expected


def test_a_deployment_prefix_never_excludes_every_route(clerk: MockClerk) -> None:
    # exclude_paths=("/public/",) and the app deployed under the prefix /public: before
    # the fix, every route matched the exclusion and ran without a token.
    app = app_excluding(clerk.config(), "/public/")
    with serve_with_root(app, "/public") as url:
        response = httpx.get(url + "/protected")
        assert response.status_code == 401
        assert response.json()["reason"] == "session-token-and-uat-missing"
        token = {"Authorization": f"Bearer {clerk.mint()}"}
        assert httpx.get(url + "/protected", headers=token).json() == {"user_id": "user_test"}
        # The excluded route (its route path is /public/page) still is excluded.
        assert httpx.get(url + "/public/page").json() == {"user_id": None}


def test_exclusions_match_the_route_path_under_a_prefix(clerk: MockClerk) -> None:
    app = app_excluding(clerk.config(), "/public/")
    with serve_with_root(app, "/api") as url:
        assert httpx.get(url + "/public/page").json() == {"user_id": None}
        assert httpx.get(url + "/protected").status_code == 401


def test_options_without_origin_is_authenticated(clerk: MockClerk) -> None:
    app = app_excluding(clerk.config())
    with serve_with_root(app, "") as url:
        no_origin = httpx.options(
            url + "/protected", headers={"Access-Control-Request-Method": "GET"}
        )
        assert no_origin.status_code == 401
        assert no_origin.json()["reason"] == "session-token-and-uat-missing"


def test_required_guard_never_runs_its_endpoint_for_a_preflight(clerk: MockClerk) -> None:
    ran: list[str] = []

    async def items(request: Request) -> Response:
        ran.append(request.method)
        return Response("ran")

    routes = [
        Route("/items", require_auth(items), methods=["POST", "OPTIONS"]),
        Route("/maybe", require_auth(optional=True)(who), methods=["POST", "OPTIONS"]),
    ]
    middleware = [Middleware(ClerkAuthMiddleware, config=clerk.config(), mode="annotate")]
    preflight = {"Origin": clerk.origin, "Access-Control-Request-Method": "POST"}
    with serve_with_root(Starlette(routes=routes, middleware=middleware), "") as url:
        response = httpx.options(url + "/items", headers=preflight)
        assert (response.status_code, response.content) == (204, b"")
        assert ran == []
        assert httpx.options(url + "/maybe", headers=preflight).json() == {"user_id": None}
        assert httpx.post(url + "/items").status_code == 401
        assert ran == []
