"""The reference driver: a bare WSGI app on the core (``authenticate_with``,
``key_provider``, ``RequestState.answer``), no framework."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from http import HTTPStatus
from typing import Any

from clerk_auth_core import AcceptsToken, ClerkConfig, Requirements, authenticate_with
from clerk_auth_core.io import key_provider, machine_verifier

from . import MACHINE_ROUTES, PERMISSION, REVERIFICATION, ROLE, serve_wsgi, verified_body

# path -> (requirements, optional, allow_pending, accepts)
ROUTES: dict[str, tuple[Requirements, bool, bool | None, AcceptsToken | None]] = {
    "/protected": (Requirements(), False, None, None),
    "/optional": (Requirements(), True, None, None),
    "/admin": (Requirements.of(role=ROLE), False, None, None),
    "/reports": (Requirements.of(permission=PERMISSION), False, None, None),
    "/pending-ok": (Requirements(), False, True, None),
    "/sensitive": (Requirements.of(reverification=REVERIFICATION), False, None, None),
    **{
        path: (Requirements.of(role=role), False, None, AcceptsToken(accepts))
        for path, (accepts, role) in MACHINE_ROUTES.items()
    },
}


def _app(config: ClerkConfig, source: Any, machine: Any) -> Callable[..., Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        headers = [
            (k[5:].replace("_", "-").lower(), v)
            for k, v in environ.items()
            if k.startswith("HTTP_")
        ]
        cors = []
        if environ.get("HTTP_ORIGIN") in config.authorized_parties:
            cors = [("Access-Control-Allow-Origin", environ["HTTP_ORIGIN"]), ("Vary", "Origin")]
        route = ROUTES.get(environ["PATH_INFO"])
        if route is None:
            start_response("404 Not Found", [])
            return [b""]
        requirements, optional, allow_pending, accepts = route
        state = authenticate_with(
            source,
            headers,
            config=config,
            now=time.time(),
            method=environ["REQUEST_METHOD"],
            allow_pending=allow_pending,
            accepts=accepts,
            machine=machine,
        )
        if state.is_preflight:
            start_response("200 OK", [*cors, ("Access-Control-Allow-Headers", "authorization")])
            return [b""]
        answer = state.answer(requirements, optional=optional)
        if answer is not None:
            status = f"{answer.status} {HTTPStatus(answer.status).phrase}"
            start_response(status, [*answer.headers, ("Content-Type", "application/json"), *cors])
            return [answer.body_bytes]
        if accepts is not None:
            body: dict[str, str | None] = verified_body(state.verified)
        else:
            body = {"user_id": None if state.claims is None else state.claims.user_id}
        start_response("200 OK", [("Content-Type", "application/json"), *cors])
        return [json.dumps(body).encode()]

    return app


@contextmanager
def serve(config: ClerkConfig) -> Iterator[str]:
    """Serve the small API straight from the core."""
    source = key_provider(config)
    machine = machine_verifier(config)
    try:
        with serve_wsgi(_app(config, source, machine)) as url:
            yield url
    finally:
        for shell in (source, machine):
            close = getattr(shell, "close", None)
            if close is not None:
                close()
