"""Key rotation under steady load, on real servers (spec key-rotation.md, "unknown
kid"): while a background loop sends valid requests, the mock issuer publishes new keys
and signs with them. Every request is answered ``200`` with the right user; each worker
fetches at most once per rotation (the first new-kid token forces one refresh, which the
worker's other requests wait for); no 5xx.

gunicorn runs with ``--preload`` here: the keys are fetched once in the master, before
``fork()``, and each worker must then fetch with an HTTP client of its own.
"""

from __future__ import annotations

import time

import pytest

from clerk_auth_core.testing import MockClerk

from .harness import LONG, serve
from .traffic import Steady

pytestmark = pytest.mark.slow

#: The cooldown is short so the test is quick; rotations are further apart than it, so
#: every worker may refresh for every rotation (else a new kid inside the cooldown is
#: refused with 401 jwk-kid-mismatch, which is the spec, and not what is tested here).
POLICY = {"unknown_kid_cooldown": 1.0}
ROTATIONS = 8 if LONG else 2
INTERVAL = 2.5  # seconds between rotations


@pytest.mark.parametrize(
    ("kind", "preload"),
    [("flask-gunicorn", True), ("starlette-uvicorn", False), ("django-gunicorn", True)],
    ids=["flask-gunicorn-preload", "starlette-uvicorn", "django-gunicorn-preload"],
)
def test_rotation_under_steady_load(clerk: MockClerk, kind: str, preload: bool) -> None:
    def make(n: int) -> tuple[str, str | None, str]:
        user = f"user_{n % 50}"
        kid = clerk.kid  # the signing key at the moment the token is minted
        return user, kid, clerk.mint(sub=user, kid=kid, lifetime=300)

    with serve(kind, clerk, policy=POLICY, warm_up=True, preload=preload) as server:
        url = server.url + "/me"
        start_hits = clerk.jwks_hits  # warm-up: the master's one fetch (or uvicorn's)
        time.sleep(POLICY["unknown_kid_cooldown"])  # the warm-up fetch is out of cooldown
        kids = [clerk.kid]
        max_seconds = ROTATIONS * INTERVAL + 20
        with Steady(url, make, threads=6, limit=50_000, max_seconds=max_seconds) as load:
            for _ in range(ROTATIONS):
                time.sleep(INTERVAL / 2)
                kids.append(clerk.rotate(keep_old=True))  # published, then used at once
                time.sleep(INTERVAL / 2)
            # Until each worker has answered a request with the newest key.
            last = kids[-1]
            load.wait_for(
                lambda: (
                    len({s.reply.pid for s in load.replies() if s.kid == last}) >= server.workers
                ),
                timeout=10,
            )
        sent = load.stop()
        workers = set(server.worker_pids())
    assert not load.errors, load.errors[:3]
    assert "Traceback" not in server.log()
    statuses = [s.reply.status for s in sent]
    assert not [s for s in statuses if s >= 500], "zero 5xx"
    wrong = [s for s in sent if (s.reply.status, s.reply.user_id) != (200, s.user_id)]
    assert not wrong, wrong[:5]
    # Tokens signed with every key, the newest included, were accepted by every worker.
    assert {s.kid for s in sent} == set(kids)
    assert {s.reply.pid for s in sent if s.kid == kids[-1]} == workers
    # Fetches: warm-up, then at most one per rotation per worker.
    assert start_hits == (1 if preload else server.workers)
    assert clerk.jwks_hits <= start_hits + server.workers * ROTATIONS
    assert len(server.final_stats) == server.workers
    for pid, stats in server.final_stats.items():
        # With --preload the warm-up fetch was the master's: a worker inherits the set
        # (and the counters) but starts its own fetches with its own client.
        assert stats["fetch_ok"] == stats["fetch_started"], (pid, stats)
        assert stats["fetch_started"] <= 1 + ROTATIONS, (pid, stats)
        assert stats["fetch_failed"] == 0, (pid, stats)
        assert stats["fetch_cancelled"] == 0, (pid, stats)
        assert stats["key_count"] == ROTATIONS + 1
    print(f"\n{kind}: {len(sent)} requests, {ROTATIONS} rotations, {clerk.jwks_hits} fetches")
