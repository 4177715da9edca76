"""FastAPI dependencies: ``Depends(require_auth)`` returns the verified SessionClaims;
``Depends(auth.machine("api_key"))`` a verified machine token's MachineClaims, and
``Depends(auth.accepting([...]))`` either, for a route that takes several kinds.

Each dependency is a ``SecurityBase`` (an HTTP Bearer scheme), so FastAPI lists it in
``components.securitySchemes`` of ``/openapi.json``. A dependency enforces its own
configuration, always: only the default, unconfigured :class:`ClerkAuth` (and one
given the very configuration object the middleware has) reuses the middleware's
authenticator and result; any other authenticates the request itself (and stores the
result under its own authenticator, so ``request.user`` works and a second dependency
of the same object does not verify twice). Failures are raised as
:class:`ClerkHTTPException` carrying the core's answer; :func:`install_exception_handler`
makes the response body exactly the core's.
"""

# No ``from __future__ import annotations`` here: FastAPI reads the annotations of the
# dependencies' ``__call__`` at runtime, and an instance has no ``__globals__`` to
# resolve strings against.

import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from typing import Any

from fastapi import FastAPI, HTTPException, WebSocketException
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.security import SecurityScopes
from fastapi.security.base import SecurityBase
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from clerk_auth_core import (
    AcceptsToken,
    AsyncKeySource,
    AsyncMachineSource,
    ClerkAuthError,
    ClerkConfig,
    ConfigurationError,
    HttpAnswer,
    MachineClaims,
    RequestState,
    Requirements,
    ReverificationConfig,
    SessionClaims,
    http_answer,
)

from ._auth import AUTHENTICATOR_KEY, Accepts, Authenticator, answer_response
from ._openapi import install_openapi_responses

__all__ = [
    "ClerkAuth",
    "ClerkDependency",
    "ClerkHTTPException",
    "ClerkMachineDependency",
    "ClerkTokenDependency",
    "accepting",
    "check_scopes",
    "clerk_auth",
    "clerk_exception_handler",
    "install_exception_handler",
    "optional_auth",
    "require_auth",
    "requires_auth",
    "requires_machine",
]

_DESCRIPTION = "A Clerk session token (`await getToken()`) or the `__session` cookie."
_MACHINE_DESCRIPTION = (
    "A Clerk machine token in the Authorization header: an API key (`ak_…`), an M2M "
    "token (`mt_…` or a JWT) or an OAuth access token (`oat_…` or a JWT)."
)
#: What the session dependencies accept, always: their result is a SessionClaims.
_SESSIONS = AcceptsToken()

logger = logging.getLogger("clerk_auth")

Names = str | Iterable[str] | None


class ClerkHTTPException(HTTPException):
    """A 401/403/503 from a Clerk dependency: ``answer`` is the core's HttpAnswer.

    FastAPI's default handler sends ``{"detail": <core body>}`` with the right status
    and headers; after :func:`install_exception_handler` the body is the core's own.
    """

    def __init__(self, answer: HttpAnswer, error: ClerkAuthError | None) -> None:
        super().__init__(answer.status, detail=answer.body, headers=dict(answer.headers))
        self.answer = answer
        self.error = error


async def clerk_exception_handler(request: Request, exc: Exception) -> Response:
    """The exception handler answering a :class:`ClerkHTTPException` as the core says."""
    assert isinstance(exc, ClerkHTTPException)
    return answer_response(request, exc.answer, exc.error)


def install_exception_handler(app: FastAPI) -> None:
    """Answer :class:`ClerkHTTPException` with the core's JSON body at the top level,
    list that body as the 401/403/503 responses of every route using a clerk-auth
    dependency in ``/openapi.json`` (see :mod:`._openapi`), and run :func:`check_scopes`
    when the app starts (its lifespan), so a scope typo stops the start-up instead of
    answering 500 to every request."""
    app.add_exception_handler(ClerkHTTPException, clerk_exception_handler)
    install_openapi_responses(app)
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        check_scopes(app)
        async with inner(application) as state:
            yield state

    app.router.lifespan_context = lifespan


class ClerkAuth:
    """Dependencies for one configuration and one key provider.

    Made without a ``config`` and ``key_source`` (as the module's default
    :data:`clerk_auth` is), or with the same configuration object as an installed
    :class:`ClerkAuthMiddleware`, it uses the middleware's key provider and already
    computed RequestState (one verification per request). Made with a configuration of
    its own, it always enforces that one: a middleware never loosens a guard.

    :param config: ``None`` reads ``CLERK_*`` from the environment on first use.
    :param key_source: default: an async provider made on first use; close it with
        :meth:`aclose` in your lifespan.
    :param machine_source: verifies opaque machine tokens; default:
        ``io.async_machine_verifier(config)``, made when a machine token first needs it
        and closed by :meth:`aclose` too.
    :param scheme_name: the security scheme's name in the OpenAPI document.
    :param machine_scheme_name: the scheme's name for dependencies that take machine
        tokens only (:meth:`machine`).
    """

    def __init__(
        self,
        config: ClerkConfig | None = None,
        *,
        key_source: AsyncKeySource | None = None,
        machine_source: AsyncMachineSource | None = None,
        scheme_name: str = "ClerkSession",
        machine_scheme_name: str = "ClerkMachine",
    ) -> None:
        self.authenticator = Authenticator(config, key_source, machine_source=machine_source)
        #: Whether the middleware's authenticator may stand in for ours (see the class).
        self._defers = key_source is None and machine_source is None
        self._config_given = config is not None
        self.scheme_name = scheme_name
        self.machine_scheme_name = machine_scheme_name
        #: ``Depends(auth.required)``: the SessionClaims, or 401/503.
        self.required = ClerkDependency(self)
        #: ``Depends(auth.optional)``: the SessionClaims, or ``None`` when signed out.
        self.optional = ClerkDependency(self, optional=True)

    @property
    def config(self) -> ClerkConfig:
        """The configuration (read from the environment on first use if not given)."""
        return self.authenticator.config

    async def aclose(self) -> None:
        """Close the key provider and machine verifier made by this object (a given
        ``key_source`` or ``machine_source`` is yours)."""
        await self.authenticator.aclose()

    def reset(self) -> None:
        """With ``config=None``: read ``CLERK_*`` again on the next request (and make a
        new key provider). For tests that change the environment between tests; the
        pytest plugin's ``mock_clerk`` and ``shared_mock_clerk`` fixtures reset the
        default :data:`clerk_auth` before and after each test."""
        self.authenticator.reset()

    async def authenticate(
        self,
        conn: HTTPConnection,
        allow_pending: bool | None = None,
        accepts: AcceptsToken | None = None,
    ) -> RequestState:
        """The request's RequestState for ``accepts`` (``None``: the configuration's
        ``accepts_token``): the middleware's when it may stand in for this object's own
        configuration (see the class), else computed here."""
        authenticator = self.authenticator_for(conn)
        state: RequestState = await authenticator.authenticate(conn.scope, allow_pending, accepts)
        return state

    def authenticator_for(self, conn: HTTPConnection) -> Authenticator:
        """The authenticator that decides for this object on ``conn``: the middleware's
        when it may stand in for this object's own configuration (see the class)."""
        own = self.authenticator
        published: Authenticator | None = conn.scope.get(AUTHENTICATOR_KEY)
        if (
            published is not None
            and self._defers
            and (not self._config_given or published.config is own.config)
        ):
            return published
        return own

    def require(
        self,
        *,
        role: Names = None,
        permission: Names = None,
        feature: Names = None,
        plan: Names = None,
        reverification: ReverificationConfig | None = None,
        optional: bool = False,
        allow_pending: bool | None = None,
    ) -> "ClerkDependency":
        """A dependency demanding any of each given role/permission/feature/plan (403
        ``insufficient_scope`` otherwise) and, with ``reverification`` (a Clerk preset
        or ``{"level": …, "afterMinutes": N}``), a recent enough factor verification
        (403 ``reverification-error``, Clerk's ``clerk_error`` body; an invalid value
        raises ``ConfigurationError`` here); ``optional`` runs signed out too
        (``None``); ``allow_pending`` accepts ``sts: pending`` sessions (default: the
        config's)."""
        requirements = Requirements.of(
            role=role,
            permission=permission,
            feature=feature,
            plan=plan,
            reverification=reverification,
        )
        return ClerkDependency(self, requirements, optional=optional, allow_pending=allow_pending)

    def machine(self, accepts: Accepts, *, optional: bool = False) -> "ClerkMachineDependency":
        """A dependency answering the :class:`MachineClaims` of a machine token of a
        kind in ``accepts`` (``"api_key"``, ``"m2m_token"``, ``"oauth_token"``, a list
        of them; read from the ``Authorization`` header only): any other kind is 401
        ``token-type-mismatch`` (a session token too) without a Backend API call, no
        token 401 ``machine-token-missing``. ``optional`` answers ``None`` instead of a
        401.

        :raises ConfigurationError: here, for a typo or a list naming
            ``session_token`` (use :meth:`accepting`, whose result may be either).
        """
        kinds = AcceptsToken(_not_none(accepts))
        if not kinds.machine_kinds or kinds.accepts("session_token"):
            raise ConfigurationError(
                f"ClerkAuth.machine(accepts={kinds.label!r}): machine kinds only "
                "(api_key, m2m_token, oauth_token); for a route that takes sessions too, "
                "use ClerkAuth.accepting(...), which answers SessionClaims | MachineClaims."
            )
        return ClerkMachineDependency(self, accepts=kinds, optional=optional)

    def accepting(
        self,
        accepts: Accepts,
        *,
        role: Names = None,
        permission: Names = None,
        feature: Names = None,
        plan: Names = None,
        reverification: ReverificationConfig | None = None,
        optional: bool = False,
        allow_pending: bool | None = None,
    ) -> "ClerkTokenDependency":
        """A dependency answering the verified token of a kind in ``accepts``
        (``["session_token", "api_key"]``, ``"any"``…), whichever it is:
        ``SessionClaims | MachineClaims``, both with ``subject``, ``token_type`` and
        ``user_id``. The other keywords are :meth:`require`'s; a machine token never
        meets a role, permission, feature, plan or reverification (403).

        :raises ConfigurationError: here, for a typo in ``accepts`` or a requirement.
        """
        kinds = AcceptsToken(_not_none(accepts))
        requirements = Requirements.of(
            role=role,
            permission=permission,
            feature=feature,
            plan=plan,
            reverification=reverification,
        )
        return ClerkTokenDependency(
            self, requirements, accepts=kinds, optional=optional, allow_pending=allow_pending
        )


def _not_none(accepts: Accepts) -> AcceptsToken | str | Iterable[str]:
    if accepts is None:
        raise ConfigurationError("accepts: name the token kinds the dependency takes")
    return accepts


class _ClerkGuard(SecurityBase):
    """What every clerk-auth dependency does; the subclasses differ in what they
    answer (a session, a machine token, or either)."""

    def __init__(
        self,
        auth: ClerkAuth,
        requirements: Requirements | None = None,
        *,
        optional: bool = False,
        allow_pending: bool | None = None,
        accepts: AcceptsToken = _SESSIONS,
    ) -> None:
        self.auth = auth
        self.requirements = requirements or Requirements()
        self.optional = optional
        self.allow_pending = allow_pending
        #: The token kinds this dependency takes (resolved once, here).
        self.accepts = accepts
        # What FastAPI puts into components.securitySchemes: type http, scheme bearer.
        if accepts.accepts("session_token"):
            self.model = HTTPBearerModel(bearerFormat="JWT", description=_DESCRIPTION)
            self.scheme_name = auth.scheme_name
        else:  # opaque tokens or JWTs: no bearerFormat
            self.model = HTTPBearerModel(description=_MACHINE_DESCRIPTION)
            self.scheme_name = auth.machine_scheme_name

    def openapi_statuses(self, scoped: bool = False) -> tuple[int, ...]:
        """The refusals this dependency can answer, for ``/openapi.json``: 503 when
        optional; else 401 and 503, and 403 with requirements (or ``scoped``: a
        ``Security(..., scopes=[...])``)."""
        if self.optional:
            return (503,)
        return (401, 403, 503) if self.requirements or scoped else (401, 503)

    async def _state(self, conn: HTTPConnection, security_scopes: SecurityScopes) -> RequestState:
        """The request's state when the route may run; else raises the refusal."""
        state = await self.auth.authenticate(conn, self.allow_pending, self.accepts)
        verdict = state.verdict(self.requirements, optional=self.optional)
        if verdict is None and state.signed_in and security_scopes.scopes:
            error = scope_refusal(state, security_scopes.scopes)
            if error is not None:
                verdict = http_answer(error), error
        if verdict is None:
            return state
        answer, error = verdict
        if error is not None:
            self.auth.authenticator_for(conn).log_refusal(error, conn.scope)
        if conn.scope["type"] == "websocket":
            # Raised before accept: Starlette closes with 1008, refusing the handshake.
            raise WebSocketException(1008, answer.reason)
        raise ClerkHTTPException(answer, error)


class ClerkDependency(_ClerkGuard):
    """``Depends(...)``/``Security(...)``: the verified :class:`SessionClaims`.

    Refusals raise :class:`ClerkHTTPException` (a websocket: ``WebSocketException``
    1008, refusing the handshake). Optional dependencies answer ``None`` when signed
    out because of the client's token (any 401); keys unavailable is still a 503.
    A CORS preflight that reaches a route taking OPTIONS itself gets ``None`` from an
    optional dependency; a required one answers it 204 without running the route.
    ``Security(dep, scopes=[...])`` adds scopes that must all hold
    (:func:`scope_refusal`). Session tokens only, whatever the configuration's
    ``accepts_token`` (a machine token is 401 ``token-type-mismatch``): see
    :class:`ClerkTokenDependency` for routes that take machine tokens.
    """

    async def __call__(
        self, conn: HTTPConnection, security_scopes: SecurityScopes
    ) -> SessionClaims | None:
        return (await self._state(conn, security_scopes)).claims


class ClerkMachineDependency(_ClerkGuard):
    """``Depends(auth.machine("api_key"))``: the verified :class:`MachineClaims`
    (``None`` for an optional one, signed out). Refuses as :class:`ClerkDependency`."""

    async def __call__(
        self, conn: HTTPConnection, security_scopes: SecurityScopes
    ) -> MachineClaims | None:
        return (await self._state(conn, security_scopes)).machine


class ClerkTokenDependency(_ClerkGuard):
    """``Depends(auth.accepting(["session_token", "api_key"]))``: the verified token,
    ``SessionClaims | MachineClaims`` (``RequestState.verified``; ``None`` for an
    optional one, signed out). Refuses as :class:`ClerkDependency`."""

    async def __call__(
        self, conn: HTTPConnection, security_scopes: SecurityScopes
    ) -> SessionClaims | MachineClaims | None:
        return (await self._state(conn, security_scopes)).verified


def scope_refusal(state: RequestState, scopes: Sequence[str]) -> ClerkAuthError | None:
    """FastAPI's ``Security(..., scopes=[...])`` on a signed-in ``state``: every scope
    must hold (as in OAuth 2 and Starlette's ``@requires``). A scope is
    ``authenticated``, or ``role:``, ``permission:``, ``feature:``, ``plan:`` or
    ``reverification:`` followed by a value (:meth:`Requirements.from_scope`), matched
    as :meth:`SessionClaims.has` does (``role:admin`` is ``org:admin``;
    ``reverification:strict`` is Clerk's preset); a machine token holds only
    ``authenticated`` (the core's :meth:`RequestState.refusal`).

    :returns: the 403 of the first scope that does not hold (``insufficient-scope``
        naming it, or ``reverification-error``); a 500 ``configuration-invalid`` for
        an invalid scope that :func:`check_scopes` did not catch at start-up (logged
        with the scope; the client sees no detail); else ``None``.
    """
    for scope in scopes:
        try:
            required = _scope_requirements(scope)
        except ConfigurationError as exc:
            logger.error("clerk-auth: unknown FastAPI security scope %r: %s", scope, exc.message)
            return ConfigurationError("The server is misconfigured.")
        if required:
            error = state.refusal(required)
            if error is not None:
                return error
    return None


@functools.lru_cache(maxsize=256)
def _scope_requirements(scope: str) -> Requirements:
    # Scopes are literals in the app's code: a few distinct strings, parsed once each.
    return Requirements.from_scope(scope)


def _route_scopes(dependant: Any) -> Iterator[tuple[Any, list[str]]]:
    """Every Clerk dependency under ``dependant``, with the scopes FastAPI gives it
    (``security_scopes`` up to FastAPI 0.11x, ``own/parent_oauth_scopes`` since)."""
    for sub in getattr(dependant, "dependencies", ()):
        if isinstance(sub.call, _ClerkGuard):
            scopes = [
                *(getattr(sub, "security_scopes", None) or ()),
                *(getattr(sub, "parent_oauth_scopes", None) or ()),
                *(getattr(sub, "own_oauth_scopes", None) or ()),
            ]
            yield sub.call, scopes
        yield from _route_scopes(sub)


def _api_routes(routes: Iterable[Any], prefix: str) -> Iterator[tuple[str, Any]]:
    """``(path, dependant)`` of every route FastAPI built, into included routers
    (recent FastAPI keeps them as one entry holding the router: ``original_router``)."""
    for route in routes:
        dependant = getattr(route, "dependant", None)
        if dependant is not None:
            yield prefix + str(getattr(route, "path", "")), dependant
        included = getattr(route, "original_router", None)
        if included is not None:
            context = getattr(route, "include_context", None)
            inner = prefix + str(getattr(context, "prefix", "") or "")
            yield from _api_routes(getattr(included, "routes", ()), inner)


def check_scopes(app: FastAPI) -> None:
    """Refuse, now, every ``Security(<clerk dependency>, scopes=[...])`` of the app's
    routes that names an invalid scope (``scopes=["admin"]`` for ``role:admin``,
    ``permission:reports:read`` without ``org:``): FastAPI gives a dependency its
    scopes only per request, so this walks the routes FastAPI built instead.
    :func:`install_exception_handler` runs it at start-up (in the lifespan); call it
    yourself after declaring the routes of an app that never runs one.

    :raises ConfigurationError: naming every invalid scope with its route.
    """
    problems: list[str] = []
    for path, dependant in _api_routes(app.routes, ""):
        for _dependency, scopes in _route_scopes(dependant):
            for scope in dict.fromkeys(scopes):
                try:
                    _scope_requirements(scope)
                except ConfigurationError as exc:
                    problems.append(f"{path}: scope {scope!r}: {exc.message}")
    if problems:
        raise ConfigurationError("invalid FastAPI security scopes: " + "; ".join(problems))


#: The default dependencies: the middleware's result when it is installed, otherwise
#: ``CLERK_*`` from the environment and a provider made on first use.
clerk_auth = ClerkAuth()
require_auth = clerk_auth.required
optional_auth = clerk_auth.optional


def requires_auth(
    *,
    role: Names = None,
    permission: Names = None,
    feature: Names = None,
    plan: Names = None,
    reverification: ReverificationConfig | None = None,
    allow_pending: bool | None = None,
) -> ClerkDependency:
    """``Security(requires_auth(role="org:admin"))``: the default :class:`ClerkAuth`'s
    :meth:`~ClerkAuth.require`."""
    return clerk_auth.require(
        role=role,
        permission=permission,
        feature=feature,
        plan=plan,
        reverification=reverification,
        allow_pending=allow_pending,
    )


def requires_machine(accepts: Accepts, *, optional: bool = False) -> ClerkMachineDependency:
    """``Depends(requires_machine("api_key"))``: the default :class:`ClerkAuth`'s
    :meth:`~ClerkAuth.machine` (the verified :class:`MachineClaims`)."""
    return clerk_auth.machine(accepts, optional=optional)


def accepting(
    accepts: Accepts,
    *,
    role: Names = None,
    permission: Names = None,
    feature: Names = None,
    plan: Names = None,
    reverification: ReverificationConfig | None = None,
    optional: bool = False,
    allow_pending: bool | None = None,
) -> ClerkTokenDependency:
    """``Depends(accepting(["session_token", "api_key"]))``: the default
    :class:`ClerkAuth`'s :meth:`~ClerkAuth.accepting` (``SessionClaims |
    MachineClaims``)."""
    return clerk_auth.accepting(
        accepts,
        role=role,
        permission=permission,
        feature=feature,
        plan=plan,
        reverification=reverification,
        optional=optional,
        allow_pending=allow_pending,
    )
