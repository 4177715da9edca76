"""What the middleware, the route decorator and the FastAPI dependencies share.

An :class:`Authenticator` holds one configuration, one async key provider and one
async machine-token verifier (made only when a route accepts machine tokens), and
authenticates an ASGI scope at most once per ``(allow_pending, accepts)`` pair (the
result is cached in the scope, under the authenticator itself: two authenticators on
one request, side by side or nested, never see each other's results, and two routes
accepting different token kinds never share one). Every result is *annotated* on the
scope: ``scope["user"]`` and ``scope["auth"]`` for Starlette's ``request.user`` /
``request.auth`` / ``@requires``, and the :class:`RequestState` in ``scope["state"]``
for :func:`get_request_state`; the last authenticator to run is the one they show.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol, TypeAlias

from starlette.authentication import AuthCredentials, BaseUser, UnauthenticatedUser
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.types import Message, Scope

from clerk_auth_core import (
    REASONS,
    AcceptsToken,
    AsyncKeySource,
    AsyncMachineSource,
    ClerkAuthError,
    ClerkConfig,
    ConfigurationError,
    HttpAnswer,
    JwksStats,
    MachineClaims,
    Reason,
    RequestState,
    SessionClaims,
    authenticate_with_async,
    http_answer,
    session_scopes,
)
from clerk_auth_core._refusal_log import RefusalLog, warm_up_failure
from clerk_auth_core._requirements import machine_scopes
from clerk_auth_core.io import async_key_provider, async_machine_verifier

__all__ = [
    "AUTHENTICATOR_KEY",
    "STATE_KEY",
    "Accepts",
    "Authenticator",
    "ClerkMachine",
    "ClerkUser",
    "ErrorHandler",
    "accepted",
    "answer_response",
    "close_message",
    "get_auth",
    "get_machine_auth",
    "get_request_state",
    "get_verified",
    "machine_scopes",
    "not_set_up",
    "require_claims",
]

logger = logging.getLogger("clerk_auth")

#: ``scope["state"][STATE_KEY]`` (``request.state.clerk_auth``): the latest RequestState.
STATE_KEY = "clerk_auth"
#: The scope key under which the middleware publishes its :class:`Authenticator`.
AUTHENTICATOR_KEY = "clerk_auth.authenticator"
_CACHE_KEY = "clerk_auth.states"
#: The clock of the refusal log's rate limit (a name of its own, for tests).
_monotonic = time.monotonic
#: For the lines logged where no Authenticator is at hand (no middleware).
_UNSET_REFUSALS = RefusalLog()

#: ``on_error(request, answer, error)``: the response to send instead of the core's JSON
#: (``error`` is the refusal: an ``AuthorizationError`` for a 403).
ErrorHandler = Callable[
    [Request, HttpAnswer, "ClerkAuthError | None"], "Response | Awaitable[Response]"
]


class _ClosableSource(AsyncKeySource, Protocol):
    async def aclose(self) -> None: ...


class _ClosableMachine(AsyncMachineSource, Protocol):
    async def aclose(self) -> None: ...


#: A guard's ``accepts=``: a kind, a list of kinds, ``"any"``, an AcceptsToken, or None.
Accepts: TypeAlias = "AcceptsToken | str | Iterable[str] | None"


def accepted(accepts: Accepts) -> AcceptsToken | None:
    """A guard's ``accepts=``, resolved once, where the guard is declared (so a typo
    fails at start-up and a request pays nothing for it): ``None`` stays ``None``.

    :raises ConfigurationError: for an unknown kind or an empty list.
    """
    return None if accepts is None else AcceptsToken(accepts)


class ClerkUser(BaseUser):
    """The signed-in user as ``request.user``; ``claims`` holds the whole session."""

    def __init__(self, claims: SessionClaims) -> None:
        self.claims = claims

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.claims.user_id

    @property
    def identity(self) -> str:
        return self.claims.user_id

    def __repr__(self) -> str:
        return f"ClerkUser({self.claims.user_id!r})"


class ClerkMachine(BaseUser):
    """A verified machine token (API key, M2M or OAuth token) as ``request.user``;
    ``claims`` holds its :class:`MachineClaims`. ``identity`` is its subject
    (``user_…``, ``org_…`` or ``mch_…``), ``display_name`` an API key's name or the
    subject."""

    def __init__(self, claims: MachineClaims) -> None:
        self.claims = claims

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.claims.name or self.claims.subject

    @property
    def identity(self) -> str:
        return self.claims.subject

    def __repr__(self) -> str:
        return f"ClerkMachine({self.claims.token_type!r}, {self.claims.subject!r})"


def _annotate(scope: Scope, state: RequestState) -> None:
    scope.setdefault("state", {})[STATE_KEY] = state
    claims = state.claims
    if claims is not None:
        scope["user"] = ClerkUser(claims)
        # The core's scope vocabulary (session_scopes), so @requires("role:admin")
        # means what Security(..., scopes=["role:admin"]) means; a list of its own.
        scope["auth"] = AuthCredentials(session_scopes(claims))
    elif state.machine is not None:
        scope["user"] = ClerkMachine(state.machine)
        scope["auth"] = AuthCredentials(machine_scopes(state.machine))
    else:
        scope["user"], scope["auth"] = UnauthenticatedUser(), AuthCredentials()


def get_request_state(conn: HTTPConnection) -> RequestState | None:
    """The :class:`RequestState` of this request, or ``None`` when nothing authenticated
    it (no middleware, an excluded path and no route guard)."""
    state = conn.scope.get("state")
    return state.get(STATE_KEY) if isinstance(state, dict) else None


def _state_or_warn(conn: HTTPConnection) -> RequestState | None:
    state = get_request_state(conn)
    if state is None and AUTHENTICATOR_KEY not in conn.scope:
        _warn_no_middleware()
    return state


def get_auth(conn: HTTPConnection) -> SessionClaims | None:
    """The verified :class:`SessionClaims` of this request, ``None`` when signed out
    (and when signed in with a machine token: see :func:`get_verified`).

    ``None`` too when nothing authenticated the request: that is logged at WARNING,
    once per process, when no :class:`ClerkAuthMiddleware` is on the app at all (a
    forgotten ``add_middleware``, which would otherwise look like a signed-out user).
    """
    state = _state_or_warn(conn)
    return None if state is None else state.claims


def get_machine_auth(conn: HTTPConnection) -> MachineClaims | None:
    """The verified :class:`MachineClaims` of this request (an API key, M2M or OAuth
    token, on a route that accepts it), ``None`` otherwise (signed out, or a session).
    Warns as :func:`get_auth` does when no middleware is on the app."""
    state = _state_or_warn(conn)
    return None if state is None else state.machine


def get_verified(conn: HTTPConnection) -> SessionClaims | MachineClaims | None:
    """The verified token of this request, whichever kind (``RequestState.verified``):
    both offer ``subject``, ``token_type`` and ``user_id``. ``None`` when signed out.
    Warns as :func:`get_auth` does when no middleware is on the app."""
    state = _state_or_warn(conn)
    return None if state is None else state.verified


def require_claims(conn: HTTPConnection) -> SessionClaims:
    """The verified :class:`SessionClaims` of this request, never ``None``: for use
    inside ``@require_auth`` (not ``optional``), behind the middleware in ``reject``
    mode, or after a FastAPI ``require_auth`` dependency, where a signed-out request
    never reaches the endpoint (so typed code needs no ``None`` check).

    :raises RuntimeError: when the request is not signed in: the endpoint is not
        guarded (a programming error, answered 500 by the server).
    """
    state = get_request_state(conn)
    if state is not None and state.claims is not None:
        return state.claims
    raise RuntimeError(
        "require_claims(request): this request is not signed in; call it only where a "
        "guard refused signed-out requests (@require_auth, ClerkAuthMiddleware in reject "
        "mode, Depends(require_auth)); use get_auth(request) on optional routes"
    )


_warned_no_middleware: list[bool] = []


def _warn_no_middleware() -> None:
    if not _warned_no_middleware:  # once per process: list.append is atomic
        _warned_no_middleware.append(True)
        logger.warning(
            "clerk-auth: get_auth(request) found no ClerkAuthMiddleware on the app, so "
            "every request looks signed out: add app.add_middleware(ClerkAuthMiddleware) "
            "(or Middleware(ClerkAuthMiddleware) in Starlette(middleware=[...]))."
        )


def not_set_up(conn: HTTPConnection) -> HttpAnswer:
    """The answer for ``@require_auth`` on an app without :class:`ClerkAuthMiddleware`:
    the core's JSON 500 ``configuration-invalid``, and an ERROR line saying the fix."""
    line = _UNSET_REFUSALS.setup_error(
        f"starlette-no-middleware:{id(conn.scope.get('app'))}",  # per app
        f"@require_auth on {conn.url.path} needs ClerkAuthMiddleware on the app: add "
        "app.add_middleware(ClerkAuthMiddleware, mode='annotate') (or Middleware(...) in "
        "Starlette(middleware=[...])).",
        now=_monotonic(),
    )
    if line is not None:
        logger.log(line.level, line.message)
    return http_answer(ConfigurationError(REASONS[Reason.CONFIGURATION_INVALID].message))


def answer_response(request: Request, answer: HttpAnswer, error: ClerkAuthError | None) -> Response:
    """The default ``on_error``: the core's status, headers and JSON body, as they are."""
    return Response(answer.body_bytes, answer.status, dict(answer.headers))


class Authenticator:
    """One configuration, one key source and one machine-token verifier (each made on
    first use, in the server's loop).

    :param config: ``None`` reads ``CLERK_*`` from the environment on first use.
    :param key_source: yours to close; by default a provider is made and :meth:`aclose`
        closes it.
    :param machine_source: verifies opaque machine tokens (``ak_``, ``mt_``, ``oat_``);
        yours to close. By default ``io.async_machine_verifier(config)`` is made when a
        route first accepts machine tokens (``None`` without a secret key: such tokens
        are then answered 500 ``configuration-invalid``), and :meth:`aclose` closes it.
    :param accepts: what a guard that names no ``accepts`` takes (the middleware's
        ``accepts=``); ``None``: the configuration's ``accepts_token``.
    """

    def __init__(
        self,
        config: ClerkConfig | None = None,
        key_source: AsyncKeySource | None = None,
        on_error: ErrorHandler | None = None,
        *,
        machine_source: AsyncMachineSource | None = None,
        accepts: AcceptsToken | None = None,
    ) -> None:
        self._config = config
        self._from_env = config is None
        self._source = key_source
        self._owned: _ClosableSource | None = None
        self._machine = machine_source
        # Made yet? (None is a made answer too: no secret key to verify with.)
        self._machine_made = machine_source is not None
        self._owned_machine: _ClosableMachine | None = None
        self._accepts = accepts
        self.on_error: ErrorHandler = on_error or answer_response
        #: Which refusals to log, and how often (one line per reason per 10 s).
        self.refusals = RefusalLog()

    @property
    def config(self) -> ClerkConfig:
        """The configuration."""
        if self._config is None:
            self._config = ClerkConfig.from_env()
        return self._config

    @property
    def key_source(self) -> AsyncKeySource:
        """The key source."""
        if self._source is None:
            self._source = self._owned = async_key_provider(self.config)
        return self._source

    @property
    def accepts(self) -> AcceptsToken:
        """What a guard that names no ``accepts`` takes."""
        return self.config.accepts_token if self._accepts is None else self._accepts

    @property
    def machine_source(self) -> AsyncMachineSource | None:
        """The opaque machine-token verifier (``None`` when the configuration has no
        secret key to ask the Backend API with)."""
        if not self._machine_made:
            made = async_machine_verifier(self.config)
            self._machine = self._owned_machine = made
            self._machine_made = True
        return self._machine

    async def aclose(self) -> None:
        """Close the key provider and the machine verifier made here (a given
        ``key_source`` or ``machine_source`` stays open)."""
        owned, self._owned = self._owned, None
        machine, self._owned_machine = self._owned_machine, None
        if machine is not None:
            self._machine, self._machine_made = None, False
        if owned is not None:
            self._source = None
        try:
            if owned is not None:
                await owned.aclose()
        finally:
            if machine is not None:
                await machine.aclose()

    def reset(self) -> None:
        """Forget a configuration read from the environment and the provider and
        machine verifier made for it: the next request reads ``CLERK_*`` again (tests
        that change the environment between tests; the pytest plugin's ``mock_clerk``
        fixtures do it for the default FastAPI dependencies). A given configuration,
        ``key_source`` or ``machine_source`` is kept. The old ones are dropped
        unclosed: call :meth:`aclose` first from a running loop."""
        if self._from_env:
            self._config = None
            if self._owned is not None:
                self._source = self._owned = None
            if self._owned_machine is not None or self._machine is None:
                self._machine = self._owned_machine = None
                self._machine_made = False
        self.refusals = RefusalLog()

    async def warm_up(self) -> bool:
        """Fetch the keys now (at start-up); a failure is logged, never raised."""
        warm: Callable[[], Awaitable[bool]] | None = getattr(self.key_source, "warm_up", None)
        try:
            ok = warm is None or await warm()
        except Exception:  # the start must never fail because the keys are not there yet
            ok = False
        if not ok:
            stats = getattr(self.key_source, "stats", None)  # a JwksStats (a property)
            logger.error(
                warm_up_failure(self.config, stats if isinstance(stats, JwksStats) else None)
            )
        return ok

    def log_refusal(self, error: ClerkAuthError, scope: Scope) -> None:
        """Log refusing the request of ``scope`` with ``error`` (rate-limited, see
        :class:`~clerk_auth_core._refusal_log.RefusalLog`)."""
        line = self.refusals.line(
            error, now=_monotonic(), config=self.config, headers=scope["headers"]
        )
        if line is not None:
            logger.log(line.level, line.message)

    async def authenticate(
        self,
        scope: Scope,
        allow_pending: bool | None = None,
        accepts: AcceptsToken | None = None,
    ) -> RequestState:
        """The scope's RequestState for ``allow_pending`` and ``accepts`` (``None``:
        :attr:`accepts`), computed once per request, authenticator and pair: the cache
        is keyed by all three, so a result obtained with another configuration, key
        source or set of accepted kinds is never reused."""
        if accepts is not None and accepts == self.accepts:
            accepts = None  # the default, named: share the default's result
        cache: dict[tuple[Authenticator, bool | None, AcceptsToken | None], RequestState] = (
            scope.setdefault(_CACHE_KEY, {})
        )
        key = (self, allow_pending, accepts)
        state = cache.get(key)
        if state is None:
            config = self.config
            if accepts is None:
                accepts = self._accepts or config.accepts_token
            state = cache[key] = await authenticate_with_async(
                self.key_source,
                scope["headers"],
                config=config,
                now=time.time(),
                method=scope.get("method"),
                allow_pending=allow_pending,
                accepts=accepts,
                # Sessions only: no verifier is made (nor looked up) at all.
                machine=None if accepts.sessions_only else self.machine_source,
            )
        _annotate(scope, state)
        return state

    async def error_response(
        self, request: Request, answer: HttpAnswer, error: ClerkAuthError | None
    ) -> Response:
        """The HTTP response refusing ``request``: ``on_error``'s (awaited if async)."""
        response = self.on_error(request, answer, error)
        return response if isinstance(response, Response) else await response


def close_message(answer: HttpAnswer) -> Message:
    """How a refused websocket handshake ends: ``websocket.close`` before accept, which
    the server turns into a refused handshake (ASGI: HTTP 403); code 1008 = policy
    violation (RFC 6455 §7.4.1), the reason is the core's."""
    return {"type": "websocket.close", "code": 1008, "reason": answer.reason}
