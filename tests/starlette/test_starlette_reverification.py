"""``@require_auth(reverification=...)`` on Starlette: declaration errors, the 403 in
Clerk's shape (also from ``reject`` mode's middleware), websockets closed with its reason."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any, Literal

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from clerk_auth_core import ConfigurationError
from clerk_auth_core.testing import MockClerk
from clerk_auth_starlette import ClerkAuthMiddleware, get_auth, require_auth

pytestmark = pytest.mark.anyio
STRICT = (
    b'{"clerk_error":{"type":"forbidden","reason":"reverification-error",'
    b'"metadata":{"reverification":"strict"}}}'
)


async def user_id(request: Request) -> Response:
    claims = get_auth(request)
    return JSONResponse({"user_id": claims and claims.user_id})


@require_auth(reverification="strict")
async def sensitive_socket(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.close()


def make_app(clerk: MockClerk, mode: Literal["reject", "annotate"]) -> Starlette:
    custom = {"level": "first_factor", "afterMinutes": 5}
    return Starlette(
        routes=[
            Route("/sensitive", require_auth(reverification="strict")(user_id)),
            Route("/custom", require_auth(reverification=custom)(user_id)),
            WebSocketRoute("/ws", sensitive_socket),
        ],
        middleware=[Middleware(ClerkAuthMiddleware, config=clerk.pem_config(), mode=mode)],
    )


@pytest.mark.parametrize("mode", ["reject", "annotate"])
async def test_fresh_runs_stale_gets_clerks_403(
    clerk: MockClerk, mode: Literal["reject", "annotate"]
) -> None:
    transport = httpx.ASGITransport(app=make_app(clerk, mode))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:

        async def get(path: str, fva: list[int] | None) -> httpx.Response:
            token = clerk.mint(sub="user_s", fva=fva)
            return await client.get(path, headers={"Authorization": f"Bearer {token}"})

        assert (await get("/sensitive", [30, 9])).json() == {"user_id": "user_s"}
        stale = await get("/sensitive", [0, 10])
        assert (stale.status_code, stale.content) == (403, STRICT)
        assert stale.headers["www-authenticate"].startswith('Bearer error="insufficient_scope"')
        assert (await get("/sensitive", None)).content == STRICT
        assert (await get("/custom", [4, 999])).status_code == 200
        custom = await get("/custom", [5, 0])
        assert custom.status_code == 403
        assert custom.json()["clerk_error"]["metadata"] == {
            "reverification": {"level": "first_factor", "afterMinutes": 5}
        }


async def test_websocket_closes_1008_with_the_reason(clerk: MockClerk) -> None:
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    headers = [(b"authorization", f"Bearer {clerk.mint(fva=[0, 10])}".encode())]
    scope = {"type": "websocket", "path": "/ws", "headers": headers, "query_string": b""}
    await make_app(clerk, "reject")(scope, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": "reverification-error"}]


@pytest.mark.parametrize(
    "value", ["Strict", {"level": "mfa", "afterMinutes": 5}, {"level": "first_factor"}]
)
def test_an_invalid_value_fails_at_decoration(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="reverification"):
        require_auth(reverification=value)


@pytest.mark.parametrize(
    "requirement", [{"permission": "reports:read"}, {"feature": "user:"}, {"role": "a b"}]
)
def test_a_requirement_typo_fails_at_decoration(requirement: dict[str, Any]) -> None:
    # Issue 16: the same core check as every adapter (Requirements.of).
    with pytest.raises(ConfigurationError, match="cannot be a Clerk"):
        require_auth(**requirement)
