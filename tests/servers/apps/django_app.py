"""The Django app the server tests run under gunicorn (``django_app:app``).

Configured the way a project is: ``CLERK_*`` from the environment the harness sets (the
settings' fallback), the key-cache policy as the ``CLERK_JWKS_POLICY`` setting,
``ClerkAuthMiddleware`` in ``MIDDLEWARE``. ``GET /me`` needs a session (``{"user_id",
"pid"}``); ``GET /machine`` takes any token kind; ``GET /public`` needs none; ``GET
/_stats`` shows this worker's key-cache counters. Every response carries ``X-Worker-
Pid``.
"""

from __future__ import annotations

import json
import os
from typing import Any

import django
from _settings import warm_up
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path

from clerk_auth_django import default_auth, get_verified, require_auth

settings.configure(
    DEBUG=False,
    SECRET_KEY="clerk-auth-server-tests",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=["django_app.WorkerPid", "clerk_auth_django.ClerkAuthMiddleware"],
    INSTALLED_APPS=["clerk_auth_django"],
    CLERK_JWKS_POLICY=json.loads(os.environ.get("CLERK_AUTH_TEST_POLICY") or "{}"),
)
django.setup()


def key_stats() -> dict[str, Any]:
    """The default ClerkAuth's key provider's counters (the provider it made)."""
    source: Any = default_auth().key_source
    stats: dict[str, Any] = source.stats.as_dict()
    return stats


class WorkerPid:
    """Add ``X-Worker-Pid`` to every response."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response
        self.pid = str(os.getpid())

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response: HttpResponse = self.get_response(request)
        response["X-Worker-Pid"] = str(os.getpid())  # after a fork: the worker's
        return response


@require_auth
def me(request: HttpRequest) -> JsonResponse:
    claims = request.clerk_auth  # type: ignore[attr-defined]
    return JsonResponse({"user_id": None if claims is None else claims.user_id, "pid": os.getpid()})


@require_auth(accepts="any")
def machine(request: HttpRequest) -> JsonResponse:
    verified = get_verified(request)
    assert verified is not None
    return JsonResponse(
        {"subject": verified.subject, "token_type": verified.token_type, "pid": os.getpid()}
    )


def public(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"public": True, "pid": os.getpid()})


def stats(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"pid": os.getpid(), "stats": key_stats()})


urlpatterns = [
    path("me", me),
    path("machine", machine),
    path("public", public),
    path("_stats", stats),
]

app = WSGIHandler()  # loads the middleware: the configuration is validated now
if warm_up():
    default_auth().warm_up()
