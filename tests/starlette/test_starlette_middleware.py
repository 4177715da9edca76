"""The middleware's glue: scopes, answers, modes, exclusions, errors and lifespan.

In-process through ``httpx.ASGITransport`` with the networkless PEM key, except where a
real server or a real JWKS fetch matters (``serve``: uvicorn on 127.0.0.1).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from clerk_auth_core import (
    ClerkAuthError,
    ClerkConfig,
    HttpAnswer,
    Reason,
    authenticate_request,
)
from clerk_auth_core.testing import MockClerk
from clerk_auth_starlette import ClerkAuthMiddleware, ClerkUser, get_auth, get_request_state

pytestmark = pytest.mark.anyio
ADMIN = {"id": "org_1", "role": "admin", "permissions": ["org:invoices:read"]}


async def me(request: Request) -> Response:
    claims, state = get_auth(request), get_request_state(request)
    return JSONResponse(
        {
            "user_id": claims and claims.user_id,
            "reason": state and state.reason,
            "status": state and state.status,
            "authenticated": request.user.is_authenticated,
            "display_name": request.user.display_name,
            # UnauthenticatedUser.identity raises on older Starlette.
            "identity": request.user.identity if request.user.is_authenticated else None,
            "scopes": request.auth.scopes,
        }
    )


async def untouched(request: Request) -> Response:
    has_state = get_request_state(request) is not None
    return JSONResponse({"has_user": "user" in request.scope, "has_state": has_state})


@requires("authenticated")
async def members(request: Request) -> Response:
    return PlainTextResponse("members")


@requires("role:org:admin")
async def admin(request: Request) -> Response:
    return PlainTextResponse("admin")


def make_app(config: ClerkConfig, **options: Any) -> Starlette:
    routes = [
        Route("/me", me, methods=["GET", "POST"]),
        Route("/public", untouched),
        Route("/static/{name}", untouched),
        Route("/publicity", untouched),
        Route("/members", members),
        Route("/admin", admin),
    ]
    middleware = [Middleware(ClerkAuthMiddleware, config=config, **options)]
    return Starlette(routes=routes, middleware=middleware)


@contextlib.asynccontextmanager
async def client_for(app: ASGIApp) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- reject mode ---------------------------------------------------------------------------


async def test_signed_in_sets_user_auth_and_state(clerk: MockClerk) -> None:
    async with client_for(make_app(clerk.pem_config())) as client:
        response = await client.get("/me", headers=bearer(clerk.mint(sub="user_1", org=ADMIN)))
    assert response.status_code == 200
    assert response.json() == {
        "user_id": "user_1",
        "reason": None,
        "status": "signed-in",
        "authenticated": True,
        "display_name": "user_1",
        "identity": "user_1",
        # The core's vocabulary (issue 13): the role in both spellings.
        "scopes": [
            "authenticated",
            "role:org:admin",
            "role:admin",
            "permission:org:invoices:read",
        ],
    }


async def test_cookie_token_same_origin(clerk: MockClerk) -> None:
    cookies = {"__session": clerk.mint(sub="user_c"), "__client_uat": str(int(time.time()) - 60)}
    async with client_for(make_app(clerk.pem_config())) as client:
        response = await client.get(
            "/me", headers={"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
        )
    assert response.status_code == 200
    assert response.json()["user_id"] == "user_c"


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, Reason.SESSION_TOKEN_AND_UAT_MISSING),
        ({"Authorization": "Bearer"}, Reason.TOKEN_INVALID),
        ({"Authorization": "Bearer not.a.token"}, Reason.TOKEN_INVALID),
        ({"Cookie": "__client_uat=1700000000"}, Reason.CLIENT_UAT_BUT_NO_SESSION_TOKEN),
    ],
)
async def test_rejection_is_the_core_answer_verbatim(
    clerk: MockClerk, headers: dict[str, str], reason: str
) -> None:
    config = clerk.pem_config()
    async with client_for(make_app(config)) as client:
        response = await client.get("/me", headers=headers)
    assert config.static_keys is not None
    state = authenticate_request(headers, config=config, keys=config.static_keys, now=time.time())
    answer = state.answer()
    assert answer is not None
    assert state.reason == reason
    assert response.status_code == answer.status == 401
    assert response.content == answer.body_bytes
    assert response.headers["content-type"] == "application/json"
    for name, value in answer.headers:
        assert response.headers[name] == value


async def test_expired_token_names_its_reason(clerk: MockClerk) -> None:
    token = clerk.mint(iat=time.time() - 3600)
    async with client_for(make_app(clerk.pem_config())) as client:
        response = await client.get("/me", headers=bearer(token))
    assert response.status_code == 401
    assert response.json()["reason"] == "token-expired"
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_requires_checks_role_scopes(clerk: MockClerk) -> None:
    async with client_for(make_app(clerk.pem_config())) as client:
        plain = await client.get("/admin", headers=bearer(clerk.mint()))
        boss = await client.get("/admin", headers=bearer(clerk.mint(org=ADMIN)))
    assert (plain.status_code, boss.status_code) == (403, 200)


async def test_preflight_is_never_rejected(clerk: MockClerk) -> None:
    headers = {"Origin": clerk.origin, "Access-Control-Request-Method": "GET"}
    async with client_for(make_app(clerk.pem_config())) as client:
        response = await client.options("/me", headers=headers)
    # No CORS middleware here: the route itself answers (405), the middleware did not.
    assert response.status_code == 405


# -- annotate mode, exclusions, on_error --------------------------------------------------


async def test_annotate_mode_lets_routes_decide(clerk: MockClerk) -> None:
    async with client_for(make_app(clerk.pem_config(), mode="annotate")) as client:
        anonymous = await client.get("/me")
        expired = await client.get("/me", headers=bearer(clerk.mint(iat=time.time() - 3600)))
        members_anon = await client.get("/members")
        members_ok = await client.get("/members", headers=bearer(clerk.mint()))
    assert anonymous.status_code == 200
    assert anonymous.json() == {
        "user_id": None,
        "reason": "session-token-and-uat-missing",
        "status": "signed-out",
        "authenticated": False,
        "display_name": "",
        "identity": None,
        "scopes": [],
    }
    assert expired.json()["reason"] == "token-expired"
    assert (members_anon.status_code, members_ok.status_code) == (403, 200)


async def test_excluded_paths_and_methods_pass_untouched(clerk: MockClerk) -> None:
    app = make_app(clerk.pem_config(), exclude_paths=["/public", "/static/"])
    async with client_for(app) as client:
        assert (await client.get("/public")).json() == {"has_user": False, "has_state": False}
        assert (await client.get("/static/app.js")).status_code == 200
        assert (await client.get("/publicity")).status_code == 401  # not a prefix entry
        assert (await client.get("/public/")).status_code in (401, 404)
    app = make_app(clerk.pem_config(), exclude_methods=["get"])
    async with client_for(app) as client:
        assert (await client.get("/public")).status_code == 200
        assert (await client.post("/me")).status_code == 401


async def test_on_error_replaces_the_response(clerk: MockClerk) -> None:
    seen: list[tuple[str, int, str]] = []

    def sync_handler(request: Request, answer: HttpAnswer, error: ClerkAuthError) -> Response:
        seen.append((request.url.path, answer.status, error.reason))
        return PlainTextResponse("go away", answer.status, dict(answer.headers))

    async def async_handler(
        request: Request, answer: HttpAnswer, error: ClerkAuthError
    ) -> Response:
        return PlainTextResponse(f"async {error.reason}", 418)

    async with client_for(make_app(clerk.pem_config(), on_error=sync_handler)) as client:
        response = await client.get("/me")
    assert (response.status_code, response.text) == (401, "go away")
    assert response.headers["www-authenticate"] == "Bearer"
    assert seen == [("/me", 401, "session-token-and-uat-missing")]
    async with client_for(make_app(clerk.pem_config(), on_error=async_handler)) as client:
        response = await client.get("/me")
    assert (response.status_code, response.text) == (418, "async session-token-and-uat-missing")


async def test_given_key_source_is_used_and_not_closed(clerk: MockClerk) -> None:
    config = clerk.pem_config()
    calls: list[str | None] = []

    class Source:
        async def get_keys(self, kid: str | None) -> Any:
            calls.append(kid)
            assert config.static_keys is not None
            return config.static_keys

    middleware = ClerkAuthMiddleware(
        make_app(clerk.pem_config()), config=config, key_source=Source()
    )
    async with client_for(middleware) as client:
        assert (await client.get("/me", headers=bearer(clerk.mint()))).status_code == 200
    assert calls == [clerk.kid]
    await middleware.aclose()
    assert isinstance(middleware.authenticator.key_source, Source)


def test_config_from_environment(clerk: MockClerk, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLERK_JWT_KEY", clerk.public_pem)
    monkeypatch.setenv("CLERK_ISSUER", clerk.issuer)
    monkeypatch.setenv("CLERK_AUTHORIZED_PARTIES", clerk.origin)
    app = Starlette(routes=[Route("/me", me)])
    app.add_middleware(ClerkAuthMiddleware)
    middleware = ClerkAuthMiddleware(app)
    assert middleware.config.authorized_parties == (clerk.origin,)
    assert middleware.config.static_keys is not None


def test_bad_mode_fails_at_construction(clerk: MockClerk) -> None:
    with pytest.raises(ValueError, match="mode"):
        ClerkAuthMiddleware(make_app(clerk.pem_config()), config=clerk.pem_config(), mode="nope")  # type: ignore[arg-type]


def test_clerk_user_repr_and_claims(clerk: MockClerk) -> None:
    config = clerk.pem_config()
    assert config.static_keys is not None
    state = authenticate_request(
        bearer(clerk.mint(sub="user_r")), config=config, keys=config.static_keys, now=time.time()
    )
    assert state.claims is not None
    user = ClerkUser(state.claims)
    assert repr(user) == "ClerkUser('user_r')"
    assert user.claims.session_id == "sess_test"


def test_importing_the_adapter_does_not_import_fastapi() -> None:
    code = "import sys, clerk_auth_starlette; assert 'fastapi' not in sys.modules, 'fastapi'"
    subprocess.run([sys.executable, "-c", code], check=True)


# -- with a real server and a real JWKS ---------------------------------------------------


def test_lifespan_shutdown_closes_the_provider(clerk: MockClerk, serve: Any) -> None:
    ran: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        ran.append("startup")
        yield
        ran.append("shutdown")

    inner = Starlette(routes=[Route("/me", me)], lifespan=lifespan)
    middleware = ClerkAuthMiddleware(inner, config=clerk.config())
    with serve(middleware) as url:
        response = httpx.get(f"{url}/me", headers=bearer(clerk.mint()))
        assert response.status_code == 200
        assert middleware.authenticator._owned is not None
    assert ran == ["startup", "shutdown"]
    assert middleware.authenticator._owned is None
    assert clerk.jwks_hits == 1


def test_keys_unavailable_is_503_with_retry_after(clerk: MockClerk, serve: Any) -> None:
    clerk.set_fault("down")
    with serve(make_app(clerk.config())) as url:
        response = httpx.get(f"{url}/me", headers=bearer(clerk.mint()))
        no_token = httpx.get(f"{url}/me")
    assert response.status_code == 503
    assert response.json()["reason"] == "jwk-remote-failed-to-load"
    assert int(response.headers["retry-after"]) >= 1
    assert no_token.status_code == 401  # no token: no fetch needed, no 503


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_works_on_trio_with_a_pem_key(clerk: MockClerk) -> None:
    # The JWKS provider of clerk_auth_core.io is asyncio-only; the middleware itself
    # and the static PEM provider are not.
    pytest.importorskip("trio")
    async with client_for(make_app(clerk.pem_config())) as client:
        ok = await client.get("/me", headers=bearer(clerk.mint(sub="user_trio")))
        rejected = await client.get("/me")
    assert ok.json()["user_id"] == "user_trio"
    assert rejected.status_code == 401


def test_warm_up_fetches_the_keys_at_startup(clerk: MockClerk, serve: Any) -> None:
    middleware = ClerkAuthMiddleware(
        Starlette(routes=[Route("/me", me)]), config=clerk.config(), warm_up=True
    )
    with serve(middleware) as url:
        assert clerk.jwks_hits == 1  # before any request
        assert httpx.get(f"{url}/me", headers=bearer(clerk.mint())).status_code == 200
    assert clerk.jwks_hits == 1


def test_failed_warm_up_is_logged_not_fatal(
    clerk: MockClerk, serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    clerk.set_fault("down")
    middleware = ClerkAuthMiddleware(
        Starlette(routes=[Route("/me", me)]), config=clerk.config(), warm_up=True
    )
    with caplog.at_level("WARNING", logger="clerk_auth"), serve(middleware) as url:
        assert httpx.get(f"{url}/me").status_code == 401
    assert "warm-up failed" in caplog.text
