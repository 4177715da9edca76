"""The Django REST framework driver: ``APIView``s with ``ClerkAuthentication`` and the
Clerk permission classes, behind ``ClerkAuthMiddleware`` (annotate mode) and a CORS
layer; served by werkzeug's threaded WSGI server (the sync middleware and provider)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.urls import path

from . import MACHINE_ROUTES, PERMISSION, REVERIFICATION, ROLE, serve_wsgi, verified_body
from .django import App, configure, stack, urlconf, wsgi_handler

configure()  # DRF reads Django's settings at import

from rest_framework.permissions import AllowAny  # noqa: E402
from rest_framework.request import Request  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.views import APIView  # noqa: E402

from clerk_auth_core import ClerkConfig  # noqa: E402
from clerk_auth_django import ClerkAuth  # noqa: E402
from clerk_auth_django.drf import (  # noqa: E402
    ClerkAuthentication,
    HasPermission,
    HasReverification,
    HasRole,
    IsClerkAuthenticated,
)

__all__ = ["make_app", "make_pair_app", "serve", "serve_pair"]


class UserId(APIView):
    """``{"user_id": …}`` for a verified session (``request.user`` is a ClerkUser)."""

    authentication_classes: tuple[Any, ...] = (ClerkAuthentication,)
    permission_classes: tuple[Any, ...] = (IsClerkAuthenticated,)

    def get(self, request: Request) -> Response:
        claims = request.auth
        return Response({"user_id": None if claims is None else claims.user_id})


class Optional(UserId):
    permission_classes = (AllowAny,)


class PendingAuthentication(ClerkAuthentication):
    allow_pending = True


class PendingOk(UserId):
    authentication_classes = (PendingAuthentication,)


class Admin(UserId):
    permission_classes = (HasRole(ROLE),)


class Reports(UserId):
    permission_classes = (HasPermission(PERMISSION),)


class Sensitive(UserId):
    permission_classes = (HasReverification(REVERIFICATION),)


def machine_view(accepts: str | list[str], role: str | None) -> Any:
    """A view of :data:`MACHINE_ROUTES`: its ClerkAuthentication accepts ``accepts``;
    ``request.auth`` is the verified token, session or machine."""

    # type(): the class statement ``class A(ClerkAuthentication): accepts = …``.
    authentication = type("Accepting", (ClerkAuthentication,), {"accepts": accepts})

    class Verified(APIView):
        authentication_classes = (authentication,)
        permission_classes = (IsClerkAuthenticated if role is None else HasRole(role),)

        def get(self, request: Request) -> Response:
            return Response(verified_body(request.auth))

    return Verified.as_view()


def make_app(config: ClerkConfig) -> tuple[App, list[ClerkAuth]]:
    """The small API on DRF."""
    configure()
    auth = ClerkAuth(config)
    patterns = [
        path("protected", UserId.as_view()),
        path("optional", Optional.as_view()),
        path("admin", Admin.as_view()),
        path("reports", Reports.as_view()),
        path("pending-ok", PendingOk.as_view()),
        path("sensitive", Sensitive.as_view()),
        *(
            path(route[1:], machine_view(accepts, role))
            for route, (accepts, role) in MACHINE_ROUTES.items()
        ),
    ]
    return (urlconf("conformance_drf", patterns), stack(auth, config.authorized_parties)), [auth]


def make_pair_app(config_a: ClerkConfig, config_b: ClerkConfig) -> tuple[App, list[ClerkAuth]]:
    """Two ClerkAuth on one app (issue 12): A in the middleware (annotate) and the
    default of ``/a/protected``'s authentication; ``/b/protected`` and ``/both/protected``
    authenticate with B (on ``/both``, A's middleware has already signed the request in)."""
    configure()
    auth_a, auth_b = ClerkAuth(config_a), ClerkAuth(config_b)

    class BAuthentication(ClerkAuthentication):
        auth = auth_b

    class B(UserId):
        authentication_classes = (BAuthentication,)

    patterns = [
        path("a/protected", UserId.as_view()),
        path("b/protected", B.as_view()),
        path("both/protected", B.as_view()),
    ]
    app = (urlconf("conformance_drf_pair", patterns), stack(auth_a, config_a.authorized_parties))
    return app, [auth_a, auth_b]


@contextmanager
def _serve(app: App, auths: list[ClerkAuth]) -> Iterator[str]:
    try:
        with serve_wsgi(wsgi_handler(app)) as url:
            yield url
    finally:
        for auth in auths:
            auth.close()


@contextmanager
def serve(config: ClerkConfig) -> Iterator[str]:
    """Serve the small API with DRF under werkzeug (WSGI)."""
    with _serve(*make_app(config)) as url:
        yield url


@contextmanager
def serve_pair(config_a: ClerkConfig, config_b: ClerkConfig) -> Iterator[str]:
    """Serve the two-instance app with DRF under werkzeug (WSGI)."""
    with _serve(*make_pair_app(config_a, config_b)) as url:
        yield url
