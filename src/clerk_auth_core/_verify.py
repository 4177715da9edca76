"""Token verification, in the spec's order (§3), first failure wins.

1. the gate and the header step (:mod:`._tokens`; the payload must parse as a strict
   JSON object there, but nothing in it is read yet);
2. the key for the token's ``kid`` (:class:`KeySet`; a PEM set answers any kid);
3. the RS256 signature over the signing input;
4. only then the claims: the claim rules (:mod:`._claims`).

joserfc imported the key (``KeySet``); the signature is checked with that key's
``cryptography`` object directly, over the exact signing input, because joserfc's
general path decodes the payload before the signature and costs more than it protects.
"""

from __future__ import annotations

from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from ._claims import SessionClaims, validate_claims
from ._config import ClerkConfig
from ._errors import KeyResolutionError, Reason, TokenVerificationError
from ._keys import KeySet, VerificationKey
from ._tokens import UnverifiedToken, parse_token

__all__ = ["check_signature", "parse_for", "verify_parsed", "verify_token"]

_PKCS1 = padding.PKCS1v15()
_SHA256 = hashes.SHA256()


def parse_for(token: str, config: ClerkConfig) -> UnverifiedToken:
    """Run the gate and header step with the configuration's limits.

    ``kid`` is required unless keys come from a PEM (spec §3.2).
    """
    return parse_token(
        token,
        max_size=config.max_token_size,
        algorithms=config.algorithms,
        kid_required=config.static_keys is None,
    )


def check_signature(unverified: UnverifiedToken, key: VerificationKey) -> None:
    """RSASSA-PKCS1-v1_5 with SHA-256 over the signing input (spec §3.4).

    :raises TokenVerificationError: ``token-invalid-signature`` when the signature is
        false or of the wrong length; ``token-verification-failed`` on any other error.
    """
    if len(unverified.signature) != key.signature_length:
        raise TokenVerificationError(Reason.TOKEN_INVALID_SIGNATURE)
    try:
        key.public_key.verify(unverified.signature, unverified.signing_input, _PKCS1, _SHA256)
    except InvalidSignature:
        raise TokenVerificationError(Reason.TOKEN_INVALID_SIGNATURE) from None
    except Exception:
        raise TokenVerificationError(Reason.TOKEN_VERIFICATION_FAILED) from None


def verified_payload(unverified: UnverifiedToken) -> dict[str, Any]:
    """The payload of a token whose signature holds (the gate parsed it already)."""
    return unverified.payload


def verify_parsed(
    unverified: UnverifiedToken, keys: KeySet | None, config: ClerkConfig, now: float
) -> SessionClaims:
    """Steps 2–4 for a token that already passed :func:`parse_for`.

    :raises KeyResolutionError: ``jwk-failed-to-resolve`` when ``keys`` is ``None``: no
        key source is configured (spec §3.3), e.g. ``config.static_keys`` without a PEM.
    """
    if keys is None:
        raise KeyResolutionError(Reason.JWK_FAILED_TO_RESOLVE)
    key = keys.get(unverified.kid)
    check_signature(unverified, key)
    payload = verified_payload(unverified)
    validate_claims(payload, config, now)
    return SessionClaims.from_payload(payload)


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

    :raises TokenVerificationError: with the stable reason of the first failed rule.
    :raises KeyResolutionError: ``jwk-failed-to-resolve`` when ``keys`` is ``None`` (as
        ``config.static_keys`` is for a configuration without ``CLERK_JWT_KEY``); only
        after the token passed the gate, so a malformed token is still ``token-invalid``.
    """
    return verify_parsed(parse_for(token, config), keys, config, now)
