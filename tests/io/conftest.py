"""Fixtures for the key-provider shells: a started mock issuer and fast policies.

Every test talks real HTTP to :class:`MockClerk` on loopback. Timeouts are cut to
half a second so the failure paths stay fast.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from clerk_auth_core import ClerkConfig, JwksPolicy
from clerk_auth_core.testing import MockClerk, generate_key

#: The fetch timeout of the fast policy: waiters give up after this long.
TIMEOUT = 0.5


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def signing_key() -> RSAPrivateKey:
    """One RSA key for every mock (making one costs ~60 ms)."""
    return generate_key()


@pytest.fixture
def clerk(signing_key: RSAPrivateKey) -> Iterator[MockClerk]:
    """A started mock Clerk issuer, stopped after the test."""
    with MockClerk(private_key=signing_key) as mock:
        yield mock


@pytest.fixture
def fast_config(clerk: MockClerk) -> Callable[..., ClerkConfig]:
    """Make the mock's Backend API configuration with a 0.5 s fetch timeout; keyword
    arguments override :class:`JwksPolicy` fields."""

    def make(**policy: Any) -> ClerkConfig:
        settings: dict[str, Any] = {"timeout": TIMEOUT, "connect_timeout": TIMEOUT}
        settings.update(policy)
        return clerk.config(jwks=JwksPolicy(**settings))

    return make
