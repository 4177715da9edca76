"""What both network shells share: the machine behind a lock, fork handling, capped
body reads, exception → failure reason. No decisions live here;
:mod:`clerk_auth_core._jwks` makes them."""

from __future__ import annotations

import asyncio
import os
import threading
import time
import weakref
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import httpx

from clerk_auth_core._config import ClerkConfig
from clerk_auth_core._errors import ConfigurationError
from clerk_auth_core._jwks import JwksCache
from clerk_auth_core._jwks_decisions import JwksStats
from clerk_auth_core._jwks_exchange import FetchFailure, FetchRequest
from clerk_auth_core._keys import KeySet

__all__ = [
    "MAX_ROUNDS",
    "BodyTooLarge",
    "DeadlineExceeded",
    "ProviderBase",
    "aread_capped",
    "failure_for",
    "httpx_timeout",
    "read_capped",
]

#: A call performs or waits for at most this many fetches before giving up.
MAX_ROUNDS = 4


class BodyTooLarge(Exception):
    """The response body passed ``max_body_bytes``; reading stopped there."""


class DeadlineExceeded(Exception):
    """The whole fetch took longer than its timeout (a server trickling bytes)."""


def httpx_timeout(request: FetchRequest) -> httpx.Timeout:
    """httpx timeouts for ``request`` (connect, and each read/write/pool wait)."""
    return httpx.Timeout(request.timeout, connect=request.connect_timeout)


def _check_length(headers: Mapping[str, str], cap: int) -> None:
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise BodyTooLarge(f"Content-Length {declared}")


def read_capped(
    headers: Mapping[str, str], chunks: Iterator[bytes], cap: int, deadline: float
) -> bytes:
    """Read a body, stopping once it passes ``cap`` bytes (spec: "read with a cap, not
    after the fact") or once the monotonic clock passes ``deadline``."""
    _check_length(headers, cap)
    body = bytearray()
    for chunk in chunks:
        body += chunk
        if len(body) > cap:
            raise BodyTooLarge(f"over {cap} bytes")
        if time.monotonic() > deadline:
            raise DeadlineExceeded("the fetch deadline passed while reading")
    return bytes(body)


async def aread_capped(headers: Mapping[str, str], chunks: AsyncIterator[bytes], cap: int) -> bytes:
    """The async twin of :func:`read_capped` (the caller bounds the time)."""
    _check_length(headers, cap)
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > cap:
            raise BodyTooLarge(f"over {cap} bytes")
    return bytes(body)


def failure_for(exc: Exception) -> tuple[str, str]:
    """The :class:`FetchFailure` reason and a safe detail for an exception raised while
    fetching (never the exception's text: it may quote a URL or a header)."""
    name = type(exc).__name__
    if isinstance(exc, BodyTooLarge):
        return FetchFailure.OVERSIZED, str(exc)
    if isinstance(
        exc, DeadlineExceeded | httpx.TimeoutException | TimeoutError | asyncio.TimeoutError
    ):
        return FetchFailure.TIMEOUT, name
    if isinstance(exc, ConfigurationError):
        return FetchFailure.INSECURE_URL, name
    if isinstance(exc, httpx.HTTPError | OSError):
        return FetchFailure.NETWORK, name
    return FetchFailure.ERROR, name


_providers: weakref.WeakSet[ProviderBase] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    # Runs in the child right after fork(), before any other thread exists, so no
    # lock inherited in a held state (or connection shared with the parent) survives.
    for provider in list(_providers):
        provider._after_fork()


if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork()
    os.register_at_fork(after_in_child=_after_fork_in_child)


class ProviderBase:
    """The machine, the lock around it, and what both network shells answer alike.

    The lock is a ``threading.Lock`` in both shells: held only around machine calls
    (microseconds, never across I/O or an ``await``), it keeps the machine consistent
    when threads, or event loops in several threads, share one provider.
    """

    def __init__(self, config: ClerkConfig) -> None:
        self._machine = JwksCache(config)
        self._make_process_local()
        _providers.add(self)

    def _make_process_local(self) -> None:
        """(Re)build what must not cross a ``fork()``; subclasses add their own."""
        self._pid = os.getpid()
        self._lock = threading.Lock()

    def _after_fork(self) -> None:
        self._make_process_local()
        # The fetch in flight belongs to a thread or task that lives in the parent.
        self._machine.forget_in_flight()

    def _check_fork(self) -> None:
        if os.getpid() != self._pid:  # a fork the at-fork hook did not see
            self._after_fork()

    @property
    def stats(self) -> JwksStats:
        """The cache's counters (fetches, stale uses, suppressed refreshes …)."""
        with self._lock:
            return self._machine.stats

    def export_state(self) -> dict[str, Any]:
        """The cached key set for persisting between invocations: ``{"jwks", "etag",
        "age", "fresh_for", "fetched_at"}`` with ``fetched_at`` in unix seconds."""
        with self._lock:
            return self._machine.export_state(time.monotonic(), wall_now=time.time())

    def import_state(self, state: Mapping[str, Any]) -> bool:
        """Load a persisted key set (from :meth:`export_state`) unless ours is newer.

        :returns: whether it was taken.
        :raises ValueError: when ``state`` is malformed.
        """
        with self._lock:
            return self._machine.import_state(state, time.monotonic(), wall_now=time.time())

    def _warm(self) -> bool:
        with self._lock:
            usable = self._machine.usable_keys(time.monotonic())
            return usable is not None and not self._machine.failing

    def _last_resort(self) -> KeySet:
        # Fetches kept ending without a backoff (a policy with backoff 0): answer from
        # what is held, or give up like a waiter would.
        with self._lock:
            now = time.monotonic()
            keys = self._machine.usable_keys(now)
            if keys is None:
                raise self._machine.timeout_error(now)
            return keys
