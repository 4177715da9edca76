"""The JWKS state machine, line by line of key-rotation.md's table (no network, fake clock).

Times are plain floats (the monotonic ``now`` the shells would pass). The jitter source
is fixed at 0.5 (no jitter) unless a test is about jitter.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Mapping
from typing import Any

import pytest

from clerk_auth_core import JwksPolicy, KeyResolutionError, Reason, TokenVerificationError
from clerk_auth_core._jwks import (
    TICKET_MARGIN,
    Decision,
    FetchTicket,
    JwksCache,
    Reject,
    StartFetch,
    UseKeys,
    UseKeysAndRefresh,
    WaitForFetch,
)

from .conftest import SECRET_KEY, Signer, make_config

OLD, NEW = "ins_old", "ins_new"


# -- helpers ---------------------------------------------------------------------------


def make_cache(*, secret: bool = True, jitter: float = 0.5, **policy: Any) -> JwksCache:
    """A cache for the Backend API JWKS (``secret``) or the public Frontend API one."""
    extra = {"secret_key": SECRET_KEY} if secret else {}
    config = make_config(jwks=JwksPolicy(**policy), **extra)
    return JwksCache(config, random=lambda: jitter)


def jwks_body(*keys: tuple[Signer, str], **extra: Any) -> bytes:
    return json.dumps({"keys": [s.public_jwk(kid) for s, kid in keys], **extra}).encode()


def start(cache: JwksCache, now: float, kid: str | None = None) -> FetchTicket:
    """Look up and expect to be handed a fetch (StartFetch or a background refresh)."""
    decision = cache.lookup(kid, now)
    assert isinstance(decision, StartFetch | UseKeysAndRefresh), decision
    return decision.fetch


def answer(
    cache: JwksCache,
    ticket: FetchTicket,
    body: bytes,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    at: float | None = None,
) -> None:
    now = ticket.issued_at if at is None else at
    cache.fetch_succeeded(ticket, status, headers or {}, body, now)


def fail(cache: JwksCache, ticket: FetchTicket, at: float | None = None) -> None:
    cache.fetch_failed(ticket, "network", ticket.issued_at if at is None else at)


def warm(cache: JwksCache, body: bytes, now: float = 0.0, **headers: str) -> None:
    answer(
        cache, start(cache, now), body, headers={k.replace("_", "-"): v for k, v in headers.items()}
    )


def keys_of(decision: Decision) -> Any:
    assert isinstance(decision, UseKeys | UseKeysAndRefresh), decision
    return decision.keys


def reason_of(decision: Decision) -> str:
    assert isinstance(decision, Reject), decision
    return decision.error.reason


@pytest.fixture(scope="module")
def one(signer: Signer) -> bytes:
    return jwks_body((signer, OLD))


@pytest.fixture(scope="module")
def rotated(other_signer: Signer) -> bytes:
    return jwks_body((other_signer, NEW))


# -- cold start ------------------------------------------------------------------------


class TestColdStart:
    def test_one_start_fetch_and_99_waiters(self, one: bytes) -> None:
        cache = make_cache(timeout=5.0)
        decisions = [cache.lookup(OLD, 0.001 * i) for i in range(100)]
        starts = [d for d in decisions if isinstance(d, StartFetch)]
        waits = [d for d in decisions if isinstance(d, WaitForFetch)]
        assert (len(starts), len(waits)) == (1, 99)
        assert {w.seq for w in waits} == {starts[0].fetch.seq}
        assert {w.timeout for w in waits} == {5.0}
        assert cache.stats.in_flight
        answer(cache, starts[0].fetch, one, at=0.2)
        assert keys_of(cache.lookup(OLD, 0.2)).get(OLD).kid == OLD
        assert cache.stats.fetch_started == 1

    def test_cold_failure_rejects_while_backing_off_then_fetches_again(self) -> None:
        cache = make_cache()
        fail(cache, start(cache, 0.0))
        decision = cache.lookup(OLD, 0.5)
        assert reason_of(decision) == Reason.JWK_REMOTE_FAILED_TO_LOAD
        assert isinstance(decision, Reject)
        assert isinstance(decision.error, KeyResolutionError)
        assert decision.error.status == 503
        assert decision.error.retry_after == 1  # 0.5 s left, rounded up
        assert cache.stats.suppressed_by_backoff == 1
        assert isinstance(cache.lookup(OLD, 1.0), StartFetch)

    @pytest.mark.parametrize(
        ("secret", "status", "body", "reason"),
        [
            (True, 500, b"", Reason.JWK_REMOTE_FAILED_TO_LOAD),
            (True, 302, b"", Reason.JWK_REMOTE_FAILED_TO_LOAD),
            (True, 200, b"<html>", Reason.JWK_REMOTE_INVALID),
            (True, 200, b'{"keys":[]}', Reason.JWK_REMOTE_INVALID),
            (True, 401, b"", Reason.SECRET_KEY_INVALID),
            (True, 403, b"", Reason.SECRET_KEY_INVALID),
            (False, 401, b"", Reason.JWK_REMOTE_FAILED_TO_LOAD),
        ],
    )
    def test_cold_reject_names_the_failure(
        self, secret: bool, status: int, body: bytes, reason: str
    ) -> None:
        cache = make_cache(secret=secret)
        answer(cache, start(cache, 0.0), body, status=status)
        assert reason_of(cache.lookup(OLD, 0.1)) == reason

    def test_secret_key_invalid_is_a_500(self) -> None:
        cache = make_cache()
        answer(cache, start(cache, 0.0), b"", status=401)
        decision = cache.lookup(OLD, 0.1)
        assert isinstance(decision, Reject)
        assert decision.error.status == 500

    def test_waiter_timeout_error(self) -> None:
        cache = make_cache()
        start(cache, 0.0)
        error = cache.timeout_error(5.0)
        assert (error.reason, error.status) == (Reason.JWK_REMOTE_FAILED_TO_LOAD, 503)
        assert error.retry_after >= 1
        assert cache.stats.waiter_timeouts == 1


# -- unknown kids ----------------------------------------------------------------------


class TestUnknownKid:
    def test_random_kid_flood_costs_at_most_one_fetch_per_30_s(self, one: bytes) -> None:
        cache = make_cache()
        warm(cache, one, 0.0)
        rng = random.Random(7)
        fetches: list[float] = []
        for i in range(10_000):
            now = 60.0 * i / 10_000  # one minute of random kids
            kid = "ins_" + "".join(rng.choices("abcdefghijklmnop0123456789", k=20))
            decision = cache.lookup(kid, now)
            if isinstance(decision, StartFetch):
                fetches.append(now)
                answer(cache, decision.fetch, one)
            else:
                with pytest.raises(TokenVerificationError) as info:
                    keys_of(decision).get(kid)
                assert info.value.reason == Reason.JWK_KID_MISMATCH
        # Spec: a flood of random kids costs <= 2 fetches/min (here: the warm fetch at 0
        # counts as the last fetch, so exactly one more, at 30 s).
        assert fetches == [30.0]
        stats = cache.stats
        assert stats.unknown_kid == 10_000
        assert stats.suppressed_by_cooldown == 9_999

    def test_flood_within_30_s_window_yields_at_most_one_fetch(self, one: bytes) -> None:
        cache = make_cache()
        warm(cache, one, 0.0)
        starts = 0
        for i in range(10_000):
            decision = cache.lookup(f"ins_{i}", 10.0 + 30.0 * i / 10_000)
            if isinstance(decision, StartFetch):
                starts += 1
                answer(cache, decision.fetch, one)
        assert starts == 1

    @pytest.mark.parametrize("kid", ["bad kid", "ins_ä", "x" * 129, "", "a/b", "ins\n"])
    def test_malformed_kid_never_fetches(self, one: bytes, kid: str) -> None:
        cache = make_cache()
        warm(cache, one, 0.0)
        assert isinstance(cache.lookup(kid, 100.0), UseKeys)
        assert cache.stats.fetch_started == 1

    def test_rotation_is_picked_up_and_removed_key_rejected(
        self, one: bytes, rotated: bytes
    ) -> None:
        cache = make_cache()
        warm(cache, one, 0.0)
        ticket = start(cache, 31.0, NEW)  # unknown kid, cooldown elapsed
        assert ticket.purpose == "unknown-kid"
        # Others asking for the new kid meanwhile wait for that fetch.
        assert isinstance(cache.lookup(NEW, 31.1), WaitForFetch)
        answer(cache, ticket, rotated, at=31.2)
        assert keys_of(cache.lookup(NEW, 31.3)).get(NEW).kid == NEW
        # Spec: a new set replaces the old one, so the removed key stops working now.
        old = keys_of(cache.lookup(OLD, 31.4))
        with pytest.raises(TokenVerificationError) as info:
            old.get(OLD)
        assert info.value.reason == Reason.JWK_KID_MISMATCH

    def test_unknown_kid_in_cooldown_answers_the_set(self, one: bytes) -> None:
        cache = make_cache()
        warm(cache, one, 0.0)
        assert isinstance(cache.lookup(NEW, 29.9), UseKeys)
        assert cache.stats.suppressed_by_cooldown == 1

    def test_unknown_kid_while_failing_is_unavailable_not_invalid(self, one: bytes) -> None:
        cache = make_cache()
        warm(cache, one, 0.0)
        fail(cache, start(cache, 31.0, NEW))
        decision = cache.lookup(NEW, 31.5)
        # Spec §3 edge cases: the token may carry a freshly rotated key.
        assert reason_of(decision) == Reason.JWK_REMOTE_FAILED_TO_LOAD
        assert isinstance(decision, Reject)
        assert decision.error.retry_after == 30  # the cooldown outlasts the 1 s backoff
        # A known kid is still served.
        assert isinstance(cache.lookup(OLD, 31.5), UseKeys)

    def test_unknown_kid_fetch_failure_then_cooldown(self, one: bytes) -> None:
        cache = make_cache()
        warm(cache, one, 0.0)
        fail(cache, start(cache, 31.0, NEW))
        # Backoff over (1 s), cooldown not (30 s since the failed fetch started).
        assert isinstance(cache.lookup(NEW, 33.0), Reject)
        assert isinstance(cache.lookup(NEW, 61.0), StartFetch)

    def test_unknown_kid_starts_a_due_refresh_despite_the_cooldown(
        self, one: bytes, signer: Signer, other_signer: Signer
    ) -> None:
        # The set is past its refresh point (240 s of 300), its refresh failed, the key
        # rotated meanwhile and the endpoint is back: once the 1 s backoff is over, a
        # token with the new kid starts the due refresh instead of waiting out the 30 s
        # cooldown (a known kid would have started it anyway, so no flood budget is spent).
        cache = make_cache()
        warm(cache, one, 0.0)
        fail(cache, start(cache, 250.0, OLD), at=250.0)
        assert isinstance(cache.lookup(NEW, 250.5), Reject)  # still backing off
        ticket = start(cache, 252.0, NEW)
        answer(cache, ticket, jwks_body((signer, OLD), (other_signer, NEW)), at=252.0)
        assert NEW in keys_of(cache.lookup(NEW, 252.1)).kids

    def test_unknown_kid_after_its_own_fetch_starts_no_other(self, one: bytes) -> None:
        # Without a cooldown every token may force a refresh, but only one: a caller
        # back from the fetch its token caused is answered with what it brought.
        cache = make_cache(unknown_kid_cooldown=0.0)
        warm(cache, one, 0.0)
        answer(cache, start(cache, 10.0, NEW), one, at=10.0)  # NEW still unpublished
        assert isinstance(cache.lookup(NEW, 10.1), StartFetch)  # the next token's own
        cache.forget_in_flight()
        decision = cache.lookup(NEW, 10.1, after_fetch=True)
        assert NEW not in keys_of(decision).kids
        # After a failed fetch, the same caller learns that keys are unavailable.
        fail(cache, start(cache, 10.2, NEW), at=10.2)
        assert reason_of(cache.lookup(NEW, 10.3, after_fetch=True)) == (
            Reason.JWK_REMOTE_FAILED_TO_LOAD
        )

    def test_unknown_kid_on_a_fresh_set_still_waits_for_the_cooldown(self, one: bytes) -> None:
        cache = make_cache()
        warm(cache, one, 0.0)
        assert isinstance(cache.lookup(NEW, 100.0), StartFetch)  # cooldown over
        cache.forget_in_flight()
        assert isinstance(cache.lookup(NEW, 110.0), UseKeys)  # not due, cooling down


# -- freshness, refresh-ahead, stale-while-revalidate ------------------------------------


class TestFreshness:
    def test_refresh_ahead_at_80_percent_handed_out_once(self, one: bytes) -> None:
        cache = make_cache()
        warm(cache, one, 0.0)
        assert isinstance(cache.lookup(OLD, 239.9), UseKeys)
        decision = cache.lookup(OLD, 240.0)
        assert isinstance(decision, UseKeysAndRefresh)
        assert decision.fetch.purpose == "refresh"
        # While it runs, everyone else is answered without waiting.
        assert all(isinstance(cache.lookup(OLD, 240.0 + i / 10), UseKeys) for i in range(50))
        answer(cache, decision.fetch, one, at=240.5)
        assert isinstance(cache.lookup(OLD, 479.9), UseKeys)
        assert isinstance(cache.lookup(OLD, 480.0), UseKeysAndRefresh)
        assert cache.stats.stale_served == 0

    @pytest.mark.parametrize(
        ("cache_control", "fresh_for"),
        [
            (None, 300.0),
            ("max-age=600", 600.0),
            ("public, max-age=120", 120.0),
            ("MAX-AGE=120", 120.0),
            ("max-age=10", 60.0),
            ("max-age=0", 60.0),
            ("max-age=999999", 3600.0),
            ("max-age=" + "9" * 5000, 3600.0),
            ("no-store", 60.0),
            ("no-cache", 60.0),
            ("max-age=600, no-cache", 60.0),
            ("max-age=abc", 300.0),
            ("private", 300.0),
        ],
    )
    def test_cache_control_is_clamped(
        self, one: bytes, cache_control: str | None, fresh_for: float
    ) -> None:
        cache = make_cache()
        headers = {} if cache_control is None else {"Cache-Control": cache_control}
        answer(cache, start(cache, 0.0), one, headers=headers)
        ahead = 0.8 * fresh_for
        assert isinstance(cache.lookup(OLD, ahead - 0.01), UseKeys)
        assert isinstance(cache.lookup(OLD, ahead), UseKeysAndRefresh)

    def test_stale_while_revalidate_counts_every_stale_use(self, one: bytes) -> None:
        cache = make_cache()
        warm(cache, one, 0.0)
        decision = cache.lookup(OLD, 1_000.0)  # idle past freshness: no waiting
        assert isinstance(decision, UseKeysAndRefresh)
        for i in range(5):
            assert isinstance(cache.lookup(OLD, 1_000.0 + i), UseKeys)
        assert cache.stats.stale_served == 6
        answer(cache, decision.fetch, one, at=1_005.0)
        assert isinstance(cache.lookup(OLD, 1_006.0), UseKeys)
        assert cache.stats.stale_served == 6

    def test_freshness_counts_from_the_request(self, one: bytes) -> None:
        cache = make_cache()
        ticket = start(cache, 0.0)
        answer(cache, ticket, one, at=4.0)  # a slow answer is not fresher for it
        assert isinstance(cache.lookup(OLD, 240.0), UseKeysAndRefresh)


class TestNotModified:
    def test_304_with_etag_extends_freshness(self, one: bytes) -> None:
        cache = make_cache()
        warm(cache, one, 0.0, ETag='"v1"', Cache_Control="max-age=100")
        ticket = start(cache, 80.0)
        assert ticket.etag == '"v1"'
        assert ("If-None-Match", '"v1"') in cache.fetch_request(ticket).headers
        before = keys_of(cache.lookup(OLD, 80.0))
        answer(cache, ticket, b"", status=304, headers={"cache-control": "max-age=200"})
        assert cache.stats.fetch_not_modified == 1
        assert keys_of(cache.lookup(OLD, 80.0 + 159.0)) is before  # fresh until 80 + 200
        assert isinstance(cache.lookup(OLD, 80.0 + 160.0), UseKeysAndRefresh)

    def test_304_without_validator_is_a_failure(self, one: bytes) -> None:
        cache = make_cache()
        warm(cache, one, 0.0)  # no ETag served
        ticket = start(cache, 240.0)
        assert ticket.etag is None
        assert all(name != "If-None-Match" for name, _ in cache.fetch_request(ticket).headers)
        answer(cache, ticket, b"", status=304)
        assert cache.stats.failures_by_reason == {"unexpected-304": 1}

    @pytest.mark.parametrize("etag", ['"a"\r\nX-Evil: 1', "unquoted", '"' + "a" * 300 + '"'])
    def test_malformed_etag_is_not_kept(self, one: bytes, etag: str) -> None:
        cache = make_cache()
        warm(cache, one, 0.0, ETag=etag)
        assert start(cache, 240.0).etag is None


# -- failures: backoff, stale-if-error -------------------------------------------------


def _fetch_delay(cache: JwksCache, failed_at: float, expected: float) -> FetchTicket:
    """Assert the next fetch is allowed exactly ``expected`` seconds after ``failed_at``
    (and return it)."""
    assert isinstance(cache.lookup(None, failed_at + expected - 1e-6), Reject)
    return start(cache, failed_at + expected + 1e-6)


class TestBackoff:
    def test_grows_to_the_cap_and_resets_on_success(self, one: bytes) -> None:
        cache = make_cache()
        now = 0.0
        fail(cache, start(cache, now))
        for expected in (1, 2, 4, 8, 16, 32, 60, 60, 60):
            now += expected + 1e-6
            assert isinstance(cache.lookup(None, now - 2e-6), Reject)
            ticket = start(cache, now)
            fail(cache, ticket)
        assert cache.stats.consecutive_failures == 10
        now += 61.0
        answer(cache, start(cache, now), one)
        assert cache.stats.consecutive_failures == 0
        # Reset: after the set goes stale and the next fetch fails, 1 s again.
        ticket = start(cache, now + 300.0)
        fail(cache, ticket)
        assert isinstance(cache.lookup(None, now + 300.5), UseKeys)  # stale, backing off
        assert isinstance(cache.lookup(None, now + 301.0 + 1e-6), UseKeysAndRefresh)

    @pytest.mark.parametrize(
        ("jitter", "factor"), [(0.0, 0.8), (0.25, 0.9), (0.5, 1.0), (0.999999, 1.2)]
    )
    def test_jitter_is_within_20_percent(self, jitter: float, factor: float) -> None:
        cache = make_cache(jitter=jitter)
        fail(cache, start(cache, 0.0))
        second = _fetch_delay(cache, 0.0, 1.0 * factor)
        fail(cache, second)
        _fetch_delay(cache, second.issued_at, 2.0 * factor)

    def test_jitter_never_exceeds_the_cap(self) -> None:
        cache = make_cache(jitter=0.999999)
        now = 0.0
        for _ in range(8):
            fail(cache, start(cache, now))
            now += 61.0
        fail(cache, start(cache, now))
        _fetch_delay(cache, now, 60.0)

    def test_no_fetch_while_backing_off(self, one: bytes) -> None:
        cache = make_cache()
        warm(cache, one, 0.0)
        fail(cache, start(cache, 240.0))
        for i in range(100):
            assert isinstance(cache.lookup(OLD, 240.0 + i / 101), UseKeys)
        assert cache.stats.suppressed_by_backoff == 100
        assert isinstance(cache.lookup(OLD, 241.0), UseKeysAndRefresh)


class TestStaleIfError:
    def test_serves_stale_until_the_limit_then_rejects(self, one: bytes) -> None:
        cache = make_cache(stale_if_error=3_600.0)
        warm(cache, one, 0.0)
        now = 240.0
        while now < 300.0 + 3_600.0:
            decision = cache.lookup(OLD, now)
            if isinstance(decision, UseKeysAndRefresh):
                fail(cache, decision.fetch)
            else:
                assert isinstance(decision, UseKeys), now
            now += 7.0
        assert cache.stats.stale_served > 400
        assert cache.stats.stale_served == sum(
            1 for t in range(0, 3_900, 7) if 240 + t >= 300 and 240 + t < 3_900
        )
        # Past the limit the set is not used: a cold fetch (or a rejection while
        # backing off).
        decision = cache.lookup(OLD, 300.0 + 3_600.0 + 60.0)
        assert isinstance(decision, StartFetch | Reject)
        if isinstance(decision, StartFetch):
            fail(cache, decision.fetch)
        assert reason_of(cache.lookup(OLD, 300.0 + 3_600.0 + 60.5)) == (
            Reason.JWK_REMOTE_FAILED_TO_LOAD
        )

    def test_zero_fails_closed(self, one: bytes) -> None:
        cache = make_cache(stale_if_error=0.0)
        warm(cache, one, 0.0)
        assert isinstance(cache.lookup(OLD, 299.0), UseKeysAndRefresh | UseKeys)
        # The refresh handed out at 240 s is still running: past freshness, wait.
        assert isinstance(cache.lookup(OLD, 300.0), WaitForFetch)
        assert cache.stats.stale_served == 0

    def test_recovery_clears_failing(self, one: bytes, rotated: bytes) -> None:
        cache = make_cache()
        warm(cache, one, 0.0)
        fail(cache, start(cache, 240.0))
        assert cache.failing
        answer(cache, start(cache, 242.0), rotated)
        assert not cache.failing
        assert keys_of(cache.lookup(NEW, 243.0)).get(NEW).kid == NEW


# -- responses --------------------------------------------------------------------------


def _padded(signer: Signer, size: int) -> bytes:
    base = jwks_body((signer, OLD), padding="")
    return jwks_body((signer, OLD), padding="x" * (size - len(base)))


class TestResponses:
    @pytest.mark.parametrize(
        ("status", "body", "secret", "failure"),
        [
            (301, b"", True, "redirect"),
            (302, b"", True, "redirect"),
            (307, b"", True, "redirect"),
            (308, b"", True, "redirect"),
            (500, b"", True, "http-status"),
            (404, b"", True, "http-status"),
            (204, b"", True, "http-status"),
            (201, b"", True, "http-status"),
            (401, b"", True, "secret-key-invalid"),
            (403, b"", True, "secret-key-invalid"),
            (401, b"", False, "http-status"),
            (200, b"<!doctype html>", True, "invalid"),
            (200, b'{"keys":[]}', True, "invalid"),
            (200, b'{"keys":{}}', True, "invalid"),
            (200, b"[]", True, "invalid"),
            (200, b'{"keys":[],"keys":[]}', True, "invalid"),
            (200, b'\xef\xbb\xbf{"keys":[]}', True, "invalid"),
            (200, b'{"keys":[1e400]}', True, "invalid"),
            (200, b"", True, "invalid"),
        ],
    )
    def test_failed_responses(self, status: int, body: bytes, secret: bool, failure: str) -> None:
        cache = make_cache(secret=secret)
        answer(cache, start(cache, 0.0), body, status=status)
        stats = cache.stats
        assert (stats.fetch_ok, stats.fetch_failed) == (0, 1)
        assert dict(stats.failures_by_reason) == {failure: 1}

    def test_body_over_64_kib_is_refused(self, signer: Signer) -> None:
        cache = make_cache()
        answer(cache, start(cache, 0.0), _padded(signer, 65 * 1024))
        assert dict(cache.stats.failures_by_reason) == {"oversized": 1}

    def test_body_of_exactly_64_kib_is_accepted(self, signer: Signer) -> None:
        body = _padded(signer, 64 * 1024)
        assert len(body) == 65_536
        cache = make_cache()
        answer(cache, start(cache, 0.0), body)
        assert cache.stats.fetch_ok == 1

    def test_more_than_64_keys_is_refused(self, signer: Signer) -> None:
        cache = make_cache()
        body = jwks_body(*((signer, f"ins_{i}") for i in range(65)))
        answer(cache, start(cache, 0.0), body)
        assert dict(cache.stats.failures_by_reason) == {"invalid": 1}

    def test_all_bad_set_is_a_failure_and_the_old_set_is_kept(
        self, signer: Signer, one: bytes
    ) -> None:
        cache = make_cache()
        warm(cache, one, 0.0)
        bad = json.dumps(
            {"keys": [signer.public_jwk(NEW, alg="RS512"), signer.public_jwk(NEW, d="AAAA")]}
        ).encode()
        answer(cache, start(cache, 240.0), bad)
        assert cache.stats.fetch_failed == 1
        assert cache.failing
        assert keys_of(cache.lookup(OLD, 241.5)).get(OLD).kid == OLD

    def test_bad_keys_are_dropped_one_by_one_and_counted(self, signer: Signer) -> None:
        cache = make_cache()
        doc = {
            "keys": [
                signer.public_jwk(OLD),
                signer.public_jwk("ins_a", alg="RS512"),
                signer.public_jwk("ins_b", use="enc"),
                signer.public_jwk("ins_c", d="AAAA"),
                signer.public_jwk("ins_d", alg="RS512"),
            ]
        }
        answer(cache, start(cache, 0.0), json.dumps(doc).encode())
        stats = cache.stats
        assert stats.fetch_ok == 1
        assert stats.key_count == 1
        assert dict(stats.keys_dropped) == {
            "unsupported-alg": 2,
            "wrong-use": 1,
            "private-members": 1,
        }

    def test_headers_are_case_insensitive(self, one: bytes) -> None:
        cache = make_cache()
        answer(
            cache, start(cache, 0.0), one, headers={"CACHE-CONTROL": "max-age=100", "eTaG": '"x"'}
        )
        assert isinstance(cache.lookup(OLD, 80.0), UseKeysAndRefresh)

    def test_secret_key_invalid_is_logged_loudly_without_the_key(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        cache = make_cache()
        with caplog.at_level(logging.DEBUG, logger="clerk_auth.jwks"):
            answer(cache, start(cache, 0.0), b'{"errors":[]}', status=401)
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 1
        assert "CLERK_SECRET_KEY" in errors[0].getMessage()
        assert SECRET_KEY not in caplog.text

    def test_logs_never_name_kids(self, caplog: pytest.LogCaptureFixture, one: bytes) -> None:
        cache = make_cache()
        with caplog.at_level(logging.DEBUG, logger="clerk_auth.jwks"):
            warm(cache, one, 0.0)
            fail(cache, start(cache, 240.0))
            cache.lookup("ins_attacker<script>", 300.5)
            cache.lookup(OLD, 400.0)
        assert caplog.records
        assert OLD not in caplog.text
        assert "attacker" not in caplog.text
        assert SECRET_KEY not in caplog.text


# -- sequence numbers and tickets --------------------------------------------------------


class TestTickets:
    def test_late_response_never_overwrites_a_newer_snapshot(
        self, one: bytes, rotated: bytes
    ) -> None:
        cache = make_cache(timeout=5.0)
        first = start(cache, 0.0)
        assert isinstance(cache.lookup(None, 3.0), WaitForFetch)
        second = start(cache, 5.0 + TICKET_MARGIN)  # the first expired unreported
        assert second.seq > first.seq
        answer(cache, second, rotated, at=6.5)
        answer(cache, first, one, at=7.0)  # late, older
        keys = keys_of(cache.lookup(NEW, 7.5))
        assert keys.kids == frozenset({NEW})
        stats = cache.stats
        assert (stats.out_of_order, stats.fetch_cancelled) == (1, 1)

    def test_late_failure_after_newer_success_does_not_back_off(self, one: bytes) -> None:
        cache = make_cache(timeout=1.0)
        first = start(cache, 0.0)
        second = start(cache, 1.0 + TICKET_MARGIN)
        answer(cache, second, one)
        fail(cache, first, at=3.0)
        assert not cache.failing
        assert isinstance(cache.lookup(OLD, 3.0), UseKeys)

    def test_an_unreported_ticket_expires_after_the_fetch_deadline(self) -> None:
        cache = make_cache(timeout=0.5)
        ticket = start(cache, 0.0)
        assert ticket.expires_at == 0.5 + TICKET_MARGIN
        assert isinstance(cache.lookup(None, ticket.expires_at - 0.01), WaitForFetch)
        assert isinstance(cache.lookup(None, ticket.expires_at), StartFetch)
        assert cache.stats.failures_by_reason == {"abandoned": 1}

    def test_cancelled_fetch_does_not_back_off(self) -> None:
        cache = make_cache()
        ticket = start(cache, 0.0)
        cache.fetch_failed(ticket, "cancelled", 0.1)
        assert not cache.failing
        assert isinstance(cache.lookup(None, 0.1), StartFetch)
        assert cache.stats.fetch_cancelled == 1

    def test_duplicate_report_is_ignored(self, one: bytes) -> None:
        cache = make_cache()
        ticket = start(cache, 0.0)
        answer(cache, ticket, one)
        fail(cache, ticket)
        assert (cache.stats.fetch_ok, cache.stats.fetch_failed) == (1, 0)

    def test_forget_in_flight(self) -> None:
        cache = make_cache()
        start(cache, 0.0)
        cache.forget_in_flight()
        assert cache.in_flight_seq is None
        assert isinstance(cache.lookup(None, 0.1), StartFetch)

    def test_refresh_for_warm_up(self, one: bytes) -> None:
        cache = make_cache()
        warm(cache, one, 0.0)
        decision = cache.refresh(1.0)  # fresh, yet fetched on request
        assert isinstance(decision, StartFetch)
        assert decision.fetch.purpose == "warm-up"
        assert isinstance(cache.refresh(1.0), WaitForFetch)
        fail(cache, decision.fetch)
        assert isinstance(cache.refresh(1.5), Reject)  # never while backing off


# -- the request -------------------------------------------------------------------------


class TestRequest:
    def test_backend_api_request(self) -> None:
        cache = make_cache(timeout=5.0, connect_timeout=2.0)
        request = cache.fetch_request(start(cache, 0.0))
        headers = dict(request.headers)
        assert request.url == "https://api.clerk.com/v1/jwks"
        assert headers["Authorization"] == f"Bearer {SECRET_KEY}"
        assert headers["Accept"] == "application/json"
        assert headers["User-Agent"].startswith("clerk-auth/")
        assert "If-None-Match" not in headers
        assert (request.timeout, request.connect_timeout) == (5.0, 2.0)
        assert request.max_body_bytes == 65_536

    def test_public_jwks_request_carries_no_secret(self) -> None:
        cache = make_cache(secret=False)
        request = cache.fetch_request(start(cache, 0.0))
        assert request.url == "https://clerk.example.com/.well-known/jwks.json"
        assert "Authorization" not in dict(request.headers)

    def test_reprs_hide_the_secret(self, one: bytes) -> None:
        cache = make_cache()
        ticket = start(cache, 0.0)
        request = cache.fetch_request(ticket)
        for text in (repr(request), str(request), repr(ticket), repr(cache.stats)):
            assert SECRET_KEY not in text
        assert "<redacted>" in repr(request)

    @pytest.mark.parametrize(
        ("url", "secure"),
        [
            ("https://api.clerk.com/v1/jwks", True),
            ("http://127.0.0.1:8080/v1/jwks", True),
            ("http://localhost/jwks", True),
            ("http://[::1]:9/jwks", True),
            ("http://api.clerk.com/v1/jwks", False),
            ("ftp://127.0.0.1/jwks", False),
            ("https:///nohost", False),
        ],
    )
    def test_https_only_except_loopback(self, url: str, secure: bool) -> None:
        from clerk_auth_core._jwks_exchange import is_secure_url

        assert is_secure_url(url) is secure

    def test_no_jwks_source_is_jwk_failed_to_resolve(self, signer: Signer) -> None:
        with pytest.raises(KeyResolutionError) as info:
            JwksCache(make_config(jwt_key=signer.pem))
        assert info.value.reason == Reason.JWK_FAILED_TO_RESOLVE


# -- persistence -------------------------------------------------------------------------


class TestPersistence:
    def test_export_import_round_trip_keeps_age(self, one: bytes) -> None:
        cache = make_cache()
        warm(cache, one, 1_000.0, ETag='"v9"')
        state = json.loads(json.dumps(cache.export_state(1_100.0)))
        assert state["age"] == 100.0
        assert state["etag"] == '"v9"'
        assert state["fetched_at"] is None
        other = make_cache()
        assert other.import_state(state, 50.0)
        assert keys_of(other.lookup(OLD, 50.0)).get(OLD).kid == OLD
        assert other.stats.fetch_started == 0
        # 100 s old at import: refresh-ahead (240 s) comes 140 s later.
        assert isinstance(other.lookup(OLD, 189.9), UseKeys)
        assert isinstance(other.lookup(OLD, 190.0), UseKeysAndRefresh)

    def test_wall_clock_fetched_at(self, one: bytes) -> None:
        cache = make_cache()
        warm(cache, one, 10.0)
        state = cache.export_state(30.0, wall_now=1_700_000_000.0)
        assert state["fetched_at"] == 1_700_000_000.0 - 20.0
        other = make_cache()
        other.import_state(state, 5.0, wall_now=1_700_000_000.0 + 200.0)
        # 220 s old: refresh due at 240 s of age.
        assert isinstance(other.lookup(OLD, 5.0 + 19.9), UseKeys)
        assert isinstance(other.lookup(OLD, 5.0 + 20.0), UseKeysAndRefresh)

    def test_import_does_not_replace_a_newer_snapshot(self, one: bytes, rotated: bytes) -> None:
        older = make_cache()
        warm(older, one, 0.0)
        cache = make_cache()
        warm(cache, rotated, 0.0)
        assert not cache.import_state(older.export_state(100.0), 10.0)
        assert keys_of(cache.lookup(NEW, 10.0)).kids == frozenset({NEW})

    def test_empty_export(self) -> None:
        cache = make_cache()
        state = cache.export_state(0.0)
        assert state == {
            "jwks": None,
            "etag": None,
            "age": None,
            "fresh_for": None,
            "fetched_at": None,
        }
        assert not make_cache().import_state(state, 0.0)

    @pytest.mark.parametrize(
        "state",
        [
            {"jwks": "not json", "age": 1},
            {"jwks": {"keys": []}, "age": 1},
            {"jwks": [], "age": 1},
            {"jwks": {"keys": "x"}, "age": 1},
            {"jwks": "VALID", "age": "1"},
            {"jwks": "VALID"},
            {"jwks": "VALID", "age": float("nan")},
            {"jwks": "VALID", "age": 1, "fresh_for": -1},
            {"jwks": "VALID", "age": 1, "etag": 5},
            {"jwks": "VALID", "age": 1, "etag": '"a"\r\nX: y'},
        ],
    )
    def test_malformed_state_raises_value_error(self, one: bytes, state: dict[str, Any]) -> None:
        if state["jwks"] == "VALID":
            state = {**state, "jwks": one.decode()}
        cache = make_cache()
        with pytest.raises(ValueError, match="state"):
            cache.import_state(state, 0.0)
        assert cache.stats.key_count == 0

    def test_imported_freshness_is_bounded(self, one: bytes) -> None:
        cache = make_cache()
        state = {"jwks": json.loads(one), "age": 0, "fresh_for": 10**9, "etag": None}
        assert cache.import_state(state, 0.0)
        assert isinstance(cache.lookup(OLD, 0.8 * 3_600.0), UseKeysAndRefresh)


class TestStats:
    def test_as_dict_is_json_ready(self, one: bytes) -> None:
        cache = make_cache()
        warm(cache, one, 0.0)
        cache.lookup(NEW, 1.0)
        data = cache.stats.as_dict()
        json.dumps(data)
        assert data["fetch_ok"] == 1
        assert data["unknown_kid"] == 1
        assert data["key_count"] == 1
        assert data["in_flight"] is False
