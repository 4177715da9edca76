"""The request flow with a key provider: prepare, get the key set, complete.

The core does no I/O, but the order of a request's steps is semantics, so it lives
here once and every adapter calls it: a provider (``clerk_auth_core.io``, or any object
with ``get_keys``) supplies the key set for the token's ``kid``, sync or async. Only
a token that passed the gate ever reaches the provider (key-rotation.md, "Tokens
before keys"), so garbage never costs a fetch.
"""

from __future__ import annotations

from typing import Protocol

from ._config import ClerkConfig
from ._errors import KeyResolutionError
from ._extract import HeadersInput
from ._keys import KeySet
from ._request import RequestState, complete, kid_of, prepare

__all__ = ["AsyncKeySource", "KeySource", "authenticate_with", "authenticate_with_async"]


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


def authenticate_with(
    source: KeySource,
    headers: HeadersInput,
    *,
    config: ClerkConfig,
    now: float,
    method: str | None = None,
    allow_pending: bool | None = None,
) -> RequestState:
    """Authenticate a request, asking ``source`` for keys only when a token passed the gate.

    :param now: unix time in seconds (``time.time()``).
    """
    # prepare_request and PendingRequest.complete, without building the PendingRequest.
    prepared = prepare(headers, config, method)
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
) -> RequestState:
    """The coroutine twin of :func:`authenticate_with`."""
    prepared = prepare(headers, config, method)
    if isinstance(prepared, RequestState):
        return prepared
    try:
        keys = await source.get_keys(kid_of(prepared))
    except KeyResolutionError as exc:
        return RequestState.signed_out(exc)
    return complete(prepared, config, allow_pending, keys, now)
