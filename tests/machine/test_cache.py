"""The opaque-token result cache and single flight, sans-I/O, with a fixed clock."""

from __future__ import annotations

from typing import Any

import pytest

from clerk_auth_core import (
    KeyResolutionError,
    MachineCache,
    MachineClaims,
    MachineConfig,
    MachineVerificationUnavailable,
    TokenVerificationError,
)
from clerk_auth_core._machine_cache import Call, Known, Wait, token_key

NOW = 1_700_000_000.0


def make(**kw: Any) -> MachineCache:
    return MachineCache(MachineConfig(secret_key="sk_test_x", **kw))


def claims(expires_at: float | None = None) -> MachineClaims:
    return MachineClaims(token_type="api_key", id="ak_id", subject="user_1", expires_at=expires_at)


def call(cache: MachineCache, token: str, now: float = NOW) -> Call:
    decision = cache.lookup(token, now)
    assert isinstance(decision, Call), decision
    return decision


class TestSingleFlight:
    def test_second_caller_waits_for_the_first(self) -> None:
        cache = make()
        first = call(cache, "ak_new")
        second = cache.lookup("ak_new", NOW)
        assert isinstance(second, Wait)
        assert second.flight is first.flight
        assert second.timeout > cache.config.timeout
        cache.finished(first.flight, claims(), NOW)
        assert second.flight.outcome == claims()
        assert cache.in_flight == 0
        assert (cache.stats.calls, cache.stats.waits) == (1, 1)

    def test_flights_are_per_token(self) -> None:
        cache = make()
        call(cache, "ak_a")
        call(cache, "ak_b")
        assert cache.in_flight == 2

    def test_ttl_zero_still_shares_a_flight(self) -> None:
        cache = make(cache_ttl=0)
        first = call(cache, "ak_new")
        assert isinstance(cache.lookup("ak_new", NOW), Wait)
        cache.finished(first.flight, claims(), NOW)
        call(cache, "ak_new")  # nothing remembered: a new call
        assert len(cache) == 0


class TestRemembered:
    def test_the_hit_path_starts_no_flight(self) -> None:
        cache = make()
        assert cache.remembered(token_key("ak_new"), NOW) is None
        assert cache.in_flight == 0
        cache.finished(call(cache, "ak_new").flight, claims(), NOW)
        known = cache.remembered(token_key("ak_new"), NOW + 1)
        assert known is not None
        assert known.outcome == claims()
        assert cache.lookup("ak_new", NOW + 1, key=token_key("ak_new")) is known


class TestVerified:
    def test_reused_for_the_ttl(self) -> None:
        cache = make(cache_ttl=30)
        cache.finished(call(cache, "ak_1").flight, claims(), NOW)
        hit = cache.lookup("ak_1", NOW + 29.9)
        assert isinstance(hit, Known)
        assert hit.result() == claims()
        call(cache, "ak_1", NOW + 30)
        assert cache.stats.hits == 1

    def test_never_past_the_tokens_expiration(self) -> None:
        cache = make(cache_ttl=60)
        cache.finished(call(cache, "ak_1").flight, claims(expires_at=NOW + 10), NOW)
        assert isinstance(cache.lookup("ak_1", NOW + 9), Known)
        call(cache, "ak_1", NOW + 10)

    def test_keys_are_digests_not_tokens(self) -> None:
        cache = make()
        cache.finished(call(cache, "ak_secret_value").flight, claims(), NOW)
        assert list(cache._entries) == [token_key("ak_secret_value")]
        assert all(b"ak_secret_value" not in key for key in cache._entries)


class TestRefused:
    def test_remembered_for_refused_ttl(self) -> None:
        cache = make(refused_ttl=10)
        error = TokenVerificationError("token-invalid", "API key not found.")
        cache.finished(call(cache, "ak_bad").flight, error, NOW)
        for _ in range(3):
            known = cache.lookup("ak_bad", NOW + 5)
            assert isinstance(known, Known)
            with pytest.raises(TokenVerificationError) as info:
                known.result()
            assert info.value is not error  # a fresh exception per raise
            assert (info.value.reason, info.value.message) == ("token-invalid", error.message)
        call(cache, "ak_bad", NOW + 10)
        assert cache.stats.refused_hits == 3

    def test_refused_ttl_zero(self) -> None:
        cache = make(refused_ttl=0)
        cache.finished(call(cache, "ak_bad").flight, TokenVerificationError(), NOW)
        call(cache, "ak_bad")


class TestBound:
    def test_lru_bound(self) -> None:
        cache = make(max_entries=100)
        for i in range(1000):
            cache.finished(call(cache, f"ak_{i}").flight, TokenVerificationError(), NOW)
        assert len(cache) == 100
        # The most recent survive, the oldest went.
        assert isinstance(cache.lookup("ak_999", NOW), Known)
        assert isinstance(cache.lookup("ak_0", NOW), Call)

    def test_a_hit_is_recently_used(self) -> None:
        cache = make(max_entries=2)
        for token in ("ak_a", "ak_b"):
            cache.finished(call(cache, token).flight, claims(), NOW)
        assert isinstance(cache.lookup("ak_a", NOW), Known)
        cache.finished(call(cache, "ak_c").flight, claims(), NOW)
        assert isinstance(cache.lookup("ak_a", NOW), Known)
        assert isinstance(cache.lookup("ak_b", NOW), Call)


class TestBackoff:
    def test_failure_answers_503_without_calls_then_doubles(self) -> None:
        cache = make(backoff=2, max_backoff=5)
        error = cache.failed(call(cache, "ak_1").flight, "ConnectError", NOW)
        assert isinstance(error, MachineVerificationUnavailable)
        assert (error.status, error.retry_after, error.detail) == (503, 2, "ConnectError")
        # Any token, during the backoff: refused without a call.
        known = cache.lookup("ak_other", NOW + 1.5)
        assert isinstance(known, Known)
        with pytest.raises(MachineVerificationUnavailable) as info:
            known.result()
        assert info.value.retry_after == 1
        assert cache.stats.backoffs == 1
        # Then one call; failing again doubles the backoff (capped).
        second = call(cache, "ak_other", NOW + 2)
        cache.failed(second.flight, "x", NOW + 2)
        assert isinstance(cache.lookup("ak_3", NOW + 5.9), Known)
        third = call(cache, "ak_3", NOW + 6)
        assert cache.failed(third.flight, "x", NOW + 6).retry_after == 5

    def test_success_resets(self) -> None:
        cache = make(backoff=2)
        cache.failed(call(cache, "ak_1").flight, "x", NOW)
        cache.finished(call(cache, "ak_1", NOW + 2).flight, claims(), NOW + 2)
        cache.finished(call(cache, "ak_2", NOW + 2).flight, claims(), NOW + 2)

    def test_secret_key_invalid_backs_off_as_500(self) -> None:
        cache = make(backoff=3)
        cache.finished(call(cache, "ak_1").flight, KeyResolutionError("secret-key-invalid"), NOW)
        known = cache.lookup("ak_2", NOW + 1)
        assert isinstance(known, Known)
        with pytest.raises(KeyResolutionError) as info:
            known.result()
        assert (info.value.reason, info.value.status) == ("secret-key-invalid", 500)

    def test_a_token_refusal_is_no_failure(self) -> None:
        cache = make(backoff=3)
        cache.finished(call(cache, "ak_1").flight, TokenVerificationError(), NOW)
        call(cache, "ak_2", NOW)
        assert cache.stats.failures == 0

    def test_abandoned_waiter(self) -> None:
        cache = make()
        error = cache.abandoned(NOW)
        assert (error.reason, error.status) == ("unexpected-error", 503)

    def test_after_fork_flights_are_forgotten(self) -> None:
        cache = make()
        call(cache, "ak_1")
        cache.forget_in_flight()
        call(cache, "ak_1")
