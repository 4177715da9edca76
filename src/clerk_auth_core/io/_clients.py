"""The HTTP clients of the network shells, once for all of them (key providers and
machine-token verifiers): how a client is made, shared, forgotten after a fork and
closed, and the context-manager faces that close it.

Threaded shells hold one ``httpx.Client``: the one given (the caller's to close), or
one made on first use (built outside the lock, since loading its SSL context reads
files and lookups answered from a cache must not wait for it). Asyncio shells hold one
``httpx.AsyncClient`` per event loop (a client belongs to the loop it was made in),
made in a worker thread for the same reason, and cancel that loop's tasks on close.
Neither follows redirects (a redirect is a failure, even on a given client).
"""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType
from typing import Any, TypeVar

import httpx

__all__ = ["AsyncClients", "SyncClients"]

_S = TypeVar("_S", bound="SyncClients")
_A = TypeVar("_A", bound="AsyncClients")
_Loop = asyncio.AbstractEventLoop


class SyncClients:
    """A threaded shell's ``httpx.Client`` (a base class: it needs ``self._lock``)."""

    _lock: threading.Lock

    def _init_client(self, client: httpx.Client | None) -> None:
        self._own_client = client is None
        self._client = client

    def _forget_client(self) -> None:
        # After a fork: not closed (its sockets are the parent's); rebuilt on use.
        if self._own_client:
            self._client = None

    def _http_client(self, **options: Any) -> httpx.Client:
        client = self._client
        if client is None:
            fresh = httpx.Client(follow_redirects=False, **options)
            with self._lock:
                if self._client is None:
                    self._client = fresh
                client = self._client
            if client is not fresh:
                fresh.close()  # another thread won the race
        return client

    def close(self) -> None:
        """Close this shell's own HTTP client (a given client is left open)."""
        if self._own_client:
            client, self._client = self._client, None
            if client is not None:
                client.close()

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClients:
    """An asyncio shell's ``httpx.AsyncClient`` per event loop, and its tasks (a base
    class: it needs ``self._lock``)."""

    _lock: threading.Lock

    def _init_client(self, client: httpx.AsyncClient | None) -> None:
        self._given_client = client

    def _forget_client(self) -> None:
        # (Re)built per process: the parent's clients and tasks are not this one's.
        self._clients: dict[_Loop, httpx.AsyncClient] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def _keep(self, task: asyncio.Task[None]) -> None:
        self._tasks.add(task)  # keep a reference, or the task may be collected
        task.add_done_callback(self._tasks.discard)

    async def _http_client(self, **options: Any) -> httpx.AsyncClient:
        if self._given_client is not None:
            return self._given_client
        loop = asyncio.get_running_loop()
        with self._lock:
            client = self._clients.get(loop)
        if client is None:
            fresh = await asyncio.to_thread(httpx.AsyncClient, follow_redirects=False, **options)
            with self._lock:
                for old in [old for old in self._clients if old.is_closed()]:
                    del self._clients[old]  # its connections died with its loop
                client = self._clients.setdefault(loop, fresh)
            if client is not fresh:
                await fresh.aclose()  # another task of this loop won the race
        return client

    async def aclose(self) -> None:
        """Cancel this loop's tasks (they report back) and close its own client."""
        loop = asyncio.get_running_loop()
        tasks = [task for task in self._tasks if task.get_loop() is loop]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with self._lock:
            client = self._clients.pop(loop, None)
        if client is not None:
            await client.aclose()

    async def __aenter__(self: _A) -> _A:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
