"""The refusals of protected FastAPI routes in ``/openapi.json``.

FastAPI has no per-dependency ``responses`` (fastapi/fastapi#501, open since 2019): a
route declares its responses itself. So the document FastAPI builds is completed: every
operation whose route's dependency tree holds a clerk-auth dependency gets the core's
refusals in its ``responses``: 401 and 503 for a required session, 403 too when the
dependency demands a role, permission, feature, plan or scope, only 503 for an optional
one (signed out, it runs). The body schema is the core's JSON (``error``, ``reason``,
``message``, see :func:`clerk_auth_core.http_answer`), which is what clients get once
``install_exception_handler`` is installed (it installs this too). Responses a route
declares itself for these statuses win, key by key, over ours.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

__all__ = ["add_clerk_responses", "clerk_responses", "install_openapi_responses"]

#: The core's JSON body (clerk_auth_core.http_answer).
BODY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "ClerkAuthError",
    "required": ["error", "reason", "message"],
    "properties": {
        "error": {"type": "string", "description": "unauthorized, forbidden, …"},
        "reason": {"type": "string", "description": "the stable reason (docs/reasons.md)"},
        "message": {"type": "string", "description": "a message safe to show"},
    },
}
_WWW = {
    "WWW-Authenticate": {
        "description": 'RFC 6750 §3: Bearer, with error="…" when a token was sent',
        "schema": {"type": "string"},
    }
}
_RESPONSES: dict[int, dict[str, Any]] = {
    401: {"description": "No valid Clerk session token", "headers": _WWW},
    403: {"description": "The session lacks a required role or permission", "headers": _WWW},
    503: {
        "description": "The signing keys are unavailable; try again later",
        "headers": {
            "Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}
        },
    },
}


def _response(status: int) -> dict[str, Any]:
    return {**_RESPONSES[status], "content": {"application/json": {"schema": BODY_SCHEMA}}}


def _statuses(dependant: Dependant, scoped: bool = False) -> Iterator[int]:
    call: Any = dependant.call
    # own/parent_oauth_scopes (FastAPI >= 0.115-ish), security_scopes before.
    scopes = (
        getattr(dependant, "own_oauth_scopes", None)
        or getattr(dependant, "parent_oauth_scopes", None)
        or getattr(dependant, "security_scopes", None)
    )
    scoped = scoped or any(s != "authenticated" for s in scopes or ())
    statuses: Callable[[bool], tuple[int, ...]] | None = getattr(call, "openapi_statuses", None)
    if statuses is not None:
        yield from statuses(scoped)
    for sub in dependant.dependencies:
        yield from _statuses(sub, scoped)


def clerk_responses(dependant: Dependant) -> dict[int, dict[str, Any]]:
    """The refusal responses a route with this dependency tree can answer because of
    clerk-auth dependencies (``{}`` for an open route)."""
    return {status: _response(status) for status in sorted(set(_statuses(dependant)))}


def _api_routes(routes: Iterable[Any]) -> Iterator[Any]:
    """Every API route as OpenAPI sees it (``dependant``, ``path_format``, ``methods``):
    FastAPI >= 0.120 includes routers lazily (``iter_route_contexts`` flattens them,
    with the include's prefix and dependencies); before, ``app.routes`` is flat."""
    try:
        from fastapi.routing import iter_route_contexts  # type: ignore[attr-defined,unused-ignore]
    except ImportError:  # an older FastAPI
        yield from (r for r in routes if isinstance(r, APIRoute))
        return
    for context in iter_route_contexts(list(routes)):
        if isinstance(context.original_route, APIRoute):
            yield context


def add_clerk_responses(document: dict[str, Any], routes: Iterable[Any]) -> dict[str, Any]:
    """Add :func:`clerk_responses` to the operations of ``document`` (an OpenAPI
    document built from ``routes``); what an operation declares itself wins."""
    paths = document.get("paths", {})
    for route in _api_routes(routes):
        extra = clerk_responses(route.dependant)
        operations: dict[str, Any] = paths.get(route.path_format, {}) if extra else {}
        for method in (route.methods or ()) if operations else ():
            operation = operations.get(method.lower())
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            for status, response in extra.items():
                responses[str(status)] = {**response, **responses.get(str(status), {})}
    return document


def install_openapi_responses(app: FastAPI) -> None:
    """Make ``app.openapi()`` list the refusals of every protected route (routes may be
    added after this call: they are looked at whenever the document is built)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        return add_clerk_responses(build(), app.routes)

    app.openapi = openapi  # type: ignore[method-assign]
