"""Per-configuration memory of work already done: verified tokens, parsed headers, and
gate verdicts.

A front end sends the same session token (it lives 60 s) with every call until it
refreshes it, so most requests present a token this process has already verified.
:class:`TokenCache` remembers, per :class:`~clerk_auth_core.ClerkConfig`:

``verified``
    token → what its verification established: the claims, the ``kid`` and the
    *thumbprint* of the key whose signature held, and the time claims. A hit is exactly
    as strict as a full verification, because everything a verification decides is
    either a pure function of (token, configuration), which cannot have changed (the
    cache belongs to one frozen configuration), or re-checked on every hit:

    - the key: ``keys.find(kid)`` must still be the *same key material* (thumbprint);
      a key that left the key set (rotation, a refresh without it) or a different key
      under the same kid makes the entry drop and the token verify afresh;
    - the time claims, against the caller's ``now`` with the configured skew
      (``exp``, ``nbf``, ``iat``, in the order of :func:`validate_claims`); an entry
      dies at its ``exp``;
    - request-dependent checks (``__client_uat``, pending sessions, roles and
      permissions) are not cached at all: they run after verification, every time.

``headers``
    header segment → its ``(header, alg, kid)`` or the reason it is refused. Tokens
    of one instance share their header segment, so after the first token the header
    costs one dict lookup.

``refused``
    token → what stopped it before a signature check: the reason the gate refused it,
    or ``(kid, keys)`` when it passed the gate but the key set ``keys`` had no key
    for its ``kid``. The gate is a pure function of (token, configuration), so a token
    sent again is not parsed again. A key set is immutable, so the same ``keys`` object
    answers the same; any other key set is asked again (and a kid that has appeared
    since sends the token through a full verification). Only immutable values are kept:
    nothing a caller holds can change what a later request is answered.

Bounds: ``verified`` holds at most ``ClerkConfig.token_cache_size`` entries (0: no
verified-token cache), and each insert first drops the oldest entries that have
expired, so it holds about the tokens alive now; ``headers`` and ``refused`` are small
and fixed. Only tokens
whose signature held enter ``verified``, so garbage can never push a verified token
out; it can only churn ``refused``.

Concurrency, without a lock (the core never imports ``threading``): every operation is
a single ``dict`` get, set or pop, which CPython performs atomically (under the GIL,
and with per-object locking in free-threaded builds); entries are immutable tuples.
Eviction (drop the oldest entries once a table is full: insertion order is roughly
expiry order) may race with another thread's; a race only costs a miss later, and
its ``KeyError``/``RuntimeError`` is swallowed. Under a race a table can overshoot its
bound by at most the number of threads inserting at that moment; the next inserts
shrink it back. A hit may return a :class:`SessionClaims` another request also holds:
it is frozen, and its ``raw`` mapping must be treated as read-only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, TypeAlias

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
    "remember",
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
#: At most this many entries are evicted by one insert (the rest by the next ones).
_EVICT_BATCH: Final = 4


def remember(table: dict[Any, Any], key: Any, value: Any, limit: int) -> None:
    """``table[key] = value``, first evicting the oldest entries beyond ``limit``.

    Lock-free: a concurrent eviction may remove the same key first (``KeyError``) or
    change the table under the iterator (``RuntimeError``); either only ends this
    eviction early, never corrupts the table or raises.
    """
    excess = len(table) - limit + 1
    if excess > 0 and key not in table:
        for _ in range(min(excess, _EVICT_BATCH)):
            try:
                del table[next(iter(table))]
            except (KeyError, RuntimeError, StopIteration):
                break
    table[key] = value


def make_room(table: dict[str, CacheEntry], token: str, limit: int, dead: float) -> None:
    """Before ``token`` is inserted: drop up to :data:`SWEEP_EVERY` of the oldest
    entries that have expired (``exp <= dead``), then, if the table is still full, the
    oldest entries beyond ``limit`` (:func:`remember`'s eviction). Tokens of one
    instance share their lifetime, so insertion order is expiry order and the table
    holds about the tokens alive now, not the last ``limit`` ever seen.

    The verifier calls this every :data:`SWEEP_EVERY` inserts and whenever the table
    is full, then sets the entry itself (one dict set, inline: every first sight of a
    token pays it). Lock-free like :func:`remember`.
    """
    for _ in range(SWEEP_EVERY):
        try:
            oldest = next(iter(table))
            if table[oldest][3] > dead:
                break
            del table[oldest]
        except (KeyError, RuntimeError, StopIteration):
            break
    excess = len(table) - limit + 1
    if excess > 0 and token not in table:
        for _ in range(min(excess, _EVICT_BATCH)):
            try:
                del table[next(iter(table))]
            except (KeyError, RuntimeError, StopIteration):
                break


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
