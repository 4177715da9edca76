"""The request flow with a key provider: prepare, get the key set, complete.

The core does no I/O, but the order of a request's steps is semantics, so it lives
here once and every adapter calls it: a provider (``clerk_auth_core.io``, or any object
with ``get_keys``) supplies the key set for the token's ``kid``, sync or async. Only
a token that passed the gate ever reaches the provider (key-rotation.md, "Tokens
before keys"), so garbage never costs a fetch.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, TypeAlias

from ._accepts import MachineJwt, OpaqueToken, machine_signed_in, no_verifier, route
from ._config import ClerkConfig
from ._errors import ClerkAuthError, KeyResolutionError
from ._extract import HeadersInput
from ._keys import KeySet
from ._machine_claims import MachineClaims
from ._request import RequestState, complete, kid_of, prepare
from ._token_kinds import AcceptsToken

__all__ = [
    "AsyncKeySource",
    "AsyncMachineSource",
    "KeySource",
    "MachineSource",
    "authenticate_with",
    "authenticate_with_async",
]


#: A route's ``accepts``: an :class:`AcceptsToken`, a kind, a list of kinds, ``"any"``,
#: or ``None`` for the configuration's.
Accepts: TypeAlias = "AcceptsToken | str | Iterable[str] | None"


def _accepted(accepts: AcceptsToken | str | Iterable[str]) -> AcceptsToken:
    return accepts if type(accepts) is AcceptsToken else AcceptsToken(accepts)


class KeySource(Protocol):
    """Anything that answers the key set for a ``kid`` (may block on a fetch)."""

    def get_keys(self, kid: str | None) -> KeySet:
        """:raises KeyResolutionError: when keys cannot be had."""
        ...


class AsyncKeySource(Protocol):
    """Anything that answers the key set for a ``kid`` in a coroutine."""

    async def get_keys(self, kid: str | None) -> KeySet:
        """:raises KeyResolutionError: when keys cannot be had."""
        ...


class MachineSource(Protocol):
    """Anything that verifies an opaque machine token (may block on the Backend API):
    :class:`clerk_auth_core.io.SyncMachineVerifier`."""

    def verify(self, token: str) -> MachineClaims:
        """:raises ClerkAuthError: the refusal (401), or 500/503 when it cannot tell."""
        ...


class AsyncMachineSource(Protocol):
    """The coroutine twin of :class:`MachineSource`:
    :class:`clerk_auth_core.io.AsyncMachineVerifier`."""

    async def verify(self, token: str) -> MachineClaims:
        """:raises ClerkAuthError: the refusal (401), or 500/503 when it cannot tell."""
        ...


def authenticate_with(
    source: KeySource,
    headers: HeadersInput,
    *,
    config: ClerkConfig,
    now: float,
    method: str | None = None,
    allow_pending: bool | None = None,
    accepts: Accepts = None,
    machine: MachineSource | None = None,
) -> RequestState:
    """Authenticate a request, asking ``source`` for keys only when a token passed the gate.

    :param now: unix time in seconds (``time.time()``).
    :param accepts: the route's token kinds (default: ``config.accepts_token``): an
        :class:`AcceptsToken` (built once, at start-up), or what builds one.
    :param machine: verifies opaque machine tokens (``ak_``, ``mt_``, ``oat_``) when
        the route accepts them; JWT machine tokens are verified with ``source``'s keys.
    """
    accepted = config.accepts_token if accepts is None else _accepted(accepts)
    if accepted.sessions_only:
        # prepare_request and PendingRequest.complete, without building the PendingRequest.
        prepared = prepare(headers, config, method)
    else:
        routed = route(headers, config, method, accepted)
        if isinstance(routed, OpaqueToken):
            if machine is None:
                return no_verifier(config, routed.kind)
            try:
                return machine_signed_in(routed.token, machine.verify(routed.token))
            except ClerkAuthError as exc:
                return RequestState.signed_out(exc)
        if isinstance(routed, MachineJwt):
            try:
                keys = source.get_keys(routed.kid)
            except KeyResolutionError as exc:
                return RequestState.signed_out(exc)
            return routed.complete(keys, config, now)
        prepared = routed
    if isinstance(prepared, RequestState):
        return prepared
    try:
        keys = source.get_keys(kid_of(prepared))
    except KeyResolutionError as exc:
        return RequestState.signed_out(exc)
    return complete(prepared, config, allow_pending, keys, now)


async def authenticate_with_async(
    source: AsyncKeySource,
    headers: HeadersInput,
    *,
    config: ClerkConfig,
    now: float,
    method: str | None = None,
    allow_pending: bool | None = None,
    accepts: Accepts = None,
    machine: AsyncMachineSource | None = None,
) -> RequestState:
    """The coroutine twin of :func:`authenticate_with`."""
    accepted = config.accepts_token if accepts is None else _accepted(accepts)
    if accepted.sessions_only:
        prepared = prepare(headers, config, method)
    else:
        routed = route(headers, config, method, accepted)
        if isinstance(routed, OpaqueToken):
            if machine is None:
                return no_verifier(config, routed.kind)
            try:
                return machine_signed_in(routed.token, await machine.verify(routed.token))
            except ClerkAuthError as exc:
                return RequestState.signed_out(exc)
        if isinstance(routed, MachineJwt):
            try:
                keys = await source.get_keys(routed.kid)
            except KeyResolutionError as exc:
                return RequestState.signed_out(exc)
            return routed.complete(keys, config, now)
        prepared = routed
    if isinstance(prepared, RequestState):
        return prepared
    try:
        keys = await source.get_keys(kid_of(prepared))
    except KeyResolutionError as exc:
        return RequestState.signed_out(exc)
    return complete(prepared, config, allow_pending, keys, now)
