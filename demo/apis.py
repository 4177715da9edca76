"""The same small API three times: on Flask (``clerk_auth_flask``), on Starlette
(``clerk_auth_starlette``) and on Django (``clerk_auth_django``).

``GET /api/hello`` answers ``{"user_id": …, "framework": "flask" | "starlette" |
"django"}`` for a
verified Clerk session; anything else gets the adapter's 401 (JSON ``{"error",
"reason", "message"}`` and ``WWW-Authenticate``). ``GET /api/sensitive`` answers the
same, but only to a session that verified its second factor within 10 minutes
(``reverification="strict"``); else 403 with Clerk's ``{"clerk_error": …}`` body.
All allow CORS from the front end's origin only, and expose ``WWW-Authenticate`` so
the page can read it. Clerk's guide
makes the browser send ``Authorization``, which is not a "simple" header, so before
each call the browser asks first (the CORS preflight, ``OPTIONS``): CORS answers it,
never the auth layer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import django
from django.conf import settings
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from flask import Flask, Response, request
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from clerk_auth_core import ClerkConfig
from clerk_auth_django import ClerkAuth as DjangoClerkAuth
from clerk_auth_django import ClerkAuthMiddleware as DjangoClerkAuthMiddleware
from clerk_auth_django import require_auth as require_django_auth
from clerk_auth_flask import ClerkAuth, get_auth, require_auth
from clerk_auth_starlette import ClerkAuthMiddleware
from clerk_auth_starlette import get_auth as get_starlette_auth
from clerk_auth_starlette import require_auth as require_starlette_auth

__all__ = [
    "HELLO_PATH",
    "SENSITIVE_PATH",
    "SENSITIVE_REVERIFICATION",
    "DjangoAPI",
    "django_api",
    "flask_api",
    "starlette_api",
]

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


# -- Django -----------------------------------------------------------------------------

GetResponse = Callable[[HttpRequest], HttpResponse]


def _configure_django() -> None:
    """Django's settings, once per process. A process that configured them already (a
    site hosting the demo, the test suite) keeps its own: the demo's handler needs
    nothing from them but a Host check that lets 127.0.0.1 in."""
    if settings.configured:
        return
    settings.configure(
        DEBUG=False,
        SECRET_KEY="demo-not-secret",  # no sessions, no signing: unused
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        ROOT_URLCONF=__name__,  # every request is given its API's urlconf instead
        MIDDLEWARE=[],  # every API builds its own chain (DjangoAPI.load_middleware)
        INSTALLED_APPS=["clerk_auth_django"],  # its system checks
        USE_TZ=True,
    )
    django.setup()


#: The ROOT_URLCONF of :func:`_configure_django` (unused: see DjangoAPI).
urlpatterns: list[Any] = []


class _Cors:
    """What django-cors-headers does for the front end's origin, in a few lines, so the
    demo needs nothing beyond ``clerk-auth[django]``: it answers the preflight itself
    (before ClerkAuthMiddleware, which never sees it) and decorates every answer, the
    401s included."""

    def __init__(self, get_response: GetResponse, origins: Sequence[str]) -> None:
        self.get_response = get_response
        self.origins = tuple(origins)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        preflight = request.method == "OPTIONS" and "Access-Control-Request-Method" in (
            request.headers
        )
        response = HttpResponse() if preflight else self.get_response(request)
        response["Vary"] = "Origin"
        origin = request.headers.get("Origin")
        if origin in self.origins:
            response["Access-Control-Allow-Origin"] = origin
            response["Access-Control-Expose-Headers"] = "WWW-Authenticate"
            if preflight:
                response["Access-Control-Allow-Methods"] = "GET"
                response["Access-Control-Allow-Headers"] = "Authorization"
                response["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE)
        return response


def _django_hello(request: HttpRequest) -> JsonResponse:
    claims = request.clerk_auth  # set by ClerkAuthMiddleware
    return JsonResponse(
        {"user_id": None if claims is None else claims.user_id, "framework": "django"}
    )


class DjangoAPI(WSGIHandler):  # type: ignore[misc]  # Django ships no type information
    """The API on Django, a WSGI app: CORS outermost, then ``ClerkAuthMiddleware``
    (annotate mode) with this API's own :class:`~clerk_auth_django.ClerkAuth`, then the
    views behind ``@require_auth``.

    Django reads one ``settings.MIDDLEWARE`` and one ``ROOT_URLCONF`` per process; so
    that APIs with different configurations (the tests' misconfigured ones) live side
    by side, each handler builds its own chain and gives each request its urlconf
    (``request.urlconf``) instead.
    """

    def __init__(self, config: ClerkConfig, origins: Sequence[str]) -> None:
        _configure_django()
        self.auth = DjangoClerkAuth(config)
        self.origins = tuple(origins)
        self.urlconf = ModuleType("demo_django_urls")
        self.urlconf.urlpatterns = [  # type: ignore[attr-defined]
            path(HELLO_PATH.lstrip("/"), require_django_auth(_django_hello)),
            path(
                SENSITIVE_PATH.lstrip("/"),
                require_django_auth(reverification=SENSITIVE_REVERIFICATION)(_django_hello),
            ),
        ]
        super().__init__()  # calls load_middleware

    def load_middleware(self, is_async: bool = False) -> None:
        """This API's chain, in place of ``settings.MIDDLEWARE``'s."""
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        views = convert_exception_to_response(self._get_response)
        clerk = DjangoClerkAuthMiddleware(views, auth=self.auth, mode="annotate")
        self._middleware_chain = convert_exception_to_response(
            self._routed(_Cors(convert_exception_to_response(clerk), self.origins))
        )

    def _routed(self, get_response: GetResponse) -> GetResponse:
        def routed(request: HttpRequest) -> HttpResponse:
            request.urlconf = self.urlconf
            return get_response(request)

        return routed

    def close(self) -> None:
        """Stop the key provider (its refresh thread)."""
        self.auth.close()


def django_api(config: ClerkConfig, origins: Sequence[str]) -> DjangoAPI:
    """The API on Django (WSGI), CORS for ``origins``; ``close()`` it when done."""
    return DjangoAPI(config, origins)
