"""``@require_auth(reverification=...)`` on Flask: declaration errors, the 403 in Clerk's
shape, and the error an ``errorhandler`` receives."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from clerk_auth_core import ClerkConfig, ConfigurationError, ReverificationError
from clerk_auth_core.testing import MockClerk
from clerk_auth_flask import ClerkAuth, ClerkAuthFailed, get_auth, require_auth

STRICT = (
    b'{"clerk_error":{"type":"forbidden","reason":"reverification-error",'
    b'"metadata":{"reverification":"strict"}}}'
)


def make_app(config: ClerkConfig) -> Flask:
    app = Flask(__name__)
    ClerkAuth(app, config=config)

    @app.get("/sensitive")
    @require_auth(reverification="strict")
    def sensitive() -> dict[str, Any]:
        claims = get_auth()
        return {"user_id": claims and claims.user_id}

    @app.get("/async-mfa")
    @require_auth(reverification="strict_mfa")
    async def async_mfa() -> dict[str, Any]:
        return {"ok": True}

    return app


def test_fresh_runs_stale_gets_clerks_403(pem_config: ClerkConfig, idle_clerk: MockClerk) -> None:
    client = make_app(pem_config).test_client()

    def get(path: str, fva: list[int] | None) -> Any:
        token = idle_clerk.mint(sub="user_f", fva=fva)
        return client.get(path, headers={"Authorization": f"Bearer {token}"})

    assert get("/sensitive", [30, 9]).json == {"user_id": "user_f"}
    stale = get("/sensitive", [0, 10])
    assert (stale.status_code, stale.data) == (403, STRICT)
    assert stale.headers["WWW-Authenticate"].startswith('Bearer error="insufficient_scope"')
    assert get("/sensitive", None).data == STRICT
    pytest.importorskip("asgiref")  # async views need flask[async]
    assert get("/async-mfa", [9, 9]).status_code == 200
    assert get("/async-mfa", [9, -1]).status_code == 403  # strict_mfa needs a 2nd factor


def test_the_errorhandler_sees_a_reverification_error(
    pem_config: ClerkConfig, idle_clerk: MockClerk
) -> None:
    app = make_app(pem_config)
    seen: list[Any] = []

    @app.errorhandler(ClerkAuthFailed)
    def refused(exc: ClerkAuthFailed) -> Any:
        seen.append(exc.error)
        return exc.get_response()

    token = idle_clerk.mint(fva=[0, 99])
    response = app.test_client().get("/sensitive", headers={"Authorization": f"Bearer {token}"})
    assert response.data == STRICT
    [error] = seen
    assert isinstance(error, ReverificationError)
    assert error.reverification.metadata == "strict"


@pytest.mark.parametrize("value", ["strict ", {"level": "second_factor", "afterMinutes": -1}])
def test_an_invalid_value_fails_at_decoration(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="reverification"):
        require_auth(reverification=value)
