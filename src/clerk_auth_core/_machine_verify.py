"""JWT machine tokens (M2M JWTs, OAuth JWTs) verified locally
(machine-tokens.md §4), through the session tokens' gate, key and signature path.

The order, first failure wins:

1. the gate of :mod:`._tokens` (size, shape, canonical base64url, strict JSON; opaque
   ``ak_``/``mt_``/``oat_`` tokens are ``token-type-mismatch`` there) with the header
   rules machine JWTs share with sessions (``alg``, forbidden members, ``kid``:
   :func:`shared_header_step`);
2. the kind, from the gated header and payload as :func:`~._token_kinds.token_kind`
   decides it (an ``mch_`` subject first, then ``typ`` ``at+jwt``; neither:
   ``token-type-mismatch``), and its own header rules: M2M JWTs pass Clerk's category
   gate (``cat`` absent or ``cl_B7d4PD333AAA``, else ``token-invalid``) and have ``typ``
   absent or ``JWT``; all before any key lookup;
3. the key for the ``kid`` and the RS256 signature (:mod:`._rs256`), as sessions;
4. the claims: ``sub`` a non-empty string, ``exp`` required, ``nbf``/``iat`` if present,
   with the configured clock skew; ``aud`` only against an ``audience`` the caller
   names. Not checked, as Clerk: ``iss`` (machine JWTs carry their own issuers), ``jti``,
   scopes. The session's ``authorized_parties`` are *not* applied (spec §8: a quirk of
   Clerk's not to copy: machine tokens have no browser origin).

Reasons are the session path's (Clerk's strings): ``token-invalid``,
``token-invalid-algorithm``, ``token-invalid-signature``, ``jwk-kid-mismatch``,
``token-expired``, ``token-not-active-yet``, ``token-iat-in-the-future``,
``token-verification-failed``; ``jwk-failed-to-resolve`` (500) without keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final, cast

import attrs

from ._cache import HeaderVerdict
from ._claims import MAX_TIME, _time_claim, time_refusal
from ._config import ClerkConfig
from ._errors import REASONS, KeyResolutionError, Reason, TokenVerificationError
from ._keys import KeySet
from ._machine_claims import MachineClaims
from ._rs256 import rs256_failure
from ._token_kinds import M2M_TOKEN, OAUTH_TOKEN
from ._tokens import ACCESS_TOKEN_TYPES, Gated, check_header, gate

__all__ = [
    "M2M_CATEGORY",
    "PendingMachineJwt",
    "finish_machine_jwt",
    "machine_kind",
    "prepare_machine_jwt",
    "shared_header_step",
    "verify_machine_jwt",
]

#: The header ``cat`` Clerk stamps on M2M JWTs (spec §1).
M2M_CATEGORY: Final = "cl_B7d4PD333AAA"


def shared_header_step(
    header: dict[str, Any], *, algorithms: tuple[str, ...], kid_required: bool
) -> tuple[str, str | None]:
    """The header rules every machine JWT shares with sessions: the session header
    step's ``alg``, forbidden-member and ``kid`` rules (:func:`~._tokens.check_header`,
    one home), given the header without ``cat`` and ``typ``, whose machine rules depend
    on the kind (:func:`machine_kind`). Answers ``(alg, kid)``.

    :raises TokenVerificationError: ``token-invalid``, ``token-invalid-algorithm``.
    """
    if "cat" in header or "typ" in header:
        header = {k: v for k, v in header.items() if k not in ("cat", "typ")}
    return check_header(header, algorithms=algorithms, kid_required=kid_required)


def machine_kind(header: Mapping[str, Any], payload: Mapping[str, Any]) -> str:
    """The kind of a gated JWT (M2M first, spec §1) after its kind's header rules;
    before any key lookup.

    :raises TokenVerificationError: ``token-type-mismatch`` (no machine JWT),
        ``token-invalid`` (Clerk's M2M category gate, a wrong ``typ``).
    """
    sub, typ = payload.get("sub"), header.get("typ")
    if isinstance(sub, str) and sub.startswith("mch_"):
        # Clerk's category gate: a foreign cat (even the "ignore" one) is no M2M JWT;
        # an absent cat predates the rollout.
        if "cat" in header and header["cat"] != M2M_CATEGORY:
            raise TokenVerificationError(Reason.TOKEN_INVALID, "Invalid M2M JWT category.")
        if "typ" in header and not (isinstance(typ, str) and typ.lower() == "jwt"):
            raise TokenVerificationError(Reason.TOKEN_INVALID, "Invalid JWT type.")
        return M2M_TOKEN
    # RFC 9068 §4: an access token is recognised by its typ (compared lower-cased, as
    # the session gate refuses it). No category gate (Clerk has none for OAuth).
    if isinstance(typ, str) and typ.lower() in ACCESS_TOKEN_TYPES:
        return OAUTH_TOKEN
    raise TokenVerificationError(Reason.TOKEN_TYPE_MISMATCH, "The token is no machine JWT.")


#: The session path's messages, said of a machine token ("The machine token has
#: expired."): the same reasons, statuses and RFC 6750 codes.
_MESSAGES: Final = {
    reason: info.message.replace("session token", "machine token")
    for reason, info in REASONS.items()
}


def refusal(reason: str) -> TokenVerificationError:
    """A machine JWT refused with ``reason``, in words about a machine token."""
    return TokenVerificationError(reason, _MESSAGES.get(reason))


#: Header verdicts of :func:`shared_header_step` by (algorithms, kid_required), as
#: the configuration's table holds the session step's (bounded by the gate).
_HEADER_TABLES: dict[tuple[tuple[str, ...], bool], dict[bytes, HeaderVerdict]] = {}


def _check_claims(
    payload: Mapping[str, Any], skew: float, now: float, audience: tuple[str, ...]
) -> None:
    failed = Reason.TOKEN_VERIFICATION_FAILED
    sub = payload.get("sub")
    if not isinstance(sub, str) or not sub:
        raise TokenVerificationError(failed, "The 'sub' claim is missing.")
    if audience:
        aud = payload.get("aud")
        auds = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        if not any(isinstance(a, str) and a in audience for a in auds):
            raise TokenVerificationError(failed, "The 'aud' claim does not match.")
    # A plain int in range (what Clerk issues) needs no further look; anything else
    # goes to _time_claim, the session rules' one home for a time claim's type.
    get = payload.get
    exp = get("exp")
    if type(exp) is not int or not -MAX_TIME <= exp <= MAX_TIME:
        exp = _time_claim(payload, "exp")
        if exp is None:
            raise TokenVerificationError(failed, "The 'exp' claim is missing.")
    # The time window has one home (time_refusal); each bound is checked right after
    # its claim is read, in Clerk's order, as for sessions.
    reason = time_refusal(now, skew, exp=exp)
    if reason is None:
        nbf = get("nbf")
        if type(nbf) is not int or not -MAX_TIME <= nbf <= MAX_TIME:
            nbf = _time_claim(payload, "nbf")
        reason = time_refusal(now, skew, nbf=nbf)
    if reason is None:
        iat = get("iat")
        if type(iat) is not int or not -MAX_TIME <= iat <= MAX_TIME:
            iat = _time_claim(payload, "iat")
        reason = time_refusal(now, skew, iat=iat)
    if reason is not None:
        raise refusal(reason)


@attrs.frozen
class PendingMachineJwt:
    """A machine JWT that passed the gate and its kind's header rules; it needs the
    key set for :attr:`kid` (the request path asks its key source, as for sessions)."""

    kind: str
    kid: str | None
    gated: Gated = attrs.field(repr=False)


def prepare_machine_jwt(token: str, config: ClerkConfig) -> PendingMachineJwt:
    """Steps 1–2 (module docstring): the gate and the kind, no keys yet.

    :raises TokenVerificationError: ``token-invalid``, ``token-invalid-algorithm``,
        ``token-type-mismatch``.
    """
    kind, gated = _gate_and_kind(token, config)
    return PendingMachineJwt(kind, gated[0], gated)


def _gate_and_kind(token: str, config: ClerkConfig) -> tuple[str, Gated]:
    cache = config.token_cache
    table = _HEADER_TABLES.setdefault((cache.algorithms, cache.kid_required), {})
    gated = gate(
        token, cache.max_size, cache.algorithms, cache.kid_required, table, shared_header_step
    )
    if type(gated) is str:
        raise refusal(gated)
    done = cast(Gated, gated)
    return machine_kind(done[4][0], done[3]), done


def finish_machine_jwt(
    pending: PendingMachineJwt,
    keys: KeySet | None,
    config: ClerkConfig,
    *,
    now: float,
    audience: str | Iterable[str] = (),
) -> MachineClaims:
    """Steps 3–4 for what :func:`prepare_machine_jwt` answered: the key, the signature,
    the claims.

    :raises TokenVerificationError: the reason of the first failed rule.
    :raises KeyResolutionError: ``jwk-failed-to-resolve`` when ``keys`` is ``None``.
    """
    return _finish(pending.kind, pending.gated, keys, config, now, audience)


def _finish(
    kind: str,
    gated: Gated,
    keys: KeySet | None,
    config: ClerkConfig,
    now: float,
    audience: str | Iterable[str],
) -> MachineClaims:
    kid, signing_input, signature, payload, _ = gated
    if keys is None:
        raise KeyResolutionError(Reason.JWK_FAILED_TO_RESOLVE)
    key = keys.find(kid)
    if key is None:
        raise refusal(Reason.JWK_KID_MISMATCH)
    if len(signature) != key.signature_length:
        raise refusal(Reason.TOKEN_INVALID_SIGNATURE)
    failure = rs256_failure(key.public_key, signature, signing_input)
    if failure is not None:
        raise refusal(failure)
    wanted = (audience,) if isinstance(audience, str) else tuple(audience)
    _check_claims(payload, config.clock_skew, now, wanted)
    return MachineClaims.from_jwt_payload(kind, payload)


def verify_machine_jwt(
    token: str,
    keys: KeySet | None,
    config: ClerkConfig,
    *,
    now: float,
    audience: str | Iterable[str] = (),
) -> MachineClaims:
    """Verify an M2M JWT or OAuth JWT with the instance's keys and return its claims.

    The same keys as session tokens (``config.static_keys``, or a key provider's
    ``get_keys(kid)``), the same gate and signature check, the machine claim rules
    (module docstring). No network call: JWT machine tokens cannot be revoked.
    (:func:`prepare_machine_jwt` and :func:`finish_machine_jwt` are its two halves,
    for a caller that needs the ``kid`` before it has keys.)

    :param audience: when given, the token's ``aud`` must name one of these.
    :raises TokenVerificationError: ``token-type-mismatch`` for a token that is no
        machine JWT (a session token, an opaque ``ak_``/``mt_``/``oat_`` token), else the
        reason of the first failed rule.
    :raises KeyResolutionError: ``jwk-failed-to-resolve`` when ``keys`` is ``None``.
    """
    kind, gated = _gate_and_kind(token, config)
    return _finish(kind, gated, keys, config, now, audience)
