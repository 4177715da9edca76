"""Fixtures for the machine-token suite: one RSA key, a started mock issuer, Clerk's
own fixtures (machine-tokens.md §7) and a fixed clock."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from clerk_auth_core import ClerkConfig, KeySet
from clerk_auth_core.testing import MockClerk, generate_key, mint_token, public_jwk

#: Clerk's JWT test clock (spec §7).
CLERK_NOW = 1666648250
#: Clerk's JWKS kid.
CLERK_KID = "ins_2GIoQhbUpy0hX7B2cVkuTMinXoD"
#: Clerk's opaque fixtures.
CLERK_API_KEY = "ak_LCWGdaM8mv8K4PC/57IICZQXAeWfCgF30DZaFXHoGn9="
CLERK_OAUTH_TOKEN = "oat_8XOIucKvqHVr5tYP123456789abcdefghij"
CLERK_M2M_TOKEN = "mt_8XOIucKvqHVr5tYP123456789abcdefghij"

#: Clerk's base session payload P0.
P0: dict[str, Any] = {
    "azp": "https://accounts.inspired.puma-74.lcl.dev",
    "exp": 1666648310,
    "iat": 1666648250,
    "iss": "https://clerk.inspired.puma-74.lcl.dev",
    "nbf": 1666648240,
    "sid": "sess_2GbDB4enNdCa5vS1zpC3Xzg9tK9",
    "sub": "user_2GIpXOEpVyJw51rkZn9Kmnc6Sxr",
}
#: Clerk's OAuth payload PO.
PO: dict[str, Any] = {
    **P0,
    "iss": "https://clerk.oauth.example.test",
    "sub": "user_2vYVtestTESTtestTESTtestTESTtest",
    "client_id": "client_2VTWUzvGC5UhdJCNx6xG1D98edc",
    "scope": "read:foo write:bar",
    "jti": "oat_2xKa9Bgv7NxMRDFyQw8LpZ3cTmU1vHjE",
    "exp": 1666648550,
    "nbf": 1666648240,
}
#: Clerk's M2M payload PM.
PM: dict[str, Any] = {
    "iss": "https://clerk.m2m.example.test",
    "sub": "mch_2vYVtestTESTtestTESTtestTESTtest",
    "aud": ["mch_1xxxxx", "mch_2xxxxx"],
    "exp": 1666648550,
    "iat": 1666648250,
    "nbf": 1666648240,
    "jti": "mt_2xKa9Bgv7NxMRDFyQw8LpZ3cTmU1vHjE",
    "scopes": "mch_1xxxxx mch_2xxxxx",
}


@pytest.fixture(scope="session")
def signing_key() -> RSAPrivateKey:
    """One RSA key for the suite (making one costs ~60 ms)."""
    return generate_key()


@pytest.fixture(scope="session")
def keys(signing_key: RSAPrivateKey) -> KeySet:
    """Clerk's JWKS: the signing key under Clerk's kid."""
    return KeySet.from_jwks({"keys": [public_jwk(signing_key, CLERK_KID)]})


@pytest.fixture(scope="session")
def config() -> ClerkConfig:
    """A configuration of an instance whose keys are given (no network), with the
    session's authorized party set: machine JWTs (no ``azp``) must not be held to it."""
    return ClerkConfig(
        jwks_url="https://clerk.inspired.puma-74.lcl.dev/.well-known/jwks.json",
        authorized_parties=("https://accounts.inspired.puma-74.lcl.dev",),
    )


class Signer:
    """Signs a payload under Clerk's kid with the suite's key."""

    def __init__(self, key: RSAPrivateKey) -> None:
        self.key = key

    def __call__(self, payload: dict[str, Any], **header: Any) -> str:
        head = {"alg": "RS256", "kid": CLERK_KID, "typ": "JWT", **header}
        head = {k: v for k, v in head.items() if v is not None}
        return mint_token(self.key, head, payload)


@pytest.fixture(scope="session")
def sign(signing_key: RSAPrivateKey) -> Signer:
    """``sign(payload, typ=…, cat=…)``: a token under Clerk's kid (``None`` drops a
    header member)."""
    return Signer(signing_key)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clerk(signing_key: RSAPrivateKey) -> Iterator[MockClerk]:
    """A started mock Clerk issuer, stopped after the test."""
    with MockClerk(private_key=signing_key) as mock:
        yield mock
