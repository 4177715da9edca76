"""``ClerkAuth``: one configuration, its key sources and machine verifiers; the
request state per request.

A :class:`ClerkAuth` authenticates a Django request at most once per ``allow_pending``
and ``accepts`` value. The results are kept on the request object itself, under the
ClerkAuth that produced them, so they never outlive the request and two ClerkAuth on
one request (a middleware and a guard with another configuration) never see each
other's results, nor do a sessions-only guard and an ``api_key`` one. Every result is
annotated on the request: ``request.clerk_auth`` (the session claims or ``None``),
``request.clerk_machine`` (the machine token's claims or ``None``),
``request.clerk_verified`` (whichever was verified) and ``request.clerk_request_state``;
the last one to run is the one shown.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

from clerk_auth_core import (
    AcceptsToken,
    AsyncKeySource,
    AsyncMachineSource,
    ClerkAuthError,
    ClerkConfig,
    HttpAnswer,
    KeySource,
    MachineClaims,
    MachineSource,
    RequestState,
    SessionClaims,
    authenticate_with,
    authenticate_with_async,
)
from clerk_auth_core._extract import REQUEST_HEADERS
from clerk_auth_core._refusal_log import RefusalLog
from clerk_auth_core.io import (
    AsyncKeyProvider,
    AsyncMachineVerifier,
    AsyncStaticKeyProvider,
    StaticKeyProvider,
    SyncKeyProvider,
    SyncMachineVerifier,
    async_key_provider,
    async_machine_verifier,
    key_provider,
    machine_verifier,
)

from ._settings import UserMapper, config_from_settings, user_mapper

__all__ = [
    "AUTH_ATTRIBUTE",
    "ClerkAuth",
    "answer_response",
    "auth_for",
    "default_auth",
    "get_auth",
    "get_machine_auth",
    "get_request_state",
    "get_verified",
]

logger = logging.getLogger("clerk_auth")
#: The clock of the refusal log's rate limit (a name of its own, for tests).
_monotonic = time.monotonic

#: ``request.<AUTH_ATTRIBUTE>``: the ClerkAuth the middleware runs (the request's default).
AUTH_ATTRIBUTE = "clerk_authenticator"
_STATES = "_clerk_auth_states"

#: The ``request.META`` keys of the headers the core reads (WSGI and Django's ASGI
#: request have already joined repeated headers into one value).
_META_KEYS = tuple((name, "HTTP_" + name.upper().replace("-", "_")) for name in REQUEST_HEADERS)


def answer_response(answer: HttpAnswer) -> HttpResponse:
    """The core's answer as a Django response: status, headers and JSON body as decided."""
    return HttpResponse(answer.body_bytes, status=answer.status, headers=dict(answer.headers))


class ClerkAuth:
    """One configuration and its key sources (a threaded provider for sync code, an
    asyncio one for async code, each made on first use and shared by all requests),
    and its opaque machine-token verifiers likewise.

    :param config: the configuration; by default ``settings.CLERK_*``, each falling
        back to the environment variable of the same name (validated now).
    :param key_source: keys for sync code (default: ``key_provider(config)``).
    :param async_key_source: keys for async code (default: ``async_key_provider(config)``).
    :param machine_source: verifies ``ak_``/``mt_``/``oat_`` tokens for sync code
        (default: ``machine_verifier(config)``, none without a secret key).
    :param async_machine_source: the same for async code (default:
        ``async_machine_verifier(config)``). Given sources stay yours to close.
    :param user_mapper: claims → ``request.user`` for DRF (``None``: a
        :class:`~clerk_auth_django.ClerkUser`; :func:`default_auth` takes
        ``CLERK_USER_MAPPER``).
    :raises ConfigurationError: when the configuration is invalid.
    """

    def __init__(
        self,
        config: ClerkConfig | None = None,
        *,
        key_source: KeySource | None = None,
        async_key_source: AsyncKeySource | None = None,
        machine_source: MachineSource | None = None,
        async_machine_source: AsyncMachineSource | None = None,
        user_mapper: UserMapper | None = None,
    ) -> None:
        self.config = config_from_settings() if config is None else config
        self._source = key_source
        self._async_source = async_key_source
        self._owned_sync: SyncKeyProvider | StaticKeyProvider | None = None
        self._owned_async: AsyncKeyProvider | AsyncStaticKeyProvider | None = None
        # Made now, not on first use: they make no connection until the first opaque
        # token, and two threads' first requests must not make two (two caches, two
        # Backend API calls for one token).
        self._owned_machine: SyncMachineVerifier | None = None
        self._owned_async_machine: AsyncMachineVerifier | None = None
        if machine_source is None:
            machine_source = self._owned_machine = machine_verifier(self.config)
            if self._owned_machine is not None:
                weakref.finalize(self, self._owned_machine.close)
        if async_machine_source is None:
            async_machine_source = self._owned_async_machine = async_machine_verifier(self.config)
        #: Verifies opaque machine tokens for sync code (``None``: no secret key).
        self.machine_source: MachineSource | None = machine_source
        #: Verifies opaque machine tokens for async code (``None``: no secret key).
        self.async_machine_source: AsyncMachineSource | None = async_machine_source
        self.user_mapper = user_mapper
        #: What to log of refusals, and how often (the core's rate limit).
        self.refusals = RefusalLog()

    @property
    def key_source(self) -> KeySource:
        """The key source for sync code."""
        if self._source is None:
            self._source = self._owned_sync = key_provider(self.config)
            # Django has no shutdown hook: close the HTTP client made here when this
            # ClerkAuth is collected, or at interpreter exit.
            weakref.finalize(self, self._owned_sync.close)
        return self._source

    @property
    def async_key_source(self) -> AsyncKeySource:
        """The key source for async code."""
        if self._async_source is None:
            self._async_source = self._owned_async = async_key_provider(self.config)
        return self._async_source

    def warm_up(self) -> bool:
        """Fetch the keys now, for sync code (in ``wsgi.py``, after
        ``get_wsgi_application()``; before the fork with ``gunicorn --preload``). A
        failure is logged, never raised: the keys are then fetched on first use."""
        warm: Callable[[], bool] | None = getattr(self.key_source, "warm_up", None)
        try:
            ok = warm is None or warm()
        except Exception:  # the start must never fail because the keys are not there yet
            ok = False
        if not ok:
            logger.warning("clerk-auth: key warm-up failed; keys will be fetched on first use.")
        return ok

    def close(self) -> None:
        """Close the sync provider and machine verifier made here (given sources stay
        open; the verifier makes a new HTTP client should it be used again)."""
        owned, self._owned_sync = self._owned_sync, None
        if owned is not None:
            self._source = None
            owned.close()
        if self._owned_machine is not None:
            self._owned_machine.close()

    async def aclose(self) -> None:
        """Close the providers and verifiers made here: the sync ones, and the async
        ones' clients of the running event loop (given sources stay open)."""
        self.close()
        owned, self._owned_async = self._owned_async, None
        if owned is not None:
            self._async_source = None
            await owned.aclose()
        if self._owned_async_machine is not None:
            await self._owned_async_machine.aclose()

    def _slot(
        self, request: HttpRequest, allow_pending: bool | None, accepts: AcceptsToken | None
    ) -> tuple[Any, Any]:
        states: dict[tuple[ClerkAuth, bool | None, AcceptsToken | None], RequestState] | None = (
            getattr(request, _STATES, None)
        )
        if states is None:
            states = {}
            setattr(request, _STATES, states)
        # accepts in the key: a sessions-only guard and an api_key one on the same
        # request each get their own answer, never the other's.
        return states, (self, allow_pending, accepts)

    def authenticate(
        self,
        request: HttpRequest,
        allow_pending: bool | None = None,
        accepts: AcceptsToken | None = None,
    ) -> RequestState:
        """The request's RequestState for ``allow_pending`` and ``accepts`` (the route's
        token kinds, ``None`` for the config's ``accepts_token``), computed once per
        request and ClerkAuth (sync: the threaded key provider and machine verifier)."""
        states, slot = self._slot(request, allow_pending, accepts)
        state: RequestState | None = states.get(slot)
        if state is None:
            meta = request.META
            state = states[slot] = authenticate_with(
                self.key_source,
                [(name, meta[key]) for name, key in _META_KEYS if key in meta],
                config=self.config,
                now=time.time(),
                method=request.method,
                allow_pending=allow_pending,
                accepts=accepts,
                machine=self.machine_source,
            )
        _annotate(request, state)
        return state

    def log_refusal(self, error: ClerkAuthError, request: HttpRequest) -> None:
        """Log refusing ``request`` with ``error`` (rate-limited, with the core's hints;
        the headers are read only when a hinted line is due)."""
        meta = request.META
        line = self.refusals.line(
            error,
            now=_monotonic(),
            config=self.config,
            headers=lambda: [(name, meta[key]) for name, key in _META_KEYS if key in meta],
        )
        if line is not None:
            logger.log(line.level, line.message)

    async def aauthenticate(
        self,
        request: HttpRequest,
        allow_pending: bool | None = None,
        accepts: AcceptsToken | None = None,
    ) -> RequestState:
        """:meth:`authenticate` for async code (the asyncio key provider and verifier)."""
        states, slot = self._slot(request, allow_pending, accepts)
        state: RequestState | None = states.get(slot)
        if state is None:
            meta = request.META
            state = states[slot] = await authenticate_with_async(
                self.async_key_source,
                [(name, meta[key]) for name, key in _META_KEYS if key in meta],
                config=self.config,
                now=time.time(),
                method=request.method,
                allow_pending=allow_pending,
                accepts=accepts,
                machine=self.async_machine_source,
            )
        _annotate(request, state)
        return state


def _annotate(request: HttpRequest, state: RequestState) -> None:
    request.clerk_request_state = state
    request.clerk_auth = state.claims
    # Always both: a later, sessions-only result must not leave an earlier machine one.
    machine = request.clerk_machine = state.machine
    request.clerk_verified = state.claims if machine is None else machine


_default: list[ClerkAuth] = []
#: Two threads' first requests must not make two (two key caches, two first fetches).
_default_lock = threading.Lock()


def default_auth() -> ClerkAuth:
    """The process's ClerkAuth from ``settings.CLERK_*`` (made on first use; made anew
    when a ``CLERK_*`` setting changes, as under ``override_settings``)."""
    if not _default:
        with _default_lock:
            if not _default:
                _default[:] = [ClerkAuth(user_mapper=user_mapper())]
    return _default[0]


def reset_default(**_kwargs: Any) -> None:
    """Forget the default ClerkAuth (the next request makes it from the settings)."""
    setting = _kwargs.get("setting")
    if setting is None or str(setting).startswith("CLERK_"):
        _default.clear()


def auth_for(request: HttpRequest) -> ClerkAuth:
    """The request's default ClerkAuth: the middleware's, else :func:`default_auth`."""
    auth: ClerkAuth | None = getattr(request, AUTH_ATTRIBUTE, None)
    return auth if auth is not None else default_auth()


def get_request_state(request: HttpRequest) -> RequestState:
    """The latest :class:`~clerk_auth_core.RequestState` of ``request`` (authenticating it
    with the request's default ClerkAuth if nothing has yet)."""
    state: RequestState | None = getattr(request, "clerk_request_state", None)
    return state if state is not None else auth_for(request).authenticate(request)


def get_auth(request: HttpRequest) -> SessionClaims | None:
    """The verified session of ``request``, ``None`` when signed out (or signed in with
    a machine token: see :func:`get_machine_auth`)."""
    return get_request_state(request).claims


def get_machine_auth(request: HttpRequest) -> MachineClaims | None:
    """The verified machine token (API key, M2M or OAuth token) of ``request``
    (``request.clerk_machine``), ``None`` when it is not signed in with one."""
    return get_request_state(request).machine


def get_verified(request: HttpRequest) -> SessionClaims | MachineClaims | None:
    """The verified token of ``request``, whichever kind (``request.clerk_verified``: a
    session or a machine token; both offer ``subject``, ``token_type`` and
    ``user_id``), ``None`` when signed out."""
    return get_request_state(request).verified


def require_claims(request: HttpRequest) -> SessionClaims:
    """The verified :class:`SessionClaims` of ``request``, never ``None``: for use inside
    ``@require_auth`` (not ``optional``) or behind the middleware in ``reject`` mode,
    where a signed-out request never reaches the view (so typed code needs no ``None``
    check). The same name as in the other adapters.

    :raises RuntimeError: when the request is not signed in: the view is not guarded (a
        programming error, answered 500 by Django).
    """
    claims = get_request_state(request).claims
    if claims is not None:
        return claims
    raise RuntimeError(
        "require_claims(request): this request is not signed in; call it only where a "
        "guard refused signed-out requests (@require_auth, ClerkAuthMiddleware in reject "
        "mode); use get_auth(request) on optional views"
    )
