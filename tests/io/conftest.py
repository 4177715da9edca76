"""Fixtures for the key-provider shells: a started mock issuer and fast policies.

Every test talks real HTTP to :class:`MockClerk` on loopback. Only the tests of the
give-up path use a short (0.5 s) timeout; failing endpoints fail fast anyway.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from clerk_auth_core import ClerkConfig, JwksPolicy
from clerk_auth_core.testing import MockClerk, generate_key, public_jwk

#: The kid of :func:`rotated_jwks`.
ROTATED_KID = "ins_rotated"
#: The fetch timeout for tests of the give-up path (``fast_config(timeout=TIMEOUT)``).
TIMEOUT = 0.5


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def signing_key() -> RSAPrivateKey:
    """One RSA key for every mock (making one costs ~60 ms)."""
    return generate_key()


@pytest.fixture(scope="session")
def rotated_jwks() -> dict[str, Any]:
    """A JWKS holding only a fresh key ``ins_rotated``: serve it with ``set_jwks`` to
    rotate instantly (``MockClerk.rotate`` makes a key, which eats short cooldowns)."""
    return {"keys": [public_jwk(generate_key(), ROTATED_KID)]}


@pytest.fixture
def clerk(signing_key: RSAPrivateKey) -> Iterator[MockClerk]:
    """A started mock Clerk issuer, stopped after the test."""
    with MockClerk(private_key=signing_key) as mock:
        yield mock


@pytest.fixture
def fast_config(clerk: MockClerk) -> Callable[..., ClerkConfig]:
    """Make the mock's Backend API configuration; keyword arguments override
    :class:`JwksPolicy` fields. The 3 s default timeout leaves room for a first fetch
    in a fresh process (lazy imports, loading the SSL context) on a loaded machine;
    tests of the give-up path pass ``timeout=TIMEOUT``."""

    def make(**policy: Any) -> ClerkConfig:
        settings: dict[str, Any] = {"timeout": 3.0, "connect_timeout": 2.0}
        settings.update(policy)
        return clerk.config(jwks=JwksPolicy(**settings))

    return make
