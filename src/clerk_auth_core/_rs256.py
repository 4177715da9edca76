"""RS256: RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3, RFC 8017 §8.2.2), checked by
encoding and comparing.

RFC 8017 verifies a signature by recomputing the whole encoded message and comparing,
never by parsing what the signature decrypts to (parsing is where PKCS#1 v1.5 forgeries
came from: Bleichenbacher 2006, BERserk). Here ``cryptography`` does the RSA operation
and the padding check (``recover_data_from_signature`` with PKCS1v15: the encoded
message must be ``00 01 FF…FF 00 T`` with at least eight ``FF``), and we compare ``T``,
all of it, with the DER DigestInfo of SHA-256 over the signing input. Equal ``T`` of
the one right length fixes every byte of the encoded message, so this accepts exactly
what ``RSAPublicKey.verify(signature, data, PKCS1v15(), SHA256())`` accepts (a test
holds the two equal over valid, mutated and foreign signatures), and costs less: one
hash and one comparison instead of a general signature context per call.
"""

from __future__ import annotations

from hashlib import sha256
from hmac import compare_digest
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from ._errors import Reason

__all__ = ["SHA256_DIGEST_INFO", "rs256_failure"]

#: DER of DigestInfo{sha256, NULL} up to the 32-byte digest (RFC 8017 §9.2, note 1).
SHA256_DIGEST_INFO: Final = bytes.fromhex("3031300d060960864801650304020105000420")
_PKCS1: Final = padding.PKCS1v15()


def rs256_failure(public_key: RSAPublicKey, signature: bytes, signing_input: bytes) -> str | None:
    """``None`` when ``signature`` is a valid RS256 signature of ``signing_input`` by
    ``public_key``; else the reason: ``token-invalid-signature`` when it is not,
    ``token-verification-failed`` when the check itself failed (never an exception)."""
    try:
        recovered = public_key.recover_data_from_signature(signature, _PKCS1, None)
    except InvalidSignature:
        return Reason.TOKEN_INVALID_SIGNATURE
    except Exception:
        return Reason.TOKEN_VERIFICATION_FAILED
    if compare_digest(recovered, SHA256_DIGEST_INFO + sha256(signing_input).digest()):
        return None
    return Reason.TOKEN_INVALID_SIGNATURE
