"""Machine tokens through the FastAPI dependencies under a real uvicorn, against the
mock issuer on 127.0.0.1 (issue 14): ``auth.machine(...)`` (MachineClaims),
``auth.accepting(...)`` (either kind), the session dependencies unchanged, refusals by
kind that cost no Backend API call, the outage, revocation, the herd, OpenAPI, and the
verifier closed with the app."""

# No ``from __future__ import annotations``: FastAPI resolves the annotations of routes
# defined inside functions at runtime.

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Request, Security, WebSocket

from clerk_auth_core import ConfigurationError, MachineClaims, SessionClaims
from clerk_auth_core.io import AsyncMachineVerifier
from clerk_auth_core.testing import MockClerk
from clerk_auth_starlette import ClerkAuthMiddleware
from clerk_auth_starlette.fastapi import (
    ClerkAuth,
    ClerkMachineDependency,
    ClerkTokenDependency,
    accepting,
    clerk_auth,
    get_machine_auth,
    get_verified,
    install_exception_handler,
    requires_machine,
)
from conformance.drivers.starlette import serve_asgi

USER = "user_test"
Verified = SessionClaims | MachineClaims


def body_of(verified: Verified | None) -> dict[str, Any]:
    if verified is None:
        return {"subject": None}
    return {
        "subject": verified.subject,
        "token_type": verified.token_type,
        "class": type(verified).__name__,
    }


def make_app(auth: ClerkAuth) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await auth.aclose()

    app = FastAPI(lifespan=lifespan)
    install_exception_handler(app)
    ApiKey = Annotated[MachineClaims, Depends(auth.machine("api_key"))]
    M2m = Annotated[MachineClaims, Depends(auth.machine("m2m_token"))]
    OAuth = Annotated[MachineClaims, Depends(auth.machine("oauth_token"))]
    Machines = Annotated[MachineClaims, Depends(auth.machine(["api_key", "m2m_token"]))]
    Any_ = Annotated[Verified, Depends(auth.accepting("any"))]
    Mixed = Annotated[Verified, Depends(auth.accepting(["session_token", "api_key"]))]
    Admin = Annotated[Verified, Depends(auth.accepting("api_key", role="org:admin"))]
    OptionalKey = Annotated[MachineClaims | None, Depends(auth.machine("api_key", optional=True))]
    Session = Annotated[SessionClaims, Depends(auth.required)]
    OptionalSession = Annotated[SessionClaims | None, Depends(auth.optional)]

    @app.get("/api-key")
    async def api_key(claims: ApiKey, request: Request) -> Any:
        assert get_machine_auth(request) is claims
        assert get_verified(request) is claims
        return {**body_of(claims), "user": type(request.user).__name__}

    @app.get("/m2m")
    async def m2m(claims: M2m) -> Any:
        return body_of(claims)

    @app.get("/oauth")
    async def oauth(claims: OAuth) -> Any:
        return body_of(claims)

    @app.get("/machines")
    async def machines(claims: Machines) -> Any:
        return body_of(claims)

    @app.get("/any")
    async def any_kind(verified: Any_) -> Any:
        return body_of(verified)

    @app.get("/mixed")
    async def mixed(verified: Mixed) -> Any:
        return body_of(verified)

    @app.get("/api-key-admin")
    async def admin(verified: Admin) -> Any:  # pragma: no cover: a machine never gets here
        return body_of(verified)

    @app.get("/api-key-optional")
    async def optional_key(claims: OptionalKey) -> Any:
        return body_of(claims)

    @app.get("/session")
    async def session(claims: Session) -> Any:
        return body_of(claims)

    @app.get("/both")
    async def both(session: OptionalSession, key: ApiKey) -> Any:
        return {"session": body_of(session), "key": body_of(key)}

    @app.get("/scoped")
    async def scoped(
        claims: Annotated[
            MachineClaims, Security(auth.machine("api_key"), scopes=["authenticated"])
        ],
    ) -> Any:
        return body_of(claims)

    @app.get("/scoped-admin")
    async def scoped_admin(
        claims: Annotated[MachineClaims, Security(auth.machine("api_key"), scopes=["role:admin"])],
    ) -> Any:  # pragma: no cover: a machine never gets here
        return body_of(claims)

    @app.websocket("/ws")
    async def ws(websocket: WebSocket, claims: ApiKey) -> None:
        await websocket.accept()
        await websocket.send_text(claims.subject)
        await websocket.close()

    return app


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


#: kind → (how to mint one, the route that accepts it, Backend API calls it costs).
KINDS: dict[str, tuple[Callable[[MockClerk], str], str, int]] = {
    "api-key": (lambda c: c.machine.mint_api_key(subject=USER), "/api-key", 1),
    "m2m-opaque": (lambda c: c.machine.mint_m2m_token(subject="mch_a"), "/m2m", 1),
    "m2m-jwt": (lambda c: c.machine.mint_m2m_jwt(subject="mch_a"), "/m2m", 0),
    "oauth-opaque": (lambda c: c.machine.mint_oauth_token(subject=USER), "/oauth", 1),
    "oauth-jwt": (lambda c: c.machine.mint_oauth_jwt(subject=USER), "/oauth", 0),
}
ROUTE_PATHS = ("/api-key", "/m2m", "/oauth")
TOKEN_TYPES = {
    "api-key": "api_key",
    "m2m-opaque": "m2m_token",
    "m2m-jwt": "m2m_token",
    "oauth-opaque": "oauth_token",
    "oauth-jwt": "oauth_token",
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_kind_is_accepted_on_its_route(clerk: MockClerk, kind: str) -> None:
    mint, path, calls = KINDS[kind]
    token = mint(clerk)
    with serve_asgi(make_app(ClerkAuth(clerk.config()))) as url, httpx.Client(base_url=url) as http:
        for route in (path, "/any"):
            response = http.get(route, headers=bearer(token))
            assert response.status_code == 200, response.text
            assert response.json()["class"] == "MachineClaims"
            assert response.json()["token_type"] == TOKEN_TYPES[kind]
    assert clerk.machine.total_calls == calls


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_kind_is_refused_by_kind_elsewhere_without_a_call(clerk: MockClerk, kind: str) -> None:
    mint, path, _ = KINDS[kind]
    token = mint(clerk)
    others = [p for p in ROUTE_PATHS if p != path] + ["/session"]
    # Even where the configuration accepts every kind: the session dependency's answer
    # is a SessionClaims, so it takes sessions only.
    config = clerk.config(accepts_token="any")
    with serve_asgi(make_app(ClerkAuth(config))) as url, httpx.Client(base_url=url) as http:
        for other in others:
            response = http.get(other, headers=bearer(token))
            assert response.status_code == 401, (other, response.text)
            assert response.json()["reason"] == "token-type-mismatch"
    assert clerk.machine.total_calls == 0


def test_mixed_and_lists(clerk: MockClerk) -> None:
    with serve_asgi(make_app(ClerkAuth(clerk.config()))) as url, httpx.Client(base_url=url) as http:
        session = http.get("/mixed", headers=bearer(clerk.mint(sub="user_s")))
        key = http.get("/mixed", headers=bearer(clerk.machine.mint_api_key(subject="org_1")))
        oauth = http.get("/mixed", headers=bearer(clerk.machine.mint_oauth_jwt()))
        m2m = http.get("/machines", headers=bearer(clerk.machine.mint_m2m_jwt(subject="mch_b")))
        refused = http.get("/machines", headers=bearer(clerk.mint()))
    assert session.json() == {
        "subject": "user_s",
        "token_type": "session_token",
        "class": "SessionClaims",
    }
    assert key.json() == {"subject": "org_1", "token_type": "api_key", "class": "MachineClaims"}
    assert (oauth.status_code, oauth.json()["reason"]) == (401, "token-type-mismatch")
    assert m2m.json()["subject"] == "mch_b"
    assert refused.json()["reason"] == "token-type-mismatch"


def test_no_header_is_machine_token_missing(clerk: MockClerk) -> None:
    cookie = f"__session={clerk.mint()}; __client_uat={int(time.time()) - 5}"
    with serve_asgi(make_app(ClerkAuth(clerk.config()))) as url, httpx.Client(base_url=url) as http:
        for headers in ({}, {"Cookie": cookie}):
            response = http.get("/api-key", headers=headers)
            assert response.status_code == 401
            assert response.json()["reason"] == "machine-token-missing"
            assert response.headers["www-authenticate"].startswith("Bearer")
        # Optional: signed out, it runs.
        assert http.get("/api-key-optional").json() == {"subject": None}
        # The mixed route takes the cookie (a session): unchanged.
        assert http.get("/mixed", headers={"Cookie": cookie}).status_code == 200
    assert clerk.machine.total_calls == 0


def test_revoked_key_is_refused_at_once_with_no_cache(clerk: MockClerk) -> None:
    clerk.machine.flags_in_body = True  # answer 200 revoked: the adapter's own check
    token = clerk.machine.mint_api_key()
    app = make_app(ClerkAuth(clerk.config(machine_cache_ttl=0)))
    with serve_asgi(app) as url, httpx.Client(base_url=url) as http:
        assert http.get("/api-key", headers=bearer(token)).status_code == 200
        clerk.machine.revoke(token)
        again = http.get("/api-key", headers=bearer(token))
    assert (again.status_code, again.json()["reason"]) == (401, "token-revoked")
    assert clerk.machine.calls == {"api_key": 2}


def test_backend_api_down_is_503_with_retry_after(clerk: MockClerk) -> None:
    token = clerk.machine.mint_api_key()
    clerk.machine.set_fault("500")
    with serve_asgi(make_app(ClerkAuth(clerk.config()))) as url, httpx.Client(base_url=url) as http:
        response = http.get("/api-key", headers=bearer(token))
        optional = http.get("/api-key-optional", headers=bearer(token))
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) >= 1
    assert response.json()["reason"] == "unexpected-error"
    assert optional.status_code == 503


def test_role_and_scopes_given_an_api_key(clerk: MockClerk) -> None:
    key = clerk.machine.mint_api_key()
    with serve_asgi(make_app(ClerkAuth(clerk.config()))) as url, httpx.Client(base_url=url) as http:
        admin = http.get("/api-key-admin", headers=bearer(key))
        scoped = http.get("/scoped", headers=bearer(key))
        scoped_admin = http.get("/scoped-admin", headers=bearer(key))
    assert (admin.status_code, admin.json()["reason"]) == (403, "insufficient-scope")
    assert admin.json()["required"] == {"roles": ["org:admin"]}
    assert scoped.status_code == 200
    assert (scoped_admin.status_code, scoped_admin.json()["reason"]) == (403, "insufficient-scope")


def test_sessions_only_route_is_unchanged(clerk: MockClerk) -> None:
    with serve_asgi(make_app(ClerkAuth(clerk.config()))) as url, httpx.Client(base_url=url) as http:
        ok = http.get("/session", headers=bearer(clerk.mint(sub="user_s")))
        none = http.get("/session")
        bad = http.get("/session", headers=bearer("nope"))
    assert ok.json() == {
        "subject": "user_s",
        "token_type": "session_token",
        "class": "SessionClaims",
    }
    assert (none.status_code, none.json()["reason"]) == (401, "session-token-and-uat-missing")
    assert (bad.status_code, bad.json()["reason"]) == (401, "token-invalid")


def test_typos_and_kinds_fail_when_the_dependency_is_built(clerk: MockClerk) -> None:
    auth = ClerkAuth(clerk.config())
    with pytest.raises(ConfigurationError, match="api_keys"):
        auth.machine("api_keys")
    with pytest.raises(ConfigurationError, match="accepting"):
        auth.machine(["session_token", "api_key"])
    with pytest.raises(ConfigurationError, match="accepting"):
        auth.machine("any")
    with pytest.raises(ConfigurationError, match="m2m"):
        auth.accepting(["api_key", "m2m"])
    with pytest.raises(ConfigurationError, match="name the token kinds"):
        auth.accepting(None)
    with pytest.raises(ConfigurationError, match="org:"):
        auth.accepting("api_key", permission="reports:read")
    assert isinstance(auth.machine("api_key"), ClerkMachineDependency)
    assert isinstance(auth.accepting("any"), ClerkTokenDependency)


def test_two_dependencies_on_one_request_do_not_share_a_result(clerk: MockClerk) -> None:
    key = clerk.machine.mint_api_key(subject="org_2")
    session = clerk.mint(sub="user_2")
    with serve_asgi(make_app(ClerkAuth(clerk.config()))) as url, httpx.Client(base_url=url) as http:
        with_key = http.get("/both", headers=bearer(key))
        with_session = http.get("/both", headers=bearer(session))
    # The optional session dependency ran first and found no session; the machine one
    # verified the key itself.
    assert with_key.json() == {
        "session": {"subject": None},
        "key": {"subject": "org_2", "token_type": "api_key", "class": "MachineClaims"},
    }
    assert (with_session.status_code, with_session.json()["reason"]) == (401, "token-type-mismatch")


def test_websocket_takes_a_machine_token_from_the_handshake_header(clerk: MockClerk) -> None:
    client = pytest.importorskip("websockets.sync.client")
    from websockets.exceptions import InvalidStatus

    with serve_asgi(make_app(ClerkAuth(clerk.config()))) as url:
        ws_url = url.replace("http", "ws", 1) + "/ws"
        key = clerk.machine.mint_api_key(subject="org_ws")
        with client.connect(ws_url, additional_headers=bearer(key)) as ws:
            assert ws.recv(timeout=5) == "org_ws"
        with pytest.raises(InvalidStatus) as caught:
            client.connect(ws_url, additional_headers=bearer(clerk.mint()), open_timeout=5)
    assert caught.value.response.status_code == 403


def test_verifier_is_closed_with_the_app(clerk: MockClerk) -> None:
    auth = ClerkAuth(clerk.config())
    with serve_asgi(make_app(auth)) as url, httpx.Client(base_url=url) as http:
        assert http.get("/api-key", headers=bearer(clerk.machine.mint_api_key())).status_code == 200
        verifier = auth.authenticator.machine_source
        assert isinstance(verifier, AsyncMachineVerifier)
        assert verifier._clients
    assert not verifier._clients  # auth.aclose() in the lifespan closed it


@pytest.mark.anyio
async def test_herd_of_one_new_api_key_makes_one_call(clerk: MockClerk) -> None:
    token = clerk.machine.mint_api_key(subject="user_herd")
    limits = httpx.Limits(max_connections=100)
    with serve_asgi(make_app(ClerkAuth(clerk.config()))) as url:
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as http:
            responses = await asyncio.gather(
                *(http.get("/api-key", headers=bearer(token)) for _ in range(200))
            )
    assert [r.status_code for r in responses] == [200] * 200
    assert {r.json()["subject"] for r in responses} == {"user_herd"}
    assert clerk.machine.calls["api_key"] == 1


def test_openapi_lists_the_refusals_and_the_machine_scheme(clerk: MockClerk) -> None:
    document = make_app(ClerkAuth(clerk.config())).openapi()
    paths = document["paths"]

    def statuses(path: str) -> list[str]:
        return sorted(s for s in paths[path]["get"]["responses"] if s in ("401", "403", "503"))

    assert statuses("/api-key") == ["401", "503"]
    assert statuses("/mixed") == ["401", "503"]
    assert statuses("/api-key-admin") == ["401", "403", "503"]
    assert statuses("/scoped-admin") == ["401", "403", "503"]
    assert statuses("/api-key-optional") == ["503"]
    schemes = document["components"]["securitySchemes"]
    assert schemes["ClerkMachine"]["scheme"] == "bearer"
    assert "bearerFormat" not in schemes["ClerkMachine"]
    assert schemes["ClerkSession"]["bearerFormat"] == "JWT"
    assert paths["/api-key"]["get"]["security"] == [{"ClerkMachine": []}]
    assert paths["/mixed"]["get"]["security"] == [{"ClerkSession": []}]


def test_default_dependencies_read_the_environment(
    clerk: MockClerk, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "CLERK_SECRET_KEY": clerk.secret_key,
        "CLERK_API_URL": clerk.url,
        "CLERK_ISSUER": clerk.issuer,
        "CLERK_AUTHORIZED_PARTIES": clerk.origin,
    }.items():
        monkeypatch.setenv(name, value)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await clerk_auth.aclose()

    app = FastAPI(lifespan=lifespan)
    install_exception_handler(app)

    @app.get("/key")
    async def key(claims: Annotated[MachineClaims, Depends(requires_machine("api_key"))]) -> Any:
        return body_of(claims)

    @app.get("/either")
    async def either(
        verified: Annotated[Verified, Depends(accepting(["session_token", "oauth_token"]))],
    ) -> Any:
        return body_of(verified)

    with serve_asgi(app) as url, httpx.Client(base_url=url) as http:
        key_answer = http.get("/key", headers=bearer(clerk.machine.mint_api_key(subject="org_e")))
        oauth = http.get(
            "/either", headers=bearer(clerk.machine.mint_oauth_token(subject="user_o"))
        )
        session = http.get("/either", headers=bearer(clerk.mint(sub="user_e")))
    assert key_answer.json()["subject"] == "org_e"
    assert oauth.json()["subject"] == "user_o"
    assert session.json()["subject"] == "user_e"


def test_behind_the_middleware_a_default_dependency_shares_its_work(clerk: MockClerk) -> None:
    # ClerkAuth() (no configuration of its own) stands in for the middleware: where it
    # takes the middleware's kinds, the request is verified once, by the middleware's
    # verifier; where it takes others, it decides itself (a second result).
    auth = ClerkAuth()
    app = FastAPI()
    install_exception_handler(app)
    app.add_middleware(
        ClerkAuthMiddleware, config=clerk.config(), accepts="api_key", mode="annotate"
    )

    @app.get("/same")
    async def same(
        request: Request, key: Annotated[MachineClaims, Depends(auth.machine("api_key"))]
    ) -> Any:
        return {"results": len(request.scope["clerk_auth.states"]), "subject": key.subject}

    @app.get("/other")
    async def other(
        request: Request, verified: Annotated[Verified, Depends(auth.accepting("any"))]
    ) -> Any:
        return {"results": len(request.scope["clerk_auth.states"]), "subject": verified.subject}

    key = clerk.machine.mint_api_key(subject="org_mw")
    with serve_asgi(app) as url, httpx.Client(base_url=url) as http:
        same_answer = http.get("/same", headers=bearer(key))
        other_answer = http.get("/other", headers=bearer(key))
    assert same_answer.json() == {"results": 1, "subject": "org_mw"}
    assert other_answer.json() == {"results": 2, "subject": "org_mw"}
    assert auth.authenticator._machine_made is False  # the middleware's verifier did it
    assert clerk.machine.calls == {"api_key": 1}
