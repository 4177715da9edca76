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
from typing import Any, Literal, TypeAlias

import attrs

from ._cache import Remembered
from ._claims import SessionClaims
from ._config import ClerkConfig
from ._errors import (
    REASONS,
    AuthorizationError,
    ClerkAuthError,
    KeyResolutionError,
    Reason,
    ReverificationError,
    TokenVerificationError,
    refusal,
)
from ._extract import ExtractedToken, HeadersInput, find_token, get_header
from ._keys import KeySet
from ._machine_claims import MachineClaims
from ._requirements import Requirements
from ._tokens import UnverifiedToken
from ._verify import parse_for, remembered, verify_parsed, verify_remembered

__all__ = [
    "PREFLIGHT_ANSWER",
    "HttpAnswer",
    "PendingRequest",
    "Requirements",
    "RequestState",
    "Verdict",
    "authenticate_request",
    "http_answer",
    "is_preflight",
    "prepare_request",
]


@attrs.frozen(kw_only=True)
class HttpAnswer:
    """What a server should answer: status, headers and a small JSON body.

    Read ``reason`` and ``message`` from the properties rather than ``body[...]``: the
    reverification refusal's body is Clerk's ``{"clerk_error": …}``, without them.
    """

    status: int
    headers: tuple[tuple[str, str], ...]
    #: ``{"error": …, "reason": …, "message": …}`` (strings), except for a
    #: reverification refusal: Clerk's ``{"clerk_error": {…}}``, which nests.
    body: dict[str, Any]

    @property
    def body_bytes(self) -> bytes:
        """The body serialized as compact UTF-8 JSON (empty for a bodiless answer)."""
        if not self.body:
            return b""
        return json.dumps(self.body, separators=(",", ":")).encode()

    @property
    def reason(self) -> str:
        """The stable reason code the body carries (for a websocket close, a log)."""
        reason = self.body.get("reason")
        if reason is None:
            reason = self.body.get("clerk_error", {}).get("reason", "")
        return str(reason)

    @property
    def message(self) -> str:
        """The safe message: the body's, or (Clerk's ``clerk_error`` body has none) the
        reason's default message, as in ``WWW-Authenticate``."""
        message = self.body.get("message")
        if message is None:
            info = REASONS.get(self.reason)
            message = "" if info is None else info.message
        return str(message)


#: How a *required* route guard answers a CORS preflight that reached it (the route
#: takes OPTIONS itself, and no CORS layer answered first): 204 without running the
#: view, which must never run unauthenticated. A CORS layer that adds its headers to
#: responses on the way out (flask-cors) still does so.
PREFLIGHT_ANSWER = HttpAnswer(status=204, headers=(("Cache-Control", "no-store"),), body={})

#: What :meth:`RequestState.verdict` answers when the route must not run: the answer
#: to send, and the refusal (``None`` for a preflight, which is no refusal).
Verdict: TypeAlias = "tuple[HttpAnswer, ClerkAuthError | None]"


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
    body: dict[str, Any]
    if isinstance(error, ReverificationError):
        # Clerk's shape (backend ``reverificationError()``), exactly: clerk-js's
        # useReverification() recognises it by clerk_error.type and .reason and reads
        # the required level from metadata.reverification.
        body = {
            "clerk_error": {
                "type": code,
                "reason": error.reason,
                "metadata": {"reverification": error.reverification.metadata},
            }
        }
    else:
        body = {"error": code, "reason": error.reason, "message": error.message}
        required = error.required if isinstance(error, AuthorizationError) else None
        if required:
            # The route's own requirements (not secrets): what the user lacks.
            body["required"] = required
    return HttpAnswer(status=error.status, headers=tuple(headers), body=body)


# Not slotted: every request builds one, in one step (_state).
@attrs.frozen(kw_only=True, slots=False)
class RequestState:
    """The outcome of authenticating one request.

    Signed in: ``claims`` and ``token`` are set. Signed out: ``reason`` and
    ``message`` say why and ``error`` is the error (``None`` for a preflight, which
    is neither: it passes through untouched).
    """

    status: Literal["signed-in", "signed-out", "preflight"]
    #: The verified session (``None`` when signed out, or signed in with a machine token).
    claims: SessionClaims | None = None
    token: str | None = attrs.field(default=None, repr=False)
    error: ClerkAuthError | None = None
    #: The verified machine token, on a route that accepts machine tokens.
    machine: MachineClaims | None = None

    @property
    def signed_in(self) -> bool:
        """True when a valid token (a session, or an accepted machine token) was presented."""
        return self.status == "signed-in"

    @property
    def verified(self) -> SessionClaims | MachineClaims | None:
        """The verified token, whichever kind: ``claims`` or ``machine``. Both offer
        ``subject``, ``token_type`` and ``user_id`` (:class:`AuthenticatedToken`)."""
        return self.claims if self.machine is None else self.machine

    @property
    def token_type(self) -> str | None:
        """``session_token``, ``api_key``, ``m2m_token`` or ``oauth_token`` when signed
        in, else ``None``."""
        verified = self.verified
        return None if verified is None else verified.token_type

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
        """False only when the request carried no token where the route reads one (no
        token at all; on a machine-only route, no Authorization token)."""
        reason = self.reason
        return reason != Reason.SESSION_TOKEN_AND_UAT_MISSING and (
            reason != Reason.MACHINE_TOKEN_MISSING
        )

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
        elif requirements and self.machine is not None:
            # Roles, permissions, features, plans and reverification are a session's:
            # a machine token never meets them (fail closed; check its scopes instead).
            return AuthorizationError(
                message="This route's requirements apply to session tokens only.",
                required=requirements.named,
            )
        return None

    def verdict(
        self, requirements: Requirements | None = None, *, optional: bool = False
    ) -> Verdict | None:
        """What a route guard does: ``None`` runs the view; otherwise ``(answer, error)``
        is sent instead.

        As :meth:`refusal`, except for a CORS preflight on a route that is not
        ``optional``: the middleware lets preflights through untouched (spec §1), but a
        required guard must never run its view without a session, so it answers
        :data:`PREFLIGHT_ANSWER` (``error`` is then ``None``).
        """
        if self.status == "preflight":
            return None if optional else (PREFLIGHT_ANSWER, None)
        error = self.refusal(requirements, optional=optional)
        return None if error is None else (http_answer(error), error)

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


def _state(
    status: str,
    claims: SessionClaims | None,
    token: str | None,
    error: ClerkAuthError | None,
    machine: MachineClaims | None = None,
) -> RequestState:
    """``RequestState(status=…, claims=…, token=…, error=…, machine=…)`` in one step:
    exactly what its attrs ``__init__`` stores (no validators or converters; a test
    holds them equal)."""
    state = _new(RequestState)
    _set(
        state,
        "__dict__",
        {"status": status, "claims": claims, "token": token, "error": error, "machine": machine},
    )
    return state


_new = object.__new__
_set = object.__setattr__


def is_preflight(method: str | None, headers: HeadersInput) -> bool:
    """A CORS preflight: ``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``.

    A browser's preflight always names its origin (Fetch standard, "CORS-preflight
    request"); an OPTIONS request without one is an ordinary request, authenticated as
    any other.
    """
    return (
        method is not None
        and len(method) == 7  # "OPTIONS" in any case; GET and POST never get further
        and method.upper() == "OPTIONS"
        and bool(get_header(headers, "access-control-request-method"))
        and any(value.strip() for value in get_header(headers, "origin"))
    )


#: What :func:`prepare` answers when keys are needed: ``(token, client_uat, unverified,
#: remembered)``, exactly one of the last two set. A tuple, not a PendingRequest, on the
#: path every request takes.
Prepared: TypeAlias = "tuple[str, int | None, UnverifiedToken | None, Remembered | None]"


def prepare(
    headers: HeadersInput, config: ClerkConfig, method: str | None
) -> Prepared | RequestState:
    """:func:`prepare_request`'s work: the final state, or what :func:`complete` needs."""
    if is_preflight(method, headers):
        return _state("preflight", None, None, None)
    try:
        found = find_token(headers, config.session_cookie_suffix, config.max_token_size)
        if found is None:
            # A fresh error per request: a shared instance would carry one request's
            # __traceback__ (and its frames) into the next once an adapter raises it.
            no_token = refusal(Reason.SESSION_TOKEN_AND_UAT_MISSING)
            return _state("signed-out", None, None, no_token)
        token, client_uat = found
        known = remembered(token, config)
        if known is not None:
            # Passed the gate before with this configuration: no need to parse it again.
            return token, client_uat, None, known
        return token, client_uat, parse_for(token, config), None
    except TokenVerificationError as exc:
        return _state("signed-out", None, None, exc)


def kid_of(prepared: Prepared) -> str | None:
    """The ``kid`` whose key a prepared request needs (``None``: any, a PEM set)."""
    _token, _uat, unverified, known = prepared
    if unverified is not None:
        return unverified.kid
    assert known is not None
    return known[0] if len(known) == 2 else known[1]


def complete(
    prepared: Prepared,
    config: ClerkConfig,
    allow_pending: bool | None,
    keys: KeySet | None,
    now: float,
) -> RequestState:
    """:meth:`PendingRequest.complete`'s work, over what :func:`prepare` answered."""
    token, uat, unverified, known = prepared
    try:
        claims = None
        if known is not None:
            claims = verify_remembered(known, token, keys, config, now)
        if claims is None:
            claims = verify_parsed(unverified or parse_for(token, config), keys, config, now)
        # Request-dependent checks: never cached, run on every request.
        if uat is not None and claims.issued_at < uat:
            raise TokenVerificationError(Reason.SESSION_TOKEN_IAT_BEFORE_CLIENT_UAT)
        if claims.session_status == "pending" and not (
            config.allow_pending if allow_pending is None else allow_pending
        ):
            raise TokenVerificationError(Reason.SESSION_PENDING)
    except (TokenVerificationError, KeyResolutionError) as exc:
        return _state("signed-out", None, None, exc)
    return _state("signed-in", claims, token, None)


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
        if self.unverified is None and self.remembered is None:
            return None
        return kid_of(self._prepared())

    def _prepared(self) -> Prepared:
        extracted = self.extracted
        assert extracted is not None
        return extracted.token, extracted.client_uat, self.unverified, self.remembered

    def complete(self, keys: KeySet | None, *, now: float) -> RequestState:
        """Finish with the instance's keys at unix time ``now``.

        ``keys=None`` (no key source) finishes signed out with ``jwk-failed-to-resolve``.
        """
        if self.state is not None:
            return self.state
        return complete(self._prepared(), self.config, self.allow_pending, keys, now)

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
    prepared = prepare(headers, config, method)
    if isinstance(prepared, RequestState):
        return PendingRequest(config=config, state=prepared)
    token, client_uat, unverified, known = prepared
    extracted = (
        ExtractedToken(token=token, source="header")
        if client_uat is None
        else ExtractedToken(token=token, source="cookie", client_uat=client_uat)
    )
    return PendingRequest(
        config=config,
        extracted=extracted,
        unverified=unverified,
        remembered=known,
        allow_pending=allow_pending,
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
