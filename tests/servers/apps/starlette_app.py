"""The Starlette app the server tests run under uvicorn (``starlette_app:app``).

``ClerkAuthMiddleware`` with its own key provider; ``GET /me`` (``{"user_id", "pid"}``)
needs a session, ``GET /machine`` takes any token kind (excluded: its own guard
decides), ``/public`` and ``/_stats`` (the key-cache counters) are excluded. Every
response carries ``X-Worker-Pid``; the lifespan leaves the ``ready`` mark and, at
shutdown, the final counters.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

from _settings import config, warm_up, write_mark
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clerk_auth_starlette import ClerkAuthMiddleware, get_auth, get_verified, require_auth
from clerk_auth_starlette._auth import AUTHENTICATOR_KEY, Authenticator

_authenticator: list[Authenticator] = []


def key_stats() -> dict[str, Any]:
    """The middleware's key provider's counters (empty before the first request)."""
    if not _authenticator:
        return {}
    source: Any = _authenticator[0].key_source  # the AsyncKeyProvider it made
    stats: dict[str, Any] = source.stats.as_dict()
    return stats


class WorkerPid:
    """Pure ASGI: add ``X-Worker-Pid`` to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.pid = str(os.getpid()).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_pid(message: Message) -> None:
            if message["type"] == "http.response.start":
                if not _authenticator and AUTHENTICATOR_KEY in scope:
                    # Set by ClerkAuthMiddleware on the way in: its key provider.
                    _authenticator.append(scope[AUTHENTICATOR_KEY])
                message["headers"] = [*message.get("headers", []), (b"x-worker-pid", self.pid)]
            await send(message)

        await self.app(scope, receive, send_with_pid)


async def me(request: Request) -> Response:
    claims = get_auth(request)
    return JSONResponse({"user_id": None if claims is None else claims.user_id, "pid": os.getpid()})


@require_auth(accepts="any")
async def machine(request: Request) -> Response:
    verified = get_verified(request)
    assert verified is not None
    return JSONResponse(
        {"subject": verified.subject, "token_type": verified.token_type, "pid": os.getpid()}
    )


async def public(request: Request) -> Response:
    return JSONResponse({"public": True, "pid": os.getpid()})


async def stats(request: Request) -> Response:
    if not _authenticator:
        _authenticator.append(request.scope[AUTHENTICATOR_KEY])
    return JSONResponse({"pid": os.getpid(), "stats": key_stats()})


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    write_mark("ready", {})
    yield
    write_mark("stats", {"stats": key_stats()})


app = Starlette(
    routes=[
        Route("/me", me),
        Route("/machine", machine),
        Route("/public", public),
        Route("/_stats", stats),
    ],
    middleware=[
        Middleware(WorkerPid),
        Middleware(
            ClerkAuthMiddleware,
            config=config(),
            exclude_paths=["/public", "/_stats", "/machine"],
            warm_up=warm_up(),
        ),
    ],
    lifespan=lifespan,
)
