"""JWT machine tokens (M2M JWTs, OAuth JWTs) verified locally
(machine-tokens.md §4), through the session tokens' gate, key and signature path.

The order, first failure wins:

1. the kind (:func:`~._token_kinds.token_kind`; a token that is neither machine JWT
   is ``token-type-mismatch``);
2. the gate of :mod:`._tokens` (size, shape, canonical base64url, strict JSON) with
   the machine header step instead of the session one: M2M JWTs pass Clerk's category
   gate (``cat`` absent or ``cl_B7d4PD333AAA``, else ``token-invalid`` before any key
   lookup) and have ``typ`` absent or ``JWT``; OAuth JWTs have ``typ`` ``at+jwt`` /
   ``application/at+jwt`` (RFC 9068 §2.1); then the session header step's own ``alg``,
   forbidden-member and ``kid`` rules (:func:`~._tokens.check_header`);
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
from functools import partial
from typing import Any, Final

from ._claims import _time_claim
from ._config import ClerkConfig
from ._errors import KeyResolutionError, Reason, TokenVerificationError, refusal
from ._keys import KeySet
from ._machine_claims import MachineClaims
from ._rs256 import rs256_failure
from ._token_kinds import M2M_TOKEN, OAUTH_TOKEN, token_kind
from ._tokens import ACCESS_TOKEN_TYPES, check_header, gate

__all__ = ["M2M_CATEGORY", "check_machine_header", "verify_machine_jwt"]

#: The header ``cat`` Clerk stamps on M2M JWTs (spec §1).
M2M_CATEGORY: Final = "cl_B7d4PD333AAA"


def check_machine_header(
    header: dict[str, Any], *, kind: str, algorithms: tuple[str, ...], kid_required: bool
) -> tuple[str, str | None]:
    """The header step for a machine JWT of ``kind``; answers ``(alg, kid)``.

    :raises TokenVerificationError: ``token-invalid`` (category, ``typ``, forbidden
        members, ``kid``), ``token-invalid-algorithm``.
    """
    typ = header.get("typ")
    if kind == M2M_TOKEN:
        # Clerk's category gate, before any key lookup: a foreign cat (even the
        # "ignore" one) is no M2M JWT; an absent cat predates the rollout.
        if "cat" in header and header["cat"] != M2M_CATEGORY:
            raise TokenVerificationError(Reason.TOKEN_INVALID, "Invalid M2M JWT category.")
        if "typ" in header and not (isinstance(typ, str) and typ.lower() == "jwt"):
            raise TokenVerificationError(Reason.TOKEN_INVALID, "Invalid JWT type.")
    elif not (isinstance(typ, str) and typ.lower() in ACCESS_TOKEN_TYPES):
        # RFC 9068 §4: an access token is recognised by its typ, nothing else.
        raise TokenVerificationError(
            Reason.TOKEN_INVALID, 'Invalid JWT type. Expected "at+jwt, application/at+jwt".'
        )
    # The session header step's alg, forbidden-member and kid rules, one home: given
    # the header without the two members whose machine rules were just applied.
    rest = {k: v for k, v in header.items() if k not in ("cat", "typ")}
    return check_header(rest, algorithms=algorithms, kid_required=kid_required)


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
    exp = _time_claim(payload, "exp")
    if exp is None:
        raise TokenVerificationError(failed, "The 'exp' claim is missing.")
    if exp <= now - skew:
        raise refusal(Reason.TOKEN_EXPIRED)
    nbf = _time_claim(payload, "nbf")
    if nbf is not None and nbf > now + skew:
        raise refusal(Reason.TOKEN_NOT_ACTIVE_YET)
    iat = _time_claim(payload, "iat")
    if iat is not None and iat > now + skew:
        raise refusal(Reason.TOKEN_IAT_IN_THE_FUTURE)


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

    :param audience: when given, the token's ``aud`` must name one of these.
    :raises TokenVerificationError: ``token-type-mismatch`` for a token that is no
        machine JWT (a session token, an opaque ``ak_``/``mt_``/``oat_`` token), else the
        reason of the first failed rule.
    :raises KeyResolutionError: ``jwk-failed-to-resolve`` when ``keys`` is ``None``.
    """
    kind = token_kind(token)
    if kind not in (M2M_TOKEN, OAUTH_TOKEN) or not isinstance(token, str) or "." not in token:
        raise TokenVerificationError(Reason.TOKEN_TYPE_MISMATCH, "The token is no machine JWT.")
    cache = config.token_cache
    check = partial(check_machine_header, kind=kind)
    # headers=None: the configuration's header table holds the session step's verdicts.
    gated = gate(token, cache.max_size, cache.algorithms, cache.kid_required, None, check)
    if isinstance(gated, str):
        raise refusal(gated)
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
