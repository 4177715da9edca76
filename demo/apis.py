"""The same small API twice: on Flask (``clerk_auth_flask``) and on Starlette
(``clerk_auth_starlette``).

``GET /api/hello`` answers ``{"user_id": …, "framework": "flask" | "starlette"}`` for a
verified Clerk session; anything else gets the adapter's 401 (JSON ``{"error",
"reason", "message"}`` and ``WWW-Authenticate``). ``GET /api/sensitive`` answers the
same, but only to a session that verified its second factor within 10 minutes
(``reverification="strict"``); else 403 with Clerk's ``{"clerk_error": …}`` body.
Both allow CORS from the front end's origin only, and expose ``WWW-Authenticate`` so
the page can read it. Clerk's guide
makes the browser send ``Authorization``, which is not a "simple" header, so before
each call the browser asks first (the CORS preflight, ``OPTIONS``): CORS answers it,
never the auth layer.
"""

from __future__ import annotations

from collections.abc import Sequence

from flask import Flask, Response, request
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from clerk_auth_core import ClerkConfig
from clerk_auth_flask import ClerkAuth, get_auth, require_auth
from clerk_auth_starlette import ClerkAuthMiddleware
from clerk_auth_starlette import get_auth as get_starlette_auth
from clerk_auth_starlette import require_auth as require_starlette_auth

__all__ = ["HELLO_PATH", "SENSITIVE_PATH", "SENSITIVE_REVERIFICATION", "flask_api", "starlette_api"]

HELLO_PATH = "/api/hello"
#: A sensitive route (step-up): a second factor verified within 10 minutes, else 403
#: with Clerk's ``clerk_error`` body, which the page reads the required level from.
SENSITIVE_PATH = "/api/sensitive"
SENSITIVE_REVERIFICATION = "strict"

#: Preflight answers are not cached (Max-Age 0), so every call the page makes shows
#: its preflight. A real API caches them: 600 seconds or more.
PREFLIGHT_MAX_AGE = 0


def flask_api(config: ClerkConfig, origins: Sequence[str]) -> Flask:
    """The API on Flask. CORS by hand (what ``flask_cors.CORS(app, origins=…)`` does),
    so the demo needs nothing beyond ``clerk-auth[flask]``."""
    app = Flask("demo.flask_api")
    ClerkAuth(app, config=config)

    @app.get(HELLO_PATH)
    @require_auth
    def hello() -> dict[str, str | None]:
        claims = get_auth()
        return {"user_id": None if claims is None else claims.user_id, "framework": "flask"}

    @app.get(SENSITIVE_PATH)
    @require_auth(reverification=SENSITIVE_REVERIFICATION)
    def sensitive() -> dict[str, str | None]:
        return hello()

    @app.after_request
    def cors(response: Response) -> Response:
        # Runs for 401s too (so the page can read them) and for the OPTIONS preflight,
        # which Flask answers itself: it never reaches @require_auth.
        response.vary.add("Origin")
        origin = request.headers.get("Origin")
        if origin in origins:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = "WWW-Authenticate"
            if request.method == "OPTIONS":
                response.headers["Access-Control-Allow-Methods"] = "GET"
                response.headers["Access-Control-Allow-Headers"] = "Authorization"
                response.headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE)
        return response

    return app


async def _hello(request: Request) -> JSONResponse:
    claims = get_starlette_auth(request)
    user_id = None if claims is None else claims.user_id
    return JSONResponse({"user_id": user_id, "framework": "starlette"})


def starlette_api(config: ClerkConfig, origins: Sequence[str]) -> Starlette:
    """The API on Starlette: CORS outermost (it answers preflights and decorates the
    401s), then Clerk's pure ASGI middleware in front of the route."""
    return Starlette(
        routes=[
            Route(HELLO_PATH, _hello),
            Route(
                SENSITIVE_PATH,
                require_starlette_auth(reverification=SENSITIVE_REVERIFICATION)(_hello),
            ),
        ],
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=list(origins),
                allow_methods=["GET"],
                allow_headers=["Authorization"],
                expose_headers=["WWW-Authenticate"],
                max_age=PREFLIGHT_MAX_AGE,
            ),
            Middleware(ClerkAuthMiddleware, config=config),
        ],
    )
