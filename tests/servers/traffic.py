"""Client traffic for the server tests: a burst of concurrent requests, and a steady
background loop. Both are bounded in count and in time, and stop by themselves."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .harness import Reply, client, get

__all__ = ["Sent", "Steady", "burst"]


@dataclass(frozen=True)
class Sent:
    """One request of the background loop: what was asked, when, and the reply."""

    user_id: str
    kid: str | None
    sent_at: float
    reply: Reply


def burst(url: str, tokens: Sequence[str | None], concurrency: int = 12) -> list[Reply]:
    """Send every token at once (``concurrency`` at a time), one request each."""
    with client() as http, ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(lambda token: get(http, url, token), tokens))


class Steady:
    """A background loop of requests with valid tokens, until :meth:`stop`, ``limit``
    requests or ``max_seconds``, whichever comes first.

    ``make(i)`` returns ``(user_id, kid, token)`` for request ``i``; each of the
    ``threads`` threads sends one request at a time, pausing ``pause`` seconds between.
    """

    def __init__(
        self,
        url: str,
        make: Callable[[int], tuple[str, str | None, str]],
        *,
        threads: int = 4,
        limit: int = 20_000,
        max_seconds: float = 60.0,
        pause: float = 0.0,
    ) -> None:
        self.url = url
        self.make = make
        self.limit = limit
        self.pause = pause
        self.sent: list[Sent] = []
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()
        self._count = 0
        self._stop = threading.Event()
        self._deadline = time.monotonic() + max_seconds
        self._threads = [
            threading.Thread(target=self._run, name=f"steady-{n}", daemon=True)
            for n in range(threads)
        ]

    def __enter__(self) -> Steady:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _next(self) -> int | None:
        with self._lock:
            if self._count >= self.limit:
                return None
            self._count += 1
            return self._count

    def _run(self) -> None:
        with client() as http:
            while not self._stop.is_set() and time.monotonic() < self._deadline:
                number = self._next()
                if number is None:
                    return
                user_id, kid, token = self.make(number)
                sent_at = time.monotonic()
                try:
                    reply = get(http, self.url, token)
                except Exception as exc:  # a refused connection is a finding, not a crash
                    self.errors.append(exc)
                    continue
                with self._lock:
                    self.sent.append(Sent(user_id, kid, sent_at, reply))
                if self.pause:
                    self._stop.wait(self.pause)

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Block until ``predicate()`` or ``timeout`` seconds pass; whether it held."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.02)
        return predicate()

    def replies(self) -> list[Sent]:
        """What was sent so far (a copy)."""
        with self._lock:
            return list(self.sent)

    def stop(self) -> list[Sent]:
        """Stop the loop and return everything it sent."""
        self._stop.set()
        for thread in self._threads:
            thread.join(15)
        assert not any(t.is_alive() for t in self._threads), "a traffic thread hung"
        return self.replies()
