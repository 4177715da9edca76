"""Token verification, in the spec's order (§3), first failure wins.

1. the gate and the header step (:mod:`._tokens`; the payload must parse as a strict
   JSON object there, but nothing in it is read yet);
2. the key for the token's ``kid`` (:class:`KeySet`; a PEM set answers any kid);
3. the RS256 signature over the signing input;
4. only then the claims: the claim rules (:mod:`._claims`).

joserfc imported the key (``KeySet``); the signature is checked with that key's
``cryptography`` object directly, over the exact signing input (:mod:`._rs256`),
because joserfc's general path decodes the payload before the signature and costs
more than it protects.

Each configuration remembers what it has verified and refused
(:class:`~clerk_auth_core._cache.TokenCache`): a token sent again is answered after
exactly the checks whose answer can have changed since (the key, the clock), see
:func:`verify_remembered`.
"""

from __future__ import annotations

from typing import Any

from ._bounded import remember
from ._cache import REFUSED_ENTRIES, SWEEP_EVERY, Remembered, make_room
from ._claims import SessionClaims, decode_claims, time_refusal, validate_claims
from ._config import ClerkConfig
from ._errors import KeyResolutionError, Reason, refusal
from ._keys import KeySet, VerificationKey
from ._rs256 import rs256_failure
from ._tokens import Gated, UnverifiedToken, gate, unverified_token

__all__ = [
    "check_signature",
    "gate_for",
    "parse_for",
    "remembered",
    "verify_gated",
    "verify_parsed",
    "verify_remembered",
    "verify_token",
]

_NEVER = float("-inf")


def gate_for(token: str, config: ClerkConfig) -> Gated:
    """The gate and header step with the configuration's limits and tables.

    ``kid`` is required unless keys come from a PEM (spec §3.2). The reason a token was
    refused is remembered: the gate is a pure function of the token and the
    configuration, so a token sent again is not parsed again.

    :raises TokenVerificationError: ``token-invalid``, ``token-type-mismatch`` or
        ``token-invalid-algorithm``.
    """
    cache = config.token_cache
    # The size cap before anything that would hash the token.
    memo = type(token) is str and len(token) <= cache.max_size
    if memo:
        known = cache.refused.get(token)
        if type(known) is str:
            raise refusal(known)
    gated = gate(token, cache.max_size, cache.algorithms, cache.kid_required, cache.headers)
    if type(gated) is str:
        if memo:
            remember(cache.refused, token, gated, REFUSED_ENTRIES)
        raise refusal(gated)
    return gated  # type: ignore[return-value]


def parse_for(token: str, config: ClerkConfig) -> UnverifiedToken:
    """Run the gate and header step with the configuration's limits (:func:`gate_for`).

    ``kid`` is required unless keys come from a PEM (spec §3.2).

    :raises TokenVerificationError: ``token-invalid``, ``token-type-mismatch`` or
        ``token-invalid-algorithm``.
    """
    return unverified_token(token, gate_for(token, config))


def check_signature(unverified: UnverifiedToken, key: VerificationKey) -> None:
    """RSASSA-PKCS1-v1_5 with SHA-256 over the signing input (spec §3.4).

    :raises TokenVerificationError: ``token-invalid-signature`` when the signature is
        false or of the wrong length; ``token-verification-failed`` on any other error.
    """
    if len(unverified.signature) != key.signature_length:
        raise refusal(Reason.TOKEN_INVALID_SIGNATURE)
    failure = rs256_failure(key.public_key, unverified.signature, unverified.signing_input)
    if failure is not None:
        raise refusal(failure)


def verify_parsed(
    unverified: UnverifiedToken, keys: KeySet | None, config: ClerkConfig, now: float
) -> SessionClaims:
    """Steps 2–4 for a token that already passed :func:`parse_for`; a token that
    verifies is remembered in the configuration's token cache.

    :raises KeyResolutionError: ``jwk-failed-to-resolve`` when ``keys`` is ``None``: no
        key source is configured (spec §3.3), e.g. ``config.static_keys`` without a PEM.
    """
    return verify_gated(
        unverified.raw,
        (
            unverified.kid,
            unverified.signing_input,
            unverified.signature,
            unverified.payload,
            (unverified.header, unverified.alg, unverified.kid),
        ),
        keys,
        config,
        now,
    )


def verify_gated(
    token: str,
    gated: Gated,
    keys: KeySet | None,
    config: ClerkConfig,
    now: float,
    *,
    owned: bool = False,
) -> SessionClaims:
    """:func:`verify_parsed` over what :func:`gate_for` answered.

    :param owned: the payload is the caller's to give away (nobody else holds it), so
        ``claims.raw`` may be it rather than a copy.
    """
    if keys is None:
        raise KeyResolutionError(Reason.JWK_FAILED_TO_RESOLVE)
    kid, signing_input, signature, payload, _ = gated
    key = keys.find(kid)
    if key is None:
        # Remember that the gate passed, and the kid: the same token again is answered
        # without parsing it (verify_remembered).
        if type(token) is str:
            remember(config.token_cache.refused, token, (kid, keys), REFUSED_ENTRIES)
        raise refusal(Reason.JWK_KID_MISMATCH)
    # §3.4 the signature (check_signature, written out: the hot path).
    if len(signature) != key.signature_length:
        raise refusal(Reason.TOKEN_INVALID_SIGNATURE)
    failure = rs256_failure(key.public_key, signature, signing_input)
    if failure is not None:
        raise refusal(failure)
    # Only now are the claims looked at (spec §3.5).
    validate_claims(payload, config, now)
    claims = decode_claims(payload, payload if owned else dict(payload))
    cache = config.token_cache
    if cache.size and type(token) is str:
        verified = cache.verified
        if not len(verified) % SWEEP_EVERY or len(verified) >= cache.size:
            make_room(verified, token, cache.size, now - config.clock_skew)
        # validate_claims made exp and iat numbers, and nbf a number or absent.
        verified[token] = (
            claims, kid, key.thumbprint, payload["exp"], payload.get("nbf", _NEVER), payload["iat"]
        )  # fmt: skip
    return claims


def remembered(token: str, config: ClerkConfig) -> Remembered | None:
    """What the configuration's token cache knows about ``token``: a verified entry, the
    kid of a token that passed the gate but whose key was missing, or ``None``."""
    cache = config.token_cache
    # The size cap first: never hash an oversized value (the gate refuses it anyway).
    if type(token) is not str or len(token) > cache.max_size:
        return None
    entry = cache.verified.get(token)
    if entry is not None:
        return entry
    known = cache.refused.get(token)
    return known if type(known) is tuple else None


def verify_remembered(
    known: Remembered, token: str, keys: KeySet | None, config: ClerkConfig, now: float
) -> SessionClaims | None:
    """Answer from what :func:`remembered` found, as a full verification would; ``None``
    when only a full verification can answer (then run it).

    A verified entry: the key set (``None``: ``jwk-failed-to-resolve``), then the key
    (the token's ``kid`` must still name the very key material whose signature held;
    else the entry is dropped and ``None`` answered), then ``exp``, ``nbf``, ``iat``
    against ``now`` with the configured skew (an expired entry is dropped). A token
    whose key was missing: the very key set that lacked it answers
    ``jwk-kid-mismatch`` at once (key sets are immutable); otherwise the key set, then
    the kid (still missing: ``jwk-kid-mismatch``, and this set is remembered; there
    now: ``None``). Everything else a verification decides
    depends only on the token and this (frozen) configuration, which the cache belongs
    to.

    :raises TokenVerificationError: ``token-expired``, ``token-not-active-yet``,
        ``token-iat-in-the-future``, ``jwk-kid-mismatch``.
    :raises KeyResolutionError: ``jwk-failed-to-resolve`` when ``keys`` is ``None``.
    """
    if len(known) == 2:
        if known[1] is keys:
            raise refusal(Reason.JWK_KID_MISMATCH)  # the very key set that lacked it
        if keys is None:
            raise KeyResolutionError(Reason.JWK_FAILED_TO_RESOLVE)
        if keys.find(known[0]) is None:
            config.token_cache.refused[token] = (known[0], keys)  # ask this set only once
            raise refusal(Reason.JWK_KID_MISMATCH)
        return None
    if keys is None:
        raise KeyResolutionError(Reason.JWK_FAILED_TO_RESOLVE)
    claims, kid, thumbprint, exp, nbf, iat = known
    key = keys.find(kid)
    if key is None or key.thumbprint != thumbprint:
        config.token_cache.verified.pop(token, None)
        return None
    reason = time_refusal(now, config.clock_skew, exp, nbf, iat)
    if reason is not None:
        if reason == Reason.TOKEN_EXPIRED:
            config.token_cache.verified.pop(token, None)  # it dies at its exp
        raise refusal(reason)
    return claims


def verify_token(
    token: str, keys: KeySet | None, config: ClerkConfig, *, now: float
) -> SessionClaims:
    """Verify a Clerk session token completely and return its claims.

    This is the whole check, usable from any framework or a worker queue::

        keys = KeySet.from_pem(os.environ["CLERK_JWT_KEY"])   # or KeySet.from_jwks(...)
        claims = verify_token(token, keys, config, now=time.time())

    ``now`` is unix time in seconds; the core never reads a clock. A pending session
    (``claims.is_pending``) verifies: deciding whether it counts as signed in is the
    request's business (:func:`authenticate_request`).

    A token this configuration verified before is answered from its token cache after
    the checks whose answer can have changed (the key, the time claims:
    :func:`verify_remembered`); ``ClerkConfig(token_cache_size=0)`` turns that off.

    :raises TokenVerificationError: with the stable reason of the first failed rule.
    :raises KeyResolutionError: ``jwk-failed-to-resolve`` when ``keys`` is ``None`` (as
        ``config.static_keys`` is for a configuration without ``CLERK_JWT_KEY``); only
        after the token passed the gate, so a malformed token is still ``token-invalid``.
    """
    cache = config.token_cache
    # Written out rather than calling remembered()/gate_for(): this is the path every
    # request takes, and a refusal raised here unwinds one frame, not three.
    if type(token) is str:
        if len(token) > cache.max_size:
            raise refusal(Reason.TOKEN_INVALID)  # §3.1: the size cap first
        known: Any = cache.verified.get(token)
        if known is None:
            known = cache.refused.get(token)
            if type(known) is str:
                raise refusal(known)  # what the gate said last time
        # A verified entry, or (kid, keys): it passed the gate, but no key had its kid.
        if known is not None:
            claims = verify_remembered(known, token, keys, config, now)
            if claims is not None:
                return claims
    gated = gate(token, cache.max_size, cache.algorithms, cache.kid_required, cache.headers)
    if type(gated) is str:
        if type(token) is str:
            remember(cache.refused, token, gated, REFUSED_ENTRIES)
        raise refusal(gated)
    return verify_gated(token, gated, keys, config, now, owned=True)  # type: ignore[arg-type]
