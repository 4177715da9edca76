"""The Django adapter's glue: settings and checks, the middleware (sync and async), the
route guards (function views, class-based views), per-authenticator results."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from typing import Any

import pytest
from asgiref.sync import iscoroutinefunction
from django.core.checks import run_checks
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test import AsyncRequestFactory, RequestFactory, override_settings
from django.views import View

from clerk_auth_core import ClerkConfig, ConfigurationError, KeyResolutionError, KeySet
from clerk_auth_core.testing import MockClerk
from clerk_auth_django import (
    ClerkAuth,
    ClerkAuthMiddleware,
    ClerkAuthRequiredMixin,
    default_auth,
    get_auth,
    get_request_state,
    require_auth,
)
from clerk_auth_django._checks import check_settings

ISSUER = "https://clerk.django.test"  # conftest.py's idle issuer

PREFLIGHT = {"HTTP_ORIGIN": "http://localhost:3000", "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "GET"}


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def abearer(token: str) -> dict[str, Any]:
    """For AsyncRequestFactory, which takes headers by name."""
    return {"headers": {"Authorization": f"Bearer {token}"}}


APREFLIGHT = {
    "headers": {"Origin": "http://localhost:3000", "Access-Control-Request-Method": "GET"}
}


def pem_settings(config: ClerkConfig) -> dict[str, Any]:
    return {
        "CLERK_JWT_KEY": config.jwt_key,
        "CLERK_ISSUER": config.issuer,
        "CLERK_AUTHORIZED_PARTIES": list(config.authorized_parties),
    }


def body(response: HttpResponse) -> dict[str, Any]:
    return json.loads(response.content)  # type: ignore[no-any-return]


def who(request: HttpRequest) -> JsonResponse:
    claims = request.clerk_auth  # type: ignore[attr-defined]
    return JsonResponse({"user_id": None if claims is None else claims.user_id})


async def awho(request: HttpRequest) -> JsonResponse:
    return who(request)


class Down:
    """A key source whose keys cannot be had (the JWKS endpoint is down)."""

    def get_keys(self, kid: str | None) -> KeySet:
        raise KeyResolutionError(retry_after=7)


class AsyncDown:
    async def get_keys(self, kid: str | None) -> KeySet:
        raise KeyResolutionError(retry_after=7)


# -- settings and checks -------------------------------------------------------------


def test_config_from_settings(pem_config: ClerkConfig, rf: RequestFactory, token: str) -> None:
    with override_settings(**pem_settings(pem_config)):
        auth = default_auth()
        assert auth.config.issuer == ISSUER
        assert auth.config.authorized_parties == pem_config.authorized_parties
        state = auth.authenticate(rf.get("/", **bearer(token)))
    assert state.claims is not None
    assert state.claims.user_id == "user_django"


def test_settings_fall_back_to_env_and_settings_win(
    pem_config: ClerkConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLERK_ISSUER", "https://env.example.com")
    monkeypatch.setenv("CLERK_CLOCK_SKEW", "9")
    settings = {**pem_settings(pem_config), "CLERK_ISSUER": None}
    with override_settings(**settings):
        assert default_auth().config.issuer == "https://env.example.com"
        assert default_auth().config.clock_skew == 9.0
    with override_settings(**pem_settings(pem_config)):
        assert default_auth().config.issuer == ISSUER  # a CLERK_* change: made anew


@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [
        ("CLERK_SECRET_KEY", "not-a-key", "CLERK_SECRET_KEY"),
        ("CLERK_CLOCK_SKEW", "soon", "CLERK_CLOCK_SKEW"),
        ("CLERK_AUTH_MODE", "refuse", "CLERK_AUTH_MODE"),
        ("CLERK_USER_MAPPER", "no.such.mapper", "CLERK_USER_MAPPER"),
    ],
)
def test_a_bad_value_fails_when_the_middleware_loads_and_in_checks(
    pem_config: ClerkConfig, setting: str, value: str, named: str
) -> None:
    with override_settings(**{**pem_settings(pem_config), setting: value}):
        with pytest.raises(ConfigurationError, match=named):
            ClerkAuthMiddleware(who)
        messages = check_settings()
    assert [m.id for m in messages] == ["clerk_auth.E001"]
    assert named in messages[0].msg


def test_checks_warn_without_authorized_parties(pem_config: ClerkConfig) -> None:
    with override_settings(**{**pem_settings(pem_config), "CLERK_AUTHORIZED_PARTIES": None}):
        messages = run_checks(tags=["clerk_auth"])
    assert [(m.id, m.level) for m in messages] == [("clerk_auth.W001", 30)]
    assert "CLERK_AUTHORIZED_PARTIES" in messages[0].msg
    with override_settings(**pem_settings(pem_config)):
        assert run_checks(tags=["clerk_auth"]) == []


def test_no_key_source_is_an_error_naming_the_settings() -> None:
    messages = check_settings()
    assert [m.id for m in messages] == ["clerk_auth.E001"]
    assert "CLERK_SECRET_KEY" in messages[0].msg


# -- the middleware --------------------------------------------------------------------


def test_middleware_annotates_and_never_refuses_by_default(
    auth: ClerkAuth, rf: RequestFactory, token: str
) -> None:
    middleware = ClerkAuthMiddleware(who, auth=auth)
    assert not iscoroutinefunction(middleware)
    assert body(middleware(rf.get("/", **bearer(token)))) == {"user_id": "user_django"}
    request = rf.get("/", HTTP_AUTHORIZATION="Bearer nope")
    assert body(middleware(request)) == {"user_id": None}
    assert request.clerk_request_state.reason == "token-invalid"  # type: ignore[attr-defined]


def test_middleware_reject_mode_answers_the_core(auth: ClerkAuth, rf: RequestFactory) -> None:
    middleware = ClerkAuthMiddleware(who, auth=auth, mode="reject")
    response = middleware(rf.get("/"))
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response["Cache-Control"] == "no-store"
    assert body(response)["reason"] == "session-token-and-uat-missing"
    # A CORS preflight passes through untouched, even in reject mode.
    assert middleware(rf.options("/", **PREFLIGHT)).status_code == 200


def test_reject_mode_from_settings(pem_config: ClerkConfig, rf: RequestFactory) -> None:
    with override_settings(**pem_settings(pem_config), CLERK_AUTH_MODE="reject"):
        assert ClerkAuthMiddleware(who)(rf.get("/")).status_code == 401


def test_async_middleware(pem_config: ClerkConfig, arf: AsyncRequestFactory, token: str) -> None:
    auth = ClerkAuth(pem_config)
    middleware = ClerkAuthMiddleware(awho, auth=auth, mode="reject")
    assert iscoroutinefunction(middleware)
    ok = asyncio.run(middleware(arf.get("/", **abearer(token))))
    assert body(ok) == {"user_id": "user_django"}
    refused = asyncio.run(middleware(arf.get("/")))
    assert refused.status_code == 401


def test_async_middleware_503_keeps_its_status(
    pem_config: ClerkConfig, arf: AsyncRequestFactory, token: str
) -> None:
    auth = ClerkAuth(pem_config, async_key_source=AsyncDown())
    response = asyncio.run(
        ClerkAuthMiddleware(awho, auth=auth, mode="reject")(arf.get("/", **abearer(token)))
    )
    assert (response.status_code, response["Retry-After"]) == (503, "7")
    assert body(response)["reason"] == "jwk-remote-failed-to-load"


# -- @require_auth -----------------------------------------------------------------


def test_require_auth_refuses_with_the_cores_answer(auth: ClerkAuth, rf: RequestFactory) -> None:
    view = require_auth(auth=auth)(who)
    response = view(rf.get("/", HTTP_AUTHORIZATION="Bearer a.b.c"))
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    assert response["Content-Type"] == "application/json"
    assert set(body(response)) == {"error", "reason", "message"}


def test_require_auth_without_middleware_uses_the_settings(
    pem_config: ClerkConfig, rf: RequestFactory, token: str
) -> None:
    with override_settings(**pem_settings(pem_config)):
        assert body(require_auth(who)(rf.get("/", **bearer(token)))) == {"user_id": "user_django"}
        assert require_auth(who)(rf.get("/")).status_code == 401


def test_require_auth_uses_the_middlewares_auth(
    auth: ClerkAuth, rf: RequestFactory, token: str
) -> None:
    app = ClerkAuthMiddleware(require_auth(who), auth=auth)
    assert body(app(rf.get("/", **bearer(token)))) == {"user_id": "user_django"}


def test_requirements_and_optional(
    auth: ClerkAuth, idle_clerk: MockClerk, rf: RequestFactory, token: str
) -> None:
    admin = require_auth(role="org:admin", auth=auth)(who)
    refused = admin(rf.get("/", **bearer(token)))
    assert refused.status_code == 403
    assert 'error="insufficient_scope"' in refused["WWW-Authenticate"]
    org_admin = idle_clerk.mint(sub="user_admin", org={"id": "org_1", "role": "org:admin"})
    assert admin(rf.get("/", **bearer(org_admin))).status_code == 200
    optional = require_auth(optional=True, auth=auth)(who)
    assert body(optional(rf.get("/", HTTP_AUTHORIZATION="Bearer a.b.c"))) == {"user_id": None}


def test_optional_still_answers_a_server_failure(
    pem_config: ClerkConfig, rf: RequestFactory, token: str
) -> None:
    auth = ClerkAuth(pem_config, key_source=Down())
    response = require_auth(optional=True, auth=auth)(who)(rf.get("/", **bearer(token)))
    assert (response.status_code, response["Retry-After"]) == (503, "7")


def test_pending_sessions(auth: ClerkAuth, idle_clerk: MockClerk, rf: RequestFactory) -> None:
    pending = idle_clerk.mint(sub="user_pending", sts="pending")
    refused = require_auth(auth=auth)(who)(rf.get("/", **bearer(pending)))
    assert body(refused)["reason"] == "session-pending"
    allowed = require_auth(allow_pending=True, auth=auth)(who)(rf.get("/", **bearer(pending)))
    assert body(allowed) == {"user_id": "user_pending"}


def test_preflight_never_runs_a_required_view(auth: ClerkAuth, rf: RequestFactory) -> None:
    ran: list[str] = []

    def view(request: HttpRequest) -> HttpResponse:
        ran.append(request.method or "")
        return HttpResponse("ran")

    response = require_auth(auth=auth)(view)(rf.options("/", **PREFLIGHT))
    assert (response.status_code, response.content, ran) == (204, b"", [])
    assert (
        require_auth(optional=True, auth=auth)(view)(rf.options("/", **PREFLIGHT)).content == b"ran"
    )
    # An OPTIONS without Origin is no preflight: authenticated as any request.
    assert require_auth(auth=auth)(view)(rf.options("/")).status_code == 401


def test_async_view(auth: ClerkAuth, arf: AsyncRequestFactory, token: str) -> None:
    view = require_auth(role="org:admin", auth=auth)(awho)
    assert iscoroutinefunction(view)
    assert asyncio.run(view(arf.get("/", **abearer(token)))).status_code == 403
    ok = asyncio.run(require_auth(auth=auth)(awho)(arf.get("/", **abearer(token))))
    assert body(ok) == {"user_id": "user_django"}
    preflight = asyncio.run(require_auth(auth=auth)(awho)(arf.options("/", **APREFLIGHT)))
    assert preflight.status_code == 204


def test_each_guard_decides_with_its_own_auth(
    auth: ClerkAuth, rf: RequestFactory, token: str
) -> None:
    """Issue 12: a result obtained by one ClerkAuth never serves another on the request."""
    other = MockClerk(issuer="https://clerk.other.test")
    auth_b = ClerkAuth(other.pem_config())
    view = ClerkAuthMiddleware(require_auth(auth=auth_b)(who), auth=auth)
    request = rf.get("/", **bearer(token))
    response = view(request)
    assert response.status_code == 401
    assert body(response)["reason"] != "session-token-and-uat-missing"
    # The middleware's own result is still there, under its own ClerkAuth.
    assert auth.authenticate(request).claims is not None
    b_token = other.mint(sub="user_b")
    assert body(view(rf.get("/", **bearer(b_token)))) == {"user_id": "user_b"}


def test_results_live_on_the_request(auth: ClerkAuth, rf: RequestFactory, token: str) -> None:
    request = rf.get("/", **bearer(token))
    first = auth.authenticate(request)
    assert auth.authenticate(request) is first  # once per request
    assert get_request_state(request) is first
    assert get_auth(request) is first.claims
    assert auth.authenticate(rf.get("/", **bearer(token))) is not first


def test_guard_finds_the_request_after_self(
    auth: ClerkAuth, rf: RequestFactory, token: str
) -> None:
    class Views:
        @require_auth(auth=auth)
        def me(self, request: HttpRequest) -> JsonResponse:
            return who(request)

    assert body(Views().me(rf.get("/", **bearer(token)))) == {"user_id": "user_django"}
    with pytest.raises(TypeError, match="HttpRequest"):
        require_auth(auth=auth)(lambda: None)()


# -- class-based views -----------------------------------------------------------------


def test_class_based_views(
    auth: ClerkAuth, rf: RequestFactory, idle_clerk: MockClerk, token: str
) -> None:
    class Reports(ClerkAuthRequiredMixin, View):
        clerk_permission = "org:reports:read"
        clerk_auth_instance = auth

        def get(self, request: HttpRequest) -> JsonResponse:
            return who(request)

    view = Reports.as_view()
    assert view(rf.get("/")).status_code == 401
    assert view(rf.get("/", **bearer(token))).status_code == 403
    org = {"id": "org_1", "role": "org:member", "permissions": ["org:reports:read"]}
    reader = idle_clerk.mint(sub="user_reader", org=org)
    assert body(view(rf.get("/", **bearer(reader)))) == {"user_id": "user_reader"}


def test_async_class_based_views(auth: ClerkAuth, arf: AsyncRequestFactory, token: str) -> None:
    class Me(ClerkAuthRequiredMixin, View):
        clerk_auth_instance = auth

        async def get(self, request: HttpRequest) -> JsonResponse:
            return who(request)

    view = Me.as_view()
    assert asyncio.run(view(arf.get("/"))).status_code == 401
    assert body(asyncio.run(view(arf.get("/", **abearer(token))))) == {"user_id": "user_django"}


def test_the_package_imports_no_drf() -> None:
    """``clerk_auth_django`` works without DRF: only ``clerk_auth_django.drf`` imports it."""
    code = (
        "import sys, clerk_auth_django;"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'rest_framework', 'flask',"
        " 'starlette'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"


def test_close_closes_only_what_it_made(pem_config: ClerkConfig) -> None:
    given = Down()
    auth = ClerkAuth(pem_config, key_source=given)
    asyncio.run(auth.aclose())
    assert auth.key_source is given  # a given key source is yours: kept, never closed
    made = ClerkAuth(pem_config)
    first = made.key_source
    made.close()
    assert made.key_source is not first  # made anew on next use
    assert made.async_key_source is made.async_key_source
    asyncio.run(made.aclose())


def test_require_claims_inside_a_guard(auth: ClerkAuth, rf: RequestFactory, token: str) -> None:
    # Issue 16: the one non-optional accessor, by the same name as in every adapter.
    from clerk_auth_django import require_claims

    @require_auth(auth=auth)
    def me(request: HttpRequest) -> HttpResponse:
        return JsonResponse({"user_id": require_claims(request).user_id})

    request = rf.get("/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert json.loads(me(request).content) == {"user_id": "user_django"}
    signed_out = rf.get("/me")
    auth.authenticate(signed_out)
    with pytest.raises(RuntimeError, match="not signed in"):
        require_claims(signed_out)
