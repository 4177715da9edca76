"""The static (PEM) providers and the factories: no network at all."""

from __future__ import annotations

import asyncio

import pytest

from clerk_auth_core import ClerkConfig, JwksPolicy
from clerk_auth_core.io import (
    AsyncKeyProvider,
    AsyncStaticKeyProvider,
    StaticKeyProvider,
    SyncKeyProvider,
    async_key_provider,
    key_provider,
)
from clerk_auth_core.testing import MockClerk


@pytest.fixture(scope="module")
def idle() -> MockClerk:
    """Never started: only its PEM and settings are used."""
    return MockClerk(issuer="https://clerk.mock.test")


def test_pem_config_gives_static_providers(idle: MockClerk) -> None:
    config = idle.pem_config()
    sync = key_provider(config)
    assert isinstance(sync, StaticKeyProvider)
    assert sync.warm_up()
    keys = sync.get_keys("ins_anything")
    assert keys.is_static
    assert keys.get(None) is keys.get("ins_whatever")  # a PEM key answers any kid
    stats = sync.stats
    assert (stats.fetch_started, stats.key_count, stats.in_flight) == (0, 1, False)
    sync.close()

    provider = async_key_provider(config)
    assert isinstance(provider, AsyncStaticKeyProvider)

    async def use() -> None:
        assert await provider.warm_up()
        assert (await provider.get_keys(None)) is keys
        await provider.aclose()

    asyncio.run(use())


def test_jwks_config_gives_network_providers() -> None:
    config = ClerkConfig(
        secret_key="sk_test_abcdefgh",
        authorized_parties="https://app.example",
        jwks=JwksPolicy(),
    )
    provider = key_provider(config)
    assert isinstance(provider, SyncKeyProvider)
    provider.close()
    assert isinstance(async_key_provider(config), AsyncKeyProvider)
