"""Which path a request's token takes on a route that accepts machine tokens
(machine-tokens.md §2): the routing, without I/O.

A route that accepts sessions only (the default) never comes here: the request path
is :func:`~._request.prepare`, unchanged. Otherwise, first failure wins:

1. a CORS preflight is a preflight, as always;
2. the token is read from the ``Authorization`` header only (§2.1); without one, a
   route that accepts sessions takes the cookie flow, any other is refused with
   ``machine-token-missing`` (Clerk's "No token in header");
3. the kind, from the string (:func:`~._token_kinds.token_kind`: the prefix first):
   a kind the route does not accept is ``token-type-mismatch`` before any key lookup
   or Backend API call;
4. a session token takes the session path (:func:`~._request.prepare`, which re-reads
   the header: the cost of the rare mixed route, not of the default one);
5. an opaque token (``ak_``, ``mt_``, ``oat_``) is :class:`OpaqueToken`: the caller's
   machine verifier asks the Backend API (I/O);
6. a machine JWT passes the gate and its kind's header rules
   (:func:`~._machine_verify.prepare_machine_jwt`) and is :class:`MachineJwt`: the
   caller fetches the key set for its ``kid`` (I/O) and calls :meth:`MachineJwt.complete`.
"""

from __future__ import annotations

from typing import Final, TypeAlias

import attrs

from ._config import ClerkConfig, check_machine_credentials
from ._errors import (
    ClerkAuthError,
    ConfigurationError,
    KeyResolutionError,
    Reason,
    TokenVerificationError,
    refusal,
)
from ._extract import HeadersInput, header_token
from ._keys import KeySet
from ._machine_claims import MachineClaims
from ._machine_verify import PendingMachineJwt, finish_machine_jwt, prepare_machine_jwt
from ._request import Prepared, RequestState, _state, is_preflight, prepare
from ._token_kinds import SESSION_TOKEN, AcceptsToken, opaque_kind, token_kind

__all__ = ["MachineJwt", "OpaqueToken", "Routed", "machine_signed_in", "no_verifier", "route"]


@attrs.frozen
class OpaqueToken:
    """An opaque machine token of an accepted kind: only the Backend API can tell."""

    kind: str
    token: str = attrs.field(repr=False)


@attrs.frozen
class MachineJwt:
    """A machine JWT of an accepted kind that passed the gate: it needs the key set
    for :attr:`kid`."""

    pending: PendingMachineJwt
    token: str = attrs.field(repr=False)

    @property
    def kid(self) -> str | None:
        """The ``kid`` whose key is needed (``None`` with a PEM key set)."""
        return self.pending.kid

    def complete(self, keys: KeySet | None, config: ClerkConfig, now: float) -> RequestState:
        """The signature and the machine claim rules, with the instance's keys."""
        try:
            claims = finish_machine_jwt(self.pending, keys, config, now=now)
        except (TokenVerificationError, KeyResolutionError) as exc:
            return RequestState.signed_out(exc)
        return machine_signed_in(self.token, claims)


#: What :func:`route` answers: a final state, a session token for the session path
#: (:func:`~._request.prepare`'s answer), or a machine token to verify.
Routed: TypeAlias = "RequestState | Prepared | OpaqueToken | MachineJwt"

#: Clerk's words for a token of a kind the route does not take (the message only: the
#: reason is the session path's ``token-type-mismatch``).
_MISMATCH: Final = "This route does not accept {kind} tokens (it accepts {accepted})."


def route(
    headers: HeadersInput, config: ClerkConfig, method: str | None, accepted: AcceptsToken
) -> Routed:
    """Steps 1–6 of the module docstring, for a route that accepts ``accepted``."""
    if is_preflight(method, headers):
        return _state("preflight", None, None, None)
    try:
        token = header_token(headers, config.max_token_size)
        if token is None:
            if SESSION_TOKEN in accepted.kinds:
                return prepare(headers, config, method)
            return RequestState.signed_out(refusal(Reason.MACHINE_TOKEN_MISSING))
        kind = token_kind(token)
        if kind not in accepted.kinds:
            raise TokenVerificationError(
                Reason.TOKEN_TYPE_MISMATCH, _MISMATCH.format(kind=kind, accepted=accepted.label)
            )
        if kind == SESSION_TOKEN:
            return prepare(headers, config, method)
        if opaque_kind(token) is not None:
            return OpaqueToken(kind, token)
        return MachineJwt(prepare_machine_jwt(token, config), token)
    except TokenVerificationError as exc:
        return RequestState.signed_out(exc)


def machine_signed_in(token: str, claims: MachineClaims) -> RequestState:
    """The signed-in state of a verified machine token."""
    return _state("signed-in", None, token, None, claims)


def no_verifier(config: ClerkConfig, kind: str) -> RequestState:
    """Signed out (500 ``configuration-invalid``) for an opaque token when the caller
    has no machine verifier: the missing key named when that is why."""
    try:
        check_machine_credentials(config, AcceptsToken(kind))
        error: ClerkAuthError = ConfigurationError(
            f"Verifying {kind} tokens needs a machine verifier (clerk_auth_core.io."
            "SyncMachineVerifier or AsyncMachineVerifier); none was given."
        )
    except ConfigurationError as exc:
        error = exc
    return RequestState.signed_out(error)
