"""``@require_auth`` for function views (sync and async) and a mixin for class-based ones."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, ParamSpec, TypeVar, overload

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest, HttpResponse

from clerk_auth_core import AcceptsToken, Requirements, ReverificationConfig
from clerk_auth_core._flow import Accepts

from ._auth import ClerkAuth, answer_response, auth_for

__all__ = ["ClerkAuthRequiredMixin", "Guard", "require_auth"]

P = ParamSpec("P")
R = TypeVar("R")
Names = str | Iterable[str] | None


class Guard:
    """What a route demands, checked against the core's verdict for one request.

    :param auth: the ClerkAuth deciding; ``None``: the request's default (the
        middleware's, else the process's from settings).
    :param accepts: the token kinds the route accepts (``None``: the config's).
    :raises ConfigurationError: now, for a requirement or ``accepts`` Clerk cannot issue.
    """

    __slots__ = ("accepts", "allow_pending", "auth", "optional", "requirements")

    def __init__(
        self,
        auth: ClerkAuth | None = None,
        *,
        optional: bool = False,
        role: Names = None,
        permission: Names = None,
        feature: Names = None,
        plan: Names = None,
        allow_pending: bool | None = None,
        reverification: ReverificationConfig | None = None,
        accepts: Accepts = None,
    ) -> None:
        self.auth = auth
        self.optional = optional
        self.allow_pending = allow_pending
        # Built once here: a typo fails where the view is declared.
        self.accepts = None if accepts is None else AcceptsToken(accepts)
        self.requirements = Requirements.of(
            role=role,
            permission=permission,
            feature=feature,
            plan=plan,
            reverification=reverification,
        )

    def _answer(self, state: Any, auth: ClerkAuth, request: HttpRequest) -> HttpResponse | None:
        verdict = state.verdict(self.requirements, optional=self.optional)
        if verdict is None:
            return None
        answer, error = verdict  # error None: a preflight, answered 204, not refused
        if error is not None:
            auth.log_refusal(error, request)
        return answer_response(answer)

    def check(self, request: HttpRequest) -> HttpResponse | None:
        """``None`` to run the view, else the response to send instead (sync)."""
        auth = self.auth or auth_for(request)
        state = auth.authenticate(request, self.allow_pending, self.accepts)
        return self._answer(state, auth, request)

    async def acheck(self, request: HttpRequest) -> HttpResponse | None:
        """:meth:`check` for async views."""
        auth = self.auth or auth_for(request)
        state = await auth.aauthenticate(request, self.allow_pending, self.accepts)
        return self._answer(state, auth, request)

    def __call__(self, view: Callable[..., Any]) -> Callable[..., Any]:
        """Guard ``view`` (its first argument, or second for a method, is the request)."""
        if iscoroutinefunction(view):

            @functools.wraps(view)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                answered = await self.acheck(_request(args))
                return answered if answered is not None else await view(*args, **kwargs)

            return async_wrapper

        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            answered = self.check(_request(args))
            return answered if answered is not None else view(*args, **kwargs)

        return wrapper


def _request(args: tuple[Any, ...]) -> HttpRequest:
    for value in args[:2]:
        if isinstance(value, HttpRequest):
            return value
    raise TypeError("@require_auth: the view takes no HttpRequest argument")


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
    allow_pending: bool | None = None,
    reverification: ReverificationConfig | None = None,
    auth: ClerkAuth | None = None,
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
    allow_pending: bool | None = None,
    reverification: ReverificationConfig | None = None,
    auth: ClerkAuth | None = None,
    accepts: Accepts = None,
) -> Any:
    """Run the view (sync or async) only for a verified Clerk session meeting the
    requirements; otherwise answer the core's refusal (401/403/503/500, with
    ``WWW-Authenticate``, ``Retry-After`` and the JSON body). A CORS preflight reaching
    the view is answered 204 without running it, unless the route is ``optional``.

    The session is ``request.clerk_auth``, a machine token ``request.clerk_machine``,
    either ``request.clerk_verified``. Works with or without the middleware.

    :param optional: run the view signed out too (``request.clerk_auth`` is ``None``).
    :param role: any of these organisation roles; ``permission``, ``feature``,
        ``plan``: any of these.
    :param allow_pending: accept ``sts: pending`` sessions (default: the config's).
    :param reverification: a recent factor verification (step-up): a Clerk preset
        (``"strict"``) or ``{"level": …, "afterMinutes": N}``; refused with 403
        ``reverification-error`` in Clerk's ``clerk_error`` body.
    :param auth: decide with this :class:`ClerkAuth` instead of the request's default.
    :param accepts: the token kinds the route accepts (default: the config's
        ``accepts_token``, sessions only unless set): ``"session_token"``, ``"api_key"``,
        ``"m2m_token"``, ``"oauth_token"``, a list of them or ``"any"``. Machine tokens
        are read from the ``Authorization`` header only; another kind is refused 401
        ``token-type-mismatch`` without a Backend API call; a machine token never meets
        ``role``/``permission``/``feature``/``plan``/``reverification`` (403). A typo
        raises ``ConfigurationError`` here, at decoration.
    """
    guard = Guard(
        auth,
        optional=optional,
        role=role,
        permission=permission,
        feature=feature,
        plan=plan,
        allow_pending=allow_pending,
        reverification=reverification,
        accepts=accepts,
    )
    return guard if view is None else guard(view)


class ClerkAuthRequiredMixin:
    """For class-based views: ``class Reports(ClerkAuthRequiredMixin, View)``; runs the
    handler only as :func:`require_auth` would, sync or async views alike.

    Set the class attributes ``clerk_optional``, ``clerk_role``, ``clerk_permission``,
    ``clerk_feature``, ``clerk_plan``, ``clerk_allow_pending``, ``clerk_reverification``,
    ``clerk_auth_instance``, ``clerk_accepts`` (the token kinds, as ``accepts=``; a
    typo raises ``ConfigurationError`` when the class is defined).
    """

    clerk_optional: bool = False
    clerk_role: Names = None
    clerk_permission: Names = None
    clerk_feature: Names = None
    clerk_plan: Names = None
    clerk_allow_pending: bool | None = None
    clerk_reverification: ReverificationConfig | None = None
    clerk_auth_instance: ClerkAuth | None = None
    clerk_accepts: Accepts = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        accepts = cls.__dict__.get("clerk_accepts")
        if accepts is not None:
            AcceptsToken(accepts)  # a typo fails where the view is declared

    @classmethod
    def clerk_guard(cls) -> Guard:
        """The view's :class:`Guard` (built once per class)."""
        guard: Guard | None = cls.__dict__.get("_clerk_guard")
        if guard is None:
            guard = Guard(
                cls.clerk_auth_instance,
                optional=cls.clerk_optional,
                role=cls.clerk_role,
                permission=cls.clerk_permission,
                feature=cls.clerk_feature,
                plan=cls.clerk_plan,
                allow_pending=cls.clerk_allow_pending,
                reverification=cls.clerk_reverification,
                accepts=cls.clerk_accepts,
            )
            cls._clerk_guard = guard  # type: ignore[attr-defined]
        return guard

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        guard = self.clerk_guard()
        parent: Any = super()
        if getattr(self, "view_is_async", False):

            async def guarded() -> Any:
                answered = await guard.acheck(request)
                if answered is not None:
                    return answered
                return await parent.dispatch(request, *args, **kwargs)

            return guarded()
        answered = guard.check(request)
        return answered if answered is not None else parent.dispatch(request, *args, **kwargs)
