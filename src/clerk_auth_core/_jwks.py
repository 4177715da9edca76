"""The JWKS key cache as a sans-I/O state machine: :class:`JwksCache`.

One instance per key source (spec: key-rotation.md, "cache scope": one source per
JWKS URL, credentials and issuer; never a process-wide kid map). It has no locks, no
sockets and no clock: every call gets a **monotonic** ``now`` and :meth:`lookup`
answers with a *decision* the shell carries out (compare h11's ``NEED_DATA``)::

    UseKeys(keys)                  answer now
    UseKeysAndRefresh(keys, t)     answer now, and run fetch t in the background
    StartFetch(t)                  perform fetch t, report it, then look up again
    WaitForFetch(seq, timeout)     fetch seq is in flight: wait (own deadline), look again
    Reject(error)                  keys unavailable (503) or secret key refused (500)

A fetch ticket is handed to exactly one caller; the outcome comes back through
:meth:`fetch_succeeded` / :meth:`fetch_failed`. The snapshot's state follows from its
``age`` (time since its fetch was sent) and the freshness ``F`` of its response::

                  first lookup: StartFetch x1, the others WaitForFetch
      +--------+ ---------------------------------------------> +---------+
      |  COLD  |                  fetch ok                       |  FRESH  | UseKeys
      +--------+ <--------------------------+                    +---------+
        |    ^   fetch failed: back off;    |                         | age >= 0.8 F
        +----+   Reject until it ends       |                         v
                                            |                   +-------------+
                                            |                   | REFRESH DUE | UseKeysAndRefresh
                                            |                   +-------------+ x1, then UseKeys
                                            |                         | age >= F
                                            |  age >= F +             v
                                            |  stale_if_error   +-------------+
                                            +------------------ |    STALE    | UseKeys (counted),
                                                                +-------------+ 1 refresh unless
                                                                                backing off

A refresh that succeeds (200, or 304 for our ETag) takes REFRESH DUE or STALE back to
FRESH; one that fails leaves the set in place. With ``stale_if_error = 0`` STALE is
skipped: past ``F`` the set is COLD (fail closed).

Orthogonal to that: *failing* (the last fetch failed: back off 1, 2, 4 … 60 s, ±20 %,
no fetch until it ends) or *healthy*; and the unknown-kid path, which may force a
fetch at most once per ``unknown_kid_cooldown`` (30 s) since the last fetch started.

Time is only ever compared with the ``now`` given; a ticket nobody reports back expires
after the fetch deadline (timeout + :data:`TICKET_MARGIN`), so a crashed caller cannot
wedge the cache.
"""

from __future__ import annotations

import logging
import math
import random as _random
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from ._config import ClerkConfig
from ._errors import KeyResolutionError, Reason
from ._jwks_decisions import (
    COUNTERS,
    Decision,
    FetchTicket,
    JwksStats,
    Reject,
    StartFetch,
    UseKeys,
    UseKeysAndRefresh,
    WaitForFetch,
)
from ._jwks_exchange import (
    FetchFailure,
    FetchRequest,
    Outcome,
    build_request,
    judge_response,
    parse_state,
)
from ._keys import KeySet
from ._tokens import KID_PATTERN  # spec "Tokens before keys": only such a kid may force a fetch

__all__ = [
    "KID_PATTERN",
    "TICKET_MARGIN",
    "Decision",
    "FetchTicket",
    "JwksCache",
    "JwksStats",
    "Reject",
    "StartFetch",
    "UseKeys",
    "UseKeysAndRefresh",
    "WaitForFetch",
]

logger = logging.getLogger("clerk_auth.jwks")

#: Seconds past the fetch timeout after which an unreported ticket expires.
TICKET_MARGIN = 1.0
#: Tickets whose late reports are still accepted (abandoned ones are forgotten beyond).
_MAX_OUTSTANDING = 16
#: Outcomes that say nothing about the endpoint: no backoff, no "failing" state.
_NO_VERDICT = frozenset({FetchFailure.CANCELLED, FetchFailure.ABANDONED})


class JwksCache:
    """The key cache of one JWKS source, driven by the caller (no I/O, no clock).

    :param config: the configuration; its :attr:`~ClerkConfig.jwks` policy holds every
        number, :attr:`~ClerkConfig.jwks_request_url` the source.
    :param random: the jitter source, a callable returning floats in ``[0, 1)``.
    :raises KeyResolutionError: ``jwk-failed-to-resolve`` when ``config`` has no JWKS.
    """

    def __init__(
        self, config: ClerkConfig, *, random: Callable[[], float] = _random.random
    ) -> None:
        if config.jwks_request_url is None:
            raise KeyResolutionError(
                Reason.JWK_FAILED_TO_RESOLVE, "This configuration has no JWKS to fetch."
            )
        self._config = config
        self._policy = config.jwks
        self._random = random
        # The snapshot: the last good set, when it was fetched (or revalidated by 304)
        # and for how long its response said it is fresh.
        self._keys: KeySet | None = None
        self._document: Mapping[str, Any] | None = None
        self._etag: str | None = None
        self._fetched_at = 0.0
        self._fresh_for = 0.0
        self._snapshot_seq = 0
        # Fetches.
        self._seq = 0
        self._in_flight: FetchTicket | None = None
        self._outstanding: dict[int, FetchTicket] = {}
        self._last_fetch_at: float | None = None
        # Failures.
        self._failures = 0
        self._failed_seq = 0
        self._backoff_until = -math.inf
        self._last_failure: str | None = None
        self._warned_stale = False
        self._warned_expired = False
        # Counters.
        self._counts = dict.fromkeys(COUNTERS, 0)
        self._failures_by_reason: dict[str, int] = {}
        self._keys_dropped: dict[str, int] = {}

    # -- reading ------------------------------------------------------------------

    @property
    def config(self) -> ClerkConfig:
        """The configuration this cache serves."""
        return self._config

    @property
    def in_flight_seq(self) -> int | None:
        """The sequence number of the fetch in flight, or ``None``."""
        return None if self._in_flight is None else self._in_flight.seq

    @property
    def failing(self) -> bool:
        """True while the last fetch with a verdict failed (the endpoint is failing)."""
        return self._last_failure is not None

    @property
    def stats(self) -> JwksStats:
        """A snapshot of the counters."""
        return JwksStats(
            **self._counts,
            failures_by_reason=MappingProxyType(dict(self._failures_by_reason)),
            keys_dropped=MappingProxyType(dict(self._keys_dropped)),
            in_flight=self._in_flight is not None,
            consecutive_failures=self._failures,
            key_count=0 if self._keys is None else len(self._keys),
        )

    def usable_keys(self, now: float) -> KeySet | None:
        """The set a lookup could answer with now (fresh or within the stale limit)."""
        if self._keys is None:
            return None
        # Spec "stale-if-error": up to 24 h after the set stopped being fresh; 0 = fail
        # closed (then a set past its freshness is not used at all).
        if now < self._fetched_at + self._fresh_for + self._policy.stale_if_error:
            return self._keys
        if not self._warned_expired:
            self._warned_expired = True
            logger.error(
                "clerk-auth: the cached signing keys passed the stale-if-error limit "
                "(%.0f s after freshness); tokens are refused until a fetch succeeds.",
                self._policy.stale_if_error,
            )
        return None

    # -- the decision ---------------------------------------------------------------

    def lookup(self, kid: str | None, now: float, *, after_fetch: bool = False) -> Decision:
        """Decide how to find the key set for a token naming ``kid`` (``None``: any).

        The decision is about the *set*; :meth:`KeySet.get` then raises
        ``jwk-kid-mismatch`` when the answered set lacks the kid.

        :param after_fetch: the caller already made or waited for a fetch for this
            token: an unknown kid then starts no further fetch (whatever the cooldown),
            so one token costs at most one forced refresh.
        """
        self._expire(now)
        keys = self.usable_keys(now)
        if keys is None:
            return self._cold(now)
        if kid is not None and keys.find(kid) is None:
            return self._unknown_kid(keys, kid, now, after_fetch)
        return self._known(keys, now)

    def refresh(self, now: float) -> StartFetch | WaitForFetch | Reject:
        """Ask for a fetch now (warm-up): ignores freshness and the unknown-kid
        cooldown, but never runs a second fetch or fetches while backing off."""
        self._expire(now)
        if self._in_flight is not None:
            return self._wait()
        if now < self._backoff_until:
            self._counts["suppressed_by_backoff"] += 1
            return Reject(self._unavailable(now))
        return StartFetch(self._issue("warm-up", now))

    def _cold(self, now: float) -> Decision:
        # Spec "cold start": the first lookup starts the fetch; the others wait for it.
        if self._in_flight is not None:
            return self._wait()
        if now < self._backoff_until:
            # Spec "failures": no fetch while backing off.
            self._counts["suppressed_by_backoff"] += 1
            return Reject(self._unavailable(now))
        return StartFetch(self._issue("cold", now))

    def _unknown_kid(self, keys: KeySet, kid: str, now: float, after_fetch: bool) -> Decision:
        self._counts["unknown_kid"] += 1
        if not KID_PATTERN.fullmatch(kid):
            # Spec "unknown kid": only a syntactically valid kid may force a refresh.
            return self._serve(keys, now)
        if self._in_flight is not None:
            # The fetch in flight may bring a freshly rotated key: wait for it.
            return self._wait()
        if after_fetch:
            # This token already had its fetch; what it brought is the answer.
            pass
        elif now < self._backoff_until:
            self._counts["suppressed_by_backoff"] += 1
        elif now >= self._fetched_at + self._fresh_for * self._policy.refresh_ahead:
            # The set is due for its refresh anyway (a known kid would start it now), so
            # the cooldown costs nothing here: fetch, and let this caller wait for it.
            # Without this, after a failed refresh and a rotation, traffic carrying only
            # the new kid would be refused until the cooldown ran out.
            return StartFetch(self._issue("refresh", now))
        elif (
            self._last_fetch_at is not None
            and now - self._last_fetch_at < self._policy.unknown_kid_cooldown
        ):
            # Spec: forced refresh only if >= 30 s since the last fetch, so a flood of
            # random kids costs at most 2 fetches a minute.
            self._counts["suppressed_by_cooldown"] += 1
        else:
            return StartFetch(self._issue("unknown-kid", now))
        if self._last_failure is not None:
            # Spec §3 "edge cases": an unknown kid while the endpoint fails and no
            # refresh can be made means keys unavailable, not a bad token; the token
            # may carry a freshly rotated key.
            next_try = max(
                self._backoff_until,
                (self._last_fetch_at or now) + self._policy.unknown_kid_cooldown,
            )
            return Reject(
                KeyResolutionError(
                    Reason.JWK_REMOTE_FAILED_TO_LOAD, retry_after=_seconds(next_try - now)
                )
            )
        return self._serve(keys, now)

    def _known(self, keys: KeySet, now: float) -> Decision:
        # Spec "refresh ahead": at 80 % of freshness, without blocking the request.
        if now < self._fetched_at + self._fresh_for * self._policy.refresh_ahead:
            return UseKeys(keys)
        answer = self._serve(keys, now)
        if self._in_flight is not None:
            return answer
        if now < self._backoff_until:
            self._counts["suppressed_by_backoff"] += 1
            return answer
        return UseKeysAndRefresh(keys, self._issue("refresh", now))

    def _serve(self, keys: KeySet, now: float) -> UseKeys:
        if now >= self._fetched_at + self._fresh_for:
            # Spec "stale-if-error": report every stale use.
            self._counts["stale_served"] += 1
            if self._last_failure is not None and not self._warned_stale:
                self._warned_stale = True
                logger.warning(
                    "clerk-auth: the JWKS endpoint is failing (%s); serving the last good "
                    "keys, %.0f s past their freshness.",
                    self._last_failure,
                    now - self._fetched_at - self._fresh_for,
                )
        return UseKeys(keys)

    def _wait(self) -> WaitForFetch:
        assert self._in_flight is not None
        return WaitForFetch(self._in_flight.seq, self._policy.timeout)

    def _issue(self, purpose: str, now: float) -> FetchTicket:
        self._seq += 1
        ticket = FetchTicket(
            self._seq,
            purpose,
            now,
            now + self._policy.timeout + TICKET_MARGIN,
            self._etag if self._keys is not None else None,
        )
        self._in_flight = ticket
        self._outstanding[ticket.seq] = ticket
        while len(self._outstanding) > _MAX_OUTSTANDING:
            del self._outstanding[min(self._outstanding)]
        self._last_fetch_at = now
        self._counts["fetch_started"] += 1
        return ticket

    def _expire(self, now: float) -> None:
        ticket = self._in_flight
        if ticket is not None and now >= ticket.expires_at:
            # Nobody reported back (the caller crashed or hung): free the slot so the
            # next lookup may start a fetch. A late report is still accepted.
            logger.warning("clerk-auth: a JWKS fetch was never reported back; retrying.")
            self._in_flight = None
            self._counts["fetch_cancelled"] += 1
            self._failures_by_reason[FetchFailure.ABANDONED] = (
                self._failures_by_reason.get(FetchFailure.ABANDONED, 0) + 1
            )

    def _unavailable(self, now: float) -> KeyResolutionError:
        retry = _seconds(self._backoff_until - now)
        if self._last_failure == FetchFailure.SECRET_KEY_INVALID:
            return KeyResolutionError(Reason.SECRET_KEY_INVALID, retry_after=retry)
        if self._last_failure == FetchFailure.INVALID:
            return KeyResolutionError(Reason.JWK_REMOTE_INVALID, retry_after=retry)
        return KeyResolutionError(Reason.JWK_REMOTE_FAILED_TO_LOAD, retry_after=retry)

    def timeout_error(self, now: float) -> KeyResolutionError:
        """The error for a caller whose wait for a fetch reached its deadline (spec
        "cold start": ``jwk-remote-failed-to-load``, HTTP 503)."""
        self._counts["waiter_timeouts"] += 1
        return KeyResolutionError(
            Reason.JWK_REMOTE_FAILED_TO_LOAD,
            "Timed out waiting for the signing keys; try again shortly.",
            retry_after=_seconds(max(self._backoff_until - now, 1.0)),
        )

    # -- fetches --------------------------------------------------------------------

    def fetch_request(self, fetch: FetchTicket) -> FetchRequest:
        """What to send for ``fetch`` (URL, headers, timeouts, body cap)."""
        return build_request(self._config, fetch.etag)

    def fetch_succeeded(
        self,
        fetch: FetchTicket,
        status: int,
        headers: Mapping[str, str],
        body: bytes,
        now: float,
    ) -> None:
        """Report the HTTP response to ``fetch`` (any status; it is judged here)."""
        outcome = judge_response(self._config, status, headers, body, sent_etag=fetch.etag)
        self._complete(fetch, outcome, now)

    def fetch_failed(self, fetch: FetchTicket, reason: str, now: float, detail: str = "") -> None:
        """Report that ``fetch`` got no response (``reason``: a :class:`FetchFailure`)."""
        self._complete(fetch, Outcome(kind="failed", failure=reason, detail=detail), now)

    def forget_in_flight(self) -> None:
        """Drop every outstanding ticket (after ``fork()``: the fetching thread or task
        lives only in the parent)."""
        self._in_flight = None
        self._outstanding.clear()

    def _complete(self, fetch: FetchTicket, outcome: Outcome, now: float) -> None:
        if self._outstanding.pop(fetch.seq, None) is None:
            return  # a duplicate report, or a ticket forgotten long ago
        if self._in_flight is not None and self._in_flight.seq == fetch.seq:
            self._in_flight = None
        if outcome.kind == "ok":
            self._apply(fetch, outcome)
        elif outcome.kind == "not-modified":
            self._revalidate(fetch, outcome, now)
        else:
            self._fail(fetch, outcome, now)

    def _newer(self, fetch: FetchTicket) -> bool:
        # Spec: a late response never overwrites a newer snapshot (sequence numbers).
        if fetch.seq > self._snapshot_seq:
            return True
        self._counts["out_of_order"] += 1
        return False

    def _apply(self, fetch: FetchTicket, outcome: Outcome) -> None:
        assert outcome.keys is not None
        self._counts["fetch_ok"] += 1
        for dropped in outcome.keys.dropped:
            self._keys_dropped[dropped.reason] = self._keys_dropped.get(dropped.reason, 0) + 1
        if outcome.keys.dropped:
            logger.warning(
                "clerk-auth: the JWKS held %d key(s) the key rules refuse: %s.",
                len(outcome.keys.dropped),
                ", ".join(sorted({d.reason for d in outcome.keys.dropped})),
            )
        if not self._newer(fetch):
            return
        # Spec: a new set replaces the old one (not merged), so a removed key stops
        # working now. Freshness counts from when the request was sent.
        self._keys, self._document, self._etag = outcome.keys, outcome.document, outcome.etag
        self._set_fresh(fetch, outcome)
        logger.info(
            "clerk-auth: fetched %d signing key(s), fresh for %.0f s.",
            len(outcome.keys),
            outcome.fresh_for,
        )

    def _revalidate(self, fetch: FetchTicket, outcome: Outcome, now: float) -> None:
        if self._keys is None or fetch.etag is None or fetch.etag != self._etag:
            # The 304 validates a snapshot we no longer hold.
            if self._newer(fetch):
                failed = Outcome(kind="failed", failure=FetchFailure.NOT_MODIFIED_UNEXPECTED)
                self._fail(fetch, failed, now)
            return
        self._counts["fetch_not_modified"] += 1
        if self._newer(fetch):
            # Spec "transport": 304 with ETag extends freshness.
            self._etag = outcome.etag
            self._set_fresh(fetch, outcome)

    def _set_fresh(self, fetch: FetchTicket, outcome: Outcome) -> None:
        self._fetched_at = fetch.issued_at
        self._fresh_for = outcome.fresh_for
        self._snapshot_seq = fetch.seq
        self._warned_expired = False
        if fetch.seq > self._failed_seq:
            # Spec "failures": reset on success.
            if self._last_failure is not None:
                logger.warning("clerk-auth: the JWKS endpoint answers again.")
            self._failures = 0
            self._backoff_until = -math.inf
            self._last_failure = None
            self._warned_stale = False

    def _fail(self, fetch: FetchTicket, outcome: Outcome, now: float) -> None:
        reason = outcome.failure or FetchFailure.ERROR
        self._failures_by_reason[reason] = self._failures_by_reason.get(reason, 0) + 1
        if reason in _NO_VERDICT:
            # Cancelled: says nothing about the endpoint; the next lookup may fetch.
            self._counts["fetch_cancelled"] += 1
            return
        self._counts["fetch_failed"] += 1
        if fetch.seq <= self._snapshot_seq:
            return  # a newer fetch already succeeded
        self._failures += 1
        self._failed_seq = max(self._failed_seq, fetch.seq)
        self._last_failure = reason
        delay = self._backoff_delay()
        self._backoff_until = now + delay
        if reason == FetchFailure.SECRET_KEY_INVALID:
            # Spec §5 secret-key-invalid: a server misconfiguration, logged loudly; the
            # key itself is never echoed.
            logger.error(
                "clerk-auth: the Clerk Backend API refused CLERK_SECRET_KEY (%s) when "
                "fetching the JWKS; check the key in your Clerk dashboard.",
                outcome.detail,
            )
        else:
            logger.warning(
                "clerk-auth: JWKS fetch failed (%s%s); next attempt in %.1f s.",
                reason,
                f": {outcome.detail}" if outcome.detail else "",
                delay,
            )

    def _backoff_delay(self) -> float:
        # Spec "failures": 1 s, 2 s, 4 s … capped at 60 s, ±20 % jitter (never past
        # the cap, so no wait exceeds it).
        policy = self._policy
        base = min(policy.backoff_initial * 2.0 ** min(self._failures - 1, 62), policy.backoff_max)
        jitter = 1.0 + policy.backoff_jitter * (2.0 * self._random() - 1.0)
        return min(base * jitter, policy.backoff_max)

    # -- persistence ----------------------------------------------------------------

    def export_state(self, now: float, *, wall_now: float | None = None) -> dict[str, Any]:
        """The snapshot as JSON-ready data, to persist between (serverless) invocations.

        ``{"jwks", "etag", "age", "fresh_for", "fetched_at"}``: ``age`` is seconds since
        the snapshot was fetched (monotonic clocks do not survive a process), and
        ``fetched_at`` is that moment in unix seconds when ``wall_now`` (the caller's
        ``time.time()``) is given, else ``None``. All ``None`` before the first fetch.
        """
        if self._keys is None or self._document is None:
            return {"jwks": None, "etag": None, "age": None, "fresh_for": None, "fetched_at": None}
        age = max(now - self._fetched_at, 0.0)
        return {
            "jwks": _plain(self._document),
            "etag": self._etag,
            "age": age,
            "fresh_for": self._fresh_for,
            "fetched_at": None if wall_now is None else wall_now - age,
        }

    def import_state(
        self, state: Mapping[str, Any], now: float, *, wall_now: float | None = None
    ) -> bool:
        """Load a snapshot made by :meth:`export_state`, unless ours is newer.

        The age comes from ``fetched_at`` when both it and ``wall_now`` are given, else
        from ``age``. The document goes through the same key rules as a fetch.

        :returns: whether the snapshot was taken.
        :raises ValueError: when ``state`` is not such a snapshot (nothing changes).
        """
        snapshot = parse_state(state, self._policy, wall_now=wall_now)
        if snapshot is None:
            return False
        if self._keys is not None and now - self._fetched_at <= snapshot.age:
            return False  # ours is at least as new
        self._keys, self._document, self._etag = snapshot.keys, snapshot.document, snapshot.etag
        self._fetched_at = now - snapshot.age
        self._fresh_for = snapshot.fresh_for
        self._warned_expired = False
        return True


def _seconds(delay: float) -> int:
    """Retry-After: whole seconds, rounded up, at least 1."""
    return max(1, math.ceil(delay)) if math.isfinite(delay) else 1


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
