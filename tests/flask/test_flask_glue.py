"""The Flask adapter's glue: set-up, views of every kind, responses, the per-request state.

Token and HTTP semantics are the conformance suite's business; these tests only check
that the adapter wires Flask to the core.
"""

from __future__ import annotations

import inspect
import logging
import typing
from collections.abc import Callable
from typing import Any, ClassVar

import pytest
from flask import Flask, g, jsonify
from flask.views import MethodView

from clerk_auth_core import (
    AuthorizationError,
    ClerkAuthError,
    ClerkConfig,
    ConfigurationError,
    HttpAnswer,
    KeySet,
    SessionClaims,
)
from clerk_auth_core.testing import MockClerk
from clerk_auth_flask import ClerkAuth, ClerkAuthFailed, get_auth, get_request_state, require_auth


def _me() -> dict[str, Any]:
    claims = get_auth()
    return {"user_id": None if claims is None else claims.user_id}


class CountingSource:
    """A key source counting its calls."""

    def __init__(self, keys: KeySet) -> None:
        self.keys = keys
        self.calls = 0

    def get_keys(self, kid: str | None) -> KeySet:
        self.calls += 1
        return self.keys


# -- set-up --------------------------------------------------------------------------------


def test_app_factory_shares_one_extension(pem_config: ClerkConfig, bearer: dict[str, str]) -> None:
    clerk_auth = ClerkAuth(config=pem_config)

    def create_app() -> Flask:
        app = Flask("factory")
        clerk_auth.init_app(app)
        app.get("/me")(require_auth(_me))
        return app

    first, second = create_app(), create_app()
    assert first.extensions["clerk_auth"] is not second.extensions["clerk_auth"]
    for app in (first, second):
        assert app.test_client().get("/me", headers=bearer).json == {"user_id": "user_flask"}
        assert app.test_client().get("/me").status_code == 401


def test_config_from_app_config(app: Flask, idle_clerk: MockClerk, bearer: dict[str, str]) -> None:
    app.config.update(
        CLERK_JWT_KEY=idle_clerk.public_pem,
        CLERK_ISSUER=idle_clerk.issuer,
        CLERK_AUTHORIZED_PARTIES=idle_clerk.origin + ",",
        CLERK_CLOCK_SKEW="7",
    )
    ClerkAuth(app)
    config = app.extensions["clerk_auth"].config
    assert config.authorized_parties == (idle_clerk.origin,)
    assert config.clock_skew == 7.0
    app.get("/me")(require_auth(_me))
    assert app.test_client().get("/me", headers=bearer).status_code == 200


def test_jwks_policy_and_cache_from_app_config(
    app: Flask, idle_clerk: MockClerk, bearer: dict[str, str]
) -> None:
    app.config.update(
        CLERK_JWT_KEY=idle_clerk.public_pem,
        CLERK_ISSUER=idle_clerk.issuer,
        CLERK_AUTHORIZED_PARTIES=idle_clerk.origin,
        CLERK_JWKS_POLICY={"unknown_kid_cooldown": 0, "stale_if_error": 60},
        CLERK_TOKEN_CACHE_SIZE=0,
    )
    ClerkAuth(app)
    config = app.extensions["clerk_auth"].config
    assert config.jwks.unknown_kid_cooldown == 0
    assert config.jwks.stale_if_error == 60
    assert config.token_cache_size == 0
    app.get("/me")(require_auth(_me))
    client = app.test_client()
    for _ in range(2):
        assert client.get("/me", headers=bearer).json == {"user_id": "user_flask"}
    assert not config.token_cache.verified  # the cache is off, as configured


def test_config_from_env_and_app_config_wins(
    app: Flask, idle_clerk: MockClerk, bearer: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLERK_JWT_KEY", idle_clerk.public_pem)
    monkeypatch.setenv("CLERK_ISSUER", "https://other.clerk.test")
    monkeypatch.setenv("CLERK_AUTHORIZED_PARTIES", idle_clerk.origin)
    app.config["CLERK_ISSUER"] = idle_clerk.issuer
    ClerkAuth(app)
    assert app.extensions["clerk_auth"].config.expected_issuer == idle_clerk.issuer
    app.get("/me")(require_auth(_me))
    assert app.test_client().get("/me", headers=bearer).status_code == 200


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({}, "No key source"),
        ({"CLERK_PUBLISHABLE_KEY": "pk_test_nope"}, "CLERK_PUBLISHABLE_KEY"),
        (
            {"CLERK_SECRET_KEY": "sk_test_x", "CLERK_JWKS_URL": "http://example.com/j"},
            "CLERK_JWKS_URL",
        ),
        ({"CLERK_JWT_KEY": "-----BEGIN PUBLIC KEY-----\nnope"}, "CLERK_JWT_KEY"),
        ({"CLERK_JWT_KEY": "x", "CLERK_CLOCK_SKEW": "soon"}, "CLERK_CLOCK_SKEW"),
        ({"CLERK_JWT_KEY": "x", "CLERK_JWKS_POLICY": {"fresh": 1}}, "CLERK_JWKS_POLICY"),
    ],
)
def test_misconfigured_app_fails_at_init_app(
    app: Flask, settings: dict[str, Any], message: str
) -> None:
    app.config.update(settings)
    with pytest.raises(ConfigurationError, match=message) as info:
        ClerkAuth().init_app(app)
    assert "sk_test_x" not in str(info.value)
    assert "clerk_auth" not in app.extensions


def test_not_initialised_answers_the_core_500_and_logs_the_fix(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    # Issue 16: a forgotten ClerkAuth(app) was a RuntimeError (Flask's HTML 500).
    app.get("/me")(require_auth(_me))
    app.testing = False
    with caplog.at_level(logging.ERROR, logger="clerk_auth"):
        response = app.test_client().get("/me")
    assert response.status_code == 500
    assert response.json is not None
    assert response.json["reason"] == "configuration-invalid"
    assert response.headers["Content-Type"] == "application/json"
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "call ClerkAuth(app)" in errors[0].getMessage()


def test_warm_up_fetches_at_init_and_never_fails_the_start(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    with MockClerk() as clerk:
        ClerkAuth(app, config=clerk.config(), warm_up=True)
        assert clerk.jwks_hits == 1
        clerk.set_fault("500")
        with caplog.at_level(logging.WARNING, logger="clerk_auth"):
            ClerkAuth(Flask("cold"), config=clerk.config(), warm_up=True)
        assert clerk.jwks_hits == 2
    assert "warm-up failed" in caplog.text
    assert clerk.secret_key not in caplog.text


# -- views of every kind -------------------------------------------------------------------


def test_async_view(app: Flask, pem_config: ClerkConfig, bearer: dict[str, str]) -> None:
    pytest.importorskip("asgiref", reason="Flask runs async views with flask[async]")
    ClerkAuth(app, config=pem_config)

    @app.get("/me")
    @require_auth
    async def me() -> dict[str, Any]:
        return {"user_id": g.clerk_auth.user_id}

    @app.get("/admin")
    @require_auth(role="org:admin")
    async def admin() -> str:
        return "never"

    assert inspect.iscoroutinefunction(me)
    client = app.test_client()
    assert client.get("/me", headers=bearer).json == {"user_id": "user_flask"}
    assert client.get("/me").status_code == 401
    assert client.get("/admin", headers=bearer).status_code == 403


def test_class_based_views(
    app: Flask, pem_config: ClerkConfig, idle_clerk: MockClerk, bearer: dict[str, str]
) -> None:
    source = CountingSource(pem_config.static_keys or KeySet.from_pem(idle_clerk.public_pem))
    ClerkAuth(app, config=pem_config, key_source=source)

    class Items(MethodView):
        decorators: ClassVar[list[Callable[..., Any]]] = [require_auth]

        def get(self) -> dict[str, Any]:
            return _me()

        @require_auth(role="org:admin")
        def delete(self) -> tuple[str, int]:
            return "", 204

    class Public(MethodView):
        @require_auth(optional=True)
        def get(self) -> dict[str, Any]:
            return _me()

    app.add_url_rule("/items", view_func=Items.as_view("items"))
    app.add_url_rule("/public", view_func=Public.as_view("public"))
    client = app.test_client()
    assert client.get("/items", headers=bearer).json == {"user_id": "user_flask"}
    assert client.get("/items").status_code == 401
    admin = {"Authorization": "Bearer " + idle_clerk.mint(org={"id": "org_1", "role": "admin"})}
    source.calls = 0
    assert client.delete("/items", headers=admin).status_code == 204
    assert source.calls == 1  # two decorators, one verification per request
    assert client.delete("/items", headers=bearer).status_code == 403
    assert client.get("/public").json == {"user_id": None}


def test_preflight_never_runs_a_required_view(app: Flask, pem_config: ClerkConfig) -> None:
    # Issue 12: a view taking OPTIONS itself behind a *required* guard is answered 204
    # for a preflight without running; an optional one runs, signed out.
    ClerkAuth(app, config=pem_config)
    ran: list[str] = []

    @app.route("/items", methods=["GET", "OPTIONS"])
    @require_auth
    def items() -> tuple[str, int]:
        ran.append("items")
        return "ran", 200

    @app.route("/maybe", methods=["GET", "OPTIONS"])
    @require_auth(optional=True)
    def maybe() -> tuple[str, int]:
        return ("preflight" if get_request_state().is_preflight else "get"), 200

    headers = {"Origin": "http://localhost:3000", "Access-Control-Request-Method": "GET"}
    response = app.test_client().options("/items", headers=headers)
    assert (response.status_code, response.data) == (204, b"")
    assert response.headers["Cache-Control"] == "no-store"
    assert ran == []
    response = app.test_client().options("/maybe", headers=headers)
    assert (response.status_code, response.text) == (200, "preflight")
    # Without Origin it is no preflight: refused like any request without a token.
    response = app.test_client().options("/items", headers={"Access-Control-Request-Method": "GET"})
    assert response.status_code == 401
    assert response.json["reason"] == "session-token-and-uat-missing"
    assert app.test_client().get("/items").status_code == 401
    assert ran == []


# -- g.clerk_auth, get_auth, get_request_state -------------------------------------------------


def test_request_state_on_optional_routes(
    app: Flask, pem_config: ClerkConfig, bearer: dict[str, str]
) -> None:
    ClerkAuth(app, config=pem_config)
    seen: list[tuple[Any, Any, str | None]] = []

    @app.get("/maybe")
    @require_auth(optional=True)
    def maybe() -> str:
        state = get_request_state()
        assert g.clerk_auth is get_auth()
        seen.append((get_auth(), state.status, state.reason))
        return ""

    client = app.test_client()
    client.get("/maybe")
    client.get("/maybe", headers={"Authorization": "Bearer nope"})
    client.get("/maybe", headers=bearer)
    assert seen[0] == (None, "signed-out", "session-token-and-uat-missing")
    assert seen[1] == (None, "signed-out", "token-invalid")
    claims, status, reason = seen[2]
    assert isinstance(claims, SessionClaims)
    assert (claims.user_id, status, reason) == ("user_flask", "signed-in", None)


def test_get_auth_without_decorator_authenticates_lazily(
    app: Flask, pem_config: ClerkConfig, bearer: dict[str, str]
) -> None:
    ClerkAuth(app, config=pem_config)
    app.get("/me")(_me)
    client = app.test_client()
    assert client.get("/me", headers=bearer).json == {"user_id": "user_flask"}
    assert client.get("/me").json == {"user_id": None}


# -- responses --------------------------------------------------------------------------------


def test_default_response_is_the_cores_answer(app: Flask, pem_config: ClerkConfig) -> None:
    ClerkAuth(app, config=pem_config)
    app.get("/me")(require_auth(_me))
    response = app.test_client().get("/me", headers={"Authorization": "Bearer"})
    assert response.status_code == 401
    assert response.mimetype == "application/json"
    assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    assert response.headers["Cache-Control"] == "no-store"
    assert response.json is not None
    assert response.json["reason"] == "token-invalid"


def test_custom_response_with_errorhandler(app: Flask, pem_config: ClerkConfig) -> None:
    ClerkAuth(app, config=pem_config)
    app.get("/me")(require_auth(_me))

    @app.errorhandler(ClerkAuthFailed)
    def refused(exc: ClerkAuthFailed) -> Any:
        assert exc.error is not None
        return jsonify(problem=exc.answer.body["reason"]), exc.code, dict(exc.answer.headers)

    response = app.test_client().get("/me")
    assert (response.status_code, response.json) == (
        401,
        {"problem": "session-token-and-uat-missing"},
    )
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_custom_response_with_on_error(
    app: Flask, pem_config: ClerkConfig, idle_clerk: MockClerk
) -> None:
    calls: list[tuple[HttpAnswer, ClerkAuthError | None]] = []

    def on_error(answer: HttpAnswer, error: ClerkAuthError | None) -> Any:
        calls.append((answer, error))
        return {"nope": answer.body["reason"]}, answer.status

    ClerkAuth(app, config=pem_config, on_error=on_error)
    app.get("/admin")(require_auth(role="org:admin")(_me))
    client = app.test_client()
    assert client.get("/admin").json == {"nope": "session-token-and-uat-missing"}
    member = {"Authorization": "Bearer " + idle_clerk.mint()}
    response = client.get("/admin", headers=member)
    assert (response.status_code, response.json) == (403, {"nope": "insufficient-scope"})
    assert calls[0][1] is not None
    assert calls[0][1].reason == "session-token-and-uat-missing"
    assert isinstance(calls[1][1], AuthorizationError)
    assert calls[1][1].reason == "insufficient-scope"


def test_a_token_is_never_logged(
    app: Flask, pem_config: ClerkConfig, idle_clerk: MockClerk, caplog: pytest.LogCaptureFixture
) -> None:
    ClerkAuth(app, config=pem_config)
    app.get("/me")(require_auth(_me))
    token = idle_clerk.mint(azp="https://evil.example")
    with caplog.at_level(logging.DEBUG):
        response = app.test_client().get("/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert token not in caplog.text
    assert token not in response.text


# -- typing ----------------------------------------------------------------------------------


def test_decorated_views_keep_their_signature() -> None:
    def view(item_id: int, *, verbose: bool = False) -> dict[str, int]:
        return {"id": item_id}

    async def async_view(item_id: int) -> str:
        return str(item_id)

    pairs: list[tuple[Callable[..., Any], Callable[..., Any]]] = [
        (require_auth(view), view),
        (require_auth(optional=True, permission=["org:a:read", "org:b:read"])(view), view),
        (require_auth(async_view), async_view),
    ]
    for decorated, original in pairs:
        assert inspect.signature(decorated) == inspect.signature(original)
        assert typing.get_type_hints(decorated) == typing.get_type_hints(original)
        assert decorated.__name__ == original.__name__
        assert decorated.__wrapped__ is original  # type: ignore[attr-defined]


# -- the documented cross-origin recipe (docs/flask.md) ---------------------------------------


def test_flask_cors_recipe(app: Flask, pem_config: ClerkConfig, bearer: dict[str, str]) -> None:
    flask_cors = pytest.importorskip("flask_cors")
    origin = "http://localhost:3000"
    flask_cors.CORS(
        app,
        origins=[origin],
        allow_headers=["Authorization", "Content-Type"],
        expose_headers=["WWW-Authenticate", "Retry-After"],
    )
    ClerkAuth(app, config=pem_config)
    app.get("/api/me")(require_auth(_me))
    client = app.test_client()
    preflight = client.options(
        "/api/me",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == origin
    assert "WWW-Authenticate" not in preflight.headers
    refused = client.get("/api/me", headers={"Origin": origin})
    assert refused.status_code == 401
    assert refused.headers["Access-Control-Allow-Origin"] == origin  # the browser may read it
    assert "WWW-Authenticate" in refused.headers["Access-Control-Expose-Headers"]
    ok = client.get("/api/me", headers={"Origin": origin, **bearer})
    assert ok.json == {"user_id": "user_flask"}
