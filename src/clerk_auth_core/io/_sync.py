""":class:`SyncKeyProvider`: the JWKS cache for threaded servers (Flask, WSGI, workers).

The shell does what :class:`~clerk_auth_core._jwks.JwksCache` decides: one lock around
the machine (never held over the network), a condition the waiters block on with their
own deadlines, the fetch in the thread that was told to start it (or a daemon thread
for a background refresh), and always a report back, even when the fetch blows up.
"""

from __future__ import annotations

import threading
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

from ._clients import SyncClients
from ._common import MAX_ROUNDS, ProviderBase, failure_for, httpx_timeout, read_capped

__all__ = ["SyncKeyProvider", "send_fetch"]


def send_fetch(
    request: FetchRequest, client: httpx.Client | None = None
) -> tuple[int, Mapping[str, str], bytes]:
    """Send one JWKS fetch the core asked for: its status, headers and body (read with
    the request's cap, within its deadline; a body only for a 200). Redirects are not
    followed (spec: a redirect is a failure, even on a given client).

    :param client: reused as it is; by default one is made for this fetch and closed.
    :raises Exception: whatever httpx or the capped read raised;
        :func:`describe_failure` names it without quoting the exception's text.
    """
    if client is None:
        with httpx.Client(timeout=httpx_timeout(request), follow_redirects=False) as owned:
            return send_fetch(request, owned)
    # After making the client: its SSL context can take a while to load, and it is
    # not the endpoint's time.
    deadline = time.monotonic() + request.timeout
    with client.stream(
        "GET",
        request.url,
        headers=list(request.headers),
        timeout=httpx_timeout(request),
        follow_redirects=False,
    ) as response:
        body = b""
        if response.status_code == 200:
            body = read_capped(
                response.headers, response.iter_bytes(), request.max_body_bytes, deadline
            )
        return response.status_code, response.headers, body


class SyncKeyProvider(SyncClients, ProviderBase):
    """Thread-safe keys for one JWKS source, fetched with httpx.

    :param config: a configuration with a remote key source.
    :param client: an ``httpx.Client`` to use (you close it); by default the provider
        makes its own (connect 2 s, total 5 s, no redirects) and :meth:`close` closes it.

    Fork-safe: in a forked child (gunicorn ``--preload``) the lock, the condition and an
    owned client are rebuilt, and a fetch the parent had in flight is forgotten.
    """

    def __init__(self, config: ClerkConfig, *, client: httpx.Client | None = None) -> None:
        self._init_client(client)
        super().__init__(config)

    def _make_process_local(self) -> None:
        super()._make_process_local()
        self._cond = threading.Condition(self._lock)
        self._forget_client()

    # -- the public face --------------------------------------------------------------

    def get_keys(self, kid: str | None) -> KeySet:
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
                if isinstance(decision, WaitForFetch):
                    if deadline is None:
                        deadline = now + decision.timeout
                    if not self._wait(decision.seq, deadline):
                        raise self._machine.timeout_error(time.monotonic())
                    after_fetch = True
                    continue
            if isinstance(decision, UseKeys):
                return decision.keys
            if isinstance(decision, UseKeysAndRefresh):
                self._refresh_in_background(decision.fetch)
                return decision.keys
            if isinstance(decision, StartFetch):
                self._fetch(decision.fetch)
                after_fetch = True
                continue
            raise decision.error
        return self._last_resort()

    def warm_up(self) -> bool:
        """Fetch the keys now (at app start). Never raises when the endpoint is down.

        :returns: whether a usable key set is held and the last fetch succeeded.
        """
        self._check_fork()
        with self._lock:
            decision = self._machine.refresh(time.monotonic())
            if isinstance(decision, WaitForFetch):
                self._wait(decision.seq, time.monotonic() + decision.timeout)
        if isinstance(decision, StartFetch):
            self._fetch(decision.fetch)
        return self._warm()

    # -- carrying out decisions -------------------------------------------------------

    def _wait(self, seq: int, deadline: float) -> bool:
        """Block (lock held, released while waiting) until fetch ``seq`` is over."""
        return self._cond.wait_for(
            lambda: self._machine.in_flight_seq != seq,
            timeout=max(deadline - time.monotonic(), 0.0),
        )

    def _refresh_in_background(self, ticket: FetchTicket) -> None:
        thread = threading.Thread(
            target=self._fetch, args=(ticket,), name="clerk-auth-jwks-refresh", daemon=True
        )
        try:
            thread.start()
        except RuntimeError:  # interpreter shutting down, or no threads left
            self._report(ticket, None, FetchFailure.CANCELLED, "no thread")

    def _fetch(self, ticket: FetchTicket) -> None:
        result: tuple[int, Mapping[str, str], bytes] | None = None
        failure, detail = FetchFailure.CANCELLED, ""
        try:
            with self._lock:
                request = self._machine.fetch_request(ticket)
            result = self._get(request)
        except Exception as exc:
            failure, detail = failure_for(exc)
        finally:
            # Always report, even on KeyboardInterrupt, so waiters are released and
            # the machine does not wait for the ticket to expire.
            self._report(ticket, result, failure, detail)

    def _report(
        self,
        ticket: FetchTicket,
        result: tuple[int, Mapping[str, str], bytes] | None,
        failure: str,
        detail: str,
    ) -> None:
        with self._cond:
            now = time.monotonic()
            if result is None:
                self._machine.fetch_failed(ticket, failure, now, detail)
            else:
                self._machine.fetch_succeeded(ticket, *result, now)
            self._cond.notify_all()

    def _get(self, request: FetchRequest) -> tuple[int, Mapping[str, str], bytes]:
        return send_fetch(request, self._http_client(timeout=httpx_timeout(request)))
