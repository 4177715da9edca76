"""The middleware under a real uvicorn on 127.0.0.1, keys from a real loopback JWKS:
cold-start herd, a slow JWKS not blocking the loop, websockets, and CORS."""

from __future__ import annotations

import contextlib
import ssl
import time
from typing import Any

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from clerk_auth_core import ClerkConfig
from clerk_auth_core.testing import MockClerk
from clerk_auth_starlette import ClerkAuthMiddleware, get_auth


def websockets_client() -> Any:
    """The ``websockets`` sync client (uvicorn also needs it, or wsproto, to serve
    websockets at all): a test dependency, skipped where it is not installed."""
    return pytest.importorskip("websockets.sync.client")


async def me(request: Request) -> Response:
    claims = get_auth(request)
    return JSONResponse({"user_id": claims and claims.user_id})


async def public(request: Request) -> Response:
    return PlainTextResponse("public")


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(websocket.user.identity)
    await websocket.send_text(await websocket.receive_text())
    await websocket.close()


def make_app(config: ClerkConfig, *middleware: Middleware) -> Starlette:
    return Starlette(
        routes=[Route("/me", me), Route("/public", public), WebSocketRoute("/ws", echo)],
        middleware=[
            *middleware,
            Middleware(
                ClerkAuthMiddleware, config=config, exclude_paths=["/public"], warm_up=False
            ),  # a cold key cache: what these tests are about
        ],
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- keys through the async provider ------------------------------------------------------


async def herd(url: str, path: str, headers: dict[str, str], n: int = 200) -> list[int]:
    """``n`` concurrent GETs, one client (one connection) each: a single httpx pool
    with hundreds of connections is slow enough to spread the herd out over seconds."""
    statuses: list[int] = []
    tls = ssl.create_default_context()  # one context, not one per client
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(httpx.AsyncClient(verify=tls, timeout=30))
            for _ in range(n)
        ]

        async def one(client: httpx.AsyncClient) -> None:
            statuses.append((await client.get(url + path, headers=headers)).status_code)

        async with anyio.create_task_group() as group:
            for client in clients:
                group.start_soon(one, client)
    return statuses


@pytest.mark.anyio
async def test_cold_start_herd_makes_one_jwks_exchange(clerk: MockClerk, serve: Any) -> None:
    # A slowish JWKS keeps the one fetch in flight while the herd arrives.
    clerk.set_fault("slow", delay=0.5)
    with serve(make_app(clerk.config())) as url:
        statuses = await herd(url, "/me", bearer(clerk.mint(sub="user_herd")))
    assert statuses == [200] * 200
    assert clerk.jwks_hits == 1


@pytest.mark.anyio
async def test_slow_jwks_does_not_block_the_event_loop(clerk: MockClerk, serve: Any) -> None:
    clerk.set_fault("slow", delay=1.0)
    token = clerk.mint()
    finished: list[str] = []
    latency: dict[str, float] = {}
    with serve(make_app(clerk.config())) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:

            async def get(name: str, path: str, headers: dict[str, str], expect: int) -> None:
                start = time.monotonic()
                response = await client.get(path, headers=headers)
                latency[name] = time.monotonic() - start
                assert response.status_code == expect
                finished.append(name)

            async with anyio.create_task_group() as group:
                group.start_soon(get, "protected", "/me", bearer(token), 200)
                with anyio.fail_after(5):
                    while clerk.jwks_hits == 0:  # the fetch is in flight, sleeping
                        await anyio.sleep(0.01)
                await get("public", "/public", {}, 200)
                await get("no-token", "/me", {}, 401)  # no token: no key needed
                assert finished == ["public", "no-token"]  # the protected one still waits
    assert finished == ["public", "no-token", "protected"]
    assert latency["public"] < latency["protected"] / 4
    assert latency["no-token"] < latency["protected"] / 4
    assert clerk.jwks_hits == 1


# -- websockets ------------------------------------------------------------------------------


def test_websocket_accepts_a_valid_token(clerk: MockClerk, serve: Any) -> None:
    client = websockets_client()
    with serve(make_app(clerk.config())) as url:
        ws_url = url.replace("http", "ws", 1) + "/ws"
        token = clerk.mint(sub="user_ws")
        with client.connect(ws_url, additional_headers=bearer(token)) as ws:
            assert ws.recv(timeout=5) == "user_ws"
            ws.send("ping")
            assert ws.recv(timeout=5) == "ping"
        cookie = f"__session={clerk.mint(sub='user_cookie')}; __client_uat={int(time.time()) - 5}"
        with client.connect(ws_url, additional_headers={"Cookie": cookie}) as ws:
            assert ws.recv(timeout=5) == "user_cookie"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}])
def test_websocket_without_a_valid_token_is_refused(
    clerk: MockClerk, serve: Any, headers: dict[str, str]
) -> None:
    client = websockets_client()
    from websockets.exceptions import InvalidStatus

    with serve(make_app(clerk.config())) as url:
        ws_url = url.replace("http", "ws", 1) + "/ws"
        with pytest.raises(InvalidStatus) as caught:
            client.connect(ws_url, additional_headers=headers, open_timeout=5)
    # The middleware sent websocket.close (1008) before accept: uvicorn refuses the
    # handshake with 403, promptly (open_timeout would have fired otherwise).
    assert caught.value.response.status_code == 403


@pytest.mark.anyio
async def test_websocket_rejection_is_close_1008_before_accept(clerk: MockClerk) -> None:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": "/ws", "headers": [], "query_string": b""}
    await make_app(clerk.pem_config())(scope, receive, send)
    assert sent == [
        {"type": "websocket.close", "code": 1008, "reason": "session-token-and-uat-missing"}
    ]


# -- CORS ---------------------------------------------------------------------------------------


def test_cors_outermost_decorates_401_and_answers_preflight(clerk: MockClerk, serve: Any) -> None:
    cors = Middleware(
        CORSMiddleware,
        allow_origins=[clerk.origin],
        allow_methods=["GET"],
        allow_headers=["Authorization"],
    )
    origin = {"Origin": clerk.origin}
    with serve(make_app(clerk.config(), cors)) as url:
        rejected = httpx.get(f"{url}/me", headers=origin)
        accepted = httpx.get(f"{url}/me", headers={**origin, **bearer(clerk.mint())})
        preflight = httpx.options(
            f"{url}/me",
            headers={
                **origin,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        other = httpx.get(f"{url}/me", headers={"Origin": "https://evil.example"})
    assert rejected.status_code == 401
    assert rejected.headers["access-control-allow-origin"] == clerk.origin
    assert rejected.json()["reason"] == "session-token-and-uat-missing"
    assert accepted.status_code == 200
    assert accepted.headers["access-control-allow-origin"] == clerk.origin
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == clerk.origin
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    assert other.status_code == 401
    assert "access-control-allow-origin" not in other.headers
    assert clerk.jwks_hits == 1
