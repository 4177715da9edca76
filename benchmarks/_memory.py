"""Bytes per token-cache entry, measured with tracemalloc: what verifying N new tokens
leaves allocated with the cache on, minus the same with it off."""

from __future__ import annotations

import gc
import sys
import time
import tracemalloc
from dataclasses import dataclass

from clerk_auth_core import ClerkConfig, verify_token

from ._fixtures import AZP, Fixtures, copies

__all__ = ["CacheMemory", "cache_memory"]


@dataclass
class CacheMemory:
    entries: int
    #: What the cache allocates per entry (claims, their decoded payload, the record).
    bytes_per_entry: float
    #: The token string the cache keeps alive (the request's own ``str``).
    token_bytes: int

    @property
    def total_per_entry(self) -> float:
        return self.bytes_per_entry + self.token_bytes


def _retained(fx: Fixtures, size: int) -> tuple[int, ClerkConfig]:
    config = ClerkConfig(
        jwt_key=fx.pem, issuer=fx.issuer, authorized_parties=[AZP], token_cache_size=size
    )
    keys = config.static_keys
    tokens = copies(fx.tokens)
    verify_token(tokens[0], keys, config, now=time.time())  # header verdicts, imports
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for token in tokens[1:]:
        verify_token(token, keys, config, now=time.time())
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return after - before, config


def cache_memory(fx: Fixtures) -> CacheMemory:
    on, config = _retained(fx, 1_000_000)
    off, _ = _retained(fx, 0)
    n = len(fx.tokens) - 1
    if len(config.token_cache.verified) != n + 1:
        raise AssertionError("the cache did not keep every token")
    return CacheMemory(n, (on - off) / n, sys.getsizeof(fx.tokens[0]))
