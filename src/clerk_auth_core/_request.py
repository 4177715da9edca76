"""A request's outcome: :class:`RequestState` and the HTTP answer an adapter gives.

The flow is split in two so that key fetching (I/O) can happen in between, in the
adapter's own style (a thread, a coroutine)::

    pending = prepare_request(headers, config=config, method="GET")
    if pending.state is None:                     # a token passed the gate
        keys = provider.get_keys(pending.kid)     # I/O: may raise KeyResolutionError
        state = pending.complete(keys, now=time.time())
    else:
        state = pending.state                     # no token, preflight, or refused early

:func:`authenticate_request` does both halves when the keys are already at hand. Every
HTTP decision (status, ``WWW-Authenticate``, ``Retry-After``, the JSON body) is made
here, once, by :func:`http_answer`; the adapters only translate it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Literal

import attrs

from ._cache import Remembered
from ._claims import SessionClaims
from ._config import ClerkConfig
from ._errors import (
    AuthorizationError,
    ClerkAuthError,
    KeyResolutionError,
    Reason,
    TokenVerificationError,
)
from ._extract import ExtractedToken, HeadersInput, extract_token, get_header
from ._keys import KeySet
from ._tokens import UnverifiedToken
from ._verify import parse_for, remembered, verify_parsed, verify_remembered

__all__ = [
    "HttpAnswer",
    "PendingRequest",
    "Requirements",
    "RequestState",
    "authenticate_request",
    "http_answer",
    "is_preflight",
    "prepare_request",
]


@attrs.frozen(kw_only=True)
class HttpAnswer:
    """What a server should answer: status, headers and a small JSON body."""

    status: int
    headers: tuple[tuple[str, str], ...]
    #: ``{"error": …, "reason": …, "message": …}``.
    body: dict[str, str]

    @property
    def body_bytes(self) -> bytes:
        """The body serialized as compact UTF-8 JSON."""
        return json.dumps(self.body, separators=(",", ":")).encode()


def _quote(text: str) -> str:
    # RFC 6750 §3: error_description is a quoted-string of %x20-21 / %x23-5B / %x5D-7E.
    return "".join(c for c in text if 0x20 <= ord(c) <= 0x7E and c not in '"\\')


def http_answer(error: ClerkAuthError, *, realm: str | None = None) -> HttpAnswer:
    """The HTTP answer for an error (RFC 6750 §3 for 401/403).

    401 without ``error=`` when no token was sent; ``error="invalid_token"`` plus a
    safe ``error_description`` when one was; 403 ``insufficient_scope``; 503 with
    ``Retry-After`` when keys are unavailable; 500 for server misconfiguration.
    """
    headers: list[tuple[str, str]] = []
    if error.status in (401, 403):
        params = [f'realm="{_quote(realm)}"'] if realm else []
        if error.bearer_error:
            params.append(f'error="{error.bearer_error}"')
            params.append(f'error_description="{_quote(error.message)}"')
        headers.append(("WWW-Authenticate", "Bearer" + (" " + ", ".join(params) if params else "")))
    if error.status == 503:
        retry = error.retry_after if isinstance(error, KeyResolutionError) else 5
        headers.append(("Retry-After", str(max(1, int(retry)))))
    headers.append(("Cache-Control", "no-store"))
    headers.append(("Content-Type", "application/json"))
    code = {401: "unauthorized", 403: "forbidden", 503: "service_unavailable"}.get(
        error.status, "server_error"
    )
    return HttpAnswer(
        status=error.status,
        headers=tuple(headers),
        body={"error": code, "reason": error.reason, "message": error.message},
    )


@attrs.frozen(kw_only=True)
class Requirements:
    """What a route demands beyond a valid session; each field is any-of."""

    roles: tuple[str, ...] = ()
    permissions: tuple[str, ...] = ()
    features: tuple[str, ...] = ()
    plans: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        *,
        role: str | Iterable[str] | None = None,
        permission: str | Iterable[str] | None = None,
        feature: str | Iterable[str] | None = None,
        plan: str | Iterable[str] | None = None,
    ) -> Requirements:
        """Build from the keyword style of ``@require_auth(role=…, permission=…)``."""

        def tup(v: str | Iterable[str] | None) -> tuple[str, ...]:
            return () if v is None else (v,) if isinstance(v, str) else tuple(v)

        return cls(
            roles=tup(role), permissions=tup(permission), features=tup(feature), plans=tup(plan)
        )

    def __bool__(self) -> bool:
        return bool(self.roles or self.permissions or self.features or self.plans)

    def check(self, claims: SessionClaims) -> None:
        """:raises AuthorizationError: (403) when the session lacks what is required."""
        if not claims.has(
            role=self.roles or None,
            permission=self.permissions or None,
            feature=self.features or None,
            plan=self.plans or None,
        ):
            raise AuthorizationError()


@attrs.frozen(kw_only=True)
class RequestState:
    """The outcome of authenticating one request.

    Signed in: ``claims`` and ``token`` are set. Signed out: ``reason`` and
    ``message`` say why and ``error`` is the error (``None`` for a preflight, which
    is neither: it passes through untouched).
    """

    status: Literal["signed-in", "signed-out", "preflight"]
    claims: SessionClaims | None = None
    token: str | None = attrs.field(default=None, repr=False)
    error: ClerkAuthError | None = None

    @property
    def signed_in(self) -> bool:
        """True when a valid session token was presented."""
        return self.status == "signed-in"

    @property
    def is_preflight(self) -> bool:
        """True for a CORS preflight, which adapters pass through untouched."""
        return self.status == "preflight"

    @property
    def reason(self) -> str | None:
        """The stable reason code when signed out."""
        return None if self.error is None else self.error.reason

    @property
    def message(self) -> str | None:
        """The safe message when signed out."""
        return None if self.error is None else self.error.message

    @property
    def token_presented(self) -> bool:
        """False only when the request carried no token at all."""
        return self.reason != Reason.SESSION_TOKEN_AND_UAT_MISSING

    def refusal(
        self, requirements: Requirements | None = None, *, optional: bool = False
    ) -> ClerkAuthError | None:
        """Why the route must not run (the error to answer with), or ``None`` to run it.

        The route runs for a preflight and for a signed-in session meeting the
        ``requirements`` (else :class:`AuthorizationError`, 403). On an ``optional``
        route it also runs signed out whenever the *client's* token is the problem
        (any 401); a server-side failure (keys unavailable: 503, misconfiguration: 500)
        is still answered, because the client's token may be perfectly good and a
        signed-out page would silently hide that.
        """
        if self.is_preflight:
            return None
        if self.error is not None:
            return None if optional and self.error.status < 500 else self.error
        if requirements and self.claims is not None:
            try:
                requirements.check(self.claims)
            except AuthorizationError as exc:
                return exc
        return None

    def answer(
        self, requirements: Requirements | None = None, *, optional: bool = False
    ) -> HttpAnswer | None:
        """The HTTP answer to send instead of running the route, or ``None`` to run it
        (see :meth:`refusal` for when; :func:`http_answer` for what)."""
        error = self.refusal(requirements, optional=optional)
        return None if error is None else http_answer(error)

    @classmethod
    def signed_out(cls, error: ClerkAuthError) -> RequestState:
        """A signed-out state for ``error``."""
        return cls(status="signed-out", error=error)


def is_preflight(method: str | None, headers: HeadersInput) -> bool:
    """A CORS preflight: ``OPTIONS`` with ``Access-Control-Request-Method``."""
    return (
        method is not None
        and method.upper() == "OPTIONS"
        and bool(get_header(headers, "access-control-request-method"))
    )


@attrs.frozen(kw_only=True)
class PendingRequest:
    """The first half of authentication: either final (``state``) or waiting for keys.

    Waiting, it holds the token that passed the gate (``unverified``), or, for a token
    the configuration's token cache knows, what the cache remembered (``remembered``:
    the token is then not parsed again, see :func:`verify_token`).
    """

    config: ClerkConfig
    state: RequestState | None = None
    extracted: ExtractedToken | None = None
    unverified: UnverifiedToken | None = None
    allow_pending: bool | None = None
    remembered: Remembered | None = attrs.field(default=None, repr=False)

    @property
    def kid(self) -> str | None:
        """The ``kid`` whose key is needed (``None`` with a PEM key set)."""
        if self.unverified is not None:
            return self.unverified.kid
        known = self.remembered
        return None if known is None else known[0] if len(known) == 1 else known[1]

    def complete(self, keys: KeySet | None, *, now: float) -> RequestState:
        """Finish with the instance's keys at unix time ``now``.

        ``keys=None`` (no key source) finishes signed out with ``jwk-failed-to-resolve``.
        """
        if self.state is not None:
            return self.state
        extracted = self.extracted
        assert extracted is not None
        config = self.config
        try:
            claims = None
            if self.remembered is not None:
                claims = verify_remembered(self.remembered, extracted.token, keys, config, now)
            if claims is None:
                unverified = self.unverified or parse_for(extracted.token, config)
                claims = verify_parsed(unverified, keys, config, now)
            # Request-dependent checks: never cached, run on every request.
            uat = extracted.client_uat
            if uat is not None and claims.issued_at < uat:
                raise TokenVerificationError(Reason.SESSION_TOKEN_IAT_BEFORE_CLIENT_UAT)
            allow = config.allow_pending if self.allow_pending is None else self.allow_pending
            if claims.is_pending and not allow:
                raise TokenVerificationError(Reason.SESSION_PENDING)
        except (TokenVerificationError, KeyResolutionError) as exc:
            return RequestState.signed_out(exc)
        return RequestState(status="signed-in", claims=claims, token=extracted.token)

    def fail(self, error: ClerkAuthError) -> RequestState:
        """Finish as signed out because the keys could not be had (``error``)."""
        return self.state or RequestState.signed_out(error)


def prepare_request(
    headers: HeadersInput,
    *,
    config: ClerkConfig,
    method: str | None = None,
    allow_pending: bool | None = None,
) -> PendingRequest:
    """Extract the token and run the gate; no keys are needed yet.

    :param allow_pending: per-route override of ``config.allow_pending``.
    """
    if is_preflight(method, headers):
        return PendingRequest(config=config, state=RequestState(status="preflight"))
    try:
        extracted = extract_token(headers, cookie_suffix=config.session_cookie_suffix)
        if extracted is None:
            # A fresh error per request: a shared instance would carry one request's
            # __traceback__ (and its frames) into the next once an adapter raises it.
            no_token = TokenVerificationError(Reason.SESSION_TOKEN_AND_UAT_MISSING)
            return PendingRequest(config=config, state=RequestState.signed_out(no_token))
        known = remembered(extracted.token, config)
        if known is not None:
            # Passed the gate before with this configuration: no need to parse it again.
            return PendingRequest(
                config=config, extracted=extracted, remembered=known, allow_pending=allow_pending
            )
        unverified = parse_for(extracted.token, config)
    except TokenVerificationError as exc:
        return PendingRequest(config=config, state=RequestState.signed_out(exc))
    return PendingRequest(
        config=config, extracted=extracted, unverified=unverified, allow_pending=allow_pending
    )


def authenticate_request(
    headers: HeadersInput,
    *,
    config: ClerkConfig,
    keys: KeySet | None,
    now: float,
    method: str | None = None,
    allow_pending: bool | None = None,
) -> RequestState:
    """Authenticate a request whose keys are at hand (a PEM key, or a fetched JWKS).

    :param headers: the request headers (mapping or pairs; cookies from ``Cookie``).
    :param now: unix time in seconds.
    :returns: signed in (``state.claims``), signed out (``state.reason``), or preflight.
    """
    pending = prepare_request(headers, config=config, method=method, allow_pending=allow_pending)
    return pending.complete(keys, now=now)
