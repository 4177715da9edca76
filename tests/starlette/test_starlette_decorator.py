"""``@require_auth``: per-route guards on top of the middleware, answering as the core."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.endpoints import HTTPEndpoint
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from clerk_auth_core import ClerkAuthError, ClerkConfig, HttpAnswer
from clerk_auth_core.testing import MockClerk
from clerk_auth_starlette import ClerkAuthMiddleware, get_auth, require_auth

pytestmark = pytest.mark.anyio
ADMIN = {"id": "org_1", "role": "admin", "permissions": ["org:reports:read"]}
MEMBER = {"id": "org_1", "role": "member", "permissions": ["org:billing:read"]}
SCOPE = r'Bearer error="insufficient_scope", error_description="[^"]+"'


def user_id(request: Request) -> Response:
    claims = get_auth(request)
    return JSONResponse({"user_id": claims and claims.user_id})


async def async_user_id(request: Request) -> Response:
    return user_id(request)


class Reports(HTTPEndpoint):
    @require_auth(permission="org:reports:read")
    async def get(self, request: Request) -> Response:
        return user_id(request)


@require_auth(role="org:admin")
async def admin_socket(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.close()


def make_app(config: ClerkConfig, **options: Any) -> Starlette:
    routes = [
        Route("/protected", require_auth(async_user_id)),
        Route("/sync", require_auth(user_id)),
        Route("/optional", require_auth(optional=True)(async_user_id)),
        Route("/admin", require_auth(role="org:admin")(async_user_id)),
        Route("/reports", Reports),
        Route("/pending-ok", require_auth(allow_pending=True)(async_user_id)),
        WebSocketRoute("/ws-admin", admin_socket),
    ]
    options.setdefault("mode", "annotate")
    return Starlette(
        routes=routes, middleware=[Middleware(ClerkAuthMiddleware, config=config, **options)]
    )


@contextlib.asynccontextmanager
async def client_for(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_guard_refuses_with_the_core_answer(clerk: MockClerk) -> None:
    async with client_for(make_app(clerk.pem_config())) as client:
        for path in ("/protected", "/sync", "/admin"):
            response = await client.get(path)
            assert response.status_code == 401
            assert response.headers["www-authenticate"] == "Bearer"
            assert response.json()["reason"] == "session-token-and-uat-missing"
            ok = await client.get(path, headers=bearer(clerk.mint(sub="user_g", org=ADMIN)))
            assert ok.json() == {"user_id": "user_g"}


async def test_roles_and_permissions_answer_403_insufficient_scope(clerk: MockClerk) -> None:
    async with client_for(make_app(clerk.pem_config())) as client:
        for path in ("/admin", "/reports"):
            denied = await client.get(path, headers=bearer(clerk.mint(org=MEMBER)))
            assert denied.status_code == 403
            assert re.fullmatch(SCOPE, denied.headers["www-authenticate"])
            assert denied.json()["reason"] == "insufficient-scope"
            allowed = await client.get(path, headers=bearer(clerk.mint(version=2, org=ADMIN)))
            assert allowed.status_code == 200


async def test_optional_runs_signed_out(clerk: MockClerk) -> None:
    async with client_for(make_app(clerk.pem_config())) as client:
        anonymous = await client.get("/optional")
        bad = await client.get("/optional", headers=bearer("not-a-jwt"))
        signed_in = await client.get("/optional", headers=bearer(clerk.mint(sub="user_o")))
    assert anonymous.json() == bad.json() == {"user_id": None}
    assert signed_in.json() == {"user_id": "user_o"}


async def test_pending_sessions_only_where_allowed(clerk: MockClerk) -> None:
    token = clerk.mint(sub="user_p", sts="pending")
    async with client_for(make_app(clerk.pem_config())) as client:
        refused = await client.get("/protected", headers=bearer(token))
        allowed = await client.get("/pending-ok", headers=bearer(token))
    assert refused.json()["reason"] == "session-pending"
    assert allowed.json() == {"user_id": "user_p"}


async def test_guards_work_on_excluded_paths_in_reject_mode(clerk: MockClerk) -> None:
    app = make_app(clerk.pem_config(), mode="reject", exclude_paths=["/optional", "/pending-ok"])
    token = clerk.mint(sub="user_p", sts="pending")
    async with client_for(app) as client:
        assert (await client.get("/optional")).json() == {"user_id": None}
        assert (await client.get("/pending-ok", headers=bearer(token))).status_code == 200
        assert (await client.get("/protected", headers=bearer(token))).status_code == 401


async def test_one_verification_per_request(clerk: MockClerk) -> None:
    config = clerk.pem_config()
    calls: list[str | None] = []

    class Source:
        async def get_keys(self, kid: str | None) -> Any:
            calls.append(kid)
            return config.static_keys

    app = make_app(config, key_source=Source())
    async with client_for(app) as client:
        await client.get("/admin", headers=bearer(clerk.mint(org=ADMIN)))
        assert len(calls) == 1  # the middleware's state was reused by the guard
        await client.get("/pending-ok", headers=bearer(clerk.mint()))
        assert len(calls) == 3  # another allow_pending: verified again, on its terms


async def test_on_error_applies_to_guards(clerk: MockClerk) -> None:
    seen: list[tuple[int, ClerkAuthError | None]] = []

    async def on_error(
        request: Request, answer: HttpAnswer, error: ClerkAuthError | None
    ) -> Response:
        seen.append((answer.status, error))
        return PlainTextResponse(answer.body["reason"], answer.status)

    async with client_for(make_app(clerk.pem_config(), on_error=on_error)) as client:
        response = await client.get("/admin", headers=bearer(clerk.mint()))
    assert (response.status_code, response.text) == (403, "insufficient-scope")
    assert [(status, type(err).__name__) for status, err in seen] == [(403, "AuthorizationError")]


async def test_websocket_guard_closes_1008(clerk: MockClerk) -> None:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = [(b"authorization", f"Bearer {clerk.mint()}".encode())]
    scope = {"type": "websocket", "path": "/ws-admin", "headers": headers, "query_string": b""}
    await make_app(clerk.pem_config())(scope, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": "insufficient-scope"}]


async def test_guard_without_middleware_answers_the_core_500_and_logs_the_fix(
    clerk: MockClerk, caplog: pytest.LogCaptureFixture
) -> None:
    # Issue 16: this was a RuntimeError (the server's bare 500) and no hint.
    app = Starlette(routes=[Route("/protected", require_auth(async_user_id))])
    async with client_for(app) as client:
        with caplog.at_level(logging.ERROR, logger="clerk_auth"):
            response = await client.get("/protected")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.json()["reason"] == "configuration-invalid"
    assert "add app.add_middleware(ClerkAuthMiddleware" in caplog.text


def test_guard_needs_a_connection_argument() -> None:
    @require_auth
    async def nothing() -> None:  # pragma: no cover
        pass

    with pytest.raises(TypeError, match="Request or WebSocket"):
        anyio.run(nothing)
