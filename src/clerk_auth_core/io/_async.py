""":class:`AsyncKeyProvider`: the JWKS cache for asyncio servers (Starlette, FastAPI).

Every fetch the machine asks for runs as its own task, so a request that is cancelled
(client gone) never cancels the fetch others wait for; requests wait on a future per
fetch and per event loop (``asyncio.wait``, which never cancels it), each with its own
deadline. The task always reports back in ``finally``. asyncio only: trio is not supported.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping

import httpx

from clerk_auth_core._config import ClerkConfig
from clerk_auth_core._jwks_decisions import (
    FetchTicket,
    StartFetch,
    UseKeys,
    UseKeysAndRefresh,
    WaitForFetch,
)
from clerk_auth_core._jwks_exchange import FetchFailure, FetchRequest
from clerk_auth_core._keys import KeySet

from ._clients import AsyncClients
from ._common import MAX_ROUNDS, ProviderBase, aread_capped, failure_for, httpx_timeout

__all__ = ["AsyncKeyProvider"]

_Loop = asyncio.AbstractEventLoop
_Result = tuple[int, Mapping[str, str], bytes]


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class AsyncKeyProvider(AsyncClients, ProviderBase):
    """Keys for one JWKS source in asyncio code, fetched with ``httpx.AsyncClient``.

    :param config: a configuration with a remote key source.
    :param client: an ``httpx.AsyncClient`` to use (you close it; it must belong to the
        event loop you call from). By default the provider makes one per event loop
        (connect 2 s, total 5 s, no redirects); :meth:`aclose` closes the current
        loop's.

    Safe to share between event loops (each waits on its own futures) and never blocks
    the loop: the only lock is held for microseconds around the state machine.
    """

    def __init__(self, config: ClerkConfig, *, client: httpx.AsyncClient | None = None) -> None:
        self._init_client(client)
        super().__init__(config)

    def _make_process_local(self) -> None:
        super()._make_process_local()
        self._forget_client()
        self._waiting: dict[int, dict[_Loop, asyncio.Future[None]]] = {}

    # -- the public face --------------------------------------------------------------

    async def get_keys(self, kid: str | None) -> KeySet:
        """The key set to verify a token naming ``kid`` with (may wait for a fetch).

        :raises KeyResolutionError: ``jwk-remote-failed-to-load`` (503) when no usable
            set can be had in time, ``secret-key-invalid`` (500) when Clerk refused the
            secret key.
        """
        self._check_fork()
        deadline: float | None = None
        after_fetch = False  # made or waited for one: no second forced refresh
        for _ in range(MAX_ROUNDS):
            with self._lock:
                now = time.monotonic()
                decision = self._machine.lookup(kid, now, after_fetch=after_fetch)
                if isinstance(decision, StartFetch | WaitForFetch):
                    done = self._future(self._seq_of(decision))
            if isinstance(decision, UseKeys):
                return decision.keys
            if isinstance(decision, UseKeysAndRefresh):
                self._spawn(decision.fetch)
                return decision.keys
            if isinstance(decision, StartFetch):
                self._spawn(decision.fetch)
                until = decision.fetch.expires_at
            elif isinstance(decision, WaitForFetch):
                if deadline is None:
                    deadline = now + decision.timeout
                until = deadline
            else:
                raise decision.error
            if not await self._wait(done, until):
                with self._lock:
                    raise self._machine.timeout_error(time.monotonic())
            after_fetch = True
        return self._last_resort()

    async def warm_up(self) -> bool:
        """Fetch the keys now (in a lifespan startup). Never raises when the endpoint
        is down.

        :returns: whether a usable key set is held and the last fetch succeeded.
        """
        self._check_fork()
        with self._lock:
            now = time.monotonic()
            decision = self._machine.refresh(now)
            if isinstance(decision, StartFetch | WaitForFetch):
                done = self._future(self._seq_of(decision))
        if isinstance(decision, StartFetch):
            self._spawn(decision.fetch)
            await self._wait(done, decision.fetch.expires_at)
        elif isinstance(decision, WaitForFetch):
            await self._wait(done, now + decision.timeout)
        return self._warm()

    # -- carrying out decisions -------------------------------------------------------

    @staticmethod
    def _seq_of(decision: StartFetch | WaitForFetch) -> int:
        return decision.fetch.seq if isinstance(decision, StartFetch) else decision.seq

    def _future(self, seq: int) -> asyncio.Future[None]:
        """This loop's future for fetch ``seq`` (call with the lock held)."""
        loop = asyncio.get_running_loop()
        waiting = self._waiting.setdefault(seq, {})
        future = waiting.get(loop)
        if future is None:
            future = waiting[loop] = loop.create_future()
        return future

    async def _wait(self, done: asyncio.Future[None], until: float) -> bool:
        # asyncio.wait, not wait_for(shield(...)): it never cancels the shared future,
        # and on Python <= 3.11 wait_for swallows a cancellation that arrives as the
        # future completes, which would leave a cancelled request running.
        await asyncio.wait((done,), timeout=max(until - time.monotonic(), 0.0))
        return done.done()

    def _spawn(self, ticket: FetchTicket) -> None:
        self._keep(asyncio.get_running_loop().create_task(self._fetch(ticket)))

    async def _fetch(self, ticket: FetchTicket) -> None:
        result: _Result | None = None
        failure, detail = FetchFailure.CANCELLED, ""
        try:
            with self._lock:
                request = self._machine.fetch_request(ticket)
            # The client first: loading its SSL context is not the endpoint's time.
            client = await self._http_client(timeout=httpx_timeout(request))
            result = await asyncio.wait_for(self._get(client, request), request.timeout)
        except Exception as exc:
            failure, detail = failure_for(exc)
        finally:
            # Always report, cancelled or not, and wake every loop's waiters.
            with self._lock:
                now = time.monotonic()
                if result is None:
                    self._machine.fetch_failed(ticket, failure, now, detail)
                else:
                    self._machine.fetch_succeeded(ticket, *result, now)
                waiting = self._waiting.pop(ticket.seq, {})
            self._release(waiting)

    @staticmethod
    def _release(waiting: dict[_Loop, asyncio.Future[None]]) -> None:
        current = asyncio.get_running_loop()
        for loop, future in waiting.items():
            if loop is current:
                _settle(future)
                continue
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits
                loop.call_soon_threadsafe(_settle, future)

    async def _get(self, client: httpx.AsyncClient, request: FetchRequest) -> _Result:
        async with client.stream(
            "GET",
            request.url,
            headers=list(request.headers),
            timeout=httpx_timeout(request),
            follow_redirects=False,  # spec: redirects are failures, even on a given client
        ) as response:
            body = b""
            if response.status_code == 200:
                body = await aread_capped(
                    response.headers, response.aiter_bytes(), request.max_body_bytes
                )
            return response.status_code, response.headers, body
