"""``@require_auth``: authenticate before the view runs, sync or async."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any, ParamSpec, TypeVar, overload

from flask import g

from clerk_auth_core import Requirements, ReverificationConfig, http_answer

from ._errors import ClerkAuthFailed
from ._extension import authenticate

__all__ = ["require_auth"]

P = ParamSpec("P")
R = TypeVar("R")
Names = str | Iterable[str] | None


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
) -> Any:
    """Run the view only for a verified Clerk session (``@require_auth`` or
    ``@require_auth(...)``); otherwise raise :class:`ClerkAuthFailed`.

    The session is on ``g.clerk_auth`` and from :func:`get_auth`. A CORS preflight
    passes through untouched.

    :param optional: run the view signed out too, with ``None`` as the session.
    :param role: any of these organisation roles (``"org:admin"`` or ``"admin"``).
    :param permission: any of these permissions (``"org:reports:read"``).
    :param feature: any of these features; ``plan``: any of these plans.
    :param reverification: a recent factor verification (step-up): a Clerk preset
        (``"strict_mfa"``, ``"strict"``, ``"moderate"``, ``"lax"``) or ``{"level": …,
        "afterMinutes": N}``; refused with 403 ``reverification-error`` in Clerk's
        ``clerk_error`` shape. An invalid value raises ``ConfigurationError`` here, at
        decoration.
    :param allow_pending: accept ``sts: pending`` sessions (default: the config's).
    """
    requirements = Requirements.of(
        role=role, permission=permission, feature=feature, plan=plan, reverification=reverification
    )

    def check() -> None:
        state = authenticate(allow_pending)
        error = state.refusal(requirements, optional=optional)
        if error is not None:
            raise ClerkAuthFailed(http_answer(error), error)
        g._get_current_object().clerk_auth = state.claims

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                check()
                return await fn(*args, **kwargs)

            return async_wrapper

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            check()
            return fn(*args, **kwargs)

        return wrapper

    return decorate if view is None else decorate(view)
