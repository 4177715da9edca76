"""The same scope strings through Starlette's ``@requires`` and FastAPI's
``Security(..., scopes=[...])``: the same decisions (issue 13), over real HTTP."""

# No ``from __future__ import annotations``: FastAPI reads the routes' annotations.

from typing import Annotated, Any

import httpx
import pytest
from fastapi import FastAPI, Security
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from clerk_auth_core import ClerkConfig, SessionClaims
from clerk_auth_core.testing import MockClerk
from clerk_auth_starlette import ClerkAuthMiddleware
from clerk_auth_starlette.fastapi import ClerkAuth, install_exception_handler
from conformance.drivers.starlette import serve_asgi

SCOPES = [
    "authenticated",
    "role:admin",
    "role:org:admin",
    "role:member",
    "permission:org:reports:read",
    "permission:org:billing:read",
    "feature:reports",
    "feature:org:reports",
    "feature:user:reports",
    "feature:beta",
    "plan:pro",
    "plan:user:pro",
    "plan:org:pro",
    "reverification:strict",
    "reverification:strict_mfa",
    "reverification:lax",
]

ADMIN = {"id": "org_1", "slug": "acme", "role": "org:admin", "permissions": ["org:reports:read"]}
SESSIONS: dict[str, dict[str, Any]] = {
    "plain": {},
    "admin-v1": {"org": ADMIN, "fva": [3, -1]},
    "admin-v2": {
        "version": 2,
        "org": ADMIN,
        "features": ["org:reports", "user:beta"],
        "plans": ["user:pro"],
        "fva": [3, 5],
    },
    "stale": {"fva": [2000, 2000], "version": 2, "plans": ["org:pro"]},
}


def starlette_app(config: ClerkConfig) -> Starlette:
    async def ok(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    routes = [Route(f"/s/{i}", requires(scope)(ok)) for i, scope in enumerate(SCOPES)]
    middleware = [Middleware(ClerkAuthMiddleware, config=config, mode="annotate")]
    return Starlette(routes=routes, middleware=middleware)


def fastapi_app(config: ClerkConfig) -> FastAPI:
    auth = ClerkAuth(config)
    app = FastAPI()
    install_exception_handler(app)
    for i, scope in enumerate(SCOPES):

        def route(claims: Annotated[SessionClaims, Security(auth.required, scopes=[scope])]) -> str:
            return "ok"

        app.get(f"/s/{i}")(route)
    return app


@pytest.fixture(scope="module")
def decisions() -> dict[str, dict[str, list[bool]]]:
    """Per framework and session, whether each scope let the request through."""
    out: dict[str, dict[str, list[bool]]] = {}
    with MockClerk() as clerk:
        config = clerk.config()
        tokens = {name: clerk.mint(sub=f"user_{name}", **kw) for name, kw in SESSIONS.items()}
        for name, make in (("starlette", starlette_app), ("fastapi", fastapi_app)):
            with serve_asgi(make(config)) as url, httpx.Client(base_url=url) as client:
                out[name] = {}
                for session, token in tokens.items():
                    statuses = [
                        client.get(f"/s/{i}", headers={"Authorization": f"Bearer {token}"})
                        for i in range(len(SCOPES))
                    ]
                    assert {r.status_code for r in statuses} <= {200, 403}, session
                    out[name][session] = [r.status_code == 200 for r in statuses]
    return out


def test_the_same_scope_strings_decide_the_same(
    decisions: dict[str, dict[str, list[bool]]],
) -> None:
    for session in SESSIONS:
        starlette, fastapi = decisions["starlette"][session], decisions["fastapi"][session]
        differ = [s for s, a, b in zip(SCOPES, starlette, fastapi, strict=True) if a != b]
        assert differ == [], session


def test_the_decisions_are_the_sessions(decisions: dict[str, dict[str, list[bool]]]) -> None:
    # Not vacuous: each kind of scope is met by some session and refused to another.
    allowed = {
        session: {s for s, ok in zip(SCOPES, oks, strict=True) if ok}
        for session, oks in decisions["fastapi"].items()
    }
    assert allowed["plain"] == {"authenticated"}
    assert allowed["admin-v1"] == {
        "authenticated",
        "role:admin",
        "role:org:admin",
        "permission:org:reports:read",
        "reverification:strict",
        "reverification:lax",
    }
    assert {"feature:reports", "feature:org:reports", "feature:beta", "plan:pro"} <= allowed[
        "admin-v2"
    ]
    assert "reverification:strict_mfa" in allowed["admin-v2"]
    assert "feature:user:reports" not in allowed["admin-v2"]
    assert allowed["stale"] == {"authenticated", "plan:pro", "plan:org:pro"}
