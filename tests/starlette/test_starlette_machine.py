"""Machine tokens through the Starlette adapter under a real uvicorn, against the mock
issuer on 127.0.0.1 (issue 14): ``@require_auth(accepts=…)``, the middleware's
``accepts=``, the accessors, refusals by kind that cost no Backend API call, the
revocation window, the outage, the herd, websockets, and the verifier's lifecycle."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from clerk_auth_core import ClerkConfig, ConfigurationError, MachineClaims
from clerk_auth_core.io import AsyncMachineVerifier
from clerk_auth_core.testing import MockClerk
from clerk_auth_starlette import (
    ClerkAuthMiddleware,
    ClerkMachine,
    get_auth,
    get_machine_auth,
    get_verified,
    require_auth,
)
from clerk_auth_starlette._auth import Authenticator

USER = "user_test"


async def who(request: Request) -> Response:
    verified = get_verified(request)
    machine = get_machine_auth(request)
    session = get_auth(request)
    return JSONResponse(
        {
            "subject": None if verified is None else verified.subject,
            "token_type": None if verified is None else verified.token_type,
            "machine": None if machine is None else machine.id,
            "session": None if session is None else session.user_id,
            "user": type(request.user).__name__,
            "scopes": list(request.auth.scopes),
        }
    )


async def cached_reasons(request: Request) -> Response:
    # What each guard on this request decided, in the order they ran.
    states = request.scope["clerk_auth.states"]
    return JSONResponse([state.reason for state in states.values()])


@requires("authenticated")
async def starlette_authenticated(request: Request) -> Response:
    return JSONResponse({"identity": request.user.identity})


@requires("role:admin")
async def starlette_admin(request: Request) -> Response:  # pragma: no cover: never runs
    return JSONResponse({})


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    machine = get_machine_auth(websocket)
    await websocket.send_text("" if machine is None else machine.subject)
    await websocket.close()


ROUTES = [
    Route("/session", require_auth(who)),
    Route("/api-key", require_auth(accepts="api_key")(who)),
    Route("/m2m", require_auth(accepts="m2m_token")(who)),
    Route("/oauth", require_auth(accepts="oauth_token")(who)),
    Route("/any", require_auth(accepts="any")(who)),
    Route("/mixed", require_auth(accepts=["session_token", "api_key"])(who)),
    Route("/api-key-admin", require_auth(accepts="api_key", role="org:admin")(who)),
    Route("/api-key-optional", require_auth(accepts="api_key", optional=True)(who)),
    Route("/two-guards", require_auth(accepts="api_key")(cached_reasons)),
    Route("/annotated", who),
    Route("/requires", starlette_authenticated),
    Route("/requires-admin", starlette_admin),
    WebSocketRoute("/ws", require_auth(accepts="api_key")(echo)),
]


def make_app(config: ClerkConfig, **middleware: Any) -> Starlette:
    """The routes behind a middleware in annotate mode (sessions only unless told)."""
    options: dict[str, Any] = {"mode": "annotate", "warm_up": False, **middleware}
    return Starlette(
        routes=ROUTES, middleware=[Middleware(ClerkAuthMiddleware, config=config, **options)]
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


#: kind → (how to mint one, the route that accepts it, Backend API calls it costs).
KINDS: dict[str, tuple[Callable[[MockClerk], str], str, int]] = {
    "api-key": (
        lambda c: c.machine.mint_api_key(subject=USER, scopes=["orders:read"]),
        "/api-key",
        1,
    ),
    "m2m-opaque": (lambda c: c.machine.mint_m2m_token(subject="mch_a"), "/m2m", 1),
    "m2m-jwt": (lambda c: c.machine.mint_m2m_jwt(subject="mch_a"), "/m2m", 0),
    "oauth-opaque": (lambda c: c.machine.mint_oauth_token(subject=USER), "/oauth", 1),
    "oauth-jwt": (lambda c: c.machine.mint_oauth_jwt(subject=USER), "/oauth", 0),
}
TOKEN_TYPES = {
    "api-key": "api_key",
    "m2m-opaque": "m2m_token",
    "m2m-jwt": "m2m_token",
    "oauth-opaque": "oauth_token",
    "oauth-jwt": "oauth_token",
}
ROUTE_PATHS = ("/api-key", "/m2m", "/oauth")


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_kind_is_accepted_on_its_route_and_on_any(
    clerk: MockClerk, serve: Any, kind: str
) -> None:
    mint, path, calls = KINDS[kind]
    token = mint(clerk)
    with serve(make_app(clerk.config())) as url, httpx.Client(base_url=url) as http:
        for route in (path, "/any"):
            response = http.get(route, headers=bearer(token))
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["token_type"] == TOKEN_TYPES[kind]
            assert body["session"] is None  # get_auth stays the session's
            assert body["machine"] is not None
            assert body["user"] == "ClerkMachine"
    # The second route's verification was answered from the verifier's cache.
    assert clerk.machine.total_calls == calls


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_kind_is_refused_by_kind_elsewhere_without_a_call(
    clerk: MockClerk, serve: Any, kind: str
) -> None:
    mint, path, _ = KINDS[kind]
    token = mint(clerk)
    others = [p for p in ROUTE_PATHS if p != path] + ["/session"]
    with serve(make_app(clerk.config())) as url, httpx.Client(base_url=url) as http:
        for other in others:
            response = http.get(other, headers=bearer(token))
            assert response.status_code == 401, (other, response.text)
            assert response.json()["reason"] == "token-type-mismatch"
            assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert clerk.machine.total_calls == 0


def test_mixed_route_takes_a_session_and_an_api_key(clerk: MockClerk, serve: Any) -> None:
    with serve(make_app(clerk.config())) as url, httpx.Client(base_url=url) as http:
        session = http.get("/mixed", headers=bearer(clerk.mint(sub="user_s")))
        assert session.status_code == 200
        assert session.json()["session"] == "user_s"
        assert session.json()["token_type"] == "session_token"
        key = http.get("/mixed", headers=bearer(clerk.machine.mint_api_key(subject="org_1")))
        body = key.json()
        assert (body["subject"], body["token_type"], body["session"]) == ("org_1", "api_key", None)
        assert body["machine"].startswith("ak_")
        m2m = http.get("/mixed", headers=bearer(clerk.machine.mint_m2m_jwt()))
        assert m2m.json()["reason"] == "token-type-mismatch"


def test_no_header_is_machine_token_missing(clerk: MockClerk, serve: Any) -> None:
    cookie = f"__session={clerk.mint()}; __client_uat={int(time.time()) - 5}"
    with serve(make_app(clerk.config())) as url, httpx.Client(base_url=url) as http:
        for headers in ({}, {"Cookie": cookie}):
            response = http.get("/api-key", headers=headers)
            assert response.status_code == 401
            assert response.json()["reason"] == "machine-token-missing"
        # A machine token in the cookie is no machine token (header only).
        key = clerk.machine.mint_api_key()
        cookie = f"__session={key}; __client_uat={int(time.time()) - 5}"
        assert http.get("/api-key", headers={"Cookie": cookie}).json()["reason"] == (
            "machine-token-missing"
        )
        # The session route still takes the cookie: unchanged.
        assert http.get("/session", headers={"Cookie": cookie}).status_code == 401
        good = f"__session={clerk.mint(sub='user_c')}; __client_uat={int(time.time()) - 5}"
        assert http.get("/session", headers={"Cookie": good}).json()["session"] == "user_c"
    assert clerk.machine.total_calls == 0


def test_revoked_key_is_refused_at_once_with_no_cache(clerk: MockClerk, serve: Any) -> None:
    clerk.machine.flags_in_body = True  # answer 200 revoked: the adapter's own check
    token = clerk.machine.mint_api_key()
    config = clerk.config(machine_cache_ttl=0)
    with serve(make_app(config)) as url, httpx.Client(base_url=url) as http:
        assert http.get("/api-key", headers=bearer(token)).status_code == 200
        clerk.machine.revoke(token)
        again = http.get("/api-key", headers=bearer(token))
    assert again.status_code == 401
    assert again.json()["reason"] == "token-revoked"
    assert clerk.machine.calls == {"api_key": 2}


def test_backend_api_down_is_503_with_retry_after(clerk: MockClerk, serve: Any) -> None:
    token = clerk.machine.mint_api_key()
    clerk.machine.set_fault("down")
    with serve(make_app(clerk.config())) as url, httpx.Client(base_url=url) as http:
        response = http.get("/api-key", headers=bearer(token))
        optional = http.get("/api-key-optional", headers=bearer(token))
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) >= 1
    assert response.json()["reason"] == "unexpected-error"
    assert optional.status_code == 503  # the client's token may be good: not signed out


def test_role_route_given_an_api_key_is_403(clerk: MockClerk, serve: Any) -> None:
    with serve(make_app(clerk.config())) as url, httpx.Client(base_url=url) as http:
        response = http.get("/api-key-admin", headers=bearer(clerk.machine.mint_api_key()))
        admin = http.get("/api-key-admin", headers=bearer(clerk.mint()))
    assert response.status_code == 403
    assert response.json()["reason"] == "insufficient-scope"
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    assert admin.json()["reason"] == "token-type-mismatch"  # an api_key route


def test_sessions_only_route_is_unchanged(clerk: MockClerk, serve: Any) -> None:
    with serve(make_app(clerk.config())) as url, httpx.Client(base_url=url) as http:
        ok = http.get("/session", headers=bearer(clerk.mint(sub="user_s")))
        none = http.get("/session")
        bad = http.get("/session", headers=bearer("nope"))
    assert (ok.status_code, ok.json()["session"], ok.json()["user"]) == (200, "user_s", "ClerkUser")
    assert "authenticated" in ok.json()["scopes"]
    assert (none.status_code, none.json()["reason"]) == (401, "session-token-and-uat-missing")
    assert (bad.status_code, bad.json()["reason"]) == (401, "token-invalid")


def test_typo_in_accepts_fails_at_decoration_and_construction(clerk: MockClerk) -> None:
    with pytest.raises(ConfigurationError, match="api_keys"):
        require_auth(accepts="api_keys")
    with pytest.raises(ConfigurationError, match="empty list"):
        require_auth(accepts=[])
    with pytest.raises(ConfigurationError, match="m2m"):
        ClerkAuthMiddleware(Starlette(), config=clerk.config(), accepts=["api_key", "m2m"])


def test_two_guards_on_one_request_do_not_share_a_result(clerk: MockClerk, serve: Any) -> None:
    # The middleware (sessions only) refused the API key by kind; the route that takes
    # API keys verified it itself, under its own cache key.
    token = clerk.machine.mint_api_key()
    with serve(make_app(clerk.config())) as url, httpx.Client(base_url=url) as http:
        reasons = http.get("/two-guards", headers=bearer(token))
        annotated = http.get("/annotated", headers=bearer(token))
    assert reasons.json() == ["token-type-mismatch", None]
    assert annotated.json()["subject"] is None  # the middleware's own result


def test_middleware_accepts_is_the_default_of_its_routes(clerk: MockClerk, serve: Any) -> None:
    app = make_app(clerk.config(), mode="reject", accepts=["session_token", "api_key"])
    key = clerk.machine.mint_api_key(subject=USER, scopes=["orders:read", "role:org:admin"])
    with serve(app) as url, httpx.Client(base_url=url) as http:
        annotated = http.get("/annotated", headers=bearer(key))
        guarded = http.get("/mixed", headers=bearer(key))
        m2m = http.get("/annotated", headers=bearer(clerk.machine.mint_m2m_jwt()))
        missing = http.get("/annotated")
        allowed = http.get("/requires", headers=bearer(key))
        admin = http.get("/requires-admin", headers=bearer(key))
    body = annotated.json()
    assert (body["subject"], body["token_type"], body["user"]) == (USER, "api_key", "ClerkMachine")
    # Its own scopes, not those spelled like the session vocabulary.
    assert body["scopes"] == ["authenticated", "orders:read"]
    assert guarded.status_code == 200
    assert (m2m.status_code, m2m.json()["reason"]) == (401, "token-type-mismatch")
    assert (missing.status_code, missing.json()["reason"]) == (
        401,
        "session-token-and-uat-missing",
    )
    assert allowed.json() == {"identity": USER}
    assert admin.status_code == 403
    assert clerk.machine.calls == {"api_key": 1}  # then answered from the verifier's cache


def test_refusals_are_logged_without_the_token(
    clerk: MockClerk, serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    token = clerk.machine.mint_api_key()
    app = make_app(clerk.config())
    logs = caplog.at_level(logging.INFO, logger="clerk_auth")
    with serve(app) as url, httpx.Client(base_url=url) as http, logs:
        http.get("/m2m", headers=bearer(token))
        clerk.machine.revoke(token)
        http.get("/api-key", headers=bearer(token))
    assert "token-type-mismatch" in caplog.text
    assert "token-invalid" in caplog.text
    assert token not in caplog.text
    assert token[3:20] not in caplog.text
    assert clerk.secret_key not in caplog.text


def test_websocket_takes_a_machine_token_from_the_handshake_header(
    clerk: MockClerk, serve: Any
) -> None:
    client = pytest.importorskip("websockets.sync.client")
    from websockets.exceptions import InvalidStatus

    with serve(make_app(clerk.config())) as url:
        ws_url = url.replace("http", "ws", 1) + "/ws"
        key = clerk.machine.mint_api_key(subject="org_ws")
        with client.connect(ws_url, additional_headers=bearer(key)) as ws:
            assert ws.recv(timeout=5) == "org_ws"
        with pytest.raises(InvalidStatus) as caught:
            client.connect(ws_url, additional_headers=bearer(clerk.mint()), open_timeout=5)
    assert caught.value.response.status_code == 403  # closed 1008 before accept


@pytest.mark.anyio
async def test_herd_of_one_new_api_key_makes_one_call(clerk: MockClerk, serve: Any) -> None:
    token = clerk.machine.mint_api_key(subject="user_herd")
    limits = httpx.Limits(max_connections=100)
    with serve(make_app(clerk.config())) as url:
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as http:
            responses = await asyncio.gather(
                *(http.get("/api-key", headers=bearer(token)) for _ in range(200))
            )
    assert [r.status_code for r in responses] == [200] * 200
    assert {r.json()["subject"] for r in responses} == {"user_herd"}
    assert clerk.machine.calls["api_key"] == 1


# -- the verifier's lifecycle ----------------------------------------------------------------


class CountingVerifier:
    """A machine source that records being used and closed."""

    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.closed = 0

    async def verify(self, token: str) -> MachineClaims:
        self.tokens.append(token)
        return MachineClaims(token_type="api_key", id="ak_1", subject="org_given")

    async def aclose(self) -> None:  # pragma: no cover: a given source is never closed
        self.closed += 1


def test_made_verifier_is_closed_at_lifespan_shutdown(clerk: MockClerk, serve: Any) -> None:
    app = make_app(clerk.config())
    with serve(app) as url, httpx.Client(base_url=url) as http:
        assert http.get("/api-key", headers=bearer(clerk.machine.mint_api_key())).status_code == 200
        middleware = _middleware(app)
        verifier = middleware.authenticator.machine_source
        assert isinstance(verifier, AsyncMachineVerifier)
        assert verifier._clients  # one client, for uvicorn's loop
    assert not verifier._clients  # closed with the key provider, at lifespan shutdown
    # A new one is made on the next use (a restarted app).
    assert middleware.authenticator.machine_source is not verifier


def test_given_machine_source_is_used_and_left_open(clerk: MockClerk, serve: Any) -> None:
    given = CountingVerifier()
    app = make_app(clerk.config(), machine_source=given)
    with serve(app) as url, httpx.Client(base_url=url) as http:
        response = http.get("/api-key", headers=bearer("ak_" + "x" * 40))
        session = http.get("/session", headers=bearer(clerk.mint()))
    assert response.json()["subject"] == "org_given"
    assert session.status_code == 200
    assert (len(given.tokens), given.closed) == (1, 0)
    assert clerk.machine.total_calls == 0


def test_sessions_only_makes_no_verifier(clerk: MockClerk, serve: Any) -> None:
    app = make_app(clerk.config())
    with serve(app) as url, httpx.Client(base_url=url) as http:
        assert http.get("/session", headers=bearer(clerk.mint())).status_code == 200
        assert http.get("/session", headers=bearer(clerk.machine.mint_api_key())).status_code == 401
        assert _middleware(app).authenticator._machine_made is False


@pytest.mark.anyio
async def test_aclose_and_reset_drop_the_made_verifier(
    clerk: MockClerk, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in (("CLERK_SECRET_KEY", clerk.secret_key), ("CLERK_API_URL", clerk.url)):
        monkeypatch.setenv(name, value)
    auth = Authenticator()
    first = auth.machine_source
    assert isinstance(first, AsyncMachineVerifier)
    assert auth.machine_source is first  # one per authenticator
    await first.verify(clerk.machine.mint_api_key())
    assert first._clients
    await auth.aclose()
    assert not first._clients
    second = auth.machine_source
    assert second is not first
    auth.reset()  # from the environment: read again, a new verifier
    monkeypatch.delenv("CLERK_SECRET_KEY")
    monkeypatch.setenv("CLERK_JWT_KEY", clerk.public_pem)
    assert auth.machine_source is None  # no secret key now: nothing to verify with
    given = CountingVerifier()
    kept = Authenticator(clerk.config(), machine_source=given)
    await kept.aclose()
    kept.reset()
    assert kept.machine_source is given
    assert given.closed == 0


def _middleware(app: Starlette) -> ClerkAuthMiddleware:
    layer: Any = app.middleware_stack
    while not isinstance(layer, ClerkAuthMiddleware):
        layer = layer.app
    return layer


def test_clerk_machine_user() -> None:
    claims = MachineClaims(token_type="api_key", id="ak_1", subject="org_1", name="ci")
    user = ClerkMachine(claims)
    assert (user.is_authenticated, user.identity, user.display_name) == (True, "org_1", "ci")
    assert repr(user) == "ClerkMachine('api_key', 'org_1')"
    unnamed = ClerkMachine(MachineClaims(token_type="m2m_token", id="", subject="mch_1"))
    assert unnamed.display_name == "mch_1"
