"""Fixtures for the Flask glue tests: a minting-only issuer and PEM configurations."""

from __future__ import annotations

import os

import pytest
from flask import Flask

from clerk_auth_core import ClerkConfig
from clerk_auth_core.testing import MockClerk
from clerk_auth_core.testing.pytest_plugin import mock_clerk_session, shared_mock_clerk

__all__ = ["mock_clerk_session", "shared_mock_clerk"]

ISSUER = "https://clerk.flask.test"


@pytest.fixture(scope="session")
def idle_clerk() -> MockClerk:
    """A never-started issuer: mints tokens for PEM-configured apps (no network)."""
    return MockClerk(issuer=ISSUER)


@pytest.fixture
def pem_config(idle_clerk: MockClerk) -> ClerkConfig:
    """Networkless configuration trusting ``idle_clerk``."""
    return idle_clerk.pem_config()


@pytest.fixture
def bearer(idle_clerk: MockClerk) -> dict[str, str]:
    """Headers with a valid token for ``idle_clerk``."""
    return {"Authorization": f"Bearer {idle_clerk.mint(sub='user_flask')}"}


@pytest.fixture(autouse=True)
def _no_clerk_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests configure from app.config or set what they need; a developer's CLERK_*
    # variables must not leak in.
    for name in [n for n in os.environ if n.startswith("CLERK_")]:
        monkeypatch.delenv(name)


@pytest.fixture
def app() -> Flask:
    """A bare Flask app in testing mode."""
    flask_app = Flask("clerk_auth_flask_tests")
    flask_app.testing = True
    return flask_app
