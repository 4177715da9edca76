"""Serving on loopback: werkzeug for WSGI, uvicorn for ASGI, each in a daemon thread.

Every server binds ``127.0.0.1`` on a free port chosen by the OS, logs nothing per
request, and stops within a few seconds when its ``with`` block ends (Ctrl-C included).
:class:`RequestLog` wraps an app to record what each API was asked and answered, so the
demo can show the CORS preflights a browser sends on its own.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from werkzeug.serving import WSGIRequestHandler, make_server

__all__ = ["RequestLog", "serve_asgi", "serve_wsgi"]

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
ASGIApp = Callable[..., Any]

#: How long a server may take to start or to stop.
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        """No line per request: the demo prints its own table."""


@contextmanager
def serve_wsgi(app: WSGIApp) -> Iterator[str]:
    """Serve a WSGI app with werkzeug's threaded server; yields ``http://127.0.0.1:PORT``."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="demo-wsgi", daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.socket.getsockname()[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(STOP_TIMEOUT)


@contextmanager
def serve_asgi(app: ASGIApp) -> Iterator[str]:
    """Serve an ASGI app with uvicorn (lifespan on); yields ``http://127.0.0.1:PORT``."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        lifespan="on",
        log_level="warning",
        access_log=False,
        ws="none",  # the APIs serve no websockets
        # A browser keeps connections open; do not wait for it at Ctrl-C.
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    # uvicorn installs signal handlers only in the main thread: Ctrl-C stays ours.
    thread = threading.Thread(target=server.run, name="demo-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(STOP_TIMEOUT)


class RequestLog:
    """What the APIs were asked and answered (the last 500 requests), thread-safe.

    Each entry: ``seq``, ``api``, ``method``, ``path``, ``origin``, the preflight's
    ``request_method`` / ``request_headers``, whether an ``Authorization`` header came,
    the ``status`` and the CORS answer (``allow_origin``, ``allow_headers``).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=500)
        self._seq = itertools.count(1)

    def add(self, api: str, request: dict[str, str], status: int, response: dict[str, str]) -> None:
        """Record one request (header names lower-case)."""
        entry = {
            "api": api,
            "method": request.get(":method", ""),
            "path": request.get(":path", ""),
            "origin": request.get("origin"),
            "request_method": request.get("access-control-request-method"),
            "request_headers": request.get("access-control-request-headers"),
            "authorization": "authorization" in request,
            "status": status,
            "allow_origin": response.get("access-control-allow-origin"),
            "allow_headers": response.get("access-control-allow-headers"),
        }
        with self._lock:
            entry["seq"] = next(self._seq)
            self._entries.append(entry)

    def entries(self, since: int = 0) -> list[dict[str, Any]]:
        """The entries after sequence number ``since``, oldest first."""
        with self._lock:
            return [dict(e) for e in self._entries if e["seq"] > since]

    def preflights(self, api: str | None = None) -> list[dict[str, Any]]:
        """The CORS preflights (``OPTIONS`` with ``Access-Control-Request-Method``)."""
        return [
            e
            for e in self.entries()
            if e["method"] == "OPTIONS" and e["request_method"] and api in (None, e["api"])
        ]

    def wsgi(self, app: WSGIApp, api: str) -> WSGIApp:
        """``app``, recording each request under the name ``api``."""

        def logged(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            request = {
                k[5:].replace("_", "-").lower(): str(v)
                for k, v in environ.items()
                if k.startswith("HTTP_")
            }
            request[":method"] = environ["REQUEST_METHOD"]
            request[":path"] = environ.get("PATH_INFO", "")

            def recording_start(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
                response = {name.lower(): value for name, value in headers}
                self.add(api, request, int(status.split()[0]), response)
                return start_response(status, headers, *exc)

            return app(environ, recording_start)

        return logged

    def asgi(self, app: ASGIApp, api: str) -> ASGIApp:
        """``app``, recording each HTTP request under the name ``api``."""

        async def logged(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            request = {
                k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]
            }
            request[":method"], request[":path"] = scope["method"], scope["path"]

            async def recording_send(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    response = {
                        k.decode("latin-1").lower(): v.decode("latin-1")
                        for k, v in message.get("headers", [])
                    }
                    self.add(api, request, message["status"], response)
                await send(message)

            await app(scope, receive, recording_send)

        return logged
