"""``@require_auth``: authenticate before the view runs, sync or async, with the app's
default :class:`ClerkAuth` (the guard itself, :func:`~._extension.guard`, lives with
the extension whose state it reads, so ``ClerkAuth.require_auth`` shares it)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ParamSpec, TypeVar, overload

from clerk_auth_core import ReverificationConfig
from clerk_auth_core._flow import Accepts

from ._extension import guard

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
    """Run the view only for a verified Clerk session (``@require_auth`` or
    ``@require_auth(...)``); otherwise raise :class:`ClerkAuthFailed`.

    The verified token is on ``g.clerk_auth`` and from :func:`get_verified` (the
    session from :func:`get_auth`, a machine token from :func:`get_machine_auth`).
    Uses the app's default :class:`ClerkAuth` (``auth.require_auth`` uses that
    one's). A CORS
    preflight reaching a view that takes OPTIONS itself is answered 204 without
    running the view, unless the route is ``optional``.

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
    :param accepts: the token kinds the route accepts (default: the config's
        ``accepts_token``, sessions only unless set): ``"session_token"``, ``"api_key"``,
        ``"m2m_token"``, ``"oauth_token"``, a list of them or ``"any"``. Machine tokens
        are read from the ``Authorization`` header only; another kind is refused 401
        ``token-type-mismatch`` without a Backend API call; a machine token never meets
        ``role``/``permission``/``feature``/``plan``/``reverification`` (403). A typo
        raises ``ConfigurationError`` here, at decoration.
    """
    decorate = guard(
        None,
        optional=optional,
        role=role,
        permission=permission,
        feature=feature,
        plan=plan,
        allow_pending=allow_pending,
        reverification=reverification,
        accepts=accepts,
    )
    return decorate if view is None else decorate(view)
