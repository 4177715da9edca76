"""The DRF classes: ``request.user`` / ``request.auth``, the core's 401/403/503 answers
(never DRF's 403 for a server failure), ``authenticate_header`` for DRF's own
``IsAuthenticated``, and the optional mapping to local users."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytest.importorskip("rest_framework")

from django.contrib.auth import get_user_model
from django.http import HttpResponse
from django.test import RequestFactory, override_settings
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from clerk_auth_core import ClerkConfig, KeyResolutionError, KeySet, SessionClaims
from clerk_auth_core.testing import MockClerk
from clerk_auth_django import ClerkAuth, ClerkAuthMiddleware, ClerkUser
from clerk_auth_django.drf import (
    ClerkAuthentication,
    HasFeature,
    HasPermission,
    HasPlan,
    HasRole,
    IsClerkAuthenticated,
)

PREFLIGHT = {"HTTP_ORIGIN": "http://localhost:3000", "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "GET"}


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def body(response: HttpResponse) -> Any:
    if hasattr(response, "render"):  # a DRF Response, straight from the view
        response.render()
    return json.loads(response.content)


class Down:
    def get_keys(self, kid: str | None) -> KeySet:
        raise KeyResolutionError(retry_after=7)


def api(auth: ClerkAuth, *permissions: Any, handler: bool = True) -> Any:
    """An APIView answering who ``request.user`` / ``request.auth`` are, behind the
    middleware with ``auth``; ``handler``: with clerk_auth_django.drf.exception_handler."""

    class Me(APIView):
        authentication_classes = (ClerkAuthentication,)
        permission_classes = permissions or (IsClerkAuthenticated,)

        def get(self, request: Request) -> Response:
            user = request.user
            return Response(
                {
                    "user": None if user is None else str(user),
                    "type": type(user).__name__,
                    "auth": None if request.auth is None else request.auth.session_id,
                }
            )

        def get_exception_handler(self) -> Any:
            if handler:
                return super().get_exception_handler()
            from rest_framework.views import exception_handler

            return exception_handler

    return ClerkAuthMiddleware(Me.as_view(), auth=auth)


def test_user_and_auth(auth: ClerkAuth, rf: RequestFactory, token: str) -> None:
    response = api(auth)(rf.get("/", **bearer(token)))
    assert body(response) == {"user": "user_django", "type": "ClerkUser", "auth": "sess_test"}


def test_clerk_user(auth: ClerkAuth, rf: RequestFactory, idle_clerk: MockClerk) -> None:
    token = idle_clerk.mint(sub="user_1", sid="sess_1", org={"id": "org_1", "role": "org:admin"})
    claims = auth.authenticate(rf.get("/", **bearer(token))).claims
    assert claims is not None
    user = ClerkUser(claims)
    assert (user.is_authenticated, user.is_anonymous, user.is_staff) == (True, False, False)
    assert (user.id, user.pk, user.username, user.get_username(), str(user)) == ("user_1",) * 5
    assert (user.session_id, user.org_id, user.claims) == ("sess_1", "org_1", claims)
    assert user == ClerkUser(claims)
    assert hash(user) == hash(ClerkUser(claims))


@pytest.mark.parametrize("handler", [True, False])
def test_401_is_the_cores_answer(auth: ClerkAuth, rf: RequestFactory, handler: bool) -> None:
    response = api(auth, handler=handler)(rf.get("/", HTTP_AUTHORIZATION="Bearer a.b.c"))
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    assert set(body(response)) == {"error", "reason", "message"}
    if handler:  # byte for byte: Cache-Control too
        assert response["Cache-Control"] == "no-store"


def test_drfs_is_authenticated_gets_the_cores_www_authenticate(
    auth: ClerkAuth, rf: RequestFactory
) -> None:
    view = api(auth, IsAuthenticated)
    response = view(rf.get("/", HTTP_AUTHORIZATION="Bearer a.b.c"))
    assert response.status_code == 401  # not DRF's 403: authenticate_header answers
    assert response["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    assert view(rf.get("/"))["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("handler", [True, False])
def test_503_keeps_its_status(
    pem_config: ClerkConfig, rf: RequestFactory, token: str, handler: bool
) -> None:
    auth = ClerkAuth(pem_config, key_source=Down())
    for permission in (IsClerkAuthenticated, AllowAny):  # an open view does not hide it
        response = api(auth, permission, handler=handler)(rf.get("/", **bearer(token)))
        assert (response.status_code, response["Retry-After"]) == (503, "7")
        assert body(response)["reason"] == "jwk-remote-failed-to-load"


def test_optional_view_runs_signed_out(auth: ClerkAuth, rf: RequestFactory) -> None:
    response = api(auth, AllowAny)(rf.get("/", HTTP_AUTHORIZATION="Bearer a.b.c"))
    assert response.status_code == 200
    assert body(response)["auth"] is None


def test_permission_classes(auth: ClerkAuth, idle_clerk: MockClerk, rf: RequestFactory) -> None:
    org = {"id": "org_1", "role": "org:admin", "permissions": ["org:reports:read"]}
    admin = idle_clerk.mint(
        sub="user_admin", org=org, features=["u:export"], plans=["u:pro"], version=2
    )
    plain = idle_clerk.mint(sub="user_plain")
    for permission in (
        HasRole("org:admin"),
        HasPermission("org:reports:read"),
        HasFeature("user:export"),
        HasPlan("user:pro"),
    ):
        assert api(auth, permission)(rf.get("/", **bearer(admin))).status_code == 200
        refused = api(auth, permission)(rf.get("/", **bearer(plain)))
        assert refused.status_code == 403
        assert 'error="insufficient_scope"' in refused["WWW-Authenticate"]
        assert body(refused)["error"] == "forbidden"
    assert HasRole("org:admin", "org:owner").requirements.roles == ("org:admin", "org:owner")


def test_preflight_never_runs_a_required_view(auth: ClerkAuth, rf: RequestFactory) -> None:
    response = api(auth)(rf.options("/", **PREFLIGHT))
    assert (response.status_code, response.content) == (204, b"")


def test_permission_without_clerk_authentication_is_a_clear_error(rf: RequestFactory) -> None:
    class Bare(APIView):
        authentication_classes = ()
        permission_classes = (IsClerkAuthenticated,)

    with pytest.raises(RuntimeError, match="ClerkAuthentication"):
        Bare.as_view()(rf.get("/"))


def test_each_authentication_decides_with_its_own_auth(
    auth: ClerkAuth, rf: RequestFactory, token: str
) -> None:
    other = MockClerk(issuer="https://clerk.other.test")
    auth_b = ClerkAuth(other.pem_config())

    class BAuthentication(ClerkAuthentication):
        auth = auth_b

    class B(APIView):
        authentication_classes = (BAuthentication,)
        permission_classes = (IsClerkAuthenticated,)

        def get(self, request: Request) -> Response:
            return Response({"user": str(request.user)})

    view = ClerkAuthMiddleware(B.as_view(), auth=auth)  # A signs the request in first
    assert view(rf.get("/", **bearer(token))).status_code == 401
    assert body(view(rf.get("/", **bearer(other.mint(sub="user_b"))))) == {"user": "user_b"}


# -- mapping to local users --------------------------------------------------------------


def test_user_mapper_gets_or_creates_a_local_user(
    database: None, pem_config: ClerkConfig, rf: RequestFactory, idle_clerk: MockClerk
) -> None:
    settings = {
        "CLERK_JWT_KEY": pem_config.jwt_key,
        "CLERK_ISSUER": pem_config.issuer,
        "CLERK_USER_MAPPER": "clerk_auth_django.get_or_create_user",
    }
    token = idle_clerk.mint(sub="user_mapped")
    with override_settings(**settings):
        from clerk_auth_django import default_auth

        first = body(api(default_auth())(rf.get("/", **bearer(token))))
        second = body(api(default_auth())(rf.get("/", **bearer(token))))
    model = get_user_model()
    assert first == second == {"user": "user_mapped", "type": model.__name__, "auth": "sess_test"}
    user = model.objects.get(username="user_mapped")
    assert not user.has_usable_password()
    assert model.objects.filter(username="user_mapped").count() == 1


def test_user_mapper_is_off_by_default(auth: ClerkAuth, rf: RequestFactory, token: str) -> None:
    assert auth.user_mapper is None
    assert body(api(auth)(rf.get("/", **bearer(token))))["type"] == "ClerkUser"


def test_a_mapper_of_your_own(pem_config: ClerkConfig, rf: RequestFactory, token: str) -> None:
    seen: list[str] = []

    def mapper(claims: SessionClaims) -> Any:
        seen.append(claims.user_id)
        return ClerkUser(claims)

    auth = ClerkAuth(pem_config, user_mapper=mapper)
    assert api(auth)(rf.get("/", **bearer(token))).status_code == 200
    assert seen == ["user_django"]


class RefusedSecret:
    """A key source whose Backend API refused the secret key (a 500: ours to fix)."""

    def get_keys(self, kid: str | None) -> KeySet:
        raise KeyResolutionError("secret-key-invalid")


@pytest.mark.parametrize("handler", [True, False])
def test_500_keeps_its_status(
    pem_config: ClerkConfig, rf: RequestFactory, token: str, handler: bool
) -> None:
    auth = ClerkAuth(pem_config, key_source=RefusedSecret())
    for permission in (IsClerkAuthenticated, AllowAny):
        response = api(auth, permission, handler=handler)(rf.get("/", **bearer(token)))
        assert response.status_code == 500
        assert body(response)["reason"] == "secret-key-invalid"
        assert "WWW-Authenticate" not in response
