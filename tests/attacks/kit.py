"""What the corpus builds tokens with: raw segments, any signer, and the attacker's keys.

Tokens are assembled here byte by byte (not through a JOSE library, which would refuse
to produce most of them). A :class:`Kit` wraps one :class:`MockClerk`: its real signing
key and kid, a foreign key, and :class:`WeakKeys`, the keys an attacker hopes a
verifier will accept from a JWKS (tiny moduli, ``e`` = 1 or 3, a symmetric ``oct`` key
made of the public key's bytes, a JWK with its private members, a duplicated ``kid``).
:meth:`Kit.jwks` is the document the mock serves: the real key plus all of those.

RSA signatures for keys ``cryptography`` will not make (512 bits, ``e`` = 1) are
computed by hand: RSASSA-PKCS1-v1_5 with SHA-256 is ``EM^d mod n`` (RFC 8017 §8.2.1).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from clerk_auth_core.testing import REMOVE, MockClerk, b64url, generate_key, public_jwk

__all__ = [
    "FOREIGN_KID",
    "Kit",
    "RawRSA",
    "WeakKeys",
    "b64url",
    "hs",
    "merge",
    "seg",
    "weak_keys",
]

FOREIGN_KID = "ins_foreign"

# DigestInfo prefix of SHA-256 (RFC 8017 §9.2, note 1).
_SHA256_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")


def seg(part: Mapping[str, Any] | str | bytes) -> str:
    """One base64url segment: a mapping as compact JSON, ``str`` as UTF-8 (lone
    surrogates kept), ``bytes`` verbatim."""
    if isinstance(part, bytes):
        raw = part
    elif isinstance(part, str):
        raw = part.encode("utf-8", "surrogatepass")
    else:
        raw = json.dumps(part, separators=(",", ":"), ensure_ascii=False).encode()
    return b64url(raw)


def hs(alg: str, secret: bytes, signing_input: bytes) -> bytes:
    """An HMAC signature (``HS256``/``HS384``/``HS512``): what an algorithm-confusion
    attacker sends, keyed with bytes of the *public* key."""
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    return hmac.new(secret, signing_input, digest).digest()


def _uint(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8 or 1, "big"))


def _is_probable_prime(n: int) -> bool:
    if n < 2:
        return False
    for p in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        if n % p == 0:
            return n == p
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for _ in range(32):
        x = pow(secrets.randbelow(n - 3) + 2, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime(bits: int, e: int) -> int:
    while True:
        candidate = secrets.randbits(bits) | (1 << (bits - 1)) | (1 << (bits - 2)) | 1
        if _is_probable_prime(candidate) and (candidate - 1) % e:
            return candidate


@dataclass(frozen=True)
class RawRSA:
    """An RSA key as bare numbers, signing RS256 by hand (any size, any exponent)."""

    n: int
    e: int
    d: int

    @classmethod
    def generate(cls, bits: int, e: int = 65537) -> RawRSA:
        while True:
            p, q = _prime(bits // 2, e), _prime(bits // 2, e)
            n = p * q
            if p != q and n.bit_length() == bits:
                return cls(n, e, pow(e, -1, (p - 1) * (q - 1)))

    @classmethod
    def of(cls, key: rsa.RSAPrivateKey) -> RawRSA:
        numbers = key.private_numbers()
        return cls(numbers.public_numbers.n, numbers.public_numbers.e, numbers.d)

    @property
    def size(self) -> int:
        return (self.n.bit_length() + 7) // 8

    def encoded_message(self, data: bytes) -> int:
        """EMSA-PKCS1-v1_5 of SHA-256(``data``) as an integer (RFC 8017 §9.2)."""
        t = _SHA256_PREFIX + hashlib.sha256(data).digest()
        em = b"\x00\x01" + b"\xff" * (self.size - len(t) - 3) + b"\x00" + t
        return int.from_bytes(em, "big")

    def sign(self, data: bytes) -> bytes:
        return pow(self.encoded_message(data), self.d, self.n).to_bytes(self.size, "big")

    def jwk(self, kid: str, **extra: Any) -> dict[str, Any]:
        return {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": _uint(self.n),
                "e": _uint(self.e), **extra}  # fmt: skip


@dataclass(frozen=True)
class WeakKeys:
    """Keys a JWKS must never make usable; each is served under its own kid."""

    rsa512: RawRSA
    rsa1024: RawRSA
    e3: RawRSA
    #: ``e`` = 1: the "signature" is the padded digest itself, no private key needed.
    e1: RawRSA
    #: A sound 2048-bit key whose JWK is served with ``d``, ``p``, ``q`` … attached.
    private: rsa.RSAPrivateKey
    #: Two sound keys served under one kid (``ins_dup``): ambiguous, so neither counts.
    dup_a: rsa.RSAPrivateKey
    dup_b: rsa.RSAPrivateKey


@functools.cache
def weak_keys() -> WeakKeys:
    """Made once per test session (RSA key generation is the slow part)."""
    dup_a = generate_key()
    return WeakKeys(
        rsa512=RawRSA.generate(512),
        rsa1024=RawRSA.of(generate_key(1024)),
        e3=RawRSA.of(rsa.generate_private_key(public_exponent=3, key_size=2048)),
        e1=RawRSA(n=dup_a.public_key().public_numbers().n, e=1, d=1),
        private=generate_key(),
        dup_a=dup_a,
        dup_b=generate_key(),
    )


#: kid → why :meth:`KeySet.from_jwks` must drop the key served under it.
WEAK_KIDS: dict[str, str] = {
    "ins_weak512": "bad-modulus",
    "ins_weak1024": "bad-modulus",
    "ins_e3": "bad-exponent",
    "ins_e1": "bad-exponent",
    "ins_oct": "unsupported-kty",
    "ins_private": "private-members",
    "ins_dup": "duplicate-kid",
    "ins_use_enc": "wrong-use",
    "ins_alg_hs256": "unsupported-alg",
    "ins_ops_encrypt": "wrong-key-ops",
}


Signer = Callable[[bytes], bytes]


class Kit:
    """Token building for one mock issuer (the real key, a foreign key, weak keys)."""

    def __init__(self, clerk: MockClerk) -> None:
        self.clerk = clerk
        self.kid = clerk.kid
        self.key = clerk.private_key
        try:
            self.foreign = clerk.private_key_for(FOREIGN_KID)
        except KeyError:
            self.foreign = clerk.add_foreign_key(FOREIGN_KID)
        self.weak = weak_keys()

    # -- key material, in the forms an attacker copies ------------------------------------

    @property
    def pem(self) -> bytes:
        """The real public key as SPKI PEM (what ``CLERK_JWT_KEY`` holds)."""
        return self.clerk.public_pem.encode()

    @property
    def der(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @property
    def jwk(self) -> dict[str, Any]:
        """The real public JWK exactly as the JWKS serves it."""
        return public_jwk(self.key, self.kid)

    @property
    def jwk_bytes(self) -> bytes:
        return json.dumps(self.jwk, separators=(",", ":")).encode()

    def jwks(self) -> dict[str, Any]:
        """The JWKS the world serves: the real key, then every weak key under its kid."""
        w = self.weak
        private = w.private.private_numbers()
        private_members = {
            "d": _uint(private.d), "p": _uint(private.p), "q": _uint(private.q),
            "dp": _uint(private.dmp1), "dq": _uint(private.dmq1), "qi": _uint(private.iqmp),
        }  # fmt: skip
        return {
            "keys": [
                self.jwk,
                w.rsa512.jwk("ins_weak512"),
                w.rsa1024.jwk("ins_weak1024"),
                w.e3.jwk("ins_e3"),
                w.e1.jwk("ins_e1"),
                {"kty": "oct", "kid": "ins_oct", "alg": "HS256", "k": b64url(self.pem)},
                {**public_jwk(w.private, "ins_private"), **private_members},
                public_jwk(w.dup_a, "ins_dup"),
                public_jwk(w.dup_b, "ins_dup"),
                {**public_jwk(w.dup_a, "ins_use_enc"), "use": "enc"},
                {**public_jwk(w.dup_a, "ins_alg_hs256"), "alg": "HS256"},
                {**public_jwk(w.dup_a, "ins_ops_encrypt"), "key_ops": ["encrypt"]},
            ]
        }

    # -- headers and claims ---------------------------------------------------------------

    def header(self, **overrides: Any) -> dict[str, Any]:
        """``{"alg": "RS256", "kid": <real>, "typ": "JWT"}``; ``REMOVE`` drops a member."""
        return merge({"alg": "RS256", "kid": self.kid, "typ": "JWT"}, overrides)

    def claims(self, **overrides: Any) -> dict[str, Any]:
        """A valid claim set issued now (the mock's), with overrides."""
        token = self.clerk.mint(lifetime=600)
        payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
        return merge(payload, overrides)

    def claims_json(self, **overrides: Any) -> str:
        """:meth:`claims` as compact JSON *without* its closing brace, to append raw
        members to (duplicates, NaN …): ``kit.claims_json() + ',"sub":"x"}'``."""
        return json.dumps(self.claims(**overrides), separators=(",", ":"))[:-1]

    def header_json(self, **overrides: Any) -> str:
        return json.dumps(self.header(**overrides), separators=(",", ":"))[:-1]

    # -- signatures -----------------------------------------------------------------------

    def rs256(self, key: rsa.RSAPrivateKey | RawRSA | None = None) -> Signer:
        """An RS256 signer: the real key by default."""
        if isinstance(key, RawRSA):
            return key.sign
        private = key or self.key
        return lambda data: private.sign(data, padding.PKCS1v15(), hashes.SHA256())

    def token(
        self,
        header: Mapping[str, Any] | str | bytes | None = None,
        payload: Mapping[str, Any] | str | bytes | None = None,
        *,
        sign: Signer | None = None,
        signature: bytes | None = None,
    ) -> str:
        """A compact token: ``signature`` verbatim, else ``sign(signing input)`` (RS256
        by the real key by default). Header and payload default to valid ones."""
        head = seg(self.header() if header is None else header)
        body = seg(self.claims() if payload is None else payload)
        signing_input = f"{head}.{body}".encode("ascii")
        sig = signature if signature is not None else (sign or self.rs256())(signing_input)
        return f"{head}.{body}.{b64url(sig)}"

    def valid(self, **claims: Any) -> str:
        """A genuine token (claims overridable)."""
        return self.token(payload=self.claims(**claims))

    def now(self) -> float:
        return time.time()


def merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for name, value in overrides.items():
        if value is REMOVE:
            out.pop(name, None)
        else:
            out[name] = value
    return out
