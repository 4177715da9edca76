"""The opaque-token result cache and single flight, without I/O (as :mod:`._jwks` is
for keys): told the time, it decides; the shells in :mod:`clerk_auth_core.io` call,
wait and report.

:meth:`MachineCache.lookup` answers one of

- :class:`Known`: a remembered answer (verified claims, or the refusal), no call;
- :class:`Call`: nobody is asking the Backend API about this token: the caller does,
  and reports with :meth:`MachineCache.finished` / :meth:`MachineCache.failed`;
- :class:`Wait`: another caller is asking right now: wait for its flight (single
  flight: a herd of one new token makes one call).

Rules (issue 14):

- keys are SHA-256 digests of the token, never the token;
- a verified token is reused for ``cache_ttl`` seconds, never past its own expiration;
  ``cache_ttl=0`` remembers nothing (a flight in progress is still shared);
- a refused token (401: unknown, revoked, expired) is remembered ``refused_ttl``
  seconds, so a flood of one bad key costs one call;
- at most ``max_entries`` answers are held, least recently used dropped first, so
  distinct random tokens cannot grow memory without bound;
- after a failed call (outage, 5xx, our secret refused) every caller is answered the
  failure (503 with ``Retry-After``, or 500) without a call for ``backoff`` seconds,
  doubling up to ``max_backoff`` while calls keep failing; a success resets it. No
  retries: a request never makes more than one call.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from typing import Final

import attrs

from ._errors import (
    ClerkAuthError,
    ConfigurationError,
    KeyResolutionError,
    MachineVerificationUnavailable,
    TokenVerificationError,
)
from ._machine_api import MachineConfig
from ._machine_claims import MachineClaims

__all__ = ["Call", "Flight", "Known", "MachineCache", "MachineCacheStats", "Wait"]

#: How often (in stores) expired entries are swept, besides the LRU bound.
_SWEEP_EVERY: Final = 256

Outcome = MachineClaims | ClerkAuthError


class Flight:
    """One Backend API call in progress for one token; :attr:`outcome` is set when it
    ends (read it after the shell's wait)."""

    __slots__ = ("key", "outcome", "seq")

    def __init__(self, key: bytes, seq: int) -> None:
        self.key = key
        self.seq = seq
        self.outcome: Outcome | None = None

    def __repr__(self) -> str:
        return f"<Flight {self.seq} done={self.outcome is not None}>"


@attrs.frozen
class Known:
    """Answer without a call: claims, or raise the refusal (:meth:`result`)."""

    outcome: Outcome

    def result(self) -> MachineClaims:
        """The claims, or raise the remembered refusal (a fresh copy each time)."""
        return result_of(self.outcome)


@attrs.frozen
class Call:
    """Ask the Backend API, then report to :meth:`MachineCache.finished`."""

    flight: Flight


@attrs.frozen
class Wait:
    """Another caller is asking: wait for ``flight`` (at most ``timeout`` seconds),
    then read its :attr:`Flight.outcome` (``None``: :meth:`MachineCache.abandoned`)."""

    flight: Flight
    timeout: float


Decision = Known | Call | Wait


@attrs.define
class MachineCacheStats:
    """Counters, for tests and metrics."""

    #: Backend API calls started.
    calls: int = 0
    #: Answers from a remembered verified token.
    hits: int = 0
    #: Answers from a remembered refusal.
    refused_hits: int = 0
    #: Callers that waited for another's call.
    waits: int = 0
    #: Answers refused during a backoff, without a call.
    backoffs: int = 0
    #: Calls that failed (outage, 5xx, secret refused, garbage).
    failures: int = 0


def _copy(error: ClerkAuthError) -> ClerkAuthError:
    # A fresh exception per raise: one instance raised in many threads would gather
    # their tracebacks.
    if isinstance(error, KeyResolutionError):
        fresh: ClerkAuthError = type(error)(error.reason, error.message, error.retry_after)
        if isinstance(error, MachineVerificationUnavailable):
            fresh.detail = error.detail  # type: ignore[attr-defined]
        return fresh
    if isinstance(error, ConfigurationError):
        return ConfigurationError(error.message)
    return type(error)(error.reason, error.message)


def result_of(outcome: Outcome) -> MachineClaims:
    """The claims of an outcome, or raise (a copy of) its error."""
    if isinstance(outcome, MachineClaims):
        return outcome
    raise _copy(outcome)


_sha256 = hashlib.sha256


def token_key(token: str) -> bytes:
    """What the cache keys a token by: its SHA-256 digest (never the token itself)."""
    return _sha256(token.encode("utf-8", "surrogatepass")).digest()


class MachineCache:
    """The decisions for one Backend API credential set (not thread-safe: the shells
    hold a lock around every call, never across I/O)."""

    def __init__(self, config: MachineConfig) -> None:
        self.config = config
        self.stats = MachineCacheStats()
        #: key → (remembered until, the answer), least recently used first. The
        #: answer is kept as its (immutable) Known, so a hit builds nothing.
        self._entries: OrderedDict[bytes, tuple[float, Known]] = OrderedDict()
        self._flights: dict[bytes, Flight] = {}
        self._seq = 0
        self._stores = 0
        self._failures = 0
        self._backoff_until = -math.inf
        self._backoff_error: ClerkAuthError | None = None

    def __len__(self) -> int:
        """How many answers are remembered."""
        return len(self._entries)

    @property
    def in_flight(self) -> int:
        """How many calls are in progress."""
        return len(self._flights)

    def remembered(self, key: bytes, now: float) -> Known | None:
        """The remembered answer for a token's :func:`token_key` at ``now``, or
        ``None``: the hit path alone, which starts no flight (a shell may ask it before
        deciding whether the token is one it could call about at all)."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        until, known = entry
        if now < until:
            self._entries.move_to_end(key)
            if type(known.outcome) is MachineClaims:
                self.stats.hits += 1
            else:
                self.stats.refused_hits += 1
            return known
        del self._entries[key]
        return None

    def lookup(self, token: str, now: float, *, key: bytes | None = None) -> Decision:
        """What to do about ``token`` at ``now`` (unix seconds); ``key`` is its
        :func:`token_key` when the caller has it already."""
        if key is None:
            key = token_key(token)
        known = self.remembered(key, now)
        if known is not None:
            return known
        flight = self._flights.get(key)
        if flight is not None:
            self.stats.waits += 1
            # The leader gives up within its request timeout; a little more for its
            # report to arrive.
            return Wait(flight, self.config.timeout + 1.0)
        if now < self._backoff_until and self._backoff_error is not None:
            self.stats.backoffs += 1
            error = _copy(self._backoff_error)
            if isinstance(error, KeyResolutionError):
                error.retry_after = max(1, math.ceil(self._backoff_until - now))
            return Known(error)
        self._seq += 1
        flight = self._flights[key] = Flight(key, self._seq)
        self.stats.calls += 1
        return Call(flight)

    def retry_after(self) -> int:
        """The ``Retry-After`` the next failure would carry: the backoff it starts."""
        return max(1, math.ceil(self._next_backoff()))

    def _next_backoff(self) -> float:
        config = self.config
        return min(config.backoff * 2.0 ** min(self._failures, 32), config.max_backoff)

    def finished(self, flight: Flight, outcome: Outcome, now: float) -> None:
        """Report what the call of ``flight`` came to (claims, or the judged error)."""
        if self._flights.get(flight.key) is flight:
            del self._flights[flight.key]
        flight.outcome = outcome
        config = self.config
        if isinstance(outcome, MachineClaims):
            self._failures = 0
            self._backoff_until = -math.inf
            expires = outcome.expires_at if outcome.expires_at is not None else math.inf
            self._store(flight.key, min(now + config.cache_ttl, expires), outcome, now)
        elif isinstance(outcome, TokenVerificationError):
            # The Backend API answered, about the token: the service is fine.
            self._failures = 0
            self._backoff_until = -math.inf
            self._store(flight.key, now + config.refused_ttl, outcome, now)
        else:
            self.stats.failures += 1
            if isinstance(outcome, KeyResolutionError):
                outcome.retry_after = self.retry_after()
            self._backoff_until = now + self._next_backoff()
            self._backoff_error = outcome
            self._failures += 1

    def failed(self, flight: Flight, detail: str, now: float) -> MachineVerificationUnavailable:
        """Report a call that got no answer (network, timeout, cancelled); returns the
        error to raise: ``unexpected-error`` (503 with ``Retry-After``)."""
        error = MachineVerificationUnavailable(retry_after=self.retry_after())
        error.detail = detail
        self.finished(flight, error, now)
        return error

    def abandoned(self, now: float) -> MachineVerificationUnavailable:
        """The error for a waiter whose leader never reported in time (503)."""
        error = MachineVerificationUnavailable(retry_after=self.retry_after())
        error.detail = "the call in progress did not finish in time"
        return error

    def forget_in_flight(self) -> None:
        """Drop every flight (after ``fork()``: they belong to the parent's threads)."""
        self._flights.clear()

    def _store(self, key: bytes, until: float, outcome: Outcome, now: float) -> None:
        if until <= now:
            return  # ttl 0, or already past the token's expiration: remember nothing
        entries = self._entries
        entries[key] = (until, Known(outcome))
        entries.move_to_end(key)
        self._stores += 1
        if not self._stores % _SWEEP_EVERY:
            for stale in [k for k, (u, _) in entries.items() if u <= now]:
                del entries[stale]
        while len(entries) > self.config.max_entries:
            entries.popitem(last=False)
