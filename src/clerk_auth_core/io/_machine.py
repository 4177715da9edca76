"""Opaque machine-token verifiers: the I/O shells around
:class:`~clerk_auth_core._machine_cache.MachineCache`.

They do what the cache decides and move bytes: one lock around the cache (never held
over the network), one Backend API POST per :class:`Call` (no retries), the waiters of
a flight released when it reports (always, in ``finally``). Timeouts as for the JWKS:
connect 2 s, 5 s in all. The request and the judgement of the answer are the core's
(:mod:`clerk_auth_core._machine_api`).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import weakref

import attrs
import httpx

from clerk_auth_core._errors import ClerkAuthError, Reason, TokenVerificationError
from clerk_auth_core._machine_api import (
    MachineConfig,
    MachineRequest,
    judge_machine_response,
    machine_verify_request,
)
from clerk_auth_core._machine_cache import (
    Call,
    Flight,
    Known,
    MachineCache,
    MachineCacheStats,
    Outcome,
    Wait,
    result_of,
    token_key,
)
from clerk_auth_core._machine_claims import MachineClaims
from clerk_auth_core._token_kinds import M2M_TOKEN, MACHINE_KINDS, opaque_kind

from ._async import AsyncKeyProvider
from ._clients import AsyncClients, SyncClients
from ._common import aread_capped, failure_for, read_capped

__all__ = ["AsyncMachineVerifier", "SyncMachineVerifier"]

_Loop = asyncio.AbstractEventLoop

_verifiers: weakref.WeakSet[_VerifierBase] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    # As io/_common.py does for key providers: no lock held by a parent's thread, no
    # flight of the parent's survives in the child.
    for verifier in list(_verifiers):
        verifier._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _timeout(request: MachineRequest) -> httpx.Timeout:
    return httpx.Timeout(request.timeout, connect=request.connect_timeout)


def _kind_of(token: str) -> str:
    kind = opaque_kind(token) if type(token) is str else None
    if kind is None:
        # JWT machine tokens are verified locally (verify_machine_jwt), sessions as
        # sessions: neither costs a Backend API call.
        raise TokenVerificationError(
            Reason.TOKEN_TYPE_MISMATCH, "The token is no opaque machine token."
        )
    return kind


class _VerifierBase:
    def __init__(self, config: MachineConfig) -> None:
        self.config = config
        self._cache = MachineCache(config)
        #: The kinds a credential is configured for.
        self._usable = frozenset(
            kind
            for kind in MACHINE_KINDS
            if (kind == M2M_TOKEN and config.machine_secret_key) or config.secret_key
        )
        self._make_process_local()
        _verifiers.add(self)

    def _make_process_local(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()

    def _after_fork(self) -> None:
        self._make_process_local()
        self._cache.forget_in_flight()

    def _check_fork(self) -> None:
        if os.getpid() != self._pid:
            self._after_fork()

    @property
    def stats(self) -> MachineCacheStats:
        """Calls, hits, refused hits, waits, backoffs, failures."""
        with self._lock:
            return attrs.evolve(self._cache.stats)

    @property
    def cached(self) -> int:
        """How many answers are remembered (at most ``config.max_entries``)."""
        with self._lock:
            return len(self._cache)

    def _judge(self, request: MachineRequest, status: int, body: bytes) -> Outcome:
        with self._lock:
            retry_after = self._cache.retry_after()
        try:
            return judge_machine_response(
                request.kind,
                status,
                body,
                now=time.time(),
                max_body_bytes=request.max_body_bytes,
                retry_after=retry_after,
            )
        except ClerkAuthError as exc:
            return exc


class SyncMachineVerifier(SyncClients, _VerifierBase):
    """Verify opaque machine tokens (``ak_``, ``mt_``, ``oat_``) from threaded code.

    :param config: the credentials and cache policy.
    :param client: an ``httpx.Client`` to use (you close it); by default the verifier
        makes its own and :meth:`close` closes it.

    Thread-safe and fork-safe; share one per process.
    """

    def __init__(self, config: MachineConfig, *, client: httpx.Client | None = None) -> None:
        self._init_client(client)
        super().__init__(config)

    def _make_process_local(self) -> None:
        super()._make_process_local()
        self._events: dict[int, threading.Event] = {}
        self._forget_client()

    def verify(self, token: str) -> MachineClaims:
        """The verified claims of an opaque machine token.

        :raises TokenVerificationError: 401: not an opaque machine token
            (``token-type-mismatch``), unknown (``token-invalid``), ``token-revoked``,
            ``token-expired``.
        :raises KeyResolutionError: 500 ``secret-key-invalid``; 503 ``unexpected-error``
            (:class:`MachineVerificationUnavailable`, with ``retry_after``).
        """
        # The hit first, written out: this is every request of a hot key. Only a
        # token that was called about is remembered, so no kind check is needed
        # here, and no fork check (a remembered answer is as good in a forked child).
        key = token_key(token) if type(token) is str else b""
        now = time.time()
        with self._lock:
            hit = self._cache.remembered(key, now)
            if hit is not None and type(hit.outcome) is MachineClaims:
                return hit.outcome
        if hit is not None:
            return hit.result()
        kind = _kind_of(token)
        if kind not in self._usable:
            self.config.credential_for(kind)  # raises: no key for it, refused before a call
        forked = False
        with self._lock:
            decision = self._cache.lookup(token, now, key=key)
            if isinstance(decision, Known):
                pass  # answered since (a flight ended, or the backoff)
            elif os.getpid() != self._pid:
                forked = True  # a fork the at-fork hook did not see
            elif isinstance(decision, Call):
                event = self._events[decision.flight.seq] = threading.Event()
            elif isinstance(decision, Wait):
                event = self._events[decision.flight.seq]
        if isinstance(decision, Known):
            return decision.result()
        if forked:
            self._after_fork()
            return self.verify(token)
        if isinstance(decision, Call):
            return self._call(decision.flight, token, kind, event)
        event.wait(decision.timeout)
        outcome = decision.flight.outcome
        if outcome is None:
            with self._lock:
                raise self._cache.abandoned(time.time())
        return result_of(outcome)

    def _call(self, flight: Flight, token: str, kind: str, event: threading.Event) -> MachineClaims:
        outcome: Outcome | None = None
        detail = "cancelled"
        try:
            request = machine_verify_request(token, kind, self.config)
            status, body = self._post(request)
            outcome = self._judge(request, status, body)
        except ClerkAuthError as exc:  # a configuration error: no key for this kind
            outcome = exc
        except Exception as exc:
            detail = failure_for(exc)[1]
        finally:
            with self._lock:
                if outcome is None:
                    outcome = self._cache.failed(flight, detail, time.time())
                else:
                    self._cache.finished(flight, outcome, time.time())
                self._events.pop(flight.seq, None)
            event.set()
        return result_of(outcome)

    def _post(self, request: MachineRequest) -> tuple[int, bytes]:
        client = self._http_client()
        deadline = time.monotonic() + request.timeout
        with client.stream(
            request.method,
            request.url,
            headers=list(request.headers),
            content=request.body,
            timeout=_timeout(request),
            follow_redirects=False,
        ) as response:
            body = b""
            if response.status_code == 200:
                body = read_capped(
                    response.headers, response.iter_bytes(), request.max_body_bytes, deadline
                )
            return response.status_code, body


class AsyncMachineVerifier(AsyncClients, _VerifierBase):
    """Verify opaque machine tokens from asyncio code (Starlette, FastAPI).

    Each Backend API call runs as its own task, so a cancelled request never cancels
    the call others wait for. May be shared between event loops.

    :param client: an ``httpx.AsyncClient`` to use (you close it; it must belong to the
        loop you call from); by default one per event loop, closed by :meth:`aclose`.
    """

    def __init__(self, config: MachineConfig, *, client: httpx.AsyncClient | None = None) -> None:
        self._init_client(client)
        super().__init__(config)

    def _make_process_local(self) -> None:
        super()._make_process_local()
        self._forget_client()
        self._waiting: dict[int, dict[_Loop, asyncio.Future[None]]] = {}

    async def verify(self, token: str) -> MachineClaims:
        """The verified claims of an opaque machine token (as
        :meth:`SyncMachineVerifier.verify`)."""
        key = token_key(token) if type(token) is str else b""
        now = time.time()
        with self._lock:  # the hit first, as in SyncMachineVerifier.verify
            hit = self._cache.remembered(key, now)
            if hit is not None and type(hit.outcome) is MachineClaims:
                return hit.outcome
        if hit is not None:
            return hit.result()
        kind = _kind_of(token)
        if kind not in self._usable:
            self.config.credential_for(kind)  # raises: no key for it, refused before a call
        self._check_fork()
        loop = asyncio.get_running_loop()
        with self._lock:
            decision = self._cache.lookup(token, now, key=key)
            if not isinstance(decision, Known):
                waiting = self._waiting.setdefault(decision.flight.seq, {})
                if loop not in waiting:
                    waiting[loop] = loop.create_future()
                done = waiting[loop]
        if isinstance(decision, Known):
            return decision.result()
        flight = decision.flight
        if isinstance(decision, Call):
            self._keep(loop.create_task(self._call(flight, token, kind)))
            timeout = self.config.timeout + 1.0
        else:
            timeout = decision.timeout
        # asyncio.wait never cancels the shared future (see io/_async.py).
        await asyncio.wait((done,), timeout=timeout)
        outcome = flight.outcome
        if outcome is None:
            with self._lock:
                raise self._cache.abandoned(time.time())
        return result_of(outcome)

    async def _call(self, flight: Flight, token: str, kind: str) -> None:
        outcome: Outcome | None = None
        detail = "cancelled"
        try:
            request = machine_verify_request(token, kind, self.config)
            client = await self._http_client()
            status, body = await asyncio.wait_for(self._post(client, request), request.timeout)
            outcome = self._judge(request, status, body)
        except ClerkAuthError as exc:
            outcome = exc
        except Exception as exc:
            detail = failure_for(exc)[1]
        finally:
            with self._lock:
                if outcome is None:
                    self._cache.failed(flight, detail, time.time())
                else:
                    self._cache.finished(flight, outcome, time.time())
                waiting = self._waiting.pop(flight.seq, {})
            AsyncKeyProvider._release(waiting)

    async def _post(self, client: httpx.AsyncClient, request: MachineRequest) -> tuple[int, bytes]:
        async with client.stream(
            request.method,
            request.url,
            headers=list(request.headers),
            content=request.body,
            timeout=_timeout(request),
            follow_redirects=False,
        ) as response:
            body = b""
            if response.status_code == 200:
                body = await aread_capped(
                    response.headers, response.aiter_bytes(), request.max_body_bytes
                )
            return response.status_code, body
