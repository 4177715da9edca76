"""Machine tokens (issue 14): a JWT machine token's first sight beside a session
token's, and an opaque API key answered from the verifier's cache.

Each verifier is checked before it is timed: the M2M JWTs verify with the right
``sub``, the session tokens too, and the API key verifies once (the only Backend API
call; the timed batches must make none, which is checked after the run).
"""

from __future__ import annotations

import time
from typing import Any

from clerk_auth_core import ClerkConfig, verify_machine_jwt, verify_token
from clerk_auth_core.io import SyncMachineVerifier

from ._fixtures import AZP, Fixtures, copies
from ._timing import Candidate
from ._verifiers import BenchmarkError

__all__ = ["M2M_FIRST", "OPAQUE_HIT", "SESSION_FIRST", "machine_candidates"]

SESSION_FIRST = "session token, first sight (cache off)"
M2M_FIRST = "M2M JWT, first sight"
OPAQUE_HIT = "opaque API key, cache hit"


def machine_candidates(fx: Fixtures, n: int) -> tuple[list[Candidate], SyncMachineVerifier]:
    """The three candidates, and the verifier (close it; its stats tell the calls)."""
    off = ClerkConfig(
        jwt_key=fx.pem, issuer=fx.issuer, authorized_parties=[AZP], token_cache_size=0
    )
    keys = off.static_keys
    sessions = fx.tokens[:n]
    m2m = [fx.clerk.machine.mint_m2m_jwt(subject=f"mch_bench{i:05d}") for i in range(n)]
    now = time.time()
    for i, token in enumerate(m2m):
        if verify_machine_jwt(token, keys, off, now=now).subject != f"mch_bench{i:05d}":
            raise BenchmarkError("verify_machine_jwt answered the wrong subject")
    for token, sub in zip(sessions, fx.subs, strict=False):
        if verify_token(token, keys, off, now=now).user_id != sub:
            raise BenchmarkError("verify_token answered the wrong subject")
    verifier = SyncMachineVerifier(fx.clerk.machine.config())
    api_keys = [fx.clerk.machine.mint_api_key(subject=f"user_k{i}") for i in range(32)]
    for i, key in enumerate(api_keys):
        if verifier.verify(key).subject != f"user_k{i}":
            raise BenchmarkError("the machine verifier answered the wrong subject")

    def session_batch() -> Any:
        fresh = copies(sessions)

        def batch() -> None:
            for token in fresh:
                verify_token(token, keys, off, now=time.time())

        return batch

    def m2m_batch() -> Any:
        fresh = copies(m2m)

        def batch() -> None:
            for token in fresh:
                verify_machine_jwt(token, keys, off, now=time.time())

        return batch

    def hit_batch() -> Any:
        fresh = copies(api_keys)

        def batch() -> None:
            for key in fresh:
                verifier.verify(key)

        return batch

    return [
        Candidate(SESSION_FIRST, session_batch, len(sessions)),
        Candidate(M2M_FIRST, m2m_batch, len(m2m)),
        Candidate(OPAQUE_HIT, hit_batch, len(api_keys), note="no network call"),
    ], verifier
