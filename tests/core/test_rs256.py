"""RS256 by encoding and comparing (``_rs256``) accepts exactly what
``RSAPublicKey.verify(..., PKCS1v15(), SHA256())`` accepts, and refuses with the reason
the verifier used to give for each kind of bad signature."""

from __future__ import annotations

import hashlib
import random

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from clerk_auth_core import Reason
from clerk_auth_core._rs256 import SHA256_DIGEST_INFO, rs256_failure
from clerk_auth_core.testing import generate_key

MESSAGE = b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyXzEifQ"


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return generate_key()


def reference(public: rsa.RSAPublicKey, signature: bytes, message: bytes) -> str | None:
    """What ``cryptography``'s own verify says, as a reason."""
    try:
        public.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return Reason.TOKEN_INVALID_SIGNATURE
    except Exception:
        return Reason.TOKEN_VERIFICATION_FAILED
    return None


def raw_sign(key: rsa.RSAPrivateKey, encoded: bytes) -> bytes:
    """The RSA private operation on a hand-made encoded message: signatures no correct
    signer would make, to probe the padding and DigestInfo checks."""
    numbers = key.private_numbers()
    n = numbers.public_numbers.n
    size = (n.bit_length() + 7) // 8
    return pow(int.from_bytes(encoded, "big"), numbers.d, n).to_bytes(size, "big")


def encoded(key: rsa.RSAPrivateKey, t: bytes, *, block_type: int = 1, fill: int = 0xFF) -> bytes:
    size = key.key_size // 8
    return bytes([0, block_type]) + bytes([fill]) * (size - 3 - len(t)) + b"\x00" + t


def digest(message: bytes) -> bytes:
    return hashlib.sha256(message).digest()


def test_valid_signatures_hold(key: rsa.RSAPrivateKey) -> None:
    public = key.public_key()
    for i in range(20):
        message = MESSAGE + bytes([i]) * i
        signature = key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        assert rs256_failure(public, signature, message) is None


def test_the_hand_made_encoding_is_the_real_one(key: rsa.RSAPrivateKey) -> None:
    # The probes below are only meaningful if raw_sign(encoded(...)) is how a correct
    # signer signs.
    good = raw_sign(key, encoded(key, SHA256_DIGEST_INFO + digest(MESSAGE)))
    assert good == key.sign(MESSAGE, padding.PKCS1v15(), hashes.SHA256())
    assert rs256_failure(key.public_key(), good, MESSAGE) is None


def _probes(key: rsa.RSAPrivateKey) -> dict[str, bytes]:
    h = digest(MESSAGE)
    t = SHA256_DIGEST_INFO + h
    size = key.key_size // 8
    n = key.public_key().public_numbers().n
    return {
        "other message": key.sign(MESSAGE + b"x", padding.PKCS1v15(), hashes.SHA256()),
        "sha512 digestinfo": key.sign(MESSAGE, padding.PKCS1v15(), hashes.SHA512()),
        "sha1 digestinfo": key.sign(MESSAGE, padding.PKCS1v15(), hashes.SHA1()),
        "pss": key.sign(
            MESSAGE,
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
            hashes.SHA256(),
        ),
        "bare digest, no digestinfo": raw_sign(key, encoded(key, h)),
        "garbage after the digest": raw_sign(key, encoded(key, t + b"\x00" * 8)),
        "digestinfo without NULL": raw_sign(
            key, encoded(key, bytes.fromhex("302f300b0609608648016503040201") + b"\x04\x20" + h)
        ),
        "block type 2": raw_sign(key, encoded(key, t, block_type=2, fill=0x55)),
        "padding not FF": raw_sign(key, encoded(key, t, fill=0xFE)),
        "padding too short": raw_sign(
            key, b"\x00\x01" + b"\xff" * 7 + b"\x00" + b"\x00" * (size - 10 - len(t)) + t
        ),
        "no leading zero": raw_sign(key, b"\x01" + encoded(key, t)[1:]),
        "all zero": bytes(size),
        "one": (1).to_bytes(size, "big"),
        "the modulus": n.to_bytes(size, "big"),
        "above the modulus": b"\xff" * size,
    }


@pytest.mark.parametrize(
    "name",
    [
        "other message",
        "sha512 digestinfo",
        "sha1 digestinfo",
        "pss",
        "bare digest, no digestinfo",
        "garbage after the digest",
        "digestinfo without NULL",
        "block type 2",
        "padding not FF",
        "padding too short",
        "no leading zero",
        "all zero",
        "one",
        "the modulus",
        "above the modulus",
    ],
)
def test_refuses_what_verify_refuses_with_its_reason(key: rsa.RSAPrivateKey, name: str) -> None:
    public = key.public_key()
    signature = _probes(key)[name]
    expected = reference(public, signature, MESSAGE)
    assert expected is not None, "the probe must be a bad signature"
    assert rs256_failure(public, signature, MESSAGE) == expected


def test_another_keys_signature_is_refused(key: rsa.RSAPrivateKey) -> None:
    other = generate_key()
    signature = other.sign(MESSAGE, padding.PKCS1v15(), hashes.SHA256())
    assert rs256_failure(key.public_key(), signature, MESSAGE) == Reason.TOKEN_INVALID_SIGNATURE


def test_agrees_with_verify_on_bit_flips(key: rsa.RSAPrivateKey) -> None:
    public = key.public_key()
    rng = random.Random(7)
    signature = key.sign(MESSAGE, padding.PKCS1v15(), hashes.SHA256())
    for _ in range(300):
        flipped = bytearray(signature)
        flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
        message = MESSAGE if rng.random() < 0.8 else MESSAGE[:-1]
        expected = reference(public, bytes(flipped), message)
        assert expected is not None
        assert rs256_failure(public, bytes(flipped), message) == expected
    # And the message side: the right signature over any other input.
    for i in range(50):
        changed = bytearray(MESSAGE)
        changed[i % len(changed)] ^= 1 << (i % 8)
        assert rs256_failure(public, signature, bytes(changed)) == reference(
            public, signature, bytes(changed)
        )


def test_the_check_itself_failing_is_verification_failed(key: rsa.RSAPrivateKey) -> None:
    class Broken:
        def recover_data_from_signature(self, *_: object) -> bytes:
            raise RuntimeError("backend exploded")

    failure = rs256_failure(Broken(), b"\x00" * 256, MESSAGE)  # type: ignore[arg-type]
    assert failure == Reason.TOKEN_VERIFICATION_FAILED
