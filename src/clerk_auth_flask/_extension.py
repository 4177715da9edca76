"""``ClerkAuth``: configuration and the key source per app; the request state per request."""

from __future__ import annotations

import logging
import os
import time
import weakref
from collections.abc import Callable, Iterable
from typing import Any, ParamSpec, TypeVar, overload

from flask import Flask, current_app, g, request
from flask.typing import ResponseReturnValue

from clerk_auth_core import (
    ClerkAuthError,
    ClerkConfig,
    HttpAnswer,
    KeySource,
    RequestState,
    SessionClaims,
    authenticate_with,
)
from clerk_auth_core._config import settings_from_mapping
from clerk_auth_core._extract import REQUEST_HEADERS
from clerk_auth_core.io import key_provider

from ._errors import ClerkAuthFailed

__all__ = ["ClerkAuth", "authenticate", "get_auth", "get_request_state"]

logger = logging.getLogger("clerk_auth")

EXTENSION = "clerk_auth"
P = ParamSpec("P")
R = TypeVar("R")
Names = str | Iterable[str] | None
ErrorHook = Callable[[HttpAnswer, ClerkAuthError | None], ResponseReturnValue]


#: ``app.extensions[INSTANCES][clerk_auth]``: each ClerkAuth's own state on the app.
INSTANCES = "clerk_auth.instances"
#: ``request.environ`` keys: the request's results per (state, allow_pending), and the
#: latest result. Kept per request, not on ``g``: ``g`` lives as long as the app context,
#: which several requests share inside ``with app.app_context():`` (tests, CLI commands).
_STATES_KEY = "clerk_auth.states"
_LATEST_KEY = "clerk_auth.state"


class _State:
    """One :class:`ClerkAuth`'s configuration and key source on one app.

    Only immutable configuration and the provider, which is itself fork-safe. Hashed
    by identity: it keys the request's results, so two extensions never share one.
    """

    __slots__ = ("config", "source")

    def __init__(self, config: ClerkConfig, source: KeySource) -> None:
        self.config = config
        self.source = source


class ClerkAuth:
    """Verify Clerk session tokens in a Flask app; routes opt in with ``@require_auth``.

    :param config: the configuration; by default ``app.config["CLERK_…"]`` keys, each
        falling back to the environment variable of the same name.
    :param key_source: where keys come from (default: ``key_provider(config)``, one
        per app, shared by all threads); tests may inject their own.
    :param on_error: build the response for a refused request from the core's
        :class:`~clerk_auth_core.HttpAnswer` and the error instead of the default JSON.
    :param warm_up: fetch the keys at ``init_app``; a failure is logged, never raised.
    :raises ConfigurationError: from ``init_app`` when the configuration is invalid.

    The module's :func:`~clerk_auth_flask.require_auth` uses the app's default: the
    ClerkAuth initialised on it last. With several on one app (another issuer for one
    blueprint, say), guard routes with each one's own :meth:`require_auth`: every
    guard enforces its own configuration and never reuses another's result.
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        config: ClerkConfig | None = None,
        key_source: KeySource | None = None,
        on_error: ErrorHook | None = None,
        warm_up: bool = False,
    ) -> None:
        self.config = config
        self.key_source = key_source
        self.on_error = on_error
        self.warm_up = warm_up
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Configure ``app`` (validating the configuration now, not on the first request)."""
        config = self.config or ClerkConfig(
            **{**settings_from_mapping(os.environ), **settings_from_mapping(app.config)}
        )
        source = self.key_source or key_provider(config)
        close: Callable[[], None] | None = getattr(source, "close", None)
        if self.key_source is None and close is not None:
            # Flask has no app-shutdown hook: close the provider we made (its HTTP
            # client) when the app is collected, or at interpreter exit.
            weakref.finalize(app, close)
        state = _State(config, source)
        app.extensions[EXTENSION] = state
        instances: dict[ClerkAuth, _State] = app.extensions.setdefault(INSTANCES, {})
        if not instances:
            app.teardown_request(_forget)
        instances[self] = state
        if self.on_error is not None:
            hook = self.on_error
            app.register_error_handler(ClerkAuthFailed, lambda e: hook(e.answer, e.error))
        if self.warm_up:
            _warm_up(source)

    @overload
    def require_auth(self, view: Callable[P, R], /) -> Callable[P, R]: ...

    @overload
    def require_auth(
        self,
        view: None = None,
        /,
        *,
        optional: bool = False,
        role: Names = None,
        permission: Names = None,
        feature: Names = None,
        plan: Names = None,
        allow_pending: bool | None = None,
    ) -> Callable[[Callable[P, R]], Callable[P, R]]: ...

    def require_auth(
        self,
        view: Callable[..., Any] | None = None,
        /,
        *,
        optional: bool = False,
        role: Names = None,
        permission: Names = None,
        feature: Names = None,
        plan: Names = None,
        allow_pending: bool | None = None,
    ) -> Any:
        """:func:`clerk_auth_flask.require_auth` with this ClerkAuth's configuration and
        key source (it must be initialised on the app), whatever the app's default."""
        from ._decorator import guard  # the decorator module imports this one

        decorate = guard(
            self,
            optional=optional,
            role=role,
            permission=permission,
            feature=feature,
            plan=plan,
            allow_pending=allow_pending,
        )
        return decorate if view is None else decorate(view)


def _forget(_exc: BaseException | None = None) -> None:
    # g outlives the request when an app context is shared: drop what we put there.
    ctx_g = g._get_current_object()
    ctx_g.pop("clerk_auth", None)
    ctx_g.pop("clerk_request_state", None)


def _warm_up(source: object) -> None:
    warm: Callable[[], bool] | None = getattr(source, "warm_up", None)
    try:
        ok = warm is None or warm()
    except Exception:  # the start must never fail because the keys are not there yet
        ok = False
    if not ok:
        logger.warning("clerk-auth: key warm-up failed; keys will be fetched on first use.")


#: The WSGI environ keys of the headers the core reads (WSGI has already joined
#: repeated headers into one value, as ``request.headers`` would show them).
_ENVIRON_KEYS = tuple((name, "HTTP_" + name.upper().replace("-", "_")) for name in REQUEST_HEADERS)


def _extension(instance: ClerkAuth | None) -> _State:
    extensions = current_app.extensions
    try:
        return extensions[EXTENSION] if instance is None else extensions[INSTANCES][instance]  # type: ignore[no-any-return]
    except KeyError:
        raise RuntimeError(
            "ClerkAuth is not set up: call ClerkAuth(app) or init_app(app)."
        ) from None


def authenticate(
    allow_pending: bool | None = None, instance: ClerkAuth | None = None
) -> RequestState:
    """Authenticate the current request once per extension and ``allow_pending``
    (``instance``: that ClerkAuth's, else the app's default), kept with the request."""
    # Each use of a context-local proxy (g, request, current_app) costs a lookup:
    # resolve each once.
    ext = _extension(instance)
    environ = request.environ
    states: dict[tuple[_State, bool | None], RequestState] | None = environ.get(_STATES_KEY)
    if states is None:
        states = environ[_STATES_KEY] = {}
    slot = (ext, allow_pending)
    state = states.get(slot)
    if state is None:
        state = states[slot] = authenticate_with(
            ext.source,
            [(name, environ[key]) for name, key in _ENVIRON_KEYS if key in environ],
            config=ext.config,
            now=time.time(),
            method=environ.get("REQUEST_METHOD"),
            allow_pending=allow_pending,
        )
    environ[_LATEST_KEY] = state
    g._get_current_object().clerk_request_state = state
    return state


def get_request_state() -> RequestState:
    """The :class:`~clerk_auth_core.RequestState` of the current request (authenticating
    it with the app's defaults if no ``@require_auth`` has yet)."""
    state: RequestState | None = request.environ.get(_LATEST_KEY)
    return state if state is not None else authenticate()


def get_auth() -> SessionClaims | None:
    """The verified session of the current request, ``None`` when signed out."""
    return get_request_state().claims
