"""What the middleware, the route decorator and the FastAPI dependencies share.

An :class:`Authenticator` holds one configuration and one async key provider, and
authenticates an ASGI scope at most once per ``allow_pending`` value (the result is
cached in the scope). Every result is *annotated* on the scope: ``scope["user"]`` and
``scope["auth"]`` for Starlette's ``request.user`` / ``request.auth`` / ``@requires``,
and the :class:`RequestState` in ``scope["state"]`` for :func:`get_request_state`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from starlette.authentication import AuthCredentials, BaseUser, UnauthenticatedUser
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.types import Message, Scope

from clerk_auth_core import (
    AsyncKeySource,
    ClerkAuthError,
    ClerkConfig,
    HttpAnswer,
    RequestState,
    SessionClaims,
    authenticate_with_async,
)
from clerk_auth_core.io import async_key_provider

__all__ = [
    "AUTHENTICATOR_KEY",
    "STATE_KEY",
    "Authenticator",
    "ClerkUser",
    "ErrorHandler",
    "answer_response",
    "close_message",
    "get_auth",
    "get_request_state",
]

logger = logging.getLogger("clerk_auth")

#: ``scope["state"][STATE_KEY]`` (``request.state.clerk_auth``): the latest RequestState.
STATE_KEY = "clerk_auth"
#: The scope key under which the middleware publishes its :class:`Authenticator`.
AUTHENTICATOR_KEY = "clerk_auth.authenticator"
_CACHE_KEY = "clerk_auth.states"

#: ``on_error(request, answer, error)``: the response to send instead of the core's JSON
#: (``error`` is the refusal: an ``AuthorizationError`` for a 403).
ErrorHandler = Callable[
    [Request, HttpAnswer, "ClerkAuthError | None"], "Response | Awaitable[Response]"
]


class _ClosableSource(AsyncKeySource, Protocol):
    async def aclose(self) -> None: ...


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


def _scopes(claims: SessionClaims) -> tuple[str, ...]:
    # For Starlette's @requires(...): one scope per role and per permission. Members of
    # an organisation share role and permissions, so the list is built once per set.
    key = (claims.org_role, claims.org_permissions)
    scopes = _scopes_memo.get(key)
    if scopes is None:
        built = ["authenticated"]
        if claims.org_role:
            built.append(f"role:{claims.org_role}")
        built.extend(f"permission:{p}" for p in claims.org_permissions)
        scopes = tuple(built)
        if len(_scopes_memo) < _SCOPES_ENTRIES:
            _scopes_memo[key] = scopes
    return scopes


#: Bounded: once full, further sets are built each time (no lock needed, see
#: clerk_auth_core's token cache for why a dict is safe here).
_SCOPES_ENTRIES = 256
_scopes_memo: dict[tuple[str | None, tuple[str, ...]], tuple[str, ...]] = {}


def _annotate(scope: Scope, state: RequestState) -> None:
    scope.setdefault("state", {})[STATE_KEY] = state
    claims = state.claims
    if claims is None:
        scope["user"], scope["auth"] = UnauthenticatedUser(), AuthCredentials()
    else:
        scope["user"] = ClerkUser(claims)
        scope["auth"] = AuthCredentials(_scopes(claims))  # a list of its own, per request


def get_request_state(conn: HTTPConnection) -> RequestState | None:
    """The :class:`RequestState` of this request, or ``None`` when nothing authenticated
    it (no middleware, an excluded path and no route guard)."""
    state = conn.scope.get("state")
    return state.get(STATE_KEY) if isinstance(state, dict) else None


def get_auth(conn: HTTPConnection) -> SessionClaims | None:
    """The verified :class:`SessionClaims` of this request, ``None`` when signed out."""
    state = get_request_state(conn)
    return None if state is None else state.claims


def answer_response(request: Request, answer: HttpAnswer, error: ClerkAuthError | None) -> Response:
    """The default ``on_error``: the core's status, headers and JSON body, as they are."""
    return Response(answer.body_bytes, answer.status, dict(answer.headers))


class Authenticator:
    """One configuration and one key source (made on first use, in the server's loop).

    :param config: ``None`` reads ``CLERK_*`` from the environment on first use.
    :param key_source: yours to close; by default a provider is made and :meth:`aclose`
        closes it.
    """

    def __init__(
        self,
        config: ClerkConfig | None = None,
        key_source: AsyncKeySource | None = None,
        on_error: ErrorHandler | None = None,
    ) -> None:
        self._config = config
        self._source = key_source
        self._owned: _ClosableSource | None = None
        self.on_error: ErrorHandler = on_error or answer_response

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

    async def aclose(self) -> None:
        """Close the key provider made here (a given ``key_source`` stays open)."""
        owned, self._owned = self._owned, None
        if owned is not None:
            self._source = None
            await owned.aclose()

    async def warm_up(self) -> bool:
        """Fetch the keys now (at start-up); a failure is logged, never raised."""
        warm: Callable[[], Awaitable[bool]] | None = getattr(self.key_source, "warm_up", None)
        try:
            ok = warm is None or await warm()
        except Exception:  # the start must never fail because the keys are not there yet
            ok = False
        if not ok:
            logger.warning("clerk-auth: key warm-up failed; keys will be fetched on first use.")
        return ok

    async def authenticate(self, scope: Scope, allow_pending: bool | None = None) -> RequestState:
        """The scope's RequestState for ``allow_pending`` (computed once per request)."""
        cache: dict[bool | None, RequestState] = scope.setdefault(_CACHE_KEY, {})
        state = cache.get(allow_pending)
        if state is None:
            state = cache[allow_pending] = await authenticate_with_async(
                self.key_source,
                scope["headers"],
                config=self.config,
                now=time.time(),
                method=scope.get("method"),
                allow_pending=allow_pending,
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
