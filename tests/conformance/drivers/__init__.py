"""Drivers: each builds the same small API with one adapter and serves it over HTTP.

The API every driver serves (the conformance table's routes):

- ``GET /protected`` → ``{"user_id": …}`` for a verified session;
- ``GET /optional`` → ``{"user_id": … | null}``, running signed out too;
- ``GET /admin`` (role ``org:admin``), ``GET /reports`` (permission
  ``org:reports:read``), ``GET /pending-ok`` (``allow_pending=True``), ``GET
  /sensitive`` (``reverification="strict"``), each ``{"user_id": …}``;
- the machine-token routes of :data:`MACHINE_ROUTES` (issue 14): each accepts the
  token kinds it names (``accepts=`` on the adapter's guard) and answers
  ``{"subject": …, "token_type": …, "user_id": …}`` of the verified token, session or
  machine (:func:`verified_body`); ``/m/api-key-admin`` also requires role ``org:admin``
  (which no machine token meets: 403);
- CORS for the configured authorized parties, so ``OPTIONS /protected`` preflights from
  them are answered ``200`` with ``Access-Control-Allow-Origin`` (and never refused by
  auth).

Adding an adapter is one small module here with ``serve`` and ``serve_pair``
functions, plus one entry in the adapter registry (``tests/adapters.py``).
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol

from werkzeug.serving import WSGIRequestHandler, make_server

from adapters import ADAPTERS
from clerk_auth_core import ClerkConfig

__all__ = [
    "DRIVERS",
    "MACHINE_ROUTES",
    "PERMISSION",
    "REVERIFICATION",
    "ROLE",
    "Driver",
    "load",
    "serve_wsgi",
    "verified_body",
]

#: Driver module name → the framework module it needs (skipped when not installed):
#: the adapter registry's entries (tests/adapters.py), the one list of adapters.
DRIVERS: dict[str, str | None] = {a.name: a.framework for a in ADAPTERS}

#: What ``/admin`` and ``/reports`` require.
ROLE = "org:admin"
PERMISSION = "org:reports:read"
#: What ``/sensitive`` requires: a second factor within 10 minutes (Clerk's preset).
REVERIFICATION = "strict"

#: The machine-token routes: path → (what the route accepts, the role it requires).
MACHINE_ROUTES: dict[str, tuple[str | list[str], str | None]] = {
    "/m/api-key": ("api_key", None),
    "/m/m2m": ("m2m_token", None),
    "/m/oauth": ("oauth_token", None),
    "/m/any": ("any", None),
    "/m/mixed": (["session_token", "api_key"], None),
    "/m/api-key-admin": ("api_key", ROLE),
}


def verified_body(verified: Any) -> dict[str, str | None]:
    """What a machine-token route answers for the verified token (session or machine:
    both offer ``subject``, ``token_type``, ``user_id``)."""
    return {
        "subject": verified.subject,
        "token_type": verified.token_type,
        "user_id": verified.user_id,
    }


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
