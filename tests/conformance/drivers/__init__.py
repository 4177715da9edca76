"""Drivers: each builds the same small API with one adapter and serves it over HTTP.

The API every driver serves (the conformance table's routes):

- ``GET /protected`` → ``{"user_id": …}`` for a verified session;
- ``GET /optional`` → ``{"user_id": … | null}``, running signed out too;
- ``GET /admin`` (role ``org:admin``), ``GET /reports`` (permission
  ``org:reports:read``), ``GET /pending-ok`` (``allow_pending=True``), each
  ``{"user_id": …}``;
- CORS for the configured authorized parties, so ``OPTIONS /protected`` preflights from
  them are answered ``200`` with ``Access-Control-Allow-Origin`` (and never refused by
  auth).

Adding an adapter is one small module here with a ``serve`` function, plus one line in
:data:`DRIVERS`.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol

from werkzeug.serving import WSGIRequestHandler, make_server

from clerk_auth_core import ClerkConfig

__all__ = ["DRIVERS", "ROLE", "PERMISSION", "Driver", "load", "serve_wsgi"]

#: Driver module name → the framework module it needs (skipped when not installed).
DRIVERS: dict[str, str | None] = {
    "core": None,
    "flask": "flask",
    "starlette": "starlette",
    "fastapi": "fastapi",
    "django": "django.http",  # not "django": tests/django would import as a namespace
    "drf": "rest_framework",
}

#: What ``/admin`` and ``/reports`` require.
ROLE = "org:admin"
PERMISSION = "org:reports:read"


class Driver(Protocol):
    """A driver module."""

    def serve(self, config: ClerkConfig) -> AbstractContextManager[str]:
        """Serve the small API for ``config`` on 127.0.0.1 over real HTTP; yield its
        base URL (``http://127.0.0.1:PORT``) and stop serving on exit."""
        ...


def load(name: str) -> Driver:
    """The driver module ``name``."""
    module: Any = importlib.import_module(f"{__name__}.{name}")
    return module  # type: ignore[no-any-return]


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


@contextmanager
def serve_wsgi(app: Any) -> Iterator[str]:
    """Serve a WSGI app with werkzeug's threaded server on a free loopback port."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.socket.getsockname()[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
