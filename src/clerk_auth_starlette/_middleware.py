"""The pure ASGI middleware: authenticate ``http`` and ``websocket`` scopes.

Not a ``BaseHTTPMiddleware``: it never buffers bodies or breaks streaming and
context variables, and it sees websocket handshakes too. Per connection it reads the
headers, calls the core (:func:`authenticate_with_async`, which asks the key provider
for keys only when a token passed the gate) and either passes the scope on, annotated,
or answers the core's :class:`HttpAnswer`. It makes no HTTP decision of its own.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Literal, Protocol

from starlette.authentication import AuthCredentials, BaseUser, UnauthenticatedUser
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clerk_auth_core import (
    AsyncKeySource,
    ClerkAuthError,
    ClerkConfig,
    HttpAnswer,
    RequestState,
    SessionClaims,
    authenticate_with_async,
)

__all__ = [
    "STATE_KEY",
    "ClerkAuthMiddleware",
    "ClerkUser",
    "annotate",
    "answer_response",
    "authenticate_scope",
    "get_auth",
    "get_request_state",
    "new_key_source",
]

#: The key of the :class:`RequestState` in ``scope["state"]`` (``request.state.clerk_auth``).
STATE_KEY = "clerk_auth"

#: ``on_error(request, answer, error)``: the response to send instead of the core's JSON.
ErrorHandler = Callable[[Request, HttpAnswer, ClerkAuthError], "Response | Awaitable[Response]"]


class ClosableKeySource(AsyncKeySource, Protocol):
    """An async key source that holds a connection pool to close at shutdown."""

    async def aclose(self) -> None:
        """Release the HTTP client."""


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


def _scopes(claims: SessionClaims) -> list[str]:
    # Starlette's @requires("...") checks these strings: one per role and permission.
    scopes = ["authenticated"]
    if claims.org_role:
        scopes.append(f"role:{claims.org_role}")
    scopes.extend(f"permission:{p}" for p in claims.org_permissions)
    return scopes


def annotate(scope: Scope, state: RequestState) -> None:
    """Store ``state`` in ``scope["state"]`` and set ``scope["user"]`` / ``scope["auth"]``."""
    scope.setdefault("state", {})[STATE_KEY] = state
    if state.claims is None:
        scope["user"], scope["auth"] = UnauthenticatedUser(), AuthCredentials()
    else:
        scope["user"] = ClerkUser(state.claims)
        scope["auth"] = AuthCredentials(_scopes(state.claims))


def get_request_state(conn: HTTPConnection) -> RequestState | None:
    """The :class:`RequestState` of this request, or ``None`` if nothing authenticated it
    (no middleware, an excluded path, no FastAPI dependency ran yet)."""
    state = conn.scope.get("state")
    return state.get(STATE_KEY) if isinstance(state, dict) else None


def get_auth(conn: HTTPConnection) -> SessionClaims | None:
    """The verified :class:`SessionClaims` of this request, or ``None`` when signed out."""
    state = get_request_state(conn)
    return None if state is None else state.claims


async def authenticate_scope(
    source: AsyncKeySource, config: ClerkConfig, scope: Scope, *, method: str | None = None
) -> RequestState:
    """Authenticate an ASGI scope's headers (``method`` for preflight detection)."""
    return await authenticate_with_async(
        source, scope["headers"], config=config, now=time.time(), method=method
    )


def new_key_source(config: ClerkConfig) -> ClosableKeySource:
    """The async key provider for ``config`` (JWKS through httpx, or the static PEM)."""
    from clerk_auth_core.io import async_key_provider

    provider: ClosableKeySource = async_key_provider(config)
    return provider


def answer_response(request: Request, answer: HttpAnswer, error: ClerkAuthError) -> Response:
    """The default ``on_error``: the core's status, headers and JSON body, as they are."""
    return Response(
        answer.body_bytes, answer.status, dict(answer.headers), media_type="application/json"
    )


def _matches(path: str, patterns: tuple[str, ...]) -> bool:
    return any(path == p or (p.endswith("/") and path.startswith(p)) for p in patterns)


class ClerkAuthMiddleware:
    """Authenticate every HTTP request and websocket handshake with a Clerk session token.

    ``app.add_middleware(ClerkAuthMiddleware, config=ClerkConfig.from_env())``

    :param config: ``None`` reads ``CLERK_*`` from the environment.
    :param key_source: an :class:`AsyncKeySource`; default: one provider per middleware
        (per app), made on first use and closed at lifespan shutdown (or :meth:`aclose`).
    :param mode: ``"reject"`` answers 401/403/503 itself; ``"annotate"`` only sets
        ``request.user`` / ``request.auth`` / :func:`get_auth` and lets routes decide.
    :param exclude_paths: paths passed through untouched: exact, or a prefix when the
        entry ends in ``/`` (``"/public/"``).
    :param exclude_methods: methods passed through untouched (``"GET"``).
    :param on_error: ``(request, answer, error) -> Response`` (may be async) replacing
        the JSON answer in reject mode. Websockets are always closed with 1008.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        config: ClerkConfig | None = None,
        key_source: AsyncKeySource | None = None,
        mode: Literal["reject", "annotate"] = "reject",
        exclude_paths: Iterable[str] = (),
        exclude_methods: Iterable[str] = (),
        on_error: ErrorHandler | None = None,
    ) -> None:
        if mode not in ("reject", "annotate"):
            raise ValueError("mode must be 'reject' or 'annotate'")
        self.app = app
        self.config = ClerkConfig.from_env() if config is None else config
        self.mode = mode
        self.exclude_paths = tuple(exclude_paths)
        self.exclude_methods = frozenset(m.upper() for m in exclude_methods)
        self.on_error: ErrorHandler = on_error or answer_response
        self._source: AsyncKeySource | None = key_source
        self._owned: ClosableKeySource | None = None

    @property
    def key_source(self) -> AsyncKeySource:
        """The key source, made on first use (inside the server's event loop)."""
        if self._source is None:
            self._source = self._owned = new_key_source(self.config)
        return self._source

    async def aclose(self) -> None:
        """Close the key provider this middleware made (a given ``key_source`` is yours)."""
        owned, self._owned = self._owned, None
        if owned is not None:
            self._source = None
            await owned.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._lifespan_send(send))
            return
        if (
            scope["type"] not in ("http", "websocket")
            or scope.get("method", "GET") in self.exclude_methods
            or _matches(scope["path"], self.exclude_paths)
        ):
            await self.app(scope, receive, send)
            return
        state = await authenticate_scope(
            self.key_source, self.config, scope, method=scope.get("method")
        )
        annotate(scope, state)
        answer = state.answer() if self.mode == "reject" else None
        if answer is None or state.error is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            # Closing before accept refuses the handshake (ASGI: the server answers 403).
            # 1008 = policy violation (RFC 6455 §7.4.1); the reason is the core's.
            await send({"type": "websocket.close", "code": 1008, "reason": state.error.reason})
        else:
            response = self.on_error(Request(scope, receive), answer, state.error)
            if inspect.isawaitable(response):
                response = await response
            await response(scope, receive, send)

    def _lifespan_send(self, send: Send) -> Send:
        async def lifespan_send(message: Message) -> None:
            # Close the HTTP client after the app's own shutdown ran, then report it.
            if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                await self.aclose()
            await send(message)

        return lifespan_send
