"""SyncKeyProvider against the mock issuer over real loopback HTTP."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from clerk_auth_core import ClerkConfig, KeyResolutionError, KeySet, Reason, TokenVerificationError
from clerk_auth_core.io import SyncKeyProvider, key_provider
from clerk_auth_core.testing import REDIRECT_TARGET_PATH, MockClerk

MakeConfig = Callable[..., ClerkConfig]
TIMEOUT = 0.5
#: Long enough that a loaded machine does not outrun it between two lines.
COOLDOWN = 1.0


def run_threads(count: int, target: Callable[[], Any]) -> list[Any]:
    """Run ``target`` in ``count`` threads released together; results or exceptions."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def worker(i: int) -> None:
        barrier.wait()
        try:
            results[i] = target()
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
        assert not thread.is_alive()
    return results


def eventually(check: Callable[[], bool], within: float = 3.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def test_200_threads_cold_start_make_one_request(clerk: MockClerk, fast_config: MakeConfig) -> None:
    provider = SyncKeyProvider(fast_config())
    results = run_threads(200, lambda: provider.get_keys(clerk.kid))
    assert all(isinstance(r, KeySet) for r in results), [
        r for r in results if not isinstance(r, KeySet)
    ][:3]
    assert clerk.jwks_hits == 1
    stats = provider.stats
    assert (stats.fetch_started, stats.fetch_ok) == (1, 1)
    provider.close()


def test_rotation_is_picked_up_after_the_cooldown(
    clerk: MockClerk, fast_config: MakeConfig, rotated_jwks: dict[str, Any]
) -> None:
    provider = SyncKeyProvider(fast_config(unknown_kid_cooldown=COOLDOWN))
    assert provider.warm_up()  # builds the client, which may take a while
    assert provider.warm_up()  # the last fetch: the cooldown counts from its start
    cooldown_ends = time.monotonic() + COOLDOWN  # a bound: the fetch began earlier
    old_kid = clerk.kid
    clerk.set_jwks(rotated_jwks)
    # Within the cooldown: the held set answers, and lacks the kid.
    with pytest.raises(TokenVerificationError) as info:
        provider.get_keys("ins_rotated").get("ins_rotated")
    assert info.value.reason == Reason.JWK_KID_MISMATCH
    time.sleep(max(cooldown_ends - time.monotonic(), 0.0))
    keys = provider.get_keys("ins_rotated")  # one refetch
    assert keys.get("ins_rotated").kid == "ins_rotated"
    with pytest.raises(TokenVerificationError):
        keys.get(old_kid)  # removed from the JWKS: gone with the refresh
    assert clerk.jwks_hits == 3
    assert provider.stats.suppressed_by_cooldown == 1
    provider.close()


def test_an_unknown_kid_forces_one_fetch_per_call_without_a_cooldown(
    clerk: MockClerk, fast_config: MakeConfig
) -> None:
    # No cooldown: every call may force a refresh, but one call makes one, not one per
    # round of the provider's loop.
    provider = SyncKeyProvider(fast_config(unknown_kid_cooldown=0.0))
    assert provider.warm_up()
    clerk.reset_hits()
    for calls in (1, 2, 3):
        keys = provider.get_keys("ins_never_published")
        assert keys.find("ins_never_published") is None
        assert clerk.jwks_hits == calls
    assert provider.stats.suppressed_by_cooldown == 0
    provider.close()


def test_outage_after_warm_up_keeps_keys_served(clerk: MockClerk, fast_config: MakeConfig) -> None:
    provider = SyncKeyProvider(fast_config(fresh_for=0.2, timeout=1.5))
    assert provider.warm_up()
    clerk.set_fault("slow", delay=5.0)  # the refresh hangs until its 1.5 s timeout
    time.sleep(0.25)  # the set is stale now
    results = run_threads(20, lambda: provider.get_keys(clerk.kid))
    assert all(isinstance(r, KeySet) for r in results)
    assert provider.stats.in_flight  # all answered while the refresh still hangs
    eventually(lambda: provider.stats.fetch_failed == 1)
    assert provider.get_keys(clerk.kid).get(clerk.kid)  # and after it failed
    stats = provider.stats
    assert stats.stale_served >= 21
    assert dict(stats.failures_by_reason) == {"timeout": 1}
    provider.close()


def test_slow_endpoint_waiters_give_up_at_their_deadline(
    clerk: MockClerk, fast_config: MakeConfig
) -> None:
    clerk.set_fault("slow", delay=5.0)
    # A ready client, so the timings measure the deadlines, not loading SSL contexts.
    client = httpx.Client()
    provider = SyncKeyProvider(fast_config(timeout=TIMEOUT), client=client)

    def timed() -> tuple[float, BaseException | None]:
        started = time.monotonic()
        try:
            provider.get_keys(clerk.kid)
        except KeyResolutionError as exc:
            return time.monotonic() - started, exc
        return time.monotonic() - started, None

    results = run_threads(50, timed)
    errors = [exc for _, exc in results]
    assert all(isinstance(e, KeyResolutionError) for e in errors)
    assert {e.reason for e in errors if isinstance(e, KeyResolutionError)} == {
        Reason.JWK_REMOTE_FAILED_TO_LOAD
    }
    assert {e.status for e in errors if isinstance(e, KeyResolutionError)} == {503}
    waits = sorted(elapsed for elapsed, _ in results)
    assert waits[-1] < TIMEOUT + 1.0, waits  # not the 5 s the endpoint takes
    assert waits[0] >= TIMEOUT - 0.05, waits
    assert clerk.jwks_hits == 1
    client.close()


@pytest.mark.parametrize(
    ("fault", "failure", "reason"),
    [
        ("oversized", "oversized", Reason.JWK_REMOTE_FAILED_TO_LOAD),
        ("oversized-stream", "oversized", Reason.JWK_REMOTE_FAILED_TO_LOAD),
        ("garbage", "invalid", Reason.JWK_REMOTE_INVALID),
        ("redirect", "redirect", Reason.JWK_REMOTE_FAILED_TO_LOAD),
        ("500", "http-status", Reason.JWK_REMOTE_FAILED_TO_LOAD),
        ("empty", "invalid", Reason.JWK_REMOTE_INVALID),
        ("bad-keys", "invalid", Reason.JWK_REMOTE_INVALID),
        ("down", "network", Reason.JWK_REMOTE_FAILED_TO_LOAD),
    ],
)
def test_bad_endpoints_fail_cleanly(
    clerk: MockClerk, fast_config: MakeConfig, fault: Any, failure: str, reason: str
) -> None:
    clerk.set_fault(fault)
    provider = SyncKeyProvider(fast_config())
    assert provider.warm_up() is False
    with pytest.raises(KeyResolutionError) as info:
        provider.get_keys(clerk.kid)
    assert info.value.reason == reason
    assert dict(provider.stats.failures_by_reason) == {failure: 1}
    assert REDIRECT_TARGET_PATH not in clerk.hits
    provider.close()


def test_redirect_is_not_followed_even_by_a_following_client(
    clerk: MockClerk, fast_config: MakeConfig
) -> None:
    clerk.set_fault("redirect")
    with httpx.Client(follow_redirects=True) as client:
        provider = SyncKeyProvider(fast_config(), client=client)
        assert provider.warm_up() is False
        provider.close()
        assert not client.is_closed  # a given client is the caller's to close
        assert provider._client is client  # and stays the one used
    assert REDIRECT_TARGET_PATH not in clerk.hits
    assert provider.stats.failures_by_reason == {"redirect": 1}


def test_warm_up_with_the_server_gone_returns_false(
    clerk: MockClerk, fast_config: MakeConfig
) -> None:
    provider = SyncKeyProvider(fast_config())
    clerk.stop()
    assert provider.warm_up() is False
    assert provider.stats.fetch_failed == 1


def test_wrong_secret_key_is_secret_key_invalid(clerk: MockClerk, fast_config: MakeConfig) -> None:
    config = clerk.config(secret_key="sk_test_wrongwrongwrong")
    provider = SyncKeyProvider(config)
    with pytest.raises(KeyResolutionError) as info:
        provider.get_keys(clerk.kid)
    assert (info.value.reason, info.value.status) == (Reason.SECRET_KEY_INVALID, 500)
    provider.close()


def test_public_jwks_needs_no_secret(clerk: MockClerk) -> None:
    config = ClerkConfig(
        jwks_url=clerk.jwks_url, issuer=clerk.issuer, authorized_parties=clerk.origin
    )
    provider = SyncKeyProvider(config)
    assert provider.get_keys(clerk.kid).get(clerk.kid)
    assert clerk.hits == {"/.well-known/jwks.json": 1}
    provider.close()


def test_revalidation_with_etag(clerk: MockClerk, fast_config: MakeConfig) -> None:
    provider = SyncKeyProvider(fast_config())
    assert provider.warm_up()
    assert provider.warm_up()  # sends If-None-Match, gets 304
    stats = provider.stats
    assert (stats.fetch_ok, stats.fetch_not_modified) == (1, 1)
    provider.close()


def test_one_background_refresh_for_many_stale_lookups(
    clerk: MockClerk, fast_config: MakeConfig
) -> None:
    provider = SyncKeyProvider(fast_config(fresh_for=0.2))
    assert provider.warm_up()
    clerk.cache_control = "max-age=600"  # the revalidated set lasts: one refresh only
    time.sleep(0.2)
    results = run_threads(50, lambda: provider.get_keys(clerk.kid))
    assert all(isinstance(r, KeySet) for r in results)
    # The refresh revalidates with If-None-Match: the mock answers 304.
    eventually(lambda: provider.stats.fetch_not_modified == 1)
    assert clerk.jwks_hits == 2
    provider.close()


def test_export_and_import_between_providers(clerk: MockClerk, fast_config: MakeConfig) -> None:
    first = SyncKeyProvider(fast_config())
    assert first.warm_up()
    state = first.export_state()
    second = SyncKeyProvider(fast_config())
    assert second.import_state(state)
    assert second.get_keys(clerk.kid).get(clerk.kid)
    assert clerk.jwks_hits == 1
    first.close()
    second.close()


def test_factory_and_context_manager(clerk: MockClerk, fast_config: MakeConfig) -> None:
    with key_provider(fast_config()) as provider:
        assert isinstance(provider, SyncKeyProvider)
        assert provider.get_keys(clerk.kid)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_fork_rebuilds_lock_and_client(clerk: MockClerk, fast_config: MakeConfig) -> None:
    provider = SyncKeyProvider(fast_config())
    assert provider.warm_up()
    parent_client, parent_lock = provider._client, provider._lock
    pid = os.fork()
    if pid == 0:  # the child: report through the exit status only
        code = 1
        try:
            checks = [
                provider._lock is not parent_lock,
                provider._client is None,  # dropped, not closed (the parent's sockets)
                provider.get_keys(clerk.kid).get(clerk.kid) is not None,  # cached set
                provider.warm_up(),  # a fetch with a new client
                provider._client is not parent_client,
            ]
            code = 0 if all(checks) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert clerk.jwks_hits == 2
    assert parent_client is not None
    assert not parent_client.is_closed
    assert provider.get_keys(clerk.kid)  # the parent still works
    provider.close()


def test_a_crashing_fetch_still_reports(
    clerk: MockClerk, fast_config: MakeConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = SyncKeyProvider(fast_config())

    def boom(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(provider, "_get", boom)
    with pytest.raises(KeyboardInterrupt):
        provider.get_keys(clerk.kid)
    assert provider.stats.fetch_cancelled == 1
    assert not provider.stats.in_flight
    monkeypatch.undo()
    assert provider.get_keys(clerk.kid)  # no backoff after a cancel
    provider.close()
