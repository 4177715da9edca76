""":class:`StaticKeyProvider` and :class:`AsyncStaticKeyProvider`: the networkless PEM
key (``CLERK_JWT_KEY``) behind the same interface as the JWKS providers. No I/O."""

from __future__ import annotations

from types import MappingProxyType
from typing import TypeVar

from clerk_auth_core._jwks_decisions import COUNTERS, JwksStats
from clerk_auth_core._keys import KeySet

__all__ = ["AsyncStaticKeyProvider", "StaticKeyProvider"]

_S = TypeVar("_S", bound="StaticKeyProvider")


class StaticKeyProvider:
    """Always answers the same key set (spec §3.3: networkless PEM wins)."""

    def __init__(self, keys: KeySet) -> None:
        self._keys = keys

    def get_keys(self, kid: str | None) -> KeySet:
        """The key set; a PEM set answers every ``kid``."""
        return self._keys

    def warm_up(self) -> bool:
        """Nothing to fetch: always ``True``."""
        return True

    @property
    def stats(self) -> JwksStats:
        """All-zero counters (nothing is ever fetched) and the key count."""
        return JwksStats(
            **dict.fromkeys(COUNTERS, 0),
            failures_by_reason=MappingProxyType({}),
            keys_dropped=MappingProxyType({}),
            in_flight=False,
            consecutive_failures=0,
            key_count=len(self._keys),
        )

    def close(self) -> None:
        """Nothing to close."""

    # A context manager as the JWKS providers are, so ``with key_provider(config)``
    # works whichever kind of key source the configuration names.
    def __enter__(self: _S) -> _S:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncStaticKeyProvider(StaticKeyProvider):
    """The coroutine face of :class:`StaticKeyProvider`."""

    async def get_keys(self, kid: str | None) -> KeySet:  # type: ignore[override]
        """The key set; a PEM set answers every ``kid``."""
        return self._keys

    async def warm_up(self) -> bool:  # type: ignore[override]
        """Nothing to fetch: always ``True``."""
        return True

    async def aclose(self) -> None:
        """Nothing to close."""
