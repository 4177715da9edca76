"""The FastAPI dependencies: OpenAPI, with and without the middleware, errors, websockets."""

# No ``from __future__ import annotations``: FastAPI resolves the annotations of routes
# defined inside functions at runtime (``Annotated[..., Depends(auth.required)]``).

import contextlib
import re
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Request, Security, WebSocket

from clerk_auth_core import ClerkConfig, SessionClaims
from clerk_auth_core.testing import MockClerk
from clerk_auth_starlette import ClerkAuthMiddleware, get_request_state
from clerk_auth_starlette.fastapi import (
    ClerkAuth,
    ClerkHTTPException,
    clerk_auth,
    install_exception_handler,
    optional_auth,
    require_auth,
    requires_auth,
)

pytestmark = pytest.mark.anyio
ADMIN = {"id": "org_1", "role": "admin", "permissions": ["org:reports:read"]}
MEMBER = {"id": "org_1", "role": "member", "permissions": ["org:billing:read"]}
SCOPE = r'Bearer error="insufficient_scope", error_description="[^"]+"'


def make_app(auth: ClerkAuth, *, handler: bool = True) -> FastAPI:
    app = FastAPI()
    if handler:
        install_exception_handler(app)

    @app.get("/me")
    async def me(request: Request, claims: Annotated[SessionClaims, Depends(auth.required)]) -> Any:
        return {"user_id": claims.user_id, "identity": request.user.identity}

    @app.get("/optional")
    def optional(claims: Annotated[SessionClaims | None, Depends(auth.optional)]) -> Any:
        return {"user_id": claims and claims.user_id}

    @app.get("/admin")
    async def admin(
        claims: Annotated[SessionClaims, Security(auth.require(role="org:admin"))],
    ) -> Any:
        return {"user_id": claims.user_id}

    @app.get("/reports", dependencies=[Depends(auth.require(permission="org:reports:read"))])
    async def reports() -> Any:
        return {"ok": True}

    @app.get("/pending-ok")
    async def pending(
        claims: Annotated[SessionClaims, Depends(auth.require(allow_pending=True))],
    ) -> Any:
        return {"user_id": claims.user_id}

    @app.get("/public")
    async def public() -> Any:
        return {"public": True}

    @app.websocket("/ws")
    async def ws(
        websocket: WebSocket, claims: Annotated[SessionClaims, Depends(auth.required)]
    ) -> None:
        await websocket.accept()
        await websocket.send_text(claims.user_id)
        await websocket.close()

    return app


@contextlib.asynccontextmanager
async def client_for(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- OpenAPI -------------------------------------------------------------------------------


async def test_openapi_shows_the_bearer_scheme(clerk: MockClerk) -> None:
    async with client_for(make_app(ClerkAuth(clerk.pem_config()))) as client:
        document = (await client.get("/openapi.json")).json()
    scheme = document["components"]["securitySchemes"]["ClerkSession"]
    assert scheme["type"] == "http"
    assert scheme["scheme"] == "bearer"
    assert scheme["bearerFormat"] == "JWT"
    for path in ("/me", "/optional", "/admin", "/reports", "/pending-ok"):
        assert document["paths"][path]["get"]["security"] == [{"ClerkSession": []}]
    assert "security" not in document["paths"]["/public"]["get"]


async def test_scheme_name_is_configurable(clerk: MockClerk) -> None:
    async with client_for(make_app(ClerkAuth(clerk.pem_config(), scheme_name="Clerk"))) as c:
        document = (await c.get("/openapi.json")).json()
    assert list(document["components"]["securitySchemes"]) == ["Clerk"]


# -- without the middleware -----------------------------------------------------------------


async def test_without_middleware_the_dependency_authenticates(clerk: MockClerk) -> None:
    async with client_for(make_app(ClerkAuth(clerk.pem_config()))) as client:
        ok = await client.get("/me", headers=bearer(clerk.mint(sub="user_f")))
        refused = await client.get("/me")
    assert ok.json() == {"user_id": "user_f", "identity": "user_f"}  # request.user set too
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"
    assert refused.headers["cache-control"] == "no-store"
    assert refused.headers["content-type"] == "application/json"
    assert refused.json() == {
        "error": "unauthorized",
        "reason": "session-token-and-uat-missing",
        "message": "No session token was sent.",
    }


async def test_without_the_handler_the_body_is_under_detail(clerk: MockClerk) -> None:
    app = make_app(ClerkAuth(clerk.pem_config()), handler=False)
    async with client_for(app) as client:
        refused = await client.get("/me", headers=bearer("not-a-jwt"))
    assert refused.status_code == 401
    assert refused.json()["detail"]["reason"] == "token-invalid"
    assert refused.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


async def test_roles_permissions_optional_and_pending(clerk: MockClerk) -> None:
    pending = clerk.mint(sub="user_p", sts="pending")
    async with client_for(make_app(ClerkAuth(clerk.pem_config()))) as client:
        for path in ("/admin", "/reports"):
            denied = await client.get(path, headers=bearer(clerk.mint(org=MEMBER)))
            assert denied.status_code == 403
            assert re.fullmatch(SCOPE, denied.headers["www-authenticate"])
            assert denied.json()["reason"] == "insufficient-scope"
            allowed = await client.get(path, headers=bearer(clerk.mint(version=2, org=ADMIN)))
            assert allowed.status_code == 200
        assert (await client.get("/optional")).json() == {"user_id": None}
        expired = bearer(clerk.mint(iat=1))
        assert (await client.get("/optional", headers=expired)).json() == {"user_id": None}
        signed_in = await client.get("/optional", headers=bearer(clerk.mint(sub="user_o")))
        assert signed_in.json() == {"user_id": "user_o"}
        assert (await client.get("/me", headers=bearer(pending))).json()["reason"] == (
            "session-pending"
        )
        assert (await client.get("/pending-ok", headers=bearer(pending))).json() == {
            "user_id": "user_p"
        }


async def test_keys_unavailable_is_503(clerk: MockClerk) -> None:
    clerk.set_fault("down")
    auth = ClerkAuth(clerk.config())
    try:
        async with client_for(make_app(auth)) as client:
            response = await client.get("/me", headers=bearer(clerk.mint()))
    finally:
        await auth.aclose()
    assert response.status_code == 503
    assert response.json()["reason"] == "jwk-remote-failed-to-load"
    assert int(response.headers["retry-after"]) >= 1


async def test_config_from_the_environment_on_first_use(
    clerk: MockClerk, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = ClerkAuth()  # what the module-level require_auth is made of
    monkeypatch.setenv("CLERK_JWT_KEY", clerk.public_pem)
    monkeypatch.setenv("CLERK_ISSUER", clerk.issuer)
    monkeypatch.setenv("CLERK_AUTHORIZED_PARTIES", clerk.origin)
    async with client_for(make_app(auth)) as client:
        response = await client.get("/me", headers=bearer(clerk.mint(sub="user_env")))
    assert response.json()["user_id"] == "user_env"
    assert auth.config.authorized_parties == (clerk.origin,)


# -- with the middleware --------------------------------------------------------------------


def counting_source(config: ClerkConfig, calls: list[str | None]) -> Any:
    class Source:
        async def get_keys(self, kid: str | None) -> Any:
            calls.append(kid)
            return config.static_keys

    return Source()


async def test_with_middleware_the_module_dependencies_reuse_its_state(
    clerk: MockClerk, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Unused:
        async def authenticate(self, *args: Any) -> Any:
            raise AssertionError("the middleware's authenticator should have been used")

    monkeypatch.setattr(clerk_auth, "authenticator", Unused())
    config = clerk.pem_config()
    calls: list[str | None] = []
    app = FastAPI()
    install_exception_handler(app)
    app.add_middleware(
        ClerkAuthMiddleware,
        config=config,
        key_source=counting_source(config, calls),
        mode="annotate",
    )

    @app.get("/me")
    async def me(request: Request, claims: Annotated[SessionClaims, Depends(require_auth)]) -> Any:
        state = get_request_state(request)
        return {"user_id": claims.user_id, "status": state and state.status}

    @app.get("/optional")
    async def optional(claims: Annotated[SessionClaims | None, Depends(optional_auth)]) -> Any:
        return {"user_id": claims and claims.user_id}

    @app.get("/admin")
    async def admin(
        a: Annotated[SessionClaims, Depends(require_auth)],
        b: Annotated[SessionClaims, Security(requires_auth(role="org:admin"))],
    ) -> Any:
        return {"same": a is b}

    async with client_for(app) as client:
        ok = await client.get("/me", headers=bearer(clerk.mint(sub="user_m")))
        assert ok.json() == {"user_id": "user_m", "status": "signed-in"}
        assert len(calls) == 1  # verified once, by the middleware
        assert (await client.get("/optional")).json() == {"user_id": None}
        refused = await client.get("/me")
        assert refused.status_code == 401
        assert refused.json()["reason"] == "session-token-and-uat-missing"
        calls.clear()
        admin = await client.get("/admin", headers=bearer(clerk.mint(org=ADMIN)))
        assert admin.json() == {"same": True}
        assert len(calls) == 1


async def test_reject_mode_middleware_answers_before_the_dependency(clerk: MockClerk) -> None:
    app = make_app(ClerkAuth(clerk.pem_config()))
    app.add_middleware(ClerkAuthMiddleware, config=clerk.pem_config())
    async with client_for(app) as client:
        refused = await client.get("/optional")
        ok = await client.get("/me", headers=bearer(clerk.mint(sub="user_r")))
    assert refused.status_code == 401
    assert ok.json()["user_id"] == "user_r"


# -- websockets -------------------------------------------------------------------------------


async def run_websocket(app: FastAPI, headers: list[tuple[bytes, bytes]]) -> list[Any]:
    sent: list[dict[str, Any]] = []
    incoming = iter([{"type": "websocket.connect"}])

    async def receive() -> dict[str, Any]:
        return next(incoming, {"type": "websocket.disconnect", "code": 1000})

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "websocket", "path": "/ws", "headers": headers, "query_string": b""}
    await app(scope, receive, send)
    return sent


async def test_websocket_dependency_refuses_with_1008(clerk: MockClerk) -> None:
    sent = await run_websocket(make_app(ClerkAuth(clerk.pem_config())), [])
    assert sent == [
        {"type": "websocket.close", "code": 1008, "reason": "session-token-and-uat-missing"}
    ]


async def test_websocket_dependency_accepts_a_valid_token(clerk: MockClerk) -> None:
    token = clerk.mint(sub="user_ws").encode()
    sent = await run_websocket(
        make_app(ClerkAuth(clerk.pem_config())), [(b"authorization", b"Bearer " + token)]
    )
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.send", "websocket.close"]
    assert sent[1]["text"] == "user_ws"


def test_exception_carries_the_core_answer() -> None:
    from clerk_auth_core import TokenVerificationError, http_answer

    error = TokenVerificationError("token-expired")
    exc = ClerkHTTPException(http_answer(error), error)
    assert exc.status_code == 401
    assert exc.detail["reason"] == "token-expired"
    assert exc.headers is not None
    assert exc.headers["Cache-Control"] == "no-store"


# -- Security(..., scopes=[...]) ------------------------------------------------------------


def scoped_app(auth: ClerkAuth) -> FastAPI:
    app = FastAPI()
    install_exception_handler(app)

    @app.get("/admin")
    async def admin(
        claims: Annotated[SessionClaims, Security(auth.required, scopes=["role:admin"])],
    ) -> Any:
        return {"user_id": claims.user_id}

    @app.get("/both")
    async def both(
        claims: Annotated[
            SessionClaims,
            Security(
                auth.required,
                scopes=["authenticated", "role:org:admin", "permission:org:reports:read"],
            ),
        ],
    ) -> Any:
        return {"user_id": claims.user_id}  # fmt: skip

    @app.get("/maybe")
    async def maybe(
        claims: Annotated[SessionClaims | None, Security(auth.optional, scopes=["role:admin"])],
    ) -> Any:
        return {"user_id": claims and claims.user_id}

    @app.get("/typo")
    async def typo(
        claims: Annotated[SessionClaims, Security(auth.required, scopes=["admin"])],
    ) -> Any:
        return {"user_id": claims.user_id}

    return app


async def test_security_scopes_must_all_hold(clerk: MockClerk) -> None:
    admin = bearer(clerk.mint(sub="user_a", org=ADMIN))
    member = bearer(clerk.mint(sub="user_m", org=MEMBER))
    no_org = bearer(clerk.mint(sub="user_n"))
    async with client_for(scoped_app(ClerkAuth(clerk.pem_config()))) as client:
        for path in ("/admin", "/both"):
            assert (await client.get(path, headers=admin)).json() == {"user_id": "user_a"}
            for headers in (member, no_org):
                denied = await client.get(path, headers=headers)
                assert denied.status_code == 403
                assert denied.json()["reason"] == "insufficient-scope"
                assert re.fullmatch(SCOPE, denied.headers["www-authenticate"])
            assert (await client.get(path)).status_code == 401  # no token: 401, not 403
        assert (await client.get("/maybe")).json() == {"user_id": None}
        assert (await client.get("/maybe", headers=admin)).json() == {"user_id": "user_a"}
        assert (await client.get("/maybe", headers=member)).status_code == 403


async def test_an_unknown_scope_is_a_500_that_names_it_only_in_the_log(
    clerk: MockClerk, caplog: pytest.LogCaptureFixture
) -> None:
    async with client_for(scoped_app(ClerkAuth(clerk.pem_config()))) as client:
        reply = await client.get("/typo", headers=bearer(clerk.mint(org=ADMIN)))
    assert reply.status_code == 500
    assert reply.json()["reason"] == "configuration-invalid"
    assert "admin" not in reply.text
    assert "unknown FastAPI security scope 'admin'" in caplog.text


async def test_openapi_lists_the_scopes(clerk: MockClerk) -> None:
    async with client_for(scoped_app(ClerkAuth(clerk.pem_config()))) as client:
        document = (await client.get("/openapi.json")).json()
    [requirement] = document["paths"]["/admin"]["get"]["security"]
    # Recent FastAPI lists a route's scopes for any scheme; older ones (0.110) only for
    # OAuth 2 schemes, so there the list is empty.
    assert list(requirement) == ["ClerkSession"]
    assert requirement["ClerkSession"] in (["role:admin"], [])
    assert document["paths"]["/both"]["get"]["security"][0]["ClerkSession"] in (
        ["authenticated", "role:org:admin", "permission:org:reports:read"],
        [],
    )
