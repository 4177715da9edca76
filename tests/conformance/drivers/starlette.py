"""The Starlette driver: ``ClerkAuthMiddleware`` (reject mode) behind ``CORSMiddleware``,
``@require_auth`` guards for roles, optional and pending routes, and
``@require_auth(accepts=…)`` for the machine-token routes (excluded from the
sessions-only middleware); served by uvicorn."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from clerk_auth_core import ClerkConfig
from clerk_auth_starlette import ClerkAuthMiddleware, get_auth, get_verified, require_auth

from . import MACHINE_ROUTES, PERMISSION, REVERIFICATION, ROLE, verified_body

__all__ = ["make_app", "make_pair_app", "serve", "serve_asgi", "serve_pair"]


@contextmanager
def serve_asgi(app: ASGIApp, *, root_path: str = "") -> Iterator[str]:
    """Serve an ASGI app with uvicorn (and its lifespan) in a thread on a free loopback
    port; stop it, running the lifespan's shutdown, on exit. ``root_path``: uvicorn's
    ``--root-path`` (a deployment prefix, which it puts into ``scope["path"]``)."""
    # A long keep-alive: the suite's client reuses connections across scenarios.
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="on",
        timeout_keep_alive=60,
        root_path=root_path,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)


async def user_id(request: Request) -> JSONResponse:
    claims = get_auth(request)
    return JSONResponse({"user_id": None if claims is None else claims.user_id})


async def verified(request: Request) -> JSONResponse:
    return JSONResponse(verified_body(get_verified(request)))


def make_app(config: ClerkConfig) -> Starlette:
    """The small API on Starlette."""
    routes = [
        Route("/protected", user_id),
        Route("/optional", require_auth(optional=True)(user_id)),
        Route("/admin", require_auth(role=ROLE)(user_id)),
        Route("/reports", require_auth(permission=PERMISSION)(user_id)),
        Route("/pending-ok", require_auth(allow_pending=True)(user_id)),
        Route("/sensitive", require_auth(reverification=REVERIFICATION)(user_id)),
        *(
            Route(path, require_auth(accepts=accepts, role=role)(verified))
            for path, (accepts, role) in MACHINE_ROUTES.items()
        ),
    ]
    middleware = [
        Middleware(
            CORSMiddleware,
            allow_origins=list(config.authorized_parties),
            allow_methods=["GET"],
            allow_headers=["authorization"],
        ),
        # Routes that run signed out (or pending), or take machine tokens, decide for
        # themselves. The scenarios set the key cache's state themselves ("down-cold"):
        # no warm-up.
        Middleware(
            ClerkAuthMiddleware,
            config=config,
            exclude_paths=["/optional", "/pending-ok", "/m/"],
            warm_up=False,
        ),
    ]
    return Starlette(routes=routes, middleware=middleware)


@contextmanager
def serve(config: ClerkConfig) -> Iterator[str]:
    """Serve the small API with Starlette under uvicorn."""
    with serve_asgi(make_app(config)) as url:
        yield url


def make_pair_app(config_a: ClerkConfig, config_b: ClerkConfig) -> Starlette:
    """Two middlewares, nested (issue 12): the outer app's is A in annotate mode; the
    sub-app mounted at ``/b`` has B in reject mode, the one at ``/both/protected`` B in annotate
    mode with a ``@require_auth`` route. ``/a/protected`` is guarded by A."""
    mounted_b = Starlette(
        routes=[Route("/protected", user_id)],
        middleware=[Middleware(ClerkAuthMiddleware, config=config_b)],
    )
    mounted_both = Starlette(
        routes=[Route("/protected", require_auth(user_id))],
        middleware=[Middleware(ClerkAuthMiddleware, config=config_b, mode="annotate")],
    )
    routes = [
        Route("/a/protected", require_auth(user_id)),
        Mount("/b", app=mounted_b),
        Mount("/both", app=mounted_both),
    ]
    middleware = [Middleware(ClerkAuthMiddleware, config=config_a, mode="annotate")]
    return Starlette(routes=routes, middleware=middleware)


@contextmanager
def serve_pair(config_a: ClerkConfig, config_b: ClerkConfig) -> Iterator[str]:
    """Serve the nested two-instance app with Starlette under uvicorn."""
    with serve_asgi(make_pair_app(config_a, config_b)) as url:
        yield url
