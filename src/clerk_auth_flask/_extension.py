"""``ClerkAuth``: configuration, the key source and the machine-token verifier per app;
the request state per request."""

from __future__ import annotations

import functools
import inspect
import logging
import os
import time
import weakref
from collections.abc import Callable, Iterable
from typing import Any, ParamSpec, TypeVar, overload

from flask import Flask, Response, current_app, g, request
from flask.typing import ResponseReturnValue

from clerk_auth_core import (
    REASONS,
    AcceptsToken,
    ClerkAuthError,
    ClerkConfig,
    ConfigurationError,
    HttpAnswer,
    JwksStats,
    KeySource,
    MachineClaims,
    MachineSource,
    Reason,
    RequestState,
    Requirements,
    ReverificationConfig,
    SessionClaims,
    TokenVerificationError,
    authenticate_with,
    http_answer,
)
from clerk_auth_core._config import settings_from_mapping
from clerk_auth_core._extract import REQUEST_HEADERS, HeadersInput
from clerk_auth_core._flow import Accepts
from clerk_auth_core._refusal_log import RefusalLog, warm_up_failure
from clerk_auth_core.io import key_provider, machine_verifier

from ._errors import ClerkAuthFailed

__all__ = [
    "ClerkAuth",
    "NotSetUp",
    "authenticate",
    "guard",
    "get_auth",
    "get_machine_auth",
    "get_request_state",
    "get_verified",
    "log_refusal",
    "not_set_up",
    "require_claims",
]

logger = logging.getLogger("clerk_auth")

EXTENSION = "clerk_auth"
P = ParamSpec("P")
R = TypeVar("R")
Names = str | Iterable[str] | None
#: ``app.extensions[REFUSALS]``: the app's :class:`RefusalLog` (what to log, how often).
REFUSALS = "clerk_auth.refusals"
#: The clock of the refusal log's rate limit (a name of its own, for tests).
_monotonic = time.monotonic
ErrorHook = Callable[[HttpAnswer, ClerkAuthError | None], ResponseReturnValue]


#: ``app.extensions[INSTANCES][clerk_auth]``: each ClerkAuth's own state on the app.
INSTANCES = "clerk_auth.instances"
#: ``request.environ`` keys: the request's results per (state, allow_pending, accepts),
#: and the latest result. Kept per request, not on ``g``: ``g`` lives as long as the app context,
#: which several requests share inside ``with app.app_context():`` (tests, CLI commands).
_STATES_KEY = "clerk_auth.states"
_LATEST_KEY = "clerk_auth.state"


class _State:
    """One :class:`ClerkAuth`'s configuration, key source and machine verifier on one app.

    Only immutable configuration and the providers, which are themselves fork-safe.
    Hashed by identity: it keys the request's results, so two extensions never share one.
    """

    __slots__ = ("config", "machine", "source")

    def __init__(
        self, config: ClerkConfig, source: KeySource, machine: MachineSource | None
    ) -> None:
        self.config = config
        self.source = source
        self.machine = machine


class ClerkAuth:
    """Verify Clerk session tokens in a Flask app; routes opt in with ``@require_auth``.

    :param config: the configuration; by default ``app.config["CLERK_…"]`` keys, each
        falling back to the environment variable of the same name.
    :param key_source: where keys come from (default: ``key_provider(config)``, one
        per app, shared by all threads); tests may inject their own.
    :param machine_source: verifies opaque machine tokens (``ak_``, ``mt_``, ``oat_``)
        on routes that accept them (default: ``machine_verifier(config)``, one per app,
        or none when the config has no secret key); a given one stays yours to close.
    :param on_error: build the response for a refused request from the core's
        :class:`~clerk_auth_core.HttpAnswer` and the error instead of the default JSON.
    :param warm_up: fetch the keys at ``init_app`` (the default), so a wrong
        ``CLERK_SECRET_KEY`` or an unreachable JWKS is logged at ERROR, with the fix,
        when the app starts rather than at the first request; never raised. Under
        gunicorn ``--preload`` the keys fetched in the master are inherited by the
        workers (the provider is fork-safe). ``False``: fetch on first use.
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
        machine_source: MachineSource | None = None,
        on_error: ErrorHook | None = None,
        warm_up: bool = True,
    ) -> None:
        self.config = config
        self.key_source = key_source
        self.machine_source = machine_source
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
        machine = self.machine_source
        if machine is None:
            # Makes no connection until the first opaque token: free for sessions-only apps.
            owned = machine_verifier(config)
            if owned is not None:
                weakref.finalize(app, owned.close)
            machine = owned
        state = _State(config, source, machine)
        app.extensions[EXTENSION] = state
        instances: dict[ClerkAuth, _State] = app.extensions.setdefault(INSTANCES, {})
        if not instances:
            app.teardown_request(_forget)
        instances[self] = state
        app.extensions.setdefault(REFUSALS, RefusalLog())  # one per app, for every guard
        if self.on_error is not None:
            hook = self.on_error
            app.register_error_handler(ClerkAuthFailed, lambda e: hook(e.answer, e.error))
        if self.warm_up:
            _warm_up(source, config)

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
        reverification: ReverificationConfig | None = None,
        accepts: Accepts = None,
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
        reverification: ReverificationConfig | None = None,
        accepts: Accepts = None,
    ) -> Any:
        """:func:`clerk_auth_flask.require_auth` with this ClerkAuth's configuration,
        key source and machine verifier (it must be initialised on the app), whatever
        the app's default."""
        decorate = guard(
            self,
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


def _forget(_exc: BaseException | None = None) -> None:
    # g outlives the request when an app context is shared: drop what we put there.
    ctx_g = g._get_current_object()
    ctx_g.pop("clerk_auth", None)
    ctx_g.pop("clerk_request_state", None)


def _warm_up(source: object, config: ClerkConfig) -> None:
    warm: Callable[[], bool] | None = getattr(source, "warm_up", None)
    try:
        ok = warm is None or warm()
    except Exception:  # the start must never fail because the keys are not there yet
        ok = False
    if not ok:
        stats = getattr(source, "stats", None)  # a JwksStats (a property)
        logger.error(warm_up_failure(config, stats if isinstance(stats, JwksStats) else None))


#: The WSGI environ keys of the headers the core reads (WSGI has already joined
#: repeated headers into one value, as ``request.headers`` would show them).
_ENVIRON_KEYS = tuple((name, "HTTP_" + name.upper().replace("-", "_")) for name in REQUEST_HEADERS)


class NotSetUp(RuntimeError):
    """The app has no ClerkAuth (or not the one a guard names): a set-up error, which
    the guards answer with the core's JSON 500 (:func:`not_set_up`)."""


def _extension(instance: ClerkAuth | None) -> _State:
    extensions = current_app.extensions
    try:
        if instance is None:
            return extensions[EXTENSION]  # type: ignore[no-any-return]
        return extensions[INSTANCES][instance]  # type: ignore[no-any-return]
    except KeyError:
        raise NotSetUp("ClerkAuth is not set up: call ClerkAuth(app) or init_app(app).") from None


def authenticate(
    allow_pending: bool | None = None,
    instance: ClerkAuth | None = None,
    accepts: AcceptsToken | None = None,
) -> RequestState:
    """Authenticate the current request once per extension, ``allow_pending`` and
    ``accepts`` (``instance``: that ClerkAuth's, else the app's default; ``accepts``:
    the route's token kinds, ``None`` for the config's), kept with the request."""
    # Each use of a context-local proxy (g, request, current_app) costs a lookup:
    # resolve each once.
    ext = _extension(instance)
    environ = request.environ
    states: dict[tuple[_State, bool | None, AcceptsToken | None], RequestState] | None = (
        environ.get(_STATES_KEY)
    )
    if states is None:
        states = environ[_STATES_KEY] = {}
    # accepts in the key: a sessions-only route and an api_key route on one request
    # (nested guards) each get their own answer, never the other's.
    slot = (ext, allow_pending, accepts)
    state = states.get(slot)
    if state is None:
        state = states[slot] = authenticate_with(
            ext.source,
            [(name, environ[key]) for name, key in _ENVIRON_KEYS if key in environ],
            config=ext.config,
            now=time.time(),
            method=environ.get("REQUEST_METHOD"),
            allow_pending=allow_pending,
            accepts=accepts,
            machine=ext.machine,
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
    """The verified session of the current request, ``None`` when signed out (or
    signed in with a machine token: see :func:`get_machine_auth`)."""
    return get_request_state().claims


def get_machine_auth() -> MachineClaims | None:
    """The verified machine token (API key, M2M or OAuth token) of the current request,
    ``None`` when it is not signed in with one."""
    return get_request_state().machine


def get_verified() -> SessionClaims | MachineClaims | None:
    """The verified token of the current request, whichever kind (a session or a
    machine token; both offer ``subject``, ``token_type`` and ``user_id``), ``None``
    when signed out. ``g.clerk_auth`` holds the same inside ``@require_auth``."""
    return get_request_state().verified


def require_claims() -> SessionClaims:
    """The verified session of the current request, never ``None``: for use inside
    ``@require_auth``, where a signed-out request never reaches the view (so typed code
    needs no ``None`` check). Signed out, it raises the same :class:`ClerkAuthFailed`
    (401/503) ``@require_auth`` would have answered."""
    try:
        state = get_request_state()
    except NotSetUp:
        raise not_set_up() from None
    if state.claims is not None:
        return state.claims
    error = state.error or TokenVerificationError(Reason.SESSION_TOKEN_AND_UAT_MISSING)
    log_refusal(error)
    raise ClerkAuthFailed(http_answer(error), error)


def log_refusal(error: ClerkAuthError, instance: ClerkAuth | None = None) -> None:
    """Log refusing the current request with ``error`` (rate-limited, see RefusalLog);
    the hints compare the token with ``instance``'s configuration (else the default's)."""
    extensions = current_app.extensions  # one proxy lookup
    refusals: RefusalLog | None = extensions.get(REFUSALS)
    state: _State | None = (
        extensions.get(EXTENSION)
        if instance is None
        else extensions.get(INSTANCES, {}).get(instance)
    )
    if refusals is None or state is None:
        return
    line = refusals.line(error, now=_monotonic(), config=state.config, headers=_headers)
    if line is not None:
        logger.log(line.level, line.message)


def _headers() -> HeadersInput:
    # Called only when a hinted line is due: no request proxy lookup per refusal.
    return request.headers.items()


def not_set_up() -> ClerkAuthFailed:
    """The refusal for a guard used on an app without ``ClerkAuth(app)``: the core's
    JSON 500 ``configuration-invalid``, and an ERROR line saying the fix."""
    # Per app (an app without ClerkAuth has no RefusalLog yet: it gets one here).
    refusals: RefusalLog = current_app.extensions.setdefault(REFUSALS, RefusalLog())
    line = refusals.setup_error(
        "flask-not-set-up",
        f"@require_auth on app {current_app.name!r}, which has no ClerkAuth: call "
        "ClerkAuth(app) (or ClerkAuth().init_app(app)) where the app is created.",
        now=_monotonic(),
    )
    if line is not None:
        logger.log(line.level, line.message)
    error = ConfigurationError(REASONS[Reason.CONFIGURATION_INVALID].message)
    return ClerkAuthFailed(http_answer(error), error)


def guard(
    instance: ClerkAuth | None,
    *,
    optional: bool,
    role: Names,
    permission: Names,
    feature: Names,
    plan: Names,
    allow_pending: bool | None,
    reverification: ReverificationConfig | None = None,
    accepts: Accepts = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The decorator of :func:`require_auth` for ``instance`` (``None``: the app's default).

    :raises ConfigurationError: now, at decoration, for a requirement or ``accepts``
        Clerk cannot issue (``accepts="api_keys"``).
    """
    requirements = Requirements.of(
        role=role, permission=permission, feature=feature, plan=plan, reverification=reverification
    )
    # Built once here: a typo fails at import, and the request path gets a ready value.
    accepted = None if accepts is None else AcceptsToken(accepts)

    def check() -> Response | None:
        try:
            state = authenticate(allow_pending, instance, accepted)
        except NotSetUp:
            raise not_set_up() from None
        verdict = state.verdict(requirements, optional=optional)
        if verdict is not None:
            answer, error = verdict
            if error is None:  # a preflight: answered, not refused
                return Response(answer.body_bytes, answer.status, list(answer.headers))
            log_refusal(error, instance)
            raise ClerkAuthFailed(answer, error)
        # The verified token, session or machine (a session on a sessions-only route).
        g._get_current_object().clerk_auth = state.verified
        return None

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                answered = check()
                return answered if answered is not None else await fn(*args, **kwargs)

            return async_wrapper

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            answered = check()
            return answered if answered is not None else fn(*args, **kwargs)

        return wrapper

    return decorate
