"""Key providers: the I/O shells around the sans-I/O key cache.

Pick one with :func:`key_provider` (threads) or :func:`async_key_provider` (asyncio);
both return a static provider when the configuration has a PEM key (``CLERK_JWT_KEY``),
else one that fetches the JWKS with httpx, as :mod:`clerk_auth_core._jwks` decides::

    provider = key_provider(config)
    provider.warm_up()                    # optional, at app start; never raises
    keys = provider.get_keys(kid)         # KeyResolutionError (503) if unavailable
    provider.stats                        # fetches, stale uses, suppressed refreshes …

Make one provider per key source and share it (it is thread-safe, and the async one
may be shared between event loops); a provider per request would fetch per request.
The async providers support asyncio only (not trio).

Opaque machine tokens (``ak_``, ``mt_``, ``oat_``) are verified by the Backend API
through :class:`SyncMachineVerifier` / :class:`AsyncMachineVerifier` (single flight,
a bounded result cache, 503 on an outage)::

    verifier = machine_verifier(config)   # None without a secret key
    claims = verifier.verify(token)       # MachineClaims, or a typed refusal

The adapters make both beside each other and pass them to
:func:`~clerk_auth_core.authenticate_with` (``machine=``).
"""

from __future__ import annotations

import httpx

from clerk_auth_core._config import ClerkConfig
from clerk_auth_core._machine_api import MachineConfig

from ._async import AsyncKeyProvider
from ._common import failure_for as describe_failure
from ._machine import AsyncMachineVerifier, SyncMachineVerifier
from ._static import AsyncStaticKeyProvider, StaticKeyProvider
from ._sync import SyncKeyProvider, send_fetch

__all__ = (
    "AsyncKeyProvider",
    "AsyncMachineVerifier",
    "AsyncStaticKeyProvider",
    "StaticKeyProvider",
    "SyncKeyProvider",
    "SyncMachineVerifier",
    "async_key_provider",
    "async_machine_verifier",
    "describe_failure",
    "key_provider",
    "machine_verifier",
    "send_fetch",
)


def key_provider(
    config: ClerkConfig, *, client: httpx.Client | None = None
) -> SyncKeyProvider | StaticKeyProvider:
    """The key provider for threaded code: static for a PEM key, else JWKS over httpx.

    :raises KeyResolutionError: ``jwk-failed-to-resolve`` when there is no key source.
    """
    if config.static_keys is not None:
        return StaticKeyProvider(config.static_keys)
    return SyncKeyProvider(config, client=client)


def async_key_provider(
    config: ClerkConfig, *, client: httpx.AsyncClient | None = None
) -> AsyncKeyProvider | AsyncStaticKeyProvider:
    """The key provider for asyncio code: static for a PEM key, else JWKS over httpx.

    :raises KeyResolutionError: ``jwk-failed-to-resolve`` when there is no key source.
    """
    if config.static_keys is not None:
        return AsyncStaticKeyProvider(config.static_keys)
    return AsyncKeyProvider(config, client=client)


def _machine_config(config: ClerkConfig) -> MachineConfig | None:
    if config.secret_key is None and config.machine_secret_key is None:
        return None  # nothing to verify opaque tokens with (the flow says so, 500)
    return MachineConfig.for_instance(config)


def machine_verifier(
    config: ClerkConfig, *, client: httpx.Client | None = None
) -> SyncMachineVerifier | None:
    """The opaque machine-token verifier for threaded code, for the instance ``config``
    names (its secret key, machine secret key, API URL and ``machine_cache_ttl``), or
    ``None`` when it has neither key. Makes no connection until the first token."""
    machine = _machine_config(config)
    return None if machine is None else SyncMachineVerifier(machine, client=client)


def async_machine_verifier(
    config: ClerkConfig, *, client: httpx.AsyncClient | None = None
) -> AsyncMachineVerifier | None:
    """The asyncio twin of :func:`machine_verifier`."""
    machine = _machine_config(config)
    return None if machine is None else AsyncMachineVerifier(machine, client=client)
