"""The key endpoint fails *after* the keys were fetched (spec key-rotation.md,
"stale-if-error"): on real servers, valid tokens keep getting ``200`` from the last good
set past its freshness, while each worker retries no more often than its backoff.

The set is made fresh for only 0.5 s, so within a second of warm-up every lookup is a
stale one that wants a refresh: the test covers the stale path, not just a fresh cache.
"""

from __future__ import annotations

import time

import pytest

from clerk_auth_core import Reason
from clerk_auth_core.testing import MockClerk

from .harness import KINDS, LONG, fetch_bound, serve
from .test_cold_start import FAULTS
from .traffic import Steady, burst

pytestmark = pytest.mark.slow

POLICY = {
    "fresh_for": 0.5,
    "timeout": 0.5,
    "connect_timeout": 0.5,
    "backoff_initial": 0.25,
    "backoff_max": 1.0,
}
ROUND = 2.0 if LONG else 0.7  # seconds of traffic per fault


@pytest.mark.parametrize("kind", KINDS)
def test_valid_tokens_stay_accepted_while_the_endpoint_fails(clerk: MockClerk, kind: str) -> None:
    users = [f"user_{i}" for i in range(20)]
    tokens = {user: clerk.mint(sub=user, lifetime=600) for user in users}

    def make(n: int) -> tuple[str, str | None, str]:
        user = users[n % len(users)]
        return user, clerk.kid, tokens[user]

    with serve(kind, clerk, policy=POLICY, warm_up=True) as server:
        url = server.url + "/me"
        time.sleep(POLICY["fresh_for"])  # past freshness: what is served now is stale
        outage_hits = 0
        for fault in FAULTS:
            clerk.set_fault(fault, delay=3.0)
            clerk.reset_hits()
            started = time.monotonic()
            with Steady(url, make, threads=4, limit=5_000, max_seconds=ROUND + 5) as load:
                time.sleep(ROUND)
            sent = load.stop()
            window = time.monotonic() - started
            hits = clerk.jwks_hits
            outage_hits += hits
            assert not load.errors, (fault, load.errors[:3])
            assert sent, fault
            wrong = [s for s in sent if (s.reply.status, s.reply.user_id) != (200, s.user_id)]
            assert not wrong, (fault, wrong[:3])
            # One fetch may have been in flight when the fault began; then the backoff.
            bound = server.workers * (1 + fetch_bound(window, POLICY))
            assert hits <= bound, (fault, hits, bound)
        # Spec §3 "edge cases, pinned": an unknown kid while the endpoint fails and no
        # refresh can be made is "keys unavailable", not a bad token (it may carry a
        # freshly rotated key): 503 with Retry-After.
        old_kid = clerk.kid
        rotated = clerk.rotate(keep_old=True)
        clerk.set_fault("down")
        replies = burst(url, [clerk.mint(sub="user_new", kid=rotated) for _ in range(12)])
        assert {(r.status, r.reason) for r in replies} == {(503, Reason.JWK_REMOTE_FAILED_TO_LOAD)}
        assert all(r.retry_after and int(r.retry_after) >= 1 for r in replies)
        # The endpoint heals. Requests with known kids start the refresh the stale set
        # is due for once the backoff (≤ 1 s) ends; then the new kid is known too. Each
        # worker heals on its own: go on until every one has answered a new-kid token
        # (the kernel spreads connections, so a single good burst may miss a worker).
        clerk.set_fault(None)
        deadline = time.monotonic() + POLICY["backoff_max"] * 2 + 5
        healed: list[tuple[int, str | None]] = []
        expected = [(200, "user_old"), (200, "user_new")] * 6
        knows_new: set[int | None] = set()
        workers = set(server.worker_pids())
        while time.monotonic() < deadline:
            mixed = [clerk.mint(sub="user_old", kid=old_kid), clerk.mint(sub="user_new")] * 6
            replies = burst(url, mixed)
            healed = [(r.status, r.user_id) for r in replies]
            knows_new |= {r.pid for r in replies if (r.status, r.user_id) == (200, "user_new")}
            if healed == expected and workers <= knows_new:
                break
            time.sleep(0.1)
        assert healed == expected
        assert workers <= knows_new, (workers, knows_new)
    assert "Traceback" not in server.log()
    assert len(server.final_stats) == server.workers
    for stats in server.final_stats.values():
        # Stale uses were counted, failures too, and the last fetch succeeded.
        assert stats["stale_served"] > 0
        assert stats["fetch_failed"] > 0
        assert stats["consecutive_failures"] == 0
        assert stats["key_count"] == 2
    print(f"\n{kind}: {outage_hits} JWKS fetches over {len(FAULTS)} faulty rounds")


def test_new_kid_tokens_recover_after_the_backoff_not_the_cooldown(clerk: MockClerk) -> None:
    # uvicorn: one process, one key cache, so every step below reaches it.
    with serve("starlette-uvicorn", clerk, policy=POLICY, warm_up=True) as server:
        url = server.url + "/me"
        time.sleep(POLICY["fresh_for"])  # the set is stale: a refresh is due
        clerk.set_fault("down")
        first = burst(url, [clerk.mint(sub="user_old", lifetime=300)] * 4)
        assert {r.status for r in first} == {200}  # stale-if-error; the refresh failed
        rotated = clerk.rotate(keep_old=True)
        clerk.set_fault(None)  # healed, with the new key published
        time.sleep(POLICY["backoff_max"] + 0.2)  # the backoff is over
        # Only new tokens now (every client's token was re-minted with the new key).
        replies = burst(url, [clerk.mint(sub="user_new", kid=rotated)] * 4)
        # Wrong today: 503 jwk-remote-failed-to-load, Retry-After ≈ 30 (the cooldown).
        assert [(r.status, r.user_id) for r in replies] == [(200, "user_new")] * 4, [
            (r.status, r.reason, r.retry_after) for r in replies
        ]
