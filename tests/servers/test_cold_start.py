"""A key endpoint that fails before any key was ever fetched (spec key-rotation.md,
"cold start" and "failures"), on real servers: gunicorn + Flask and uvicorn + Starlette.

A token that passed the gate gets ``503`` with ``Retry-After`` and the reason the code
gives for the failure (``jwk-remote-invalid`` when the endpoint answered something that
is not a usable JWKS, ``jwk-remote-failed-to-load`` otherwise); a request without a
usable token gets its ``401`` without any fetch; each worker fetches at most as often
as its backoff allows.
"""

from __future__ import annotations

import math
import time

import pytest

from clerk_auth_core import Reason
from clerk_auth_core.testing import REDIRECT_TARGET_PATH, Fault, MockClerk

from .harness import KINDS, LONG, client, fetch_bound, get, serve
from .traffic import burst

pytestmark = pytest.mark.slow

FAILED, INVALID = Reason.JWK_REMOTE_FAILED_TO_LOAD, Reason.JWK_REMOTE_INVALID

#: What the code answers for each fault of the mock (key-rotation.md "transport" and
#: "response limits": a redirect, a non-200, an oversized body and a timeout are
#: failures to load; a 200 that is not a usable JWKS is an invalid one).
EXPECTED_REASON: dict[Fault, str] = {
    "down": FAILED,
    "slow": FAILED,
    "500": FAILED,
    "garbage": INVALID,
    "oversized": FAILED,
    "redirect": FAILED,
    "oversized-stream": FAILED,
    "empty": INVALID,
    "bad-keys": INVALID,
}
#: The short form runs the faults the task names; the long form every fault the mock has.
FAULTS: list[Fault] = list(EXPECTED_REASON) if LONG else list(EXPECTED_REASON)[:6]

#: Small numbers, so a test takes seconds: a fetch gives up after 0.5 s, a failure
#: backs off 0.4 s (±20 %) and the backoff does not grow, so each fault's round starts
#: with every worker free to fetch again.
POLICY = {"timeout": 0.5, "connect_timeout": 0.5, "backoff_initial": 0.4, "backoff_max": 0.4}
BURST = 12  # gunicorn: 3 workers × 4 threads


def _valid_tokens(clerk: MockClerk, n: int) -> list[str | None]:
    return [clerk.mint(sub=f"user_{i}", lifetime=300) for i in range(n)]


@pytest.mark.parametrize("kind", KINDS)
def test_requests_without_a_usable_token_never_fetch(clerk: MockClerk, kind: str) -> None:
    clerk.set_fault("down")
    hs256 = clerk.mint_raw({"alg": "HS256", "kid": clerk.kid}, {"sub": "x"}, signature=b"s" * 32)
    with serve(kind, clerk, policy=POLICY) as server, client() as http:
        url = server.url + "/me"
        replies = [get(http, url) for _ in range(10)]
        replies += [get(http, url, "not-a-jwt") for _ in range(5)]
        replies += [get(http, url, hs256) for _ in range(5)]
        public = get(http, server.url + "/public")
    assert [r.status for r in replies] == [401] * 20
    assert {r.reason for r in replies[:10]} == {Reason.SESSION_TOKEN_AND_UAT_MISSING}
    assert {r.www_authenticate for r in replies[:10]} == {"Bearer"}  # RFC 6750 §3: no error=
    assert {r.reason for r in replies[10:15]} == {Reason.TOKEN_INVALID}
    assert {r.reason for r in replies[15:]} == {Reason.TOKEN_INVALID_ALGORITHM}
    assert all('error="invalid_token"' in (r.www_authenticate or "") for r in replies[10:])
    assert public.status == 200
    assert clerk.jwks_hits == 0  # nothing about these requests may cause a fetch


@pytest.mark.parametrize("kind", KINDS)
def test_cold_start_with_a_failing_endpoint_answers_503(clerk: MockClerk, kind: str) -> None:
    redirected_before = clerk.hits.get(REDIRECT_TARGET_PATH, 0)
    with serve(kind, clerk, policy=POLICY) as server:
        url = server.url + "/me"
        for fault in FAULTS:
            clerk.set_fault(fault, delay=3.0)  # "slow": far beyond the 0.5 s timeout
            time.sleep(POLICY["backoff_max"] + 0.1)  # every worker's backoff is over
            clerk.reset_hits()
            started = time.monotonic()
            replies = burst(url, _valid_tokens(clerk, BURST))
            window = time.monotonic() - started
            hits = clerk.jwks_hits
            assert [r.status for r in replies] == [503] * BURST, fault
            assert {r.reason for r in replies} == {EXPECTED_REASON[fault]}, fault
            for reply in replies:
                # Retry-After: whole seconds until the backoff ends (at least 1).
                assert reply.retry_after is not None, fault
                assert 1 <= int(reply.retry_after) <= math.ceil(POLICY["backoff_max"]), fault
            # Each worker: one fetch at once, then one per backoff; no herd.
            assert 1 <= hits <= server.workers * fetch_bound(window, POLICY), (fault, hits)
        # The endpoint heals: the next request after the backoff fetches and is let in.
        clerk.set_fault(None)
        time.sleep(POLICY["backoff_max"] + 0.1)
        healed = burst(url, _valid_tokens(clerk, BURST))
    assert [(r.status, r.user_id) for r in healed] == [(200, f"user_{i}") for i in range(BURST)]
    # Spec "transport": redirects are never followed.
    assert clerk.hits.get(REDIRECT_TARGET_PATH, 0) == redirected_before
    assert "Traceback" not in server.log()
    # Every worker that answered left its counters: failures were counted, by reason.
    assert server.final_stats
    reasons: set[str] = set()
    for stats in server.final_stats.values():
        reasons |= set(stats["failures_by_reason"])
    assert reasons <= {"network", "timeout", "http-status", "invalid", "oversized", "redirect"}
    assert "redirect" in reasons
    assert "timeout" in reasons
