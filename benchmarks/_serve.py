"""The apps the server benchmark runs (gunicorn imports ``flask_app`` or
``django_app``, uvicorn ``starlette_app``): ``/open`` and
``/protected`` answer the same view, the second behind clerk-auth. Configured from
``BENCH_JWT_KEY``, ``BENCH_ISSUER``, ``BENCH_AZP``."""

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


def _django() -> list[Any]:
    """Django's URL patterns (this module is its ROOT_URLCONF): ``/protected`` behind
    ``@require_auth`` (a view guard, so ``/open`` runs no clerk-auth code at all)."""
    import django
    from django.conf import settings
    from django.http import HttpRequest, JsonResponse
    from django.urls import path

    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-not-secret",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        # CommonMiddleware sets Content-Length, as in any real project (the load client
        # reads it; gunicorn would otherwise chunk the body).
        MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
        INSTALLED_APPS=[],
        USE_TZ=True,
    )
    django.setup()
    from clerk_auth_django import ClerkAuth, require_auth

    auth = ClerkAuth(_config())

    def view(request: HttpRequest) -> JsonResponse:
        return JsonResponse({"ok": True})

    return [path("open", view), path("protected", require_auth(auth=auth)(view))]


if os.environ.get("BENCH_SERVER") == "flask":
    flask_app = _flask()
elif os.environ.get("BENCH_SERVER") == "starlette":
    starlette_app = _starlette()
elif os.environ.get("BENCH_SERVER") == "django":
    urlpatterns = _django()
    from django.core.wsgi import get_wsgi_application

    django_app = get_wsgi_application()
