"""The pure ASGI middleware: authenticate ``http`` and ``websocket`` scopes.

Not a ``BaseHTTPMiddleware``: it never buffers bodies or breaks streaming and context
variables, and it sees websocket handshakes too. Per connection it calls the core
(through :class:`Authenticator`, which asks the key provider for keys only when a
token passed the gate), then passes the scope on, annotated, or sends the core's
answer. It makes no HTTP decision of its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clerk_auth_core import AsyncKeySource, AsyncMachineSource, ClerkConfig

from ._auth import AUTHENTICATOR_KEY, Accepts, Authenticator, ErrorHandler, accepted, close_message

__all__ = ["ClerkAuthMiddleware"]


def _matches(path: str, patterns: tuple[str, ...]) -> bool:
    return any(path == p or (p.endswith("/") and path.startswith(p)) for p in patterns)


def route_path(scope: Scope) -> str:
    """The path the app routes on: ``scope["path"]`` without the ``root_path`` prefix.

    ASGI servers put the deployment prefix (``--root-path``) and Starlette's mounts put
    the mount path into ``scope["path"]`` too, but routes match what follows it, so the
    exclusions must as well: matched on the full path, ``exclude_paths=("/public/",)``
    under a prefix ``/public`` would exclude every route. (Starlette's own rule, which
    its private ``get_route_path`` implements; written here to depend on no private name.)
    """
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if not root or not path.startswith(root):
        return path
    rest = path[len(root) :]
    if not rest:
        return "/"
    return rest if rest[0] == "/" else path


class ClerkAuthMiddleware:
    """Authenticate every HTTP request and websocket handshake with a Clerk session token
    (or, with ``accepts=``, a machine token).

    ``app.add_middleware(ClerkAuthMiddleware, config=ClerkConfig.from_env())``

    :param config: ``None`` reads ``CLERK_*`` from the environment (now, so a bad
        configuration fails at start-up).
    :param key_source: an :class:`AsyncKeySource`; by default one provider per
        middleware (per app), made on first use and closed at lifespan shutdown (or by
        :meth:`aclose` when the server runs no lifespan).
    :param accepts: the token kinds it authenticates (and, in ``reject`` mode, lets
        through): ``"session_token"``, ``"api_key"``, ``"m2m_token"``,
        ``"oauth_token"``, a list of them, or ``"any"``; also what ``@require_auth``
        routes naming no ``accepts`` take. ``None``: the configuration's
        ``accepts_token`` (sessions only by default). A typo raises
        ``ConfigurationError`` here. Machine tokens are read from the
        ``Authorization`` header only.
    :param machine_source: an :class:`AsyncMachineSource` verifying opaque machine
        tokens (yours to close); by default ``io.async_machine_verifier(config)``, made
        when a machine token first needs it and closed with the key provider.
    :param mode: ``"reject"`` answers 401/503 itself; ``"annotate"`` only sets
        ``request.user`` / ``request.auth`` / :func:`get_auth` and lets routes decide
        (``@require_auth``, ``@requires``).
    :param exclude_paths: paths the middleware neither authenticates nor rejects:
        exact, or a prefix when the entry ends in ``/`` (``"/static/"``), matched on the
        route path (without ``root_path``, see :func:`route_path`). Route guards
        (``@require_auth``, FastAPI dependencies) there still work.
    :param exclude_methods: methods treated the same way (``"GET"``).
    :param on_error: ``(request, answer, error) -> Response`` (may be async) instead of
        the core's JSON. A refused websocket is always closed with 1008 before accept.
    :param warm_up: fetch the keys during lifespan startup (the default), so a wrong
        ``CLERK_SECRET_KEY`` or an unreachable JWKS is logged at ERROR, with the fix,
        when the server starts; never raised (the keys are then fetched on first use).
        Each worker process runs its own lifespan, so each fetches once. ``False``:
        fetch on first use.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        config: ClerkConfig | None = None,
        key_source: AsyncKeySource | None = None,
        mode: Literal["reject", "annotate"] = "reject",
        accepts: Accepts = None,
        machine_source: AsyncMachineSource | None = None,
        exclude_paths: Iterable[str] = (),
        exclude_methods: Iterable[str] = (),
        on_error: ErrorHandler | None = None,
        warm_up: bool = True,
    ) -> None:
        if mode not in ("reject", "annotate"):
            raise ValueError("mode must be 'reject' or 'annotate'")
        self.app = app
        config = ClerkConfig.from_env() if config is None else config
        self.authenticator = Authenticator(
            config, key_source, on_error, machine_source=machine_source, accepts=accepted(accepts)
        )
        self.mode = mode
        self.exclude_paths = tuple(exclude_paths)
        self.exclude_methods = frozenset(m.upper() for m in exclude_methods)
        self.warm_up = warm_up

    @property
    def config(self) -> ClerkConfig:
        """The configuration."""
        return self.authenticator.config

    async def aclose(self) -> None:
        """Close the key provider and machine verifier this middleware made (a given
        ``key_source`` or ``machine_source`` is yours)."""
        await self.authenticator.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._lifespan_send(send))
            return
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        scope[AUTHENTICATOR_KEY] = self.authenticator  # for route guards downstream
        if (self.exclude_methods and scope.get("method") in self.exclude_methods) or (
            self.exclude_paths and _matches(route_path(scope), self.exclude_paths)
        ):
            await self.app(scope, receive, send)
            return
        state = await self.authenticator.authenticate(scope)
        answer = state.answer() if self.mode == "reject" else None
        if answer is None:
            await self.app(scope, receive, send)
            return
        if state.error is not None:
            self.authenticator.log_refusal(state.error, scope)
        if scope["type"] == "websocket":
            await send(close_message(answer))
        else:
            request = Request(scope, receive)
            response = await self.authenticator.error_response(request, answer, state.error)
            await response(scope, receive, send)

    def _lifespan_send(self, send: Send) -> Send:
        async def lifespan_send(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete" and self.warm_up:
                await self.authenticator.warm_up()
            # Close the HTTP client after the app's own shutdown ran, then report it.
            if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                await self.aclose()
            await send(message)

        return lifespan_send
