"""Claim rules (spec §3.5–3.7) and the :class:`SessionClaims` model (spec §2).

:func:`validate_claims` applies Clerk's order, first failure wins: ``sub``, ``aud``,
``azp``, ``exp``, ``nbf``, ``iat``, then ours: ``sid``, the lifetime cap, ``iss``.
:meth:`SessionClaims.from_payload` decodes v1 and v2 (``v: 2``) claim sets into the
same typed fields, so callers never branch on the token generation.

Where a rule is written, and what binds the copies (one rule, one home):

- every rule, in order: :func:`_validate_in_order`, the reference;
- all of them at once, for a payload as Clerk issues it: the one expression at the top
  of :func:`validate_claims` (measured: the path of every first sight), held equal to
  the reference by ``tests/core/test_claims.py::TestValidateClaimsCommonCase``;
- the time window (``exp``, ``nbf``, ``iat`` with the skew): :func:`time_refusal`, which
  the reference and the cache hit (``_verify.verify_remembered``) both call, the cache
  hit held equal to a full verification by
  ``tests/core/test_cache.py::TestTimeOnEveryHit``;
- what a configuration contributes: :class:`ClaimRules`, built once by
  :class:`~clerk_auth_core.ClerkConfig`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, Protocol

import attrs

from ._bounded import remember
from ._errors import Reason, TokenVerificationError
from ._reverification import Reverification, ReverificationConfig, ages_fresh, reverified

__all__ = [
    "Actor",
    "ClaimRules",
    "SessionClaims",
    "decode_claims",
    "time_refusal",
    "validate_claims",
]

#: Time claims beyond 2^53 are absurd (and lose precision as doubles).
MAX_TIME: Final = 2**53
#: Organisation-scoped feature prefixes in v2 ``fea`` (spec §2).
_ORG_SCOPES: Final = frozenset({"o", "ou", "uo"})
_DECIMAL: Final = re.compile(r"[0-9]+")
_SCOPE_NAMES: Final = {"u": ("user",), "o": ("org",), "uo": ("user", "org"), "ou": ("user", "org")}


def _time_claim(payload: Mapping[str, Any], name: str) -> float | None:
    """A numeric time claim, ``None`` when absent.

    Booleans (a JSON ``true`` is a Python int), non-finite and absurdly large values
    are refused: spec §3.5, ``token-verification-failed``.
    """
    if name not in payload:
        return None
    value = payload[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TokenVerificationError(
            Reason.TOKEN_VERIFICATION_FAILED, f"The '{name}' claim is not a number."
        )
    if not math.isfinite(value) or abs(value) > MAX_TIME:
        raise TokenVerificationError(
            Reason.TOKEN_VERIFICATION_FAILED, f"The '{name}' claim is out of range."
        )
    return value


@attrs.frozen(kw_only=True)
class ClaimRules:
    """What a configuration asks of a payload's claims, derived once by
    :class:`~clerk_auth_core.ClerkConfig` (its ``_claim_rules``)."""

    #: Seconds of leeway on ``exp``, ``nbf`` and ``iat`` (``CLERK_CLOCK_SKEW``).
    skew: float = 5.0
    #: ``azp`` must be one of these when not empty (``CLERK_AUTHORIZED_PARTIES``).
    parties: tuple[str, ...] = ()
    #: Refuse ``exp - iat`` above this (``CLERK_MAX_TOKEN_LIFETIME``).
    max_lifetime: float = 3600.0
    #: ``iss`` must equal this when known.
    issuer: str | None = None
    #: Checked against ``aud`` when both are present (``CLERK_AUDIENCE``).
    audience: tuple[str, ...] = ()


class _Configured(Protocol):
    # What validate_claims needs of a ClerkConfig (typed so, this module imports none).
    @property
    def _claim_rules(self) -> ClaimRules: ...


def time_refusal(
    now: float,
    skew: float,
    exp: float | None = None,
    nbf: float | None = None,
    iat: float | None = None,
) -> str | None:
    """The reason the time window refuses these claims at ``now``, else ``None``
    (each bound checked only for a claim given, in Clerk's order):

    - expired when ``exp <= now - skew`` (RFC 7519 §4.1.4, Clerk's bound);
    - not active yet while ``nbf > now + skew`` (RFC 7519 §4.1.5);
    - ``iat`` in the future when ``iat > now + skew`` (ours).
    """
    if exp is not None and exp <= now - skew:
        return Reason.TOKEN_EXPIRED
    if nbf is not None and nbf > now + skew:
        return Reason.TOKEN_NOT_ACTIVE_YET
    if iat is not None and iat > now + skew:
        return Reason.TOKEN_IAT_IN_THE_FUTURE
    return None


def validate_claims(payload: Mapping[str, Any], config: _Configured, now: float) -> None:
    """Check a verified payload against the configuration (a
    :class:`~clerk_auth_core.ClerkConfig`) at time ``now`` (unix seconds).

    :raises TokenVerificationError: with the reason of the first rule that fails.
    """
    # The common case in one expression: a payload as Clerk issues it (string sub and
    # sid, integer time claims, nbf present) that passes every rule. It only answers
    # "all rules hold"; anything else, every refusal included, runs the rules one by
    # one in their order (_validate_in_order), which decides and names the reason.
    rules = config._claim_rules
    skew = rules.skew
    parties = rules.parties
    get = payload.get
    sub = get("sub")
    exp = get("exp")
    nbf = get("nbf")
    iat = get("iat")
    sid = get("sid")
    azp = get("azp")
    ceiling = now + skew
    if (
        type(sub) is str
        and sub
        and not sub.startswith("mch_")
        and (not rules.audience or "aud" not in payload)
        and (not parties or (type(azp) is str and azp in parties))
        and type(exp) is int
        and type(nbf) is int
        and type(iat) is int
        and -MAX_TIME <= exp <= MAX_TIME
        and exp > now - skew
        and -MAX_TIME <= nbf <= ceiling
        and -MAX_TIME <= iat <= ceiling
        and type(sid) is str
        and sid
        and exp - iat <= rules.max_lifetime
        and (rules.issuer is None or get("iss") == rules.issuer)
    ):
        return
    _validate_in_order(payload, config, now)


def _validate_in_order(payload: Mapping[str, Any], config: _Configured, now: float) -> None:
    """:func:`validate_claims` rule by rule, in Clerk's order; the first failure wins."""
    failed = Reason.TOKEN_VERIFICATION_FAILED
    rules = config._claim_rules
    skew = rules.skew
    get = payload.get
    # sub: a non-empty string; mch_ marks an M2M token (spec §6).
    sub = get("sub")
    if not isinstance(sub, str) or not sub:
        raise TokenVerificationError(failed, "The 'sub' claim is missing.")
    if sub.startswith("mch_"):
        raise TokenVerificationError(Reason.TOKEN_TYPE_MISMATCH)
    # aud: only when both an audience option and a token aud exist (Clerk).
    if rules.audience and "aud" in payload:
        aud = payload["aud"]
        auds = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        if not any(isinstance(a, str) and a in rules.audience for a in auds):
            raise TokenVerificationError(failed, "The 'aud' claim does not match.")
    # azp (§3.6): with a non-empty list, present, a string and exactly one entry.
    parties = rules.parties
    if parties:
        azp = get("azp")
        if not isinstance(azp, str) or azp not in parties:
            raise TokenVerificationError(Reason.TOKEN_INVALID_AUTHORIZED_PARTIES)
    # The time claims. A plain int in range (what Clerk issues) needs no further look;
    # anything else (absent, a float, a bool, null …) goes to _time_claim, which decides
    # exactly as for every claim (type(True) is bool, not int).
    # Each is read, then its bound checked (time_refusal), before the next is read:
    # an expired token with an odd nbf is token-expired, as in Clerk's order.
    # exp: required.
    exp = get("exp")
    if type(exp) is not int or not -MAX_TIME <= exp <= MAX_TIME:
        exp = _time_claim(payload, "exp")
        if exp is None:
            raise TokenVerificationError(failed, "The 'exp' claim is missing.")
    reason = time_refusal(now, skew, exp=exp)
    if reason is not None:
        raise TokenVerificationError(reason)
    # nbf: optional.
    nbf = get("nbf")
    if type(nbf) is not int or not -MAX_TIME <= nbf <= MAX_TIME:
        nbf = _time_claim(payload, "nbf")
    reason = time_refusal(now, skew, nbf=nbf)
    if reason is not None:
        raise TokenVerificationError(reason)
    # iat: required by us (every Clerk session token has it).
    iat = get("iat")
    if type(iat) is not int or not -MAX_TIME <= iat <= MAX_TIME:
        iat = _time_claim(payload, "iat")
        if iat is None:
            raise TokenVerificationError(failed, "The 'iat' claim is missing.")
    reason = time_refusal(now, skew, iat=iat)
    if reason is not None:
        raise TokenVerificationError(reason)
    # sid: required by us; a session token always names its session.
    sid = get("sid")
    if not isinstance(sid, str) or not sid:
        raise TokenVerificationError(failed, "The 'sid' claim is missing.")
    # Lifetime cap: JWT-template tokens share the instance key but may live for years.
    if exp - iat > rules.max_lifetime:
        raise TokenVerificationError(failed, "The token lives longer than allowed.")
    # iss (ours): exact match whenever the issuer is known.
    issuer = rules.issuer
    if issuer is not None and get("iss") != issuer:
        raise TokenVerificationError(Reason.TOKEN_INVALID_ISSUER)


@attrs.frozen(kw_only=True)
class Actor:
    """The ``act`` claim: who is acting on the user's behalf (impersonation)."""

    subject: str
    session_id: str | None = None
    issuer: str | None = None
    type: str | None = None

    @classmethod
    def from_claim(cls, value: Any) -> Actor | None:
        """Decode ``act``; ``None`` when absent or not an object with a string ``sub``."""
        if not isinstance(value, dict) or not isinstance(value.get("sub"), str):
            return None
        return cls(
            subject=value["sub"],
            session_id=_str_or_none(value.get("sid")),
            issuer=_str_or_none(value.get("iss")),
            type=_str_or_none(value.get("type")),
        )


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _comma_list(value: Any) -> list[str]:
    """Split a v2 comma list; entries are trimmed, positions never shift."""
    if not isinstance(value, str) or not value.strip():
        return []
    return [part.strip() for part in value.split(",")]


def _scoped(entries: Iterable[str]) -> tuple[str, ...]:
    """``u:free,o:pro`` → ``("user:free", "org:pro")``; ``uo:x`` → both scopes.

    A ``fea``/``pla`` entry without ``:`` is malformed: the token is ``token-invalid``.
    """
    out: list[str] = []
    for entry in entries:
        scope, sep, name = entry.partition(":")
        if not sep or not name:
            raise TokenVerificationError(
                Reason.TOKEN_INVALID, "A feature or plan entry is malformed."
            )
        for long_scope in _SCOPE_NAMES.get(scope, (scope,)):
            out.append(f"{long_scope}:{name}")
    return tuple(dict.fromkeys(out))


def _v2_org_permissions(org: Mapping[str, Any], fea: list[str]) -> tuple[str, ...]:
    """Spec §2: for the k-th organisation feature, every ``per[i]`` whose bit i is set
    in ``fpm[k]`` becomes ``org:<feature>:<per[i]>``. A malformed mask grants nothing
    for its own feature only; masks are arbitrary-precision integers."""
    perms = _comma_list(org.get("per"))
    masks = _comma_list(org.get("fpm"))
    org_features = [
        name for scope, sep, name in (e.partition(":") for e in fea) if sep and scope in _ORG_SCOPES
    ]
    out: list[str] = []
    for k, feature in enumerate(org_features):
        # A decimal mask of ASCII digits only: str.isdigit() alone also accepts "²"
        # (int() then raises) and "١" (another script's digit, which int() reads).
        if k >= len(masks) or not _DECIMAL.fullmatch(masks[k]) or len(masks[k]) > 4300:
            continue
        mask = int(masks[k])
        out.extend(
            f"org:{feature}:{perm}" for i, perm in enumerate(perms) if perm and mask >> i & 1
        )
    return tuple(dict.fromkeys(out))


# Not slotted: the verifier builds instances with one assignment of the whole instance
# dict (_decode), a third of what 19 frozen slot assignments cost on every request.
@attrs.frozen(kw_only=True, slots=False)
class SessionClaims:
    """A verified Clerk session, decoded identically from v1 and v2 tokens."""

    #: ``sub``: the user id (``user_…``).
    user_id: str
    #: ``sid``: the session id (``sess_…``).
    session_id: str
    #: ``iss``: the Frontend API URL that issued the token.
    issuer: str | None
    #: ``azp``: the origin the token was minted for, if any.
    authorized_party: str | None
    #: ``exp`` / ``iat`` / ``nbf`` (unix seconds).
    expires_at: float
    issued_at: float
    not_before: float | None = None
    #: ``sts``: ``"active"``, ``"pending"`` or ``None`` on tokens without it.
    session_status: str | None = None
    #: ``act``: the impersonator, if any.
    actor: Actor | None = None
    #: ``fva``: minutes since the first and second factor verification (-1 = never).
    factor_verification_age: tuple[int, int] | None = None
    org_id: str | None = None
    org_slug: str | None = None
    #: Always with the ``org:`` prefix (v2's ``rol`` lacks it).
    org_role: str | None = None
    org_permissions: tuple[str, ...] = ()
    #: ``scope:name`` with scopes spelled ``user`` / ``org`` (v2 ``fea``).
    features: tuple[str, ...] = ()
    #: ``scope:name`` (v2 ``pla``).
    plans: tuple[str, ...] = ()
    #: The claim-set generation: 1, or 2 for ``v: 2`` tokens.
    version: int = 1
    #: The whole verified payload, custom claims included.
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    @property
    def subject(self) -> str:
        """``sub``, the user id: the name every verified token shares
        (:class:`~clerk_auth_core.AuthenticatedToken`)."""
        return self.user_id

    @property
    def token_type(self) -> str:
        """Always ``"session_token"`` (a machine token's is its kind)."""
        return "session_token"

    @property
    def is_pending(self) -> bool:
        """True when the session still has tasks to complete (``sts: pending``)."""
        return self.session_status == "pending"

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> SessionClaims:
        """Decode a payload that :func:`validate_claims` accepted.

        :raises TokenVerificationError: ``token-invalid`` for a malformed ``fea``/``pla``.
        """
        if cls is SessionClaims:
            return decode_claims(payload, dict(payload))
        return _decode(cls, payload, dict(payload))

    def has(
        self,
        *,
        role: str | Iterable[str] | None = None,
        permission: str | Iterable[str] | None = None,
        feature: str | Iterable[str] | None = None,
        plan: str | Iterable[str] | None = None,
        reverification: ReverificationConfig | None = None,
    ) -> bool:
        """Whether the session holds what is asked: each argument is any-of, and all
        given arguments must hold. Roles may omit the ``org:`` prefix; a feature or
        plan without a scope (``"reports"``) matches it in either scope.

        ``reverification``: a Clerk preset (``"strict_mfa"``, ``"strict"``,
        ``"moderate"``, ``"lax"``) or ``{"level": …, "afterMinutes": N}``, met when the
        ``fva`` claim is recent enough by Clerk's rules (see :class:`Reverification`);
        a token without ``fva`` never meets it.

        :raises ConfigurationError: for an invalid ``reverification``.
        """
        if reverification is not None and not Reverification.of(reverification).holds(
            self.factor_verification_age
        ):
            return False
        if role is not None and not any(
            self.org_role is not None
            and self.org_role == (r if r.startswith("org:") else f"org:{r}")
            for r in _as_list(role)
        ):
            return False
        if permission is not None and not any(
            p in self.org_permissions for p in _as_list(permission)
        ):
            return False
        if feature is not None and not _scoped_match(self.features, _as_list(feature)):
            return False
        return plan is None or _scoped_match(self.plans, _as_list(plan))


def _as_list(value: str | Iterable[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _scoped_match(held: tuple[str, ...], wanted: list[str]) -> bool:
    for want in wanted:
        if ":" in want:
            if want in held:
                return True
        elif any(h.partition(":")[2] == want for h in held):
            return True
    return False


# Decoding a v2 organisation is a pure function of four short strings that every member
# with the same role, permissions, features and plans shares, so it is remembered
# (bounded; see _cache for why the dict needs no lock).
_V2_ENTRIES: Final = 256
_v2_memo: dict[
    tuple[Any, Any, Any, Any, bool],
    tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]] | None,
] = {}
_MALFORMED: Final = "A feature or plan entry is malformed."
#: The last key that decoded, with what it decoded to (one tuple: swapped atomically).
_v2_last: tuple[Any, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = (
    object(),
    ((), (), ()),
)


def _v2_derived(
    payload: Mapping[str, Any], org: Any
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """``(features, plans, org permissions)`` of a v2 payload (spec §2).

    :raises TokenVerificationError: ``token-invalid`` for a malformed ``fea``/``pla``.
    """
    is_org = isinstance(org, dict)
    key = (
        payload.get("fea"),
        payload.get("pla"),
        org.get("per") if is_org else None,
        org.get("fpm") if is_org else None,
        is_org,
    )
    # Equal JSON values give equal results: strings decode alike, and every non-string
    # (1, 1.0, true …) counts as an empty list. Unhashable values are not remembered.
    # The last key first: comparing it costs less than hashing the request's four new
    # strings, and consecutive tokens tend to come from the same role in the same org.
    global _v2_last
    last_key, last_derived = _v2_last
    if key == last_key:
        return last_derived
    try:
        known = _v2_memo.get(key, _UNKNOWN)
    except TypeError:
        known = _UNHASHABLE
    if known is None:
        raise TokenVerificationError(Reason.TOKEN_INVALID, _MALFORMED)
    if known is not _UNKNOWN and known is not _UNHASHABLE:
        result: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]] = known
        _v2_last = (key, result)
        return result
    try:
        fea = _comma_list(key[0])
        derived = (
            _scoped(fea),
            _scoped(_comma_list(key[1])),
            _v2_org_permissions(org, fea) if is_org else (),
        )
    except TokenVerificationError:
        if known is _UNKNOWN:
            remember(_v2_memo, key, None, _V2_ENTRIES)
        raise
    if known is _UNKNOWN:
        remember(_v2_memo, key, derived, _V2_ENTRIES)
    _v2_last = (key, derived)
    return derived


_UNKNOWN: Final[Any] = object()
_UNHASHABLE: Final[Any] = object()


def decode_claims(payload: Mapping[str, Any], raw: Mapping[str, Any]) -> SessionClaims:
    """:meth:`SessionClaims.from_payload` with ``raw`` given: the verifier hands over a
    payload it parsed itself and nobody else holds, instead of a copy.

    Only what can fail is decoded now (v2 ``fea``/``pla``, with the organisation's
    permissions, and the generation they depend on); every other field is decoded from
    ``raw`` the first time it is read (:class:`_Lazy`), so a request that reads
    ``user_id`` pays for ``user_id``. The instance is equal to, hashes and prints like
    ``SessionClaims(...)`` built with the same field values.

    :raises TokenVerificationError: ``token-invalid`` for a malformed ``fea``/``pla``.
    """
    if payload.get("v") == 2:
        features, plans, permissions = _v2_derived(payload, payload.get("o"))
        fields = {
            "raw": raw,
            "version": 2,
            "features": features,
            "plans": plans,
            "org_permissions": permissions,
        }
    else:
        fields = {"raw": raw, "version": 1, "features": (), "plans": ()}
    claims = _new(SessionClaims)
    _set_dict(claims, "__dict__", fields)
    return claims


def _decode(
    cls: type[SessionClaims], payload: Mapping[str, Any], raw: Mapping[str, Any]
) -> SessionClaims:
    """:meth:`SessionClaims.from_payload` for a subclass: every field decoded now,
    through the class's own ``__init__``."""
    lazy = decode_claims(payload, raw)  # what can fail, fails here
    return cls(**{a.name: getattr(lazy, a.name) for a in _FIELDS})


def _org(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    """v2's ``o`` object, or an empty mapping."""
    org = raw.get("o")
    return org if isinstance(org, dict) else {}


def _org_claim(raw: Mapping[str, Any], version: int, v2_name: str, v1_name: str) -> str | None:
    """A string organisation claim: v2's ``o.<v2_name>``, v1's ``<v1_name>``."""
    return _str_or_none(_org(raw).get(v2_name) if version == 2 else raw.get(v1_name))


def _org_role(raw: Mapping[str, Any], version: int) -> str | None:
    if version == 2:
        rol = _org(raw).get("rol")
        return (rol if rol.startswith("org:") else f"org:{rol}") if isinstance(rol, str) else None
    return _str_or_none(raw.get("org_role"))


def _v1_permissions(raw: Mapping[str, Any]) -> tuple[str, ...]:
    perms = raw.get("org_permissions")
    return tuple(p for p in perms if isinstance(p, str)) if isinstance(perms, list) else ()


def _fva(raw: Mapping[str, Any], _version: int = 1) -> tuple[int, int] | None:
    """``fva`` as two ints, ``None`` when absent or malformed (``type(x) is int``
    refuses bools and floats, as the reverification check needs)."""
    fva = raw.get("fva")
    if type(fva) is list and len(fva) == 2:
        first, second = fva
        if type(first) is int and type(second) is int:
            return (first, second)
    return None


def _actor(raw: Mapping[str, Any]) -> Actor | None:
    act = raw.get("act")
    return None if act is None else Actor.from_claim(act)


#: How each lazily decoded field comes from ``(raw, version)``. The verifier decoded
#: ``raw`` from a payload that passed validate_claims, so ``sub``, ``sid``, ``exp`` and
#: ``iat`` are there (and the time claims numbers).
_FIELD_DECODERS: Final[dict[str, Callable[[Mapping[str, Any], int], Any]]] = {
    "user_id": lambda raw, _: raw["sub"],
    "session_id": lambda raw, _: raw["sid"],
    "issuer": lambda raw, _: _str_or_none(raw.get("iss")),
    "authorized_party": lambda raw, _: _str_or_none(raw.get("azp")),
    "expires_at": lambda raw, _: raw["exp"],
    "issued_at": lambda raw, _: raw["iat"],
    "not_before": lambda raw, _: raw.get("nbf"),
    "session_status": lambda raw, _: _str_or_none(raw.get("sts")),
    "actor": lambda raw, _: _actor(raw),
    "factor_verification_age": _fva,  # no lambda: read on every reverification check
    "org_id": lambda raw, v: _org_claim(raw, v, "id", "org_id"),
    "org_slug": lambda raw, v: _org_claim(raw, v, "slg", "org_slug"),
    "org_role": _org_role,
    "org_permissions": lambda raw, _: _v1_permissions(raw),  # v2's is decoded eagerly
}
_FIELDS: Final = attrs.fields(SessionClaims)


class _Lazy:
    """The class attribute behind a lazily decoded field: read only while the
    instance's dict lacks the field (a non-data descriptor; the dict wins once the value
    is kept there). A descriptor, not ``__getattr__``: that one runs only after a failed
    lookup has built an ``AttributeError``, which costs more than the decoding.

    Two threads may decode the same field at once; both store the same value.
    """

    __slots__ = ("decode", "name")

    def __init__(self, name: str, decode: Callable[[Mapping[str, Any], int], Any]) -> None:
        self.name = name
        self.decode = decode

    def __get__(self, claims: SessionClaims | None, owner: type | None = None) -> Any:
        if claims is None:
            return self
        known = claims.__dict__
        if "raw" not in known or "version" not in known:
            raise AttributeError(f"{type(claims).__name__!r} object has no attribute {self.name!r}")
        value = self.decode(known["raw"], known["version"])
        known[self.name] = value
        return value


for _name, _decoder in _FIELD_DECODERS.items():
    setattr(SessionClaims, _name, _Lazy(_name, _decoder))


_new = object.__new__
_set_dict = object.__setattr__


def session_reverified(claims: SessionClaims, level: str, after_minutes: int) -> bool:
    """``reverified(claims.factor_verification_age, level, after_minutes)``, without the
    lazy field's descriptor or the tuple: Requirements.check runs it on every request
    of a route with a reverification requirement. For a lazily decoded instance it
    reads ``fva`` from ``raw`` with :func:`_fva`'s shape rule, repeated inline here (a
    test holds the two equal over odd values)."""
    known = claims.__dict__
    if "factor_verification_age" in known or "raw" not in known:
        return reverified(claims.factor_verification_age, level, after_minutes)
    fva = known["raw"].get("fva")
    if type(fva) is list and len(fva) == 2:
        first, second = fva
        if type(first) is int and type(second) is int:
            return ages_fresh(first, second, level, after_minutes)
    return False
