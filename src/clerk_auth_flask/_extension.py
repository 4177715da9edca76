"""``ClerkAuth``: configuration and the key source per app; the request state per request."""

from __future__ import annotations

import logging
import os
import time
import weakref
from collections.abc import Callable
from typing import NamedTuple

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
ErrorHook = Callable[[HttpAnswer, ClerkAuthError | None], ResponseReturnValue]


class _State(NamedTuple):
    # Only immutable configuration and the provider, which is itself fork-safe.
    config: ClerkConfig
    source: KeySource


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
        app.extensions[EXTENSION] = _State(config, source)
        if self.on_error is not None:
            hook = self.on_error
            app.register_error_handler(ClerkAuthFailed, lambda e: hook(e.answer, e.error))
        if self.warm_up:
            _warm_up(source)


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


def authenticate(allow_pending: bool | None = None) -> RequestState:
    """Authenticate the current request once (per ``allow_pending``), cached on ``g``."""
    # Each use of a context-local proxy (g, request, current_app) costs a lookup:
    # resolve each once.
    ctx_g = g._get_current_object()
    states: dict[bool | None, RequestState] = ctx_g.setdefault("_clerk_auth_states", {})
    state = states.get(allow_pending)
    if state is None:
        try:
            ext: _State = current_app.extensions[EXTENSION]
        except KeyError:
            raise RuntimeError(
                "ClerkAuth is not set up: call ClerkAuth(app) or init_app(app)."
            ) from None
        environ = request.environ
        state = states[allow_pending] = authenticate_with(
            ext.source,
            [(name, environ[key]) for name, key in _ENVIRON_KEYS if key in environ],
            config=ext.config,
            now=time.time(),
            method=environ.get("REQUEST_METHOD"),
            allow_pending=allow_pending,
        )
    ctx_g.clerk_request_state = state
    return state


def get_request_state() -> RequestState:
    """The :class:`~clerk_auth_core.RequestState` of the current request (authenticating
    it with the app's defaults if no ``@require_auth`` has yet)."""
    state: RequestState | None = g.get("clerk_request_state")
    return state if state is not None else authenticate()


def get_auth() -> SessionClaims | None:
    """The verified session of the current request, ``None`` when signed out."""
    return get_request_state().claims
