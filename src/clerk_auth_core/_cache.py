"""Per-configuration memory of work already done: verified tokens, parsed headers and
gate verdicts (:class:`TokenCache`, one per :class:`~clerk_auth_core.ClerkConfig`).

A front end sends the same session token (it lives 60 s) with every call until it
refreshes it, so most requests present a token this process has verified before. The
strategy: remember only what is a pure function of (token, configuration), which cannot
change because the cache belongs to one frozen configuration, and re-check on every hit
whatever can: that the token's ``kid`` still names the very key material whose
signature held (its thumbprint), and the time claims against the caller's ``now``.
Request-dependent checks (``__client_uat``, pending sessions, requirements) are never
cached. So a hit is exactly as strict as a full verification.

``verified`` maps a token to its :data:`CacheEntry` (bounded by ``token_cache_size``;
each insert first sweeps expired entries); ``headers`` a header segment to its
verdict; ``refused`` a token to the gate's reason, or to ``(kid, keys)`` when the
immutable key set ``keys`` had no key for its kid. Only tokens whose signature held
enter ``verified``, so garbage can never push one out. Every table is a lock-free
bounded dict (:mod:`._bounded`); a hit's :class:`SessionClaims` may be shared between
requests: it is frozen, and its ``raw`` mapping must be treated as read-only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, TypeAlias

from ._bounded import evict_oldest

if TYPE_CHECKING:
    from ._claims import SessionClaims
    from ._keys import KeySet

__all__ = [
    "CacheEntry",
    "HeaderVerdict",
    "KidMissing",
    "Remembered",
    "SWEEP_EVERY",
    "TokenCache",
    "make_room",
]

#: ``(claims, kid, key thumbprint, exp, nbf or -inf, iat)``: a tuple, the cheapest
#: immutable record to build and read.
CacheEntry: TypeAlias = "tuple[SessionClaims, str | None, str, float, float, float]"
#: ``(kid, keys)``: the token passed the gate, but the key set ``keys`` had no key for
#: its kid.
KidMissing: TypeAlias = "tuple[str | None, KeySet]"
#: What a request can be answered from without parsing its token.
Remembered: TypeAlias = "CacheEntry | KidMissing"
#: ``(header, alg, kid)`` for a header that passed the header step, else the reason.
HeaderVerdict: TypeAlias = "tuple[dict[str, Any], str, str | None] | str"

#: Distinct header segments remembered (an instance has one or two at a time).
HEADER_ENTRIES: Final = 64
#: Refused tokens remembered: each keeps its token alive, up to the size cap (8 KiB by
#: default), so at most 2 MiB per configuration.
REFUSED_ENTRIES: Final = 256


def make_room(table: dict[str, CacheEntry], token: str, limit: int, dead: float) -> None:
    """Before ``token`` is inserted: drop up to :data:`SWEEP_EVERY` of the oldest
    entries that have expired (``exp <= dead``), then, if the table is still full, the
    oldest entries beyond ``limit`` (:func:`~._bounded.evict_oldest`). Tokens of one
    instance share their lifetime, so insertion order is expiry order and the table
    holds about the tokens alive now, not the last ``limit`` ever seen.

    The verifier calls this every :data:`SWEEP_EVERY` inserts and whenever the table
    is full, then sets the entry itself (one dict set, inline: every first sight of a
    token pays it). Lock-free like every bounded table (:mod:`._bounded`).
    """
    for _ in range(SWEEP_EVERY):
        try:
            oldest = next(iter(table))
            if table[oldest][3] > dead:
                break
            del table[oldest]
        except (KeyError, RuntimeError, StopIteration):
            break
    evict_oldest(table, token, limit)


#: How often (in inserts) and how far the sweep of expired entries goes.
SWEEP_EVERY: Final = 16


class TokenCache:
    """The three tables of one configuration (see the module docstring)."""

    __slots__ = (
        "algorithms",
        "headers",
        "kid_required",
        "max_size",
        "refused",
        "size",
        "verified",
    )

    def __init__(
        self,
        size: int,
        *,
        max_size: int = 8192,
        algorithms: tuple[str, ...] = ("RS256",),
        kid_required: bool = True,
    ) -> None:
        #: Most verified tokens held; 0 disables the verified-token cache.
        self.size = size
        # The gate's options, copied from the (frozen) configuration: the tables hold
        # verdicts made with exactly these.
        self.max_size = max_size
        self.algorithms = algorithms
        self.kid_required = kid_required
        self.verified: dict[str, CacheEntry] = {}
        self.headers: dict[bytes, HeaderVerdict] = {}
        self.refused: dict[str, str | KidMissing] = {}

    def __repr__(self) -> str:
        return f"TokenCache(size={self.size}, verified={len(self.verified)})"

    def __reduce__(self) -> tuple[Any, ...]:
        # A copied or pickled configuration starts with empty tables.
        return (_rebuild, (self.size, self.max_size, self.algorithms, self.kid_required))

    def clear(self) -> None:
        """Forget everything (tests, or after rotating keys by hand)."""
        self.verified.clear()
        self.headers.clear()
        self.refused.clear()


def _rebuild(
    size: int, max_size: int, algorithms: tuple[str, ...], kid_required: bool
) -> TokenCache:
    return TokenCache(size, max_size=max_size, algorithms=algorithms, kid_required=kid_required)
