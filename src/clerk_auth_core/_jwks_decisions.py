"""The values the JWKS state machine hands out: fetch tickets, decisions, counters.

See :mod:`._jwks` for the machine that produces them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

import attrs

from ._errors import ClerkAuthError
from ._keys import KeySet

__all__ = [
    "COUNTERS",
    "Decision",
    "FetchTicket",
    "JwksStats",
    "Reject",
    "StartFetch",
    "UseKeys",
    "UseKeysAndRefresh",
    "WaitForFetch",
]


@attrs.frozen
class FetchTicket:
    """Permission to perform one JWKS fetch; report it back exactly once."""

    #: Sequence number: a later ticket's answer is newer information.
    seq: int
    #: Why: ``"cold"``, ``"refresh"``, ``"unknown-kid"`` or ``"warm-up"``.
    purpose: str
    #: When it was handed out (monotonic seconds).
    issued_at: float
    #: When it expires unless reported (monotonic seconds).
    expires_at: float
    #: The validator sent as ``If-None-Match`` (the snapshot's ETag at issue time).
    etag: str | None = None


@attrs.frozen
class UseKeys:
    """Answer with ``keys`` now."""

    keys: KeySet


@attrs.frozen
class UseKeysAndRefresh:
    """Answer with ``keys`` now, and perform ``fetch`` in the background."""

    keys: KeySet
    fetch: FetchTicket


@attrs.frozen
class StartFetch:
    """Perform ``fetch``, report its outcome, then call :meth:`JwksCache.lookup` again."""

    fetch: FetchTicket


@attrs.frozen
class WaitForFetch:
    """Fetch ``seq`` is in flight: wait at most ``timeout`` seconds for it, then look
    up again (give up with :meth:`JwksCache.timeout_error` at the deadline)."""

    seq: int
    timeout: float


@attrs.frozen
class Reject:
    """No key set can be used: raise ``error``."""

    error: ClerkAuthError


#: What :meth:`JwksCache.lookup` answers.
Decision: TypeAlias = UseKeys | UseKeysAndRefresh | StartFetch | WaitForFetch | Reject

COUNTERS = (
    "fetch_started",
    "fetch_ok",
    "fetch_not_modified",
    "fetch_failed",
    "fetch_cancelled",
    "out_of_order",
    "stale_served",
    "unknown_kid",
    "suppressed_by_cooldown",
    "suppressed_by_backoff",
    "waiter_timeouts",
)


@attrs.frozen(kw_only=True)
class JwksStats:
    """A snapshot of a key cache's counters (spec "Observability")."""

    #: Fetches handed out / succeeded with 200 / answered 304 / failed / cancelled or
    #: abandoned (no verdict on the endpoint) / answered after a newer one (ignored).
    fetch_started: int
    fetch_ok: int
    fetch_not_modified: int
    fetch_failed: int
    fetch_cancelled: int
    out_of_order: int
    #: Lookups answered from a set past its freshness (stale-while-revalidate or
    #: stale-if-error): every stale use is counted.
    stale_served: int
    #: Lookups for a kid the set does not hold.
    unknown_kid: int
    #: Wanted fetches not made because of the unknown-kid cooldown / the failure backoff.
    suppressed_by_cooldown: int
    suppressed_by_backoff: int
    #: Callers that gave up waiting for a fetch.
    waiter_timeouts: int
    #: Failed fetches by :class:`FetchFailure` reason.
    failures_by_reason: Mapping[str, int]
    #: Keys refused by the key rules, by reason, over all accepted documents.
    keys_dropped: Mapping[str, int]
    #: A fetch is in flight now.
    in_flight: bool
    #: Failed fetches since the last success.
    consecutive_failures: int
    #: Keys in the current snapshot (0 before the first success).
    key_count: int

    def as_dict(self) -> dict[str, Any]:
        """The counters as plain JSON-ready data."""
        out = attrs.asdict(self, recurse=False)
        out["failures_by_reason"] = dict(self.failures_by_reason)
        out["keys_dropped"] = dict(self.keys_dropped)
        return out
