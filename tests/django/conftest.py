"""Fixtures for the Django glue tests: Django configured once (as the drivers do), a
minting-only issuer and PEM configurations, request factories."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

pytest.importorskip("django.http")  # not "django": this folder would import as one

from conformance.drivers.django import configure

configure()

from django.test import AsyncRequestFactory, RequestFactory  # noqa: E402

from clerk_auth_core import ClerkConfig  # noqa: E402
from clerk_auth_core.testing import MockClerk  # noqa: E402
from clerk_auth_django import ClerkAuth  # noqa: E402

ISSUER = "https://clerk.django.test"


@pytest.fixture(scope="session")
def idle_clerk() -> MockClerk:
    """A never-started issuer: mints tokens for PEM-configured apps (no network)."""
    return MockClerk(issuer=ISSUER)


@pytest.fixture
def pem_config(idle_clerk: MockClerk) -> ClerkConfig:
    """Networkless configuration trusting ``idle_clerk``."""
    return idle_clerk.pem_config()


@pytest.fixture
def auth(pem_config: ClerkConfig) -> ClerkAuth:
    """A ClerkAuth over ``pem_config``."""
    return ClerkAuth(pem_config)


@pytest.fixture
def token(idle_clerk: MockClerk) -> str:
    """A valid token for ``idle_clerk`` (user ``user_django``)."""
    return idle_clerk.mint(sub="user_django")


@pytest.fixture
def rf() -> RequestFactory:
    return RequestFactory()


@pytest.fixture
def arf() -> AsyncRequestFactory:
    return AsyncRequestFactory()


@pytest.fixture(autouse=True)
def _no_clerk_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Tests configure from settings or set what they need; a developer's CLERK_*
    # variables must not leak in. The process default ClerkAuth is made anew per test.
    from clerk_auth_django._auth import reset_default

    for name in [n for n in os.environ if n.startswith("CLERK_")]:
        monkeypatch.delenv(name)
    reset_default()
    yield
    reset_default()


@pytest.fixture(scope="session")
def database() -> None:
    """The in-memory database with django.contrib.auth's tables (main thread only)."""
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
