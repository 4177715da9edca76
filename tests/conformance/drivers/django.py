"""The Django driver: async views with ``@require_auth`` behind ``ClerkAuthMiddleware``
(annotate mode) and a CORS layer in front as django-cors-headers would be, under
uvicorn (ASGI: the async middleware, guard and key provider).

Django's settings are configured once per process (:func:`configure`); each served app
is a handler of its own: loading its middleware, the one ``MIDDLEWARE`` entry
(:class:`Dispatch`) takes the app being built, its urlconf (set on each request as
``request.urlconf``) and its chain (CORS, then the app's own ClerkAuthMiddleware), so
apps with different configurations live side by side in one process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import django
import uvicorn
from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path

from clerk_auth_core import ClerkConfig
from clerk_auth_django import ClerkAuth, ClerkAuthMiddleware, get_verified, require_auth

from . import MACHINE_ROUTES, PERMISSION, REVERIFICATION, ROLE, verified_body

__all__ = ["App", "configure", "make_app", "make_pair_app", "serve", "serve_asgi", "serve_pair"]

#: The ROOT_URLCONF (every request is given its app's urlconf instead).
urlpatterns: list[Any] = []

GetResponse = Callable[[HttpRequest], Any]
#: ``(urlconf, build)``: build makes the app's chain around Django's ``get_response``.
App = tuple[ModuleType, Callable[[GetResponse], GetResponse]]
_building: list[App] = []


def configure() -> None:
    """Configure Django's settings for the tests, once per process."""
    if settings.configured:
        return
    settings.configure(
        DEBUG=False,
        SECRET_KEY="conformance-not-secret",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=[f"{__name__}.Dispatch"],
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "rest_framework",
            "clerk_auth_django",
        ],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        USE_TZ=True,
        REST_FRAMEWORK={
            "DEFAULT_AUTHENTICATION_CLASSES": [],
            "DEFAULT_PERMISSION_CLASSES": [],
            "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
            "UNAUTHENTICATED_USER": None,
            "EXCEPTION_HANDLER": "clerk_auth_django.drf.exception_handler",
        },
    )
    django.setup()


class Dispatch:
    """The one ``MIDDLEWARE`` entry: the chain and urlconf of the app being loaded."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse) -> None:
        urlconf, build = _building.pop()
        self.urlconf = urlconf
        self.chain = build(get_response)
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        request.urlconf = self.urlconf
        return self.chain(request)  # a coroutine when async: Django awaits it


class Cors:
    """What django-cors-headers does for the authorized parties, in a few lines: answer
    a preflight itself (200), add ``Access-Control-Allow-Origin`` to responses."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse, origins: tuple[str, ...]) -> None:
        self.get_response = get_response
        self.origins = origins
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def _add(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        origin = request.headers.get("Origin")
        if origin in self.origins:
            response["Access-Control-Allow-Origin"] = origin
            response["Access-Control-Allow-Headers"] = "authorization"
            response["Vary"] = "Origin"
        return response

    def __call__(self, request: HttpRequest) -> Any:
        preflight = request.method == "OPTIONS" and "access-control-request-method" in (
            request.headers
        )
        if iscoroutinefunction(self):
            return self._acall(request, preflight)
        if preflight:
            return self._add(request, HttpResponse())
        return self._add(request, self.get_response(request))

    async def _acall(self, request: HttpRequest, preflight: bool) -> HttpResponse:
        if preflight:
            return self._add(request, HttpResponse())
        return self._add(request, await self.get_response(request))


def urlconf(name: str, patterns: list[Any]) -> ModuleType:
    """A urlconf module object (Django takes any object with ``urlpatterns``)."""
    module = ModuleType(name)
    module.urlpatterns = patterns  # type: ignore[attr-defined]
    return module


def stack(auth: ClerkAuth, origins: tuple[str, ...], mode: Any = "annotate") -> Any:
    """``build`` for :data:`App`: CORS, then ``ClerkAuthMiddleware`` with ``auth``."""

    def build(get_response: GetResponse) -> GetResponse:
        return Cors(ClerkAuthMiddleware(get_response, auth=auth, mode=mode), origins)

    return build


async def user_id(request: HttpRequest) -> JsonResponse:
    claims = request.clerk_auth  # type: ignore[attr-defined]
    return JsonResponse({"user_id": None if claims is None else claims.user_id})


async def verified(request: HttpRequest) -> JsonResponse:
    return JsonResponse(verified_body(get_verified(request)))


def make_app(config: ClerkConfig) -> tuple[App, list[ClerkAuth]]:
    """The small API with async Django views."""
    configure()
    auth = ClerkAuth(config)
    patterns = [
        path("protected", require_auth(user_id)),
        path("optional", require_auth(optional=True)(user_id)),
        path("admin", require_auth(role=ROLE)(user_id)),
        path("reports", require_auth(permission=PERMISSION)(user_id)),
        path("pending-ok", require_auth(allow_pending=True)(user_id)),
        path("sensitive", require_auth(reverification=REVERIFICATION)(user_id)),
        *(
            path(route[1:], require_auth(accepts=accepts, role=role)(verified))
            for route, (accepts, role) in MACHINE_ROUTES.items()
        ),
    ]
    return (urlconf("conformance_django", patterns), stack(auth, config.authorized_parties)), [auth]


def make_pair_app(config_a: ClerkConfig, config_b: ClerkConfig) -> tuple[App, list[ClerkAuth]]:
    """Two ClerkAuth on one app (issue 12): A in the middleware (annotate), guarding
    ``/a/protected``; ``/b/protected`` by B's own guard; ``/both/protected`` by A
    (optional) wrapped around B (required)."""
    auth_a, auth_b = ClerkAuth(config_a), ClerkAuth(config_b)
    patterns = [
        path("a/protected", require_auth(user_id)),
        path("b/protected", require_auth(auth=auth_b)(user_id)),
        path("both/protected", require_auth(optional=True)(require_auth(auth=auth_b)(user_id))),
    ]
    app = (urlconf("conformance_django_pair", patterns), stack(auth_a, config_a.authorized_parties))
    return app, [auth_a, auth_b]


def asgi_handler(app: App) -> Any:
    """A Django ASGI handler for ``app``."""
    configure()
    from django.core.handlers.asgi import ASGIHandler

    _building.append(app)
    return ASGIHandler()


def wsgi_handler(app: App) -> Any:
    """A Django WSGI handler for ``app``."""
    configure()
    from django.core.handlers.wsgi import WSGIHandler

    _building.append(app)
    return WSGIHandler()


class Lifespan:
    """Django answers no ASGI lifespan: this does, closing the key providers at shutdown."""

    def __init__(self, handler: Any, auths: list[ClerkAuth]) -> None:
        self.handler = handler
        self.auths = auths

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await self.handler(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for auth in self.auths:
                    await auth.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


@contextmanager
def serve_asgi(app: App, auths: list[ClerkAuth]) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a thread on a free loopback port. (Not the Starlette
    driver's helper: the django_lts sessions install no Starlette.)"""
    config = uvicorn.Config(
        Lifespan(asgi_handler(app), auths),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="on",
        timeout_keep_alive=60,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-django", daemon=True)
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
        for auth in auths:
            auth.close()


@contextmanager
def serve(config: ClerkConfig) -> Iterator[str]:
    """Serve the small API with Django under uvicorn."""
    with serve_asgi(*make_app(config)) as url:
        yield url


@contextmanager
def serve_pair(config_a: ClerkConfig, config_b: ClerkConfig) -> Iterator[str]:
    """Serve the two-instance app with Django under uvicorn."""
    with serve_asgi(*make_pair_app(config_a, config_b)) as url:
        yield url
