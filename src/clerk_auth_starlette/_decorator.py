"""``@require_auth``: a Starlette route guard that answers as the core decides.

Starlette's own ``@requires("role:org:admin")`` works with the middleware too, but it
answers a bare 403; ``@require_auth(role=...)`` answers the core's 401/403/503 with
``WWW-Authenticate`` and the JSON body, and can accept pending sessions per route.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any, ParamSpec, TypeVar, overload

from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection, Request
from starlette.websockets import WebSocket

from clerk_auth_core import ClerkAuthError, HttpAnswer, Requirements, ReverificationConfig

from ._auth import (
    AUTHENTICATOR_KEY,
    Accepts,
    Authenticator,
    accepted,
    answer_response,
    close_message,
    not_set_up,
)

__all__ = ["require_auth"]

P = ParamSpec("P")
R = TypeVar("R")
Names = str | Iterable[str] | None


def _connection(args: tuple[Any, ...], kwargs: dict[str, Any]) -> HTTPConnection:
    for value in (*args, *kwargs.values()):
        if isinstance(value, HTTPConnection):
            return value
    raise TypeError("@require_auth: the endpoint takes no Request or WebSocket argument")


async def _refuse(conn: HTTPConnection, answer: HttpAnswer, error: ClerkAuthError | None) -> Any:
    # Only for the set-up error (no middleware, so no on_error either): the core's JSON.
    if isinstance(conn, WebSocket):
        await conn.send(close_message(answer))
        return None
    request = conn if isinstance(conn, Request) else Request(conn.scope)
    return answer_response(request, answer, error)


@overload
def require_auth(view: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def require_auth(
    view: None = None,
    /,
    *,
    optional: bool = False,
    role: Names = None,
    permission: Names = None,
    feature: Names = None,
    plan: Names = None,
    reverification: ReverificationConfig | None = None,
    allow_pending: bool | None = None,
    accepts: Accepts = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def require_auth(
    view: Callable[..., Any] | None = None,
    /,
    *,
    optional: bool = False,
    role: Names = None,
    permission: Names = None,
    feature: Names = None,
    plan: Names = None,
    reverification: ReverificationConfig | None = None,
    allow_pending: bool | None = None,
    accepts: Accepts = None,
) -> Any:
    """Run the endpoint (sync or async, HTTP or websocket) only for a verified session
    (or an accepted machine token) meeting the requirements; otherwise answer the
    core's refusal (a websocket is closed with 1008). A CORS preflight reaching an
    endpoint that takes OPTIONS itself is answered 204 without running it, unless the
    route is ``optional``. Needs :class:`ClerkAuthMiddleware` on the app; in ``reject``
    mode it has already refused signed-out requests, so use ``annotate`` mode (or
    ``exclude_paths``) for optional and pending-allowed routes.

    :param optional: run signed out too (:func:`get_auth` is then ``None``).
    :param role: any of these organisation roles; ``permission``, ``feature``,
        ``plan``: any of these.
    :param reverification: a recent factor verification (step-up): a Clerk preset
        (``"strict_mfa"``, ``"strict"``, ``"moderate"``, ``"lax"``) or ``{"level": …,
        "afterMinutes": N}``; refused with 403 ``reverification-error`` in Clerk's
        ``clerk_error`` shape. An invalid value raises ``ConfigurationError`` here, at
        decoration.
    :param allow_pending: accept ``sts: pending`` sessions (default: the config's).
    :param accepts: the token kinds the route takes: ``"session_token"``, ``"api_key"``,
        ``"m2m_token"``, ``"oauth_token"``, a list, or ``"any"`` (default: the
        middleware's ``accepts``, itself the config's ``accepts_token``). Another kind
        is refused 401 ``token-type-mismatch`` without a Backend API call; a machine
        token on a route with role/permission/feature/plan/reverification
        requirements gets 403. Read a machine token with :func:`get_machine_auth` or
        :func:`get_verified`. A typo raises ``ConfigurationError`` here. Behind the
        middleware in ``reject`` mode (which takes its own ``accepts``), put such
        routes in ``exclude_paths`` or use ``annotate`` mode.
    """
    requirements = Requirements.of(
        role=role, permission=permission, feature=feature, plan=plan, reverification=reverification
    )
    kinds = accepted(accepts)

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            conn = _connection(args, kwargs)
            auth: Authenticator | None = conn.scope.get(AUTHENTICATOR_KEY)
            if auth is None:
                return await _refuse(conn, not_set_up(conn), None)
            state = await auth.authenticate(conn.scope, allow_pending, kinds)
            verdict = state.verdict(requirements, optional=optional)
            if verdict is None:
                if inspect.iscoroutinefunction(fn):
                    return await fn(*args, **kwargs)
                return await run_in_threadpool(fn, *args, **kwargs)
            answer, error = verdict
            if error is not None:
                auth.log_refusal(error, conn.scope)
            if isinstance(conn, WebSocket):
                await conn.send(close_message(answer))
                return None
            request = conn if isinstance(conn, Request) else Request(conn.scope)
            if error is None:  # a preflight: answered, not refused (so not on_error's)
                return answer_response(request, answer, error)
            return await auth.error_response(request, answer, error)

        return wrapper

    return decorate if view is None else decorate(view)
