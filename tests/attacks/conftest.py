"""One mock issuer per test module, serving the real key plus every weak key (kit.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from clerk_auth_core import ClerkConfig, KeySet, RequestState
from clerk_auth_core.testing import MockClerk

from .corpus import CASES, Case
from .kit import Kit


@pytest.fixture(scope="module")
def clerk() -> Iterator[MockClerk]:
    """A started mock issuer whose JWKS is :meth:`Kit.jwks` (set by ``kit``)."""
    with MockClerk() as mock:
        yield mock
        assert not mock.errors


@pytest.fixture(scope="module")
def kit(clerk: MockClerk) -> Kit:
    kit = Kit(clerk)
    clerk.set_jwks(kit.jwks())
    return kit


@pytest.fixture(scope="module")
def config(clerk: MockClerk, kit: Kit) -> ClerkConfig:
    """Keys from the mock's Backend API JWKS; issuer and one authorized party."""
    return clerk.config()


@pytest.fixture(scope="module")
def pem_config(clerk: MockClerk) -> ClerkConfig:
    """Networkless: ``CLERK_JWT_KEY`` (kids not required, any kid answered)."""
    return clerk.pem_config()


@pytest.fixture(scope="module")
def keyset(kit: Kit) -> KeySet:
    """The served JWKS as the core sees it (weak keys dropped)."""
    return KeySet.from_jwks(kit.jwks())


class CountingSource:
    """A :class:`KeySource` that counts lookups (the gate must prevent them)."""

    def __init__(self, keys: KeySet) -> None:
        self.keys = keys
        self.calls: list[str | None] = []

    def get_keys(self, kid: str | None) -> KeySet:
        self.calls.append(kid)
        return self.keys


def outcome(state: RequestState) -> str | None:
    """``None`` when signed in, else the reason."""
    return None if state.signed_in else state.reason


def params(cases: list[Case] | None = None) -> pytest.MarkDecorator:
    """Parametrize a test over corpus cases, by id."""
    chosen = CASES if cases is None else cases
    return pytest.mark.parametrize("case", chosen, ids=[c.id for c in chosen])
