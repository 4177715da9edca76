"""Machine tokens (issue 14): a JWT machine token's first sight beside a session
token's, an opaque API key answered from the verifier's cache, a sessions-only route
given machine tokens (refused by kind), and an opaque token's first sight through the
request path beside the bare loopback round trip to the mock's Backend API.

Each verifier is checked before it is timed: the M2M JWTs verify with the right
``sub``, the session tokens too, the API keys verify once (the cache-hit batches must
then make no call, which is checked after the run), the refused tokens are refused
with ``token-type-mismatch``, and the first-sight route signs the key in.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import httpx

from clerk_auth_core import (
    AcceptsToken,
    ClerkConfig,
    TokenVerificationError,
    authenticate_with,
    verify_machine_jwt,
    verify_token,
)
from clerk_auth_core._machine_api import machine_verify_request
from clerk_auth_core.io import StaticKeyProvider, SyncMachineVerifier

from ._fixtures import AZP, Fixtures, copies
from ._timing import Candidate
from ._verifiers import BenchmarkError

__all__ = [
    "M2M_FIRST",
    "OPAQUE_FIRST",
    "OPAQUE_CPU",
    "OPAQUE_HIT",
    "ROUND_TRIP",
    "NO_TOKEN_FLOOR",
    "SESSIONS_KIND",
    "SESSIONS_ROUTE_JWT",
    "SESSIONS_ROUTE_OPAQUE",
    "SESSION_FIRST",
    "machine_candidates",
    "route_candidates",
]

SESSION_FIRST = "session token, first sight (cache off)"
M2M_FIRST = "M2M JWT, first sight"
OPAQUE_HIT = "opaque API key, cache hit"
SESSIONS_KIND = "sessions-only verify_token, opaque machine token"
SESSIONS_ROUTE_OPAQUE = "sessions-only route, opaque machine token (request path)"
SESSIONS_ROUTE_JWT = "sessions-only route, M2M JWT (request path)"
NO_TOKEN_FLOOR = "any route, no token at all (the request path's floor)"
OPAQUE_FIRST = "api_key route, opaque key first sight (request path, cache_ttl=0)"
ROUND_TRIP = "bare POST to the mock's /api_keys/verify (loopback round trip)"
OPAQUE_CPU = "api_key route, opaque key first sight, the answer given (no socket)"


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


def route_candidates(fx: Fixtures, n: int) -> tuple[list[Candidate], list[Any]]:
    """A sessions-only route given machine tokens, and an opaque key's first sight
    through the request path beside the bare round trip; and what to close."""
    off = ClerkConfig(
        jwt_key=fx.pem, issuer=fx.issuer, authorized_parties=[AZP], token_cache_size=0
    )
    assert off.static_keys is not None
    source = StaticKeyProvider(off.static_keys)
    machine = fx.clerk.machine
    opaque = [
        [("authorization", f"Bearer {t}")]
        for t in [machine.mint_api_key() for _ in range(n // 2)]
        + [machine.mint_m2m_token() for _ in range(n - n // 2)]
    ]
    jwts = [[("authorization", f"Bearer {machine.mint_m2m_jwt()}")] for _ in range(n)]
    for headers in opaque + jwts:
        state = authenticate_with(source, headers, config=off, now=time.time())
        if state.reason != "token-type-mismatch":
            raise BenchmarkError(f"a sessions-only route answered {state.reason}")
    bare = [headers[0][1].removeprefix("Bearer ") for headers in opaque]
    for token in bare:
        try:
            verify_token(token, off.static_keys, off, now=time.time())
        except TokenVerificationError as exc:
            if exc.reason != "token-type-mismatch":
                raise BenchmarkError(f"verify_token answered {exc.reason}") from None
        else:
            raise BenchmarkError("verify_token accepted a machine token")
    nothing: list[list[tuple[str, str]]] = [[("accept", "application/json")]] * n

    # cache_ttl=0: every verification is a first sight (one Backend API call each).
    mconfig = machine.config(cache_ttl=0)
    verifier = SyncMachineVerifier(mconfig)
    online = fx.clerk.config(authorized_parties=[AZP], token_cache_size=0)
    accepts = AcceptsToken("api_key")
    keys = [machine.mint_api_key(subject=f"user_f{i}") for i in range(32)]
    first = [[("authorization", f"Bearer {k}")] for k in keys]
    for i, headers in enumerate(first):
        state = authenticate_with(
            source, headers, config=online, now=time.time(), accepts=accepts, machine=verifier
        )
        if state.verified is None or state.verified.subject != f"user_f{i}":
            raise BenchmarkError(f"the api_key route answered {state.reason}")
    client = httpx.Client()
    requests = [machine_verify_request(k, "api_key", mconfig) for k in keys]
    for request in requests:
        answer = client.post(request.url, headers=list(request.headers), content=request.body)
        if answer.status_code != 200:
            raise BenchmarkError(f"the mock's verify endpoint answered {answer.status_code}")

    # The same first sight with the Backend API's answer handed over in-process: what
    # the verifier itself costs, without the socket or the mock's thread (which shares
    # this process's GIL and so slows whatever runs beside it).
    answer0 = verifier._post(requests[0])
    offline = SyncMachineVerifier(mconfig)
    offline._post = lambda request: answer0  # type: ignore[method-assign]

    def cpu_only() -> Any:
        one = first[:1] * len(first)

        def batch() -> None:
            for headers in one:
                authenticate_with(
                    source, headers, config=online, now=time.time(), accepts=accepts,
                    machine=offline,
                )  # fmt: skip

        return batch

    def refused(batch_of: list[Any]) -> Any:
        def prepare() -> Any:
            def batch() -> None:
                for headers in batch_of:
                    authenticate_with(source, headers, config=off, now=time.time())

            return batch

        return prepare

    def by_kind() -> Any:
        fresh = copies(bare)
        keyset = off.static_keys

        def batch() -> None:
            for token in fresh:
                with contextlib.suppress(TokenVerificationError):
                    verify_token(token, keyset, off, now=time.time())

        return batch

    def first_sight() -> Any:
        def batch() -> None:
            for headers in first:
                authenticate_with(
                    source,
                    headers,
                    config=online,
                    now=time.time(),
                    accepts=accepts,
                    machine=verifier,
                )

        return batch

    def round_trip() -> Any:
        # As the verifier sends it (a stream, the body read), with nothing around it.
        def batch() -> None:
            for request in requests:
                with client.stream(
                    request.method, request.url, headers=list(request.headers),
                    content=request.body, follow_redirects=False,
                ) as answer:  # fmt: skip
                    answer.read()

        return batch

    return [
        Candidate(SESSIONS_KIND, by_kind, len(bare), note="refused by kind"),
        Candidate(SESSIONS_ROUTE_OPAQUE, refused(opaque), len(opaque), note="refused by kind"),
        Candidate(SESSIONS_ROUTE_JWT, refused(jwts), len(jwts), note="refused by the gate"),
        Candidate(NO_TOKEN_FLOOR, refused(nothing), len(nothing), note="401, no token"),
        Candidate(OPAQUE_FIRST, first_sight, len(first), note="one Backend API call each"),
        Candidate(ROUND_TRIP, round_trip, len(requests), note="httpx, same requests"),
        Candidate(OPAQUE_CPU, cpu_only, len(first), note="the verifier's own work"),
    ], [verifier, offline, client]
