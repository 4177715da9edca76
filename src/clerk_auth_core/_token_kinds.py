"""Token kinds, recognised from the string alone, and what a route accepts
(machine-tokens.md §1–2).

Four kinds exist: ``session_token`` and the three *machine* kinds ``api_key``,
``m2m_token``, ``oauth_token``. :func:`token_kind` tells them apart in Clerk's order:

1. the cheap prefix check, before any parsing (``mt_`` M2M, ``oat_`` OAuth, ``ak_``
   API key; plain, case-sensitive ``startswith``, so ``M2M_…`` is no machine token);
2. only for a string of JWT shape (three non-empty base64url segments), the header
   and payload are decoded, and **M2M first**: a string ``sub`` starting ``mch_`` is an
   M2M JWT, then a header ``typ`` of ``at+jwt`` / ``application/at+jwt`` (RFC 9068)
   an OAuth JWT; a JWT that will not decode is simply not a machine JWT;
3. anything else is a ``session_token`` (which the session gate may still refuse).

The prefixes are :data:`~clerk_auth_core._tokens.MACHINE_TOKEN_PREFIXES`, the ones the
session gate refuses with ``token-type-mismatch``: one list, one home.

:class:`AcceptsToken` is the ``accepts_token`` setting of a configuration or a route:
``"session_token"`` (the default: today's behaviour), one machine kind, a list, or
``"any"``, validated when it is built.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterable
from typing import Any, Final

import attrs

from ._errors import ConfigurationError
from ._json import StrictJSONError, loads_strict
from ._tokens import ACCESS_TOKEN_TYPES, MACHINE_TOKEN_PREFIXES

__all__ = [
    "ANY",
    "API_KEY",
    "KINDS",
    "M2M_TOKEN",
    "MACHINE_KINDS",
    "OAUTH_TOKEN",
    "SESSION_TOKEN",
    "AcceptsToken",
    "accepts",
    "is_jwt_format",
    "jwt_kind",
    "opaque_kind",
    "token_kind",
]

SESSION_TOKEN: Final = "session_token"
API_KEY: Final = "api_key"
M2M_TOKEN: Final = "m2m_token"
OAUTH_TOKEN: Final = "oauth_token"
#: ``accepts_token="any"``: every kind.
ANY: Final = "any"
#: The machine kinds, in Clerk's resolution order.
MACHINE_KINDS: Final = (M2M_TOKEN, OAUTH_TOKEN, API_KEY)
#: Every kind.
KINDS: Final = (SESSION_TOKEN, *MACHINE_KINDS)

# MACHINE_TOKEN_PREFIXES is ("mt_", "oat_", "ak_"): the same order as MACHINE_KINDS.
_PREFIX_KINDS: Final = tuple(zip(MACHINE_TOKEN_PREFIXES, MACHINE_KINDS, strict=True))
#: The first two characters of each prefix (all differ) → (prefix, kind).
_BY_HEAD: Final = {prefix[:2]: (prefix, kind) for prefix, kind in _PREFIX_KINDS}
#: Clerk's "JWT format": three non-empty base64url segments, nothing else.
_JWT_FORMAT: Final = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
#: Longest string worth decoding to classify (the session gate's default cap).
_MAX_CLASSIFY = 8192


def opaque_kind(token: str) -> str | None:
    """The machine kind named by the token's prefix, or ``None``: the check a route
    that accepts sessions only may afford on every request (no parsing at all)."""
    # One dict lookup on the first two characters, then the exact prefix.
    entry = _BY_HEAD.get(token[:2])
    if entry is not None and token.startswith(entry[0]):
        return entry[1]
    return None


def is_jwt_format(token: str) -> bool:
    """Clerk's JWT-format test: three non-empty base64url segments (``a.b.c`` yes,
    ``a.b`` and ``a.b.c.d`` no)."""
    return _JWT_FORMAT.fullmatch(token) is not None


def _segment(segment: str) -> dict[str, Any] | None:
    # Lenient padding, as Clerk's decoder; strict JSON, since a header or payload that
    # is not is refused by the gate anyway. A failure is "not a machine JWT".
    try:
        data = binascii.a2b_base64(
            segment.replace("-", "+").replace("_", "/") + "=" * (-len(segment) % 4)
        )
        value = loads_strict(data)
    except (binascii.Error, StrictJSONError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def jwt_kind(token: str) -> str | None:
    """``m2m_token`` / ``oauth_token`` for a machine JWT, else ``None`` (M2M first,
    spec §1). ``token`` must already be of JWT format."""
    head, body, _ = token.split(".")
    payload = _segment(body)
    if payload is not None:
        sub = payload.get("sub")
        if isinstance(sub, str) and sub.startswith("mch_"):
            return M2M_TOKEN
    header = _segment(head)
    if header is not None:
        typ = header.get("typ")
        # Compared lower-cased, as the session gate refuses it (RFC 7515 §4.1.9: a
        # media type is case-insensitive), so no spelling slips between the two.
        if isinstance(typ, str) and typ.lower() in ACCESS_TOKEN_TYPES:
            return OAUTH_TOKEN
    return None


def token_kind(token: str) -> str:
    """The kind of ``token``: one of :data:`KINDS`. Never raises; anything that is no
    machine token is a ``session_token`` (to be verified, or refused, as one)."""
    if not isinstance(token, str):
        return SESSION_TOKEN
    kind = opaque_kind(token)
    if kind is not None:
        return kind
    if len(token) > _MAX_CLASSIFY or not is_jwt_format(token):
        return SESSION_TOKEN
    return jwt_kind(token) or SESSION_TOKEN


def _to_kinds(value: str | Iterable[str] | AcceptsToken) -> frozenset[str]:
    if isinstance(value, AcceptsToken):
        return value.kinds
    if isinstance(value, str):
        if value == ANY:
            return frozenset(KINDS)
        values: list[Any] = [value]
    else:
        values = list(value)
        if not values:
            raise ConfigurationError(
                "accepts_token: an empty list accepts no token at all; "
                f"name kinds ({', '.join(KINDS)}) or 'any'."
            )
    unknown = [v for v in values if v not in KINDS]
    if unknown:
        raise ConfigurationError(
            f"accepts_token: unknown token kind {unknown[0]!r}; "
            f"expected one of {', '.join(KINDS)}, a list of them, or 'any'."
        )
    return frozenset(values)


# cache_hash: per-request results are keyed by the route's AcceptsToken.
@attrs.frozen(cache_hash=True)
class AcceptsToken:
    """The token kinds a configuration or route accepts (Clerk's ``acceptsToken``).

    Build it from ``"session_token"`` (the default), a machine kind, a list of kinds
    or ``"any"``; anything else is a :class:`ConfigurationError` at construction::

        AcceptsToken("api_key").accepts("api_key")        # True
        AcceptsToken(["session_token", "m2m_token"])
        AcceptsToken("any")
    """

    kinds: frozenset[str] = attrs.field(default=frozenset({SESSION_TOKEN}), converter=_to_kinds)
    #: True for the default: the session-token path, unchanged (read on every request).
    sessions_only: bool = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "sessions_only", self.kinds == {SESSION_TOKEN})

    def accepts(self, kind: str | None) -> bool:
        """Whether a token of ``kind`` is accepted (``None``: no kind, never)."""
        return kind in self.kinds

    @property
    def label(self) -> str:
        """The kinds as a user writes them: ``any``, or the kinds in Clerk's order."""
        if self.kinds == frozenset(KINDS):
            return ANY
        return ", ".join(kind for kind in KINDS if kind in self.kinds)

    @property
    def machine_kinds(self) -> frozenset[str]:
        """The machine kinds accepted (empty for the default)."""
        return self.kinds - {SESSION_TOKEN}


def accepts(kind: str | None, accepted: str | Iterable[str] | AcceptsToken) -> bool:
    """Whether ``kind`` is accepted by ``accepted`` (a kind, a list, ``"any"`` or an
    :class:`AcceptsToken`), as Clerk's ``isTokenTypeAccepted``; ``None`` never is.

    :raises ConfigurationError: when ``accepted`` names an unknown kind.
    """
    return kind is not None and kind in _to_kinds(accepted)
