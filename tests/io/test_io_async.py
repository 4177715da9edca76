"""AsyncKeyProvider against the mock issuer over real loopback HTTP (asyncio via anyio's
pytest plugin; no pytest-asyncio)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from clerk_auth_core import ClerkConfig, KeyResolutionError, KeySet, Reason, TokenVerificationError
from clerk_auth_core.io import AsyncKeyProvider, async_key_provider
from clerk_auth_core.testing import REDIRECT_TARGET_PATH, MockClerk

pytestmark = pytest.mark.anyio

MakeConfig = Callable[..., ClerkConfig]
TIMEOUT = 0.5
#: Long enough that a loaded machine does not outrun it between two lines.
COOLDOWN = 1.0


async def eventually(check: Callable[[], bool], within: float = 3.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


async def gather_all(count: int, make: Callable[[], Awaitable[Any]]) -> list[Any]:
    return await asyncio.gather(*(make() for _ in range(count)), return_exceptions=True)


async def test_200_tasks_cold_start_make_one_request(
    clerk: MockClerk, fast_config: MakeConfig
) -> None:
    provider = AsyncKeyProvider(fast_config())
    results = await gather_all(200, lambda: provider.get_keys(clerk.kid))
    assert all(isinstance(r, KeySet) for r in results)
    assert clerk.jwks_hits == 1
    assert (provider.stats.fetch_started, provider.stats.fetch_ok) == (1, 1)
    await provider.aclose()


async def test_slow_endpoint_waiters_give_up_at_their_deadline(
    clerk: MockClerk, fast_config: MakeConfig
) -> None:
    clerk.set_fault("slow", delay=5.0)
    # A ready client, so the timings measure the deadlines, not loading SSL contexts.
    client = httpx.AsyncClient()
    provider = AsyncKeyProvider(fast_config(timeout=TIMEOUT), client=client)

    async def timed() -> tuple[float, BaseException | None]:
        started = time.monotonic()
        try:
            await provider.get_keys(clerk.kid)
        except KeyResolutionError as exc:
            return time.monotonic() - started, exc
        return time.monotonic() - started, None

    results = await gather_all(50, timed)
    errors = [exc for _, exc in results]
    assert all(isinstance(e, KeyResolutionError) for e in errors)
    assert {e.reason for e in errors if isinstance(e, KeyResolutionError)} == {
        Reason.JWK_REMOTE_FAILED_TO_LOAD
    }
    waits = sorted(elapsed for elapsed, _ in results)
    assert waits[0] >= TIMEOUT - 0.05, waits
    assert waits[-1] < TIMEOUT + 1.0, waits  # not the 5 s the endpoint takes
    assert clerk.jwks_hits == 1
    await provider.aclose()
    await client.aclose()


async def test_a_cancelled_request_does_not_cancel_the_shared_fetch(
    clerk: MockClerk, fast_config: MakeConfig
) -> None:
    clerk.set_fault("slow", delay=0.2)
    provider = AsyncKeyProvider(fast_config())
    first = asyncio.ensure_future(provider.get_keys(clerk.kid))  # gets StartFetch
    await asyncio.sleep(0.05)
    second = asyncio.ensure_future(provider.get_keys(clerk.kid))  # waits for it
    await asyncio.sleep(0.01)
    first.cancel()
    keys = await asyncio.wait_for(second, 2.0)
    assert keys.get(clerk.kid)
    assert first.cancelled()
    assert clerk.jwks_hits == 1
    assert provider.stats.fetch_ok == 1
    await provider.aclose()


async def test_aclose_cancels_a_fetch_which_still_reports(
    clerk: MockClerk, fast_config: MakeConfig
) -> None:
    clerk.set_fault("slow", delay=5.0)
    provider = AsyncKeyProvider(fast_config(timeout=3.0))
    waiter = asyncio.ensure_future(provider.get_keys(clerk.kid))
    await asyncio.sleep(0.05)
    await provider.aclose()
    assert provider.stats.fetch_cancelled == 1
    # The cancelled fetch reported back, so the waiter woke at once (not at its
    # deadline) and, finding no keys, started a fetch of its own.
    assert provider.stats.fetch_started == 2
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    assert waiter.cancelled()
    await provider.aclose()
    stats = provider.stats
    assert (stats.fetch_cancelled, stats.in_flight, stats.fetch_failed) == (2, False, 0)


async def test_rotation_is_picked_up_after_the_cooldown(
    clerk: MockClerk, fast_config: MakeConfig, rotated_jwks: dict[str, Any]
) -> None:
    provider = AsyncKeyProvider(fast_config(unknown_kid_cooldown=COOLDOWN))
    assert await provider.warm_up()  # builds the client, which may take a while
    assert await provider.warm_up()  # the last fetch: the cooldown counts from its start
    cooldown_ends = time.monotonic() + COOLDOWN  # a bound: the fetch began earlier
    old_kid = clerk.kid
    clerk.set_jwks(rotated_jwks)
    # Within the cooldown: the held set answers, and lacks the kid.
    with pytest.raises(TokenVerificationError):
        (await provider.get_keys("ins_rotated")).get("ins_rotated")
    await asyncio.sleep(max(cooldown_ends - time.monotonic(), 0.0))
    keys = await provider.get_keys("ins_rotated")  # one refetch
    assert keys.get("ins_rotated").kid == "ins_rotated"
    with pytest.raises(TokenVerificationError):
        keys.get(old_kid)  # removed from the JWKS: gone with the refresh
    assert clerk.jwks_hits == 3
    await provider.aclose()


async def test_an_unknown_kid_forces_one_fetch_per_call_without_a_cooldown(
    clerk: MockClerk, fast_config: MakeConfig
) -> None:
    # No cooldown: every call may force a refresh, but one call makes one, not one per
    # round of the provider's loop.
    provider = AsyncKeyProvider(fast_config(unknown_kid_cooldown=0.0))
    assert await provider.warm_up()
    clerk.reset_hits()
    for calls in (1, 2, 3):
        keys = await provider.get_keys("ins_never_published")
        assert keys.find("ins_never_published") is None
        assert clerk.jwks_hits == calls
    assert provider.stats.suppressed_by_cooldown == 0
    await provider.aclose()


async def test_outage_after_warm_up_keeps_keys_served(
    clerk: MockClerk, fast_config: MakeConfig
) -> None:
    provider = AsyncKeyProvider(fast_config(fresh_for=0.2, timeout=1.5))
    assert await provider.warm_up()
    clerk.set_fault("slow", delay=5.0)  # the refresh hangs until its 1.5 s timeout
    await asyncio.sleep(0.25)
    results = await gather_all(20, lambda: provider.get_keys(clerk.kid))
    assert all(isinstance(r, KeySet) for r in results)
    assert provider.stats.in_flight  # all answered while the refresh still hangs
    await eventually(lambda: provider.stats.fetch_failed == 1)
    assert (await provider.get_keys(clerk.kid)).get(clerk.kid)
    assert provider.stats.stale_served >= 21
    assert dict(provider.stats.failures_by_reason) == {"timeout": 1}
    await provider.aclose()


@pytest.mark.parametrize(
    ("fault", "failure"),
    [
        ("oversized", "oversized"),
        ("oversized-stream", "oversized"),
        ("garbage", "invalid"),
        ("redirect", "redirect"),
        ("down", "network"),
        ("bad-keys", "invalid"),
    ],
)
async def test_bad_endpoints_fail_cleanly(
    clerk: MockClerk, fast_config: MakeConfig, fault: Any, failure: str
) -> None:
    clerk.set_fault(fault)
    provider = AsyncKeyProvider(fast_config())
    assert await provider.warm_up() is False
    with pytest.raises(KeyResolutionError):
        await provider.get_keys(clerk.kid)
    assert dict(provider.stats.failures_by_reason) == {failure: 1}
    assert REDIRECT_TARGET_PATH not in clerk.hits
    await provider.aclose()


async def test_warm_up_with_the_server_gone_returns_false(
    clerk: MockClerk, fast_config: MakeConfig
) -> None:
    provider = AsyncKeyProvider(fast_config())
    clerk.stop()
    assert await provider.warm_up() is False
    await provider.aclose()


async def test_given_client_is_used_and_left_open(
    clerk: MockClerk, fast_config: MakeConfig
) -> None:
    async with httpx.AsyncClient(follow_redirects=True) as client:
        async with async_key_provider(fast_config(), client=client) as provider:
            assert isinstance(provider, AsyncKeyProvider)
            assert (await provider.get_keys(clerk.kid)).get(clerk.kid)
        assert not client.is_closed


def test_one_provider_many_event_loops(clerk: MockClerk, fast_config: MakeConfig) -> None:
    provider = AsyncKeyProvider(fast_config(fresh_for=0.2))
    # One loop after another (asyncio.run per call): a client per loop.
    for _ in range(3):
        assert asyncio.run(provider.get_keys(clerk.kid)).get(clerk.kid)
        time.sleep(0.2)
    # Loops in several threads at once, cold: one fetch, waiters woken across loops.
    cold = AsyncKeyProvider(fast_config())
    clerk.reset_hits()
    results: list[Any] = []
    barrier = threading.Barrier(4)

    def in_thread() -> None:
        async def many() -> list[Any]:
            barrier.wait()
            return await gather_all(25, lambda: cold.get_keys(clerk.kid))

        results.extend(asyncio.run(many()))

    threads = [threading.Thread(target=in_thread) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(results) == 100
    assert all(isinstance(r, KeySet) for r in results)
    assert clerk.jwks_hits == 1


async def test_building_the_client_does_not_block_the_loop(
    clerk: MockClerk, fast_config: MakeConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = httpx.AsyncClient

    def slow_client(*args: Any, **kwargs: Any) -> httpx.AsyncClient:
        time.sleep(0.3)  # loading a CA bundle from a slow disk: blocking file I/O
        return real(*args, **kwargs)

    monkeypatch.setattr(httpx, "AsyncClient", slow_client)
    provider = AsyncKeyProvider(fast_config())
    gaps: list[float] = []

    async def ticker() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            gaps.append(time.monotonic() - last)
            last = time.monotonic()

    ticking = asyncio.ensure_future(ticker())
    assert await provider.warm_up()
    ticking.cancel()
    await asyncio.gather(ticking, return_exceptions=True)
    assert len(gaps) > 10
    assert max(gaps) < 0.2, max(gaps)
    await provider.aclose()
