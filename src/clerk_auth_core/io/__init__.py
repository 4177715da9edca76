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

    verifier = SyncMachineVerifier(MachineConfig.from_env(os.environ))
    claims = verifier.verify(token)       # MachineClaims, or a typed refusal
"""

from __future__ import annotations

import httpx

from clerk_auth_core._config import ClerkConfig

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
    "describe_failure",
    "key_provider",
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
