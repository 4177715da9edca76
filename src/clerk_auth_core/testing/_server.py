"""A tiny loopback HTTP server that hands every request to an application function.

The transport only: it parses the request, calls ``app(request, stopping)`` and writes
the :class:`Response` back, or closes the connection without a word when the app
answers ``None`` (a "down" endpoint). What is answered lives in :mod:`._endpoints`.

Why it looks the way it does:

- ``ThreadingHTTPServer`` with daemon threads, bound to ``127.0.0.1`` port 0, so
  concurrent requests work and parallel test runs never collide on a port.
- Every response carries ``Connection: close``. A kept-alive connection would let a
  client's pooled connection reach a handler thread after :meth:`stop`, so a "stopped"
  issuer would still answer.
- :meth:`stop` is prompt: it sets the ``stopping`` event (slow handlers wait on it, not
  on ``time.sleep``), shuts the sockets of requests in flight (which unblocks reads and
  writes) and joins every handler thread against one deadline.
- Nothing is ever logged per request; an exception in the app becomes a 500 response
  and is kept in :attr:`LoopbackServer.errors` for the test to look at.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs

__all__ = ["App", "LoopbackServer", "Request", "Response"]

#: Request bodies above this size are refused with 413 (the token endpoint takes JSON).
MAX_REQUEST_BODY = 64 * 1024


@attrs.frozen(kw_only=True)
class Request:
    """One parsed HTTP request, as the application sees it."""

    method: str
    #: The path without the query string.
    path: str
    query: Mapping[str, list[str]] = attrs.field(factory=dict)
    #: Header names lower-cased; repeated headers joined with ``", "``.
    headers: Mapping[str, str] = attrs.field(factory=dict)
    body: bytes = b""


@attrs.frozen(kw_only=True)
class Response:
    """What to answer. ``content_length=False`` sends no ``Content-Length``: the body
    then ends when the connection closes (a client must read it with a cap)."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    content_length: bool = True

    @classmethod
    def json(
        cls, status: int, document: Any, headers: tuple[tuple[str, str], ...] = ()
    ) -> Response:
        """A JSON response (compact UTF-8)."""
        body = json.dumps(document, separators=(",", ":")).encode()
        return cls(
            status=status, headers=(("Content-Type", "application/json"), *headers), body=body
        )


#: The application: answers a request, or ``None`` to drop the connection unanswered.
#: The event is set when the server stops; anything that waits must wait on it.
App = Callable[[Request, threading.Event], "Response | None"]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # We join handler threads ourselves, against a deadline (see LoopbackServer.stop).
    block_on_close = False
    # socketserver's default listen backlog is 5: a herd of concurrent clients (the
    # cold-start tests) would see dropped SYNs and a one-second retransmit.
    request_queue_size = 128

    def __init__(self, port: int, app: App, errors: list[BaseException]) -> None:
        self.app = app
        self.stopping = threading.Event()
        self.errors = errors
        self.lock = threading.Lock()
        #: Handler threads with a request in flight, and their connection.
        self.active: dict[threading.Thread, socket.socket] = {}
        super().__init__(("127.0.0.1", port), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Client went away mid-response, or the socket was shut by stop(): not our
        # business, and never worth a traceback on stderr.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    #: A client that connects and says nothing is dropped after this many seconds.
    timeout = 10.0

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.active[threading.current_thread()] = self.connection

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.lock:
                self.server.active.pop(threading.current_thread(), None)

    def log_message(self, format: str, *args: Any) -> None:
        """Never log per request (the default writes every request to stderr)."""

    def do_GET(self) -> None:
        self._dispatch()

    do_HEAD = do_POST = do_OPTIONS = do_PUT = do_PATCH = do_DELETE = do_GET

    def _dispatch(self) -> None:
        self.close_connection = True
        if self.server.stopping.is_set():
            return  # accepted just before stop(): drop it unanswered
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_REQUEST_BODY:
            self._send(Response.json(413, {"error": "request body too large"}))
            return
        parts = urlsplit(self.path)
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        request = Request(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query),
            headers=headers,
            body=self.rfile.read(length) if length else b"",
        )
        try:
            response = self.server.app(request, self.server.stopping)
        except Exception as exc:
            self.server.errors.append(exc)  # list.append is atomic
            response = Response.json(500, {"error": f"mock issuer bug: {exc!r}"})
        if response is not None:
            self._send(response)

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        # RFC 9110 §8.6: no Content-Length on 204; on 304 it would have to describe
        # the 200 body, so leave it out there too.
        if response.content_length and response.status not in (204, 304):
            self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and response.body:
            self.wfile.write(response.body)


class LoopbackServer:
    """Serve ``app`` on ``http://127.0.0.1:<port>`` from a daemon thread."""

    def __init__(self, app: App, port: int = 0) -> None:
        self._app = app
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._port = port
        self._errors: list[BaseException] = []

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._server is not None

    @property
    def port(self) -> int:
        """The bound port (kept after :meth:`stop`, reused by the next :meth:`start`)."""
        if not self._port:
            raise RuntimeError("the server has not been started yet")
        return self._port

    @property
    def errors(self) -> list[BaseException]:
        """Exceptions the app raised while answering (each became a 500)."""
        return list(self._errors)

    def start(self) -> None:
        """Bind and serve. A restart binds the same port again, so URLs stay valid."""
        if self._server is not None:
            raise RuntimeError("the server is already running")
        server = _Server(self._port, self._app, self._errors)
        self._port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            # How soon serve_forever notices shutdown(): keeps stop() (and so every
            # test's teardown) at a few milliseconds.
            kwargs={"poll_interval": 0.01},
            name=f"clerk-mock-{self._port}",
            daemon=True,
        )
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop serving, cut requests in flight, close the socket. Idempotent.

        Returns within about ``timeout`` seconds even if a handler misbehaves.
        """
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._server = self._thread = None
        deadline = time.monotonic() + timeout
        server.stopping.set()
        server.shutdown()  # returns once serve_forever has left its loop
        with server.lock:
            in_flight = list(server.active.items())
        for _thread, connection in in_flight:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        server.server_close()
        thread.join(max(0.0, deadline - time.monotonic()))
        for handler, _connection in in_flight:
            handler.join(max(0.0, deadline - time.monotonic()))
