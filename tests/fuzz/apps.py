"""The conformance drivers' small API, in process, behind one ``send`` function per
registered adapter: Flask's test client (testing mode), any ASGI app (Starlette,
FastAPI) through ``httpx.ASGITransport`` on an event loop of its own with the lifespan
run, any other WSGI app through ``httpx.WSGITransport``; Django (ASGI) and DRF (its WSGI
handler through werkzeug's test client) by openers of their own; and the bare core
(``authenticate_with`` + ``RequestState.answer``). An exception in an app propagates
(it fails the test) instead of becoming a 500 (Django's, through the
``got_request_exception`` signal)."""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from adapters import adapter_names, require
from clerk_auth_core import ClerkConfig, authenticate_with
from clerk_auth_core.io import key_provider
from conformance.drivers import load

__all__ = ["ADAPTERS", "Answer", "AsgiApp", "Send", "open_app"]

#: (status, headers, body) of one request.
Answer = tuple[int, list[tuple[str, str]], bytes]
#: ``send(path, headers)``; header values are ``str`` (Latin-1 on the wire).
Send = Callable[[str, list[tuple[str, str]]], Answer]

#: The registered adapters (tests/adapters.py), the bare core first.
ADAPTERS = tuple(adapter_names())


class AsgiApp:
    """An ASGI app on an event loop of its own: lifespan startup before the first
    request, shutdown on :meth:`stop`; requests through ``httpx.ASGITransport``
    (which re-raises an app exception rather than answering 500)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        )
        self._to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._lifespan: asyncio.Future[None] | None = None

    def _run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def start(self) -> None:
        async def startup() -> None:
            scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
            self._lifespan = asyncio.ensure_future(
                self.app(scope, self._to_app.get, self._from_app.put)
            )
            await self._to_app.put({"type": "lifespan.startup"})
            message = await asyncio.wait_for(self._from_app.get(), 10)
            assert message["type"] == "lifespan.startup.complete", message

        self._run(startup())

    def stop(self) -> None:
        async def shutdown() -> None:
            await self._to_app.put({"type": "lifespan.shutdown"})
            message = await asyncio.wait_for(self._from_app.get(), 10)
            assert message["type"] == "lifespan.shutdown.complete", message
            assert self._lifespan is not None
            await self._lifespan
            await self.client.aclose()

        try:
            self._run(shutdown())
        finally:
            self.loop.close()

    def get(self, path: str, headers: list[tuple[str, bytes]]) -> httpx.Response:
        return self._run(self.client.get(path, headers=headers))  # type: ignore[no-any-return]


@contextmanager
def _core(config: ClerkConfig) -> Iterator[Send]:
    source = key_provider(config)

    def send(path: str, headers: list[tuple[str, str]]) -> Answer:
        state = authenticate_with(source, headers, config=config, now=time.time())
        answer = state.answer()
        if answer is None:
            user = None if state.claims is None else state.claims.user_id
            return 200, [], json.dumps({"user_id": user}).encode()
        return answer.status, list(answer.headers), answer.body_bytes

    try:
        yield send
    finally:
        getattr(source, "close", lambda: None)()


@contextmanager
def _wsgi(app: Any) -> Iterator[Send]:
    # Any other WSGI app, through httpx's WSGI transport (which re-raises app errors).
    with httpx.Client(
        transport=httpx.WSGITransport(app=app), base_url="http://testserver"
    ) as client:

        def send(path: str, headers: list[tuple[str, str]]) -> Answer:
            encoded = [(n, v.encode("latin-1")) for n, v in headers]
            response = client.get(path, headers=encoded)
            return response.status_code, list(response.headers.items()), response.content

        yield send


@contextmanager
def _flask(app: Any) -> Iterator[Send]:
    # A Flask app: its test client (testing mode).
    app.testing = True  # an exception in a view propagates instead of becoming a 500
    client = app.test_client(use_cookies=False)  # send our Cookie header as it is

    def send(path: str, headers: list[tuple[str, str]]) -> Answer:
        response = client.get(path, headers=headers)
        return response.status_code, list(response.headers.items()), response.get_data()

    yield send


@contextmanager
def _asgi(asgi_app: Any) -> Iterator[Send]:
    app = AsgiApp(asgi_app)
    app.start()

    def send(path: str, headers: list[tuple[str, str]]) -> Answer:
        response = app.get(path, [(n, v.encode("latin-1")) for n, v in headers])
        return response.status_code, list(response.headers.items()), response.content

    try:
        yield send
    finally:
        app.stop()


@contextmanager
def _raising_django() -> Iterator[Callable[[], None]]:
    """``check()`` re-raises the exception a Django view or middleware raised (which
    Django's handler would have turned into a 500)."""
    from django.core.signals import got_request_exception

    raised: list[BaseException] = []

    def record(sender: Any, request: Any = None, **kwargs: Any) -> None:
        import sys

        error = sys.exc_info()[1]
        if error is not None:
            raised.append(error)

    def check() -> None:
        if raised:
            raise raised.pop()

    got_request_exception.connect(record, weak=False)
    try:
        yield check
    finally:
        got_request_exception.disconnect(record)


@contextmanager
def _django(config: ClerkConfig) -> Iterator[Send]:
    driver: Any = load("django")
    app, auths = driver.make_app(config)
    asgi = AsgiApp(driver.Lifespan(driver.asgi_handler(app), auths))
    asgi.start()
    with _raising_django() as check:

        def send(path: str, headers: list[tuple[str, str]]) -> Answer:
            response = asgi.get(path, [(n, v.encode("latin-1")) for n, v in headers])
            check()
            return response.status_code, list(response.headers.items()), response.content

        try:
            yield send
        finally:
            asgi.stop()


@contextmanager
def _drf(config: ClerkConfig) -> Iterator[Send]:
    from werkzeug.test import Client

    app, auths = load("drf").make_app(config)
    client = Client(load("django").wsgi_handler(app), use_cookies=False)  # our Cookie as is
    with _raising_django() as check:

        def send(path: str, headers: list[tuple[str, str]]) -> Answer:
            response = client.get(path, headers=headers)
            check()
            return response.status_code, list(response.headers.items()), response.get_data()

        try:
            yield send
        finally:
            for auth in auths:
                auth.close()


#: Adapters whose drivers need an opener of their own (no app of a kind found by shape).
_OPENERS: dict[str, Callable[[ClerkConfig], Any]] = {
    "core": _core,
    "django": _django,
    "drf": _drf,
}


def open_app(adapter: str, config: ClerkConfig) -> Any:
    """A context manager yielding ``send`` for ``adapter`` (one of :data:`ADAPTERS`):
    the driver's ``make_app`` in process, by the kind of app it makes (the bare core
    has none)."""
    require(adapter)
    opener = _OPENERS.get(adapter)
    if opener is not None:
        return opener(config)
    app = load(adapter).make_app(config)
    if hasattr(app, "test_client"):
        return _flask(app)
    if inspect.iscoroutinefunction(app) or inspect.iscoroutinefunction(type(app).__call__):
        return _asgi(app)
    return _wsgi(app)
