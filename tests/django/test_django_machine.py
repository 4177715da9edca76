"""Machine tokens in the Django and DRF adapter (issue 14): ``accepts=`` on the guard,
the mixin and ``ClerkAuthentication``, the machine verifiers beside the key providers,
the accessors; async views under uvicorn (ASGI), sync views and DRF under werkzeug
(WSGI), against the mock issuer's Backend API."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from django.http import HttpRequest, JsonResponse
from django.test import override_settings
from django.urls import path
from django.views import View

from clerk_auth_core import AcceptsToken, ConfigurationError, authenticate_with
from clerk_auth_core.io import AsyncMachineVerifier, SyncMachineVerifier, key_provider
from clerk_auth_core.testing import MockClerk
from clerk_auth_django import (
    ClerkAuth,
    ClerkAuthRequiredMixin,
    ClerkMachineUser,
    get_auth,
    get_machine_auth,
    get_verified,
    require_auth,
)
from conformance.drivers import serve_wsgi
from conformance.drivers.django import serve_asgi, stack, urlconf, wsgi_handler

pytestmark = pytest.mark.slow

#: Each kind, how the mock mints it, its subject, and the one route that takes it.
KINDS: dict[str, tuple[Callable[[MockClerk], str], str, str, str]] = {
    "api_key": (
        lambda c: c.machine.mint_api_key(subject="user_k"),
        "api_key",
        "user_k",
        "/api-key",
    ),
    "m2m_opaque": (
        lambda c: c.machine.mint_m2m_token(subject="mch_s"),
        "m2m_token",
        "mch_s",
        "/m2m",
    ),
    "m2m_jwt": (lambda c: c.machine.mint_m2m_jwt(subject="mch_s"), "m2m_token", "mch_s", "/m2m"),
    "oauth_opaque": (
        lambda c: c.machine.mint_oauth_token(subject="user_o"),
        "oauth_token",
        "user_o",
        "/oauth",
    ),
    "oauth_jwt": (
        lambda c: c.machine.mint_oauth_jwt(subject="user_o"),
        "oauth_token",
        "user_o",
        "/oauth",
    ),
}
MACHINE_PATHS = ("/api-key", "/m2m", "/oauth")
SERVERS = ("asgi", "wsgi")


def _body(request: HttpRequest) -> JsonResponse:
    verified = get_verified(request)
    session, machine = get_auth(request), get_machine_auth(request)
    # The request attributes and the functions agree, whichever kind signed in.
    assert request.clerk_verified is verified  # type: ignore[attr-defined]
    assert request.clerk_machine is machine  # type: ignore[attr-defined]
    assert request.clerk_auth is session  # type: ignore[attr-defined]
    assert verified is (machine if machine is not None else session)
    return JsonResponse(
        {
            "token_type": None if verified is None else verified.token_type,
            "subject": None if verified is None else verified.subject,
            "session": session is not None,
            "machine": machine is not None,
        }
    )


async def body_async(request: HttpRequest) -> JsonResponse:
    return _body(request)


def _user_id(request: HttpRequest) -> JsonResponse:
    claims = get_auth(request)
    return JsonResponse({"user_id": None if claims is None else claims.user_id})


async def user_id_async(request: HttpRequest) -> JsonResponse:
    return _user_id(request)


class KeyView(ClerkAuthRequiredMixin, View):
    clerk_accepts = "api_key"

    def get(self, request: HttpRequest) -> JsonResponse:
        return _body(request)


class AsyncKeyView(ClerkAuthRequiredMixin, View):
    clerk_accepts = "api_key"

    async def get(self, request: HttpRequest) -> JsonResponse:
        return _body(request)


def patterns(server: str) -> list[Any]:
    body: Any = body_async if server == "asgi" else _body
    user_id: Any = user_id_async if server == "asgi" else _user_id
    key_view = (AsyncKeyView if server == "asgi" else KeyView).as_view()
    return [
        path("session", require_auth(user_id)),
        path("api-key", require_auth(accepts="api_key")(body)),
        path("m2m", require_auth(accepts="m2m_token")(body)),
        path("oauth", require_auth(accepts="oauth_token")(body)),
        path("any", require_auth(accepts="any")(body)),
        path("mixed", require_auth(accepts=["session_token", "api_key"])(body)),
        path("key-admin", require_auth(accepts="api_key", role="org:admin")(body)),
        path("mixin", key_view),
        # Two guards on one request: each must get its own answer, never the other's.
        path(
            "session-then-key", require_auth(optional=True)(require_auth(accepts="api_key")(body))
        ),
        path(
            "key-then-session",
            require_auth(optional=True, accepts="api_key")(require_auth(body)),
        ),
        path("unguarded", body),
    ]


class Served:
    """Start apps for one test; stop them (and close their ClerkAuth) at its end."""

    def __init__(self, clerk: MockClerk, stack_: ExitStack) -> None:
        self.clerk = clerk
        self.stack = stack_

    def __call__(self, server: str, **overrides: Any) -> str:
        return self.app(server, ClerkAuth(self.clerk.config(**overrides)))

    def app(self, server: str, auth: ClerkAuth, urls: list[Any] | None = None) -> str:
        app = (
            urlconf(f"machine_{server}", patterns(server) if urls is None else urls),
            stack(auth, auth.config.authorized_parties),
        )
        if server == "asgi":
            url: str = self.stack.enter_context(serve_asgi(app, [auth]))
        else:
            self.stack.callback(auth.close)
            url = self.stack.enter_context(serve_wsgi(wsgi_handler(app)))
        return url


@pytest.fixture
def clerk() -> Iterator[MockClerk]:
    with MockClerk() as mock:
        yield mock
        assert not mock.errors


@pytest.fixture
def serve(clerk: MockClerk) -> Iterator[Served]:
    with ExitStack() as exits:
        yield Served(clerk, exits)


def get(url: str, token: str | None = None, **headers: str) -> httpx.Response:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.get(url, headers=headers, timeout=10)


def reason(response: httpx.Response) -> str:
    return str(response.json()["reason"])


# -- Django views -------------------------------------------------------------------------


@pytest.mark.parametrize("server", SERVERS)
@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_is_accepted_on_its_route(
    clerk: MockClerk, serve: Served, kind: str, server: str
) -> None:
    mint, token_type, subject, route = KINDS[kind]
    url = serve(server)
    token = mint(clerk)
    for where in (route, "/any"):
        response = get(url + where, token)
        assert response.status_code == 200, response.text
        assert response.json() == {
            "token_type": token_type,
            "subject": subject,
            "session": False,
            "machine": True,
        }
    # An opaque form was asked of the Backend API once (the second route: the cache).
    assert clerk.machine.total_calls == (0 if kind.endswith("jwt") else 1)


@pytest.mark.parametrize("server", SERVERS)
@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_is_refused_elsewhere_without_a_call(
    clerk: MockClerk, serve: Served, kind: str, server: str
) -> None:
    mint, _, _, route = KINDS[kind]
    url = serve(server)
    token = mint(clerk)
    others = [p for p in (*MACHINE_PATHS, "/session") if p != route]
    if kind != "api_key":
        others.append("/mixin")
    for other in others:
        response = get(url + other, token)
        assert response.status_code == 401, (other, response.text)
        assert reason(response) == "token-type-mismatch"
        assert "invalid_token" in response.headers["WWW-Authenticate"]
    assert clerk.machine.total_calls == 0


@pytest.mark.parametrize("server", SERVERS)
def test_mixin_accepts_what_clerk_accepts_names(
    clerk: MockClerk, serve: Served, server: str
) -> None:
    url = serve(server)
    response = get(url + "/mixin", clerk.machine.mint_api_key(subject="user_k"))
    assert response.json()["token_type"] == "api_key"
    session = get(url + "/mixin", clerk.mint())
    assert (session.status_code, reason(session)) == (401, "token-type-mismatch")


@pytest.mark.parametrize("server", SERVERS)
def test_no_header_token_is_machine_token_missing(
    clerk: MockClerk, serve: Served, server: str
) -> None:
    url = serve(server)
    bare = get(url + "/api-key")
    assert (bare.status_code, reason(bare)) == (401, "machine-token-missing")
    cookie = get(url + "/api-key", Cookie=f"__session={clerk.mint()}; __client_uat=1")
    assert (cookie.status_code, reason(cookie)) == (401, "machine-token-missing")
    assert clerk.machine.total_calls == 0


@pytest.mark.parametrize("server", SERVERS)
def test_revoked_key_is_refused_once_the_cache_allows(
    clerk: MockClerk, serve: Served, server: str
) -> None:
    clerk.machine.flags_in_body = True  # a 200 with revoked: true
    url = serve(server, machine_cache_ttl=0)
    token = clerk.machine.mint_api_key()
    assert get(url + "/api-key", token).status_code == 200
    clerk.machine.revoke(token)
    response = get(url + "/api-key", token)
    assert (response.status_code, reason(response)) == (401, "token-revoked")
    assert clerk.machine.calls["api_key"] == 2


@pytest.mark.parametrize("server", SERVERS)
def test_backend_api_down_is_503_with_retry_after(
    clerk: MockClerk, serve: Served, server: str
) -> None:
    url = serve(server)
    clerk.machine.set_fault("down")
    response = get(url + "/api-key", clerk.machine.mint_api_key())
    assert response.status_code == 503, response.text
    assert int(response.headers["Retry-After"]) >= 1
    assert reason(response) == "unexpected-error"


@pytest.mark.parametrize("server", SERVERS)
def test_a_role_guarded_route_refuses_a_machine_token_403(
    clerk: MockClerk, serve: Served, server: str
) -> None:
    url = serve(server)
    response = get(url + "/key-admin", clerk.machine.mint_api_key())
    assert response.status_code == 403, response.text
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    assert response.json()["required"] == {"roles": ["org:admin"]}


@pytest.mark.parametrize("server", SERVERS)
def test_sessions_only_route_answers_exactly_as_the_session_path(
    clerk: MockClerk, serve: Served, server: str
) -> None:
    config = clerk.config()
    url = serve(server)
    ok = get(url + "/session", clerk.mint(sub="user_same"))
    assert (ok.status_code, ok.json()) == (200, {"user_id": "user_same"})
    source = key_provider(config)
    try:
        for token in (clerk.machine.mint_api_key(), clerk.machine.mint_m2m_jwt(), None, "x.y.z"):
            headers = [] if token is None else [("Authorization", f"Bearer {token}")]
            expected = authenticate_with(source, headers, config=config, now=time.time()).answer()
            assert expected is not None
            response = get(url + "/session", token)
            assert response.status_code == expected.status
            assert response.content == expected.body_bytes
            www = dict(expected.headers)["WWW-Authenticate"]
            assert response.headers["WWW-Authenticate"] == www
    finally:
        source.close()
    assert clerk.machine.total_calls == 0


@pytest.mark.parametrize("server", SERVERS)
@pytest.mark.parametrize("route", ["/session-then-key", "/key-then-session"])
def test_two_guards_on_one_request_never_share_a_result(
    clerk: MockClerk, serve: Served, route: str, server: str
) -> None:
    url = serve(server)
    token = clerk.machine.mint_api_key() if route == "/session-then-key" else clerk.mint()
    response = get(url + route, token)
    assert response.status_code == 200, response.text
    expected = "api_key" if route == "/session-then-key" else "session_token"
    assert response.json()["token_type"] == expected


@pytest.mark.parametrize("server", SERVERS)
def test_the_middleware_follows_the_configs_accepts_token(
    clerk: MockClerk, serve: Served, server: str
) -> None:
    url = serve(server, accepts_token=["session_token", "api_key"])
    key = get(url + "/unguarded", clerk.machine.mint_api_key(subject="user_k"))
    assert key.json() == {
        "token_type": "api_key",
        "subject": "user_k",
        "session": False,
        "machine": True,
    }
    session = get(url + "/unguarded", clerk.mint(sub="user_s"))
    assert session.json()["token_type"] == "session_token"
    m2m = get(url + "/unguarded", clerk.machine.mint_m2m_token())  # annotated signed out
    assert m2m.json()["token_type"] is None


def test_accepts_token_from_settings() -> None:
    with override_settings(
        CLERK_JWT_KEY=MockClerk(issuer="https://clerk.django.test").public_pem,
        CLERK_SECRET_KEY="sk_test_x",
        CLERK_ACCEPTS_TOKEN="session_token,api_key",
    ):
        auth = ClerkAuth()
    assert auth.config.accepts_token == AcceptsToken(["session_token", "api_key"])
    assert isinstance(auth.machine_source, SyncMachineVerifier)
    assert isinstance(auth.async_machine_source, AsyncMachineVerifier)
    auth.close()


def test_typo_in_accepts_fails_at_decoration() -> None:
    with pytest.raises(ConfigurationError, match="api_keys"):
        require_auth(accepts="api_keys")
    with pytest.raises(ConfigurationError, match="empty list"):
        require_auth(accepts=[])
    with pytest.raises(ConfigurationError, match="unknown token kind"):

        class Typo(ClerkAuthRequiredMixin, View):
            clerk_accepts = ("session_token", "m2m")


def test_an_opaque_token_without_a_secret_key_is_500(idle_clerk: MockClerk, serve: Served) -> None:
    auth = ClerkAuth(idle_clerk.pem_config())
    assert auth.machine_source is None
    assert auth.async_machine_source is None
    url = serve.app("wsgi", auth)
    response = get(url + "/api-key", "ak_" + "a" * 40)
    assert response.status_code == 500
    assert "CLERK_SECRET_KEY" in response.json()["message"]
    assert get(url + "/m2m", idle_clerk.machine.mint_m2m_jwt()).status_code == 200


def test_the_verifiers_made_here_are_closed(clerk: MockClerk, serve: Served) -> None:
    token = clerk.machine.mint_api_key()
    sync_auth = ClerkAuth(clerk.config())
    url = serve.app("wsgi", sync_auth)
    assert get(url + "/api-key", token).status_code == 200
    verifier = sync_auth.machine_source
    assert isinstance(verifier, SyncMachineVerifier)
    client = verifier._client
    assert client is not None
    sync_auth.close()
    assert client.is_closed

    async_auth = ClerkAuth(clerk.config())
    averifier = async_auth.async_machine_source
    assert isinstance(averifier, AsyncMachineVerifier)
    with ExitStack() as exits:
        app = (urlconf("machine_close", patterns("asgi")), stack(async_auth, ()))
        aurl = exits.enter_context(serve_asgi(app, [async_auth]))
        assert get(aurl + "/api-key", token).status_code == 200
        (aclient,) = averifier._clients.values()
        assert not aclient.is_closed
    assert aclient.is_closed  # the lifespan's shutdown awaited async_auth.aclose()


def test_given_verifiers_stay_open(clerk: MockClerk) -> None:
    given = SyncMachineVerifier(clerk.machine.config())
    agiven = AsyncMachineVerifier(clerk.machine.config())
    auth = ClerkAuth(clerk.config(), machine_source=given, async_machine_source=agiven)
    assert (auth.machine_source, auth.async_machine_source) == (given, agiven)
    given.verify(clerk.machine.mint_api_key())
    client = given._client
    assert client is not None
    asyncio.run(auth.aclose())
    assert not client.is_closed
    given.close()


# -- DRF ----------------------------------------------------------------------------------


def drf_patterns() -> list[Any]:
    from rest_framework.request import Request
    from rest_framework.response import Response
    from rest_framework.views import APIView

    from clerk_auth_django.drf import ClerkAuthentication, HasRole, IsClerkAuthenticated

    class ApiKeyAuthentication(ClerkAuthentication):
        accepts = "api_key"

    class Keys(APIView):
        authentication_classes = (ApiKeyAuthentication,)
        permission_classes = (IsClerkAuthenticated,)

        def get(self, request: Request) -> Response:
            user = request.user
            assert isinstance(user, ClerkMachineUser)
            assert user.claims is request.auth
            return Response(
                {"user": str(user), "token_type": user.token_type, "auth": request.auth.id}
            )

    class KeysAdmin(Keys):
        permission_classes = (HasRole("org:admin"),)

    class Sessions(APIView):
        authentication_classes = (ClerkAuthentication,)
        permission_classes = (IsClerkAuthenticated,)

        def get(self, request: Request) -> Response:
            return Response({"user_id": request.auth.user_id})

    return [
        path("keys", Keys.as_view()),
        path("keys-admin", KeysAdmin.as_view()),
        path("sessions", Sessions.as_view()),
    ]


def test_drf_accepts_on_the_authentication_class(clerk: MockClerk, serve: Served) -> None:
    url = serve.app("wsgi", ClerkAuth(clerk.config()), drf_patterns())
    token = clerk.machine.mint_api_key(subject="user_k")
    ok = get(url + "/keys", token)
    assert ok.status_code == 200, ok.text
    assert ok.json()["user"] == "user_k"
    assert ok.json()["token_type"] == "api_key"
    assert ok.json()["auth"].startswith("ak_")  # the API key's id, never its secret
    admin = get(url + "/keys-admin", token)
    assert admin.status_code == 403
    assert admin.json()["reason"] == "insufficient-scope"
    session_view = get(url + "/sessions", token)
    assert (session_view.status_code, reason(session_view)) == (401, "token-type-mismatch")
    bare = get(url + "/keys")
    assert (bare.status_code, reason(bare)) == (401, "machine-token-missing")
    assert "Bearer" in bare.headers["WWW-Authenticate"]
    wrong_kind = get(url + "/keys", clerk.machine.mint_m2m_token())
    assert (wrong_kind.status_code, reason(wrong_kind)) == (401, "token-type-mismatch")
    assert clerk.machine.calls == {"api_key": 1}
    assert get(url + "/sessions", clerk.mint(sub="user_s")).json() == {"user_id": "user_s"}


def test_drf_backend_api_down_is_503(clerk: MockClerk, serve: Served) -> None:
    url = serve.app("wsgi", ClerkAuth(clerk.config()), drf_patterns())
    clerk.machine.set_fault("500")
    response = get(url + "/keys", clerk.machine.mint_api_key())
    assert response.status_code == 503, response.text
    assert int(response.headers["Retry-After"]) >= 1


def test_drf_typo_in_accepts_fails_when_the_class_is_defined() -> None:
    from clerk_auth_django.drf import ClerkAuthentication

    with pytest.raises(ConfigurationError, match="api_keys"):

        class Typo(ClerkAuthentication):
            accepts = "api_keys"
