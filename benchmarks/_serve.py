"""The apps the server benchmark runs (gunicorn imports ``flask_app``, uvicorn
``starlette_app``): ``/open`` and ``/protected`` answer the same view, the second behind
clerk-auth. Configured from ``BENCH_JWT_KEY``, ``BENCH_ISSUER``, ``BENCH_AZP``."""

from __future__ import annotations

import logging
import os
from typing import Any

from clerk_auth_core import ClerkConfig

logging.getLogger("clerk_auth").setLevel(logging.ERROR)


def _config() -> ClerkConfig:
    return ClerkConfig(
        jwt_key=os.environ["BENCH_JWT_KEY"],
        issuer=os.environ["BENCH_ISSUER"],
        authorized_parties=[os.environ["BENCH_AZP"]],
    )


def _flask() -> Any:
    from flask import Flask

    from clerk_auth_flask import ClerkAuth, require_auth

    app = Flask("bench")
    ClerkAuth(app, config=_config())

    def view() -> dict[str, bool]:
        return {"ok": True}

    app.add_url_rule("/open", "open", view)
    app.add_url_rule("/protected", "protected", require_auth(view))
    return app


def _starlette() -> Any:
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from clerk_auth_starlette import ClerkAuthMiddleware

    async def view(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    plain = Starlette(routes=[Route("/open", view)])
    guarded = Starlette(
        routes=[Route("/protected", view)],
        middleware=[Middleware(ClerkAuthMiddleware, config=_config())],
    )

    async def app(scope: Any, receive: Any, send: Any) -> None:
        target = guarded if scope.get("path") == "/protected" else plain
        await target(scope, receive, send)

    return app


if os.environ.get("BENCH_SERVER") == "flask":
    flask_app = _flask()
elif os.environ.get("BENCH_SERVER") == "starlette":
    starlette_app = _starlette()
