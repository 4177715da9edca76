"""Everything the demo runs, started and stopped together: :class:`DemoStack`.

Five servers, each on its own port of 127.0.0.1, so each is its own origin:

- the front end (``http://localhost:PORT``): ``static/index.html`` and ``/config.json``
  (where everything else is), plus ``/requests.json`` (what the APIs saw);
- the mock Clerk instance (:class:`~clerk_auth_core.testing.MockClerk`): the Backend API
  JWKS the APIs fetch their keys from, and the token endpoint the front end calls;
- the API on Flask (werkzeug), on Starlette (uvicorn) and on Django (werkzeug, WSGI),
  configured alike:
  keys from the mock's JWKS with its secret key, its issuer, and the front end's origin
  as the one authorized party.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from clerk_auth_core.testing import MockClerk

from .apis import HELLO_PATH, django_api, flask_api, starlette_api
from .cases import CASES, DEMO_USER, OTHER_ORIGIN
from .servers import STOP_TIMEOUT, RequestLog, serve_asgi, serve_wsgi

__all__ = ["STATIC", "DemoStack"]

STATIC = Path(__file__).resolve().parent / "static"
_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
}


class DemoStack:
    """Start the whole demo on loopback; ``with DemoStack() as stack:``.

    :param config_overrides: changes to the APIs' :class:`~clerk_auth_core.ClerkConfig`
        (the tests use it to show that a misconfigured API fails the table).
    """

    def __init__(self, *, config_overrides: Mapping[str, Any] | None = None) -> None:
        self.config_overrides = dict(config_overrides or {})
        self.log = RequestLog()
        self.apis: dict[str, str] = {}
        self._exit = ExitStack()
        self._frontend: ThreadingHTTPServer | None = None
        self.clerk: MockClerk | None = None

    # -- lifecycle --------------------------------------------------------------------

    def __enter__(self) -> DemoStack:
        try:
            self._start()
        except BaseException:
            self._exit.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._exit.close()

    def _start(self) -> None:
        # The front end first: its origin is the authorized party of everything else.
        self._frontend = _FrontEndServer(self)
        thread = threading.Thread(
            target=self._frontend.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="demo-frontend",
            daemon=True,
        )
        thread.start()
        self._exit.callback(self._stop_frontend, self._frontend, thread)
        clerk = self.clerk = self._exit.enter_context(MockClerk(origin=self.frontend_origin))
        config = clerk.config(**self.config_overrides)
        origins = [self.frontend_origin]
        flask_app = self.log.wsgi(flask_api(config, origins), "flask")
        starlette_app = self.log.asgi(starlette_api(config, origins), "starlette")
        self.apis["flask"] = self._exit.enter_context(serve_wsgi(flask_app))
        self.apis["starlette"] = self._exit.enter_context(serve_asgi(starlette_app))
        django_app = django_api(config, origins)
        self._exit.callback(django_app.close)  # after its server stopped (LIFO)
        self.apis["django"] = self._exit.enter_context(
            serve_wsgi(self.log.wsgi(django_app, "django"))
        )

    @staticmethod
    def _stop_frontend(server: ThreadingHTTPServer, thread: threading.Thread) -> None:
        server.shutdown()
        server.server_close()
        thread.join(STOP_TIMEOUT)

    # -- where things are -------------------------------------------------------------

    @property
    def frontend_port(self) -> int:
        """The front end's port (on 127.0.0.1)."""
        if self._frontend is None:
            raise RuntimeError("the demo is not running")
        port: int = self._frontend.server_address[1]
        return port

    @property
    def frontend_origin(self) -> str:
        """``http://localhost:PORT``: the front end's origin, as a browser names it."""
        return f"http://localhost:{self.frontend_port}"

    @property
    def frontend_url(self) -> str:
        """The page to open."""
        return self.frontend_origin + "/"

    @property
    def mock(self) -> MockClerk:
        """The running mock Clerk instance."""
        if self.clerk is None:
            raise RuntimeError("the demo is not running")
        return self.clerk

    def page_config(self) -> dict[str, Any]:
        """What the page needs to know: ``/config.json``."""
        return {
            "origin": self.frontend_origin,
            "clerk": self.mock.url,
            "token_url": self.mock.token_url,
            "apis": dict(self.apis),
            "path": HELLO_PATH,
            "user": DEMO_USER,
            "other_origin": OTHER_ORIGIN,
            "cases": [{**asdict(case), "expected": case.expected} for case in CASES],
        }


class _FrontEndServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, stack: DemoStack) -> None:
        self.stack = stack
        super().__init__(("127.0.0.1", 0), _FrontEndHandler)


class _FrontEndHandler(BaseHTTPRequestHandler):
    """The front-end origin: two static files and two JSON documents, nothing else."""

    server: _FrontEndServer
    protocol_version = "HTTP/1.1"
    timeout = 10

    def log_message(self, format: str, *args: Any) -> None:
        """No line per request."""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        stack = self.server.stack
        if url.path in _FILES:
            name, content_type = _FILES[url.path]
            self._send(200, (STATIC / name).read_bytes(), content_type)
        elif url.path == "/config.json":
            self._json(stack.page_config())
        elif url.path == "/requests.json":
            since = parse_qs(url.query).get("since", ["0"])[0]
            self._json(stack.log.entries(int(since) if since.isdigit() else 0))
        elif url.path == "/favicon.ico":
            self._send(204, b"", "image/x-icon")
        else:
            self._send(404, b"not found\n", "text/plain; charset=utf-8")

    def _json(self, document: Any) -> None:
        self._send(200, json.dumps(document).encode(), "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if status != 204:  # RFC 9110 §8.6: no Content-Length on a 204
            self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)
