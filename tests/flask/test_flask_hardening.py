"""Issue 12 in the Flask adapter: results never outlive their request, and two
ClerkAuth on one app each enforce their own configuration."""

from __future__ import annotations

from typing import Any

from flask import Flask, g

from clerk_auth_core import ClerkConfig
from clerk_auth_core.testing import MockClerk
from clerk_auth_flask import ClerkAuth, get_auth, require_auth


def _me() -> dict[str, Any]:
    claims = get_auth()
    return {"user_id": None if claims is None else claims.user_id}


def test_requests_sharing_an_app_context_share_no_session(
    app: Flask, pem_config: ClerkConfig, bearer: dict[str, str]
) -> None:
    # Tests, CLI commands and jobs issue requests inside one app context, so g lives
    # across them: the second request, without a token, must not see the first's.
    ClerkAuth(app, config=pem_config)
    app.get("/optional", endpoint="optional")(require_auth(optional=True)(_me))
    app.get("/open", endpoint="open")(_me)
    client = app.test_client()
    with app.app_context():
        assert client.get("/optional", headers=bearer).json == {"user_id": "user_flask"}
        assert client.get("/optional").json == {"user_id": None}
        assert client.get("/open", headers=bearer).json == {"user_id": "user_flask"}
        assert client.get("/open").json == {"user_id": None}
        assert "clerk_auth" not in g
        assert "clerk_request_state" not in g


def test_instance_guard_needs_its_instance_on_the_app(
    app: Flask, pem_config: ClerkConfig, bearer: dict[str, str]
) -> None:
    ClerkAuth(app, config=pem_config)
    stray = ClerkAuth(config=pem_config)  # never initialised on this app
    app.get("/stray")(stray.require_auth(_me))
    # A set-up error: the core's JSON 500, never the default one's session.
    response = app.test_client().get("/stray", headers=bearer)
    assert response.status_code == 500
    assert response.json["reason"] == "configuration-invalid"


def test_reinitialising_one_instance_replaces_its_state(
    app: Flask, idle_clerk: MockClerk, bearer: dict[str, str]
) -> None:
    auth = ClerkAuth(app, config=idle_clerk.pem_config(authorized_parties=("https://x.example",)))
    app.get("/me")(auth.require_auth(_me))
    assert app.test_client().get("/me", headers=bearer).status_code == 401
    auth.config = idle_clerk.pem_config()
    auth.init_app(app)
    assert app.test_client().get("/me", headers=bearer).json == {"user_id": "user_flask"}
