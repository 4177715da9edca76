"""The instance's public keys: :class:`KeySet`, built from a JWKS or a PEM key.

Key acceptance (spec: key-rotation.md, "Which keys are accepted"): ``kty`` RSA with a
2048–8192-bit modulus and ``e`` = 65537; ``alg`` absent or RS256; ``use`` absent or
``sig``; ``key_ops`` absent or containing ``verify``; no private members; ``kid`` a
non-empty string of at most 128 bytes. Bad keys are dropped one by one (and counted
by reason); a ``kid`` that appears twice is ambiguous and names no key. joserfc does
the JWK and PEM import; we keep the rules.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

import attrs
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from joserfc.jwk import RSAKey

from ._errors import ConfigurationError, KeyResolutionError, Reason, TokenVerificationError
from ._json import StrictJSONError, loads_strict

__all__ = ["DroppedKey", "KeySet", "VerificationKey"]

_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth")
_MIN_BITS = 2048
_MAX_BITS = 8192
_E = 65537
_B64URL = re.compile(r"[A-Za-z0-9_-]+")


@attrs.frozen(kw_only=True)
class VerificationKey:
    """One accepted RSA public key."""

    #: The key id (``None`` for a PEM key, which answers any token).
    kid: str | None
    #: The ``cryptography`` public key object used to check signatures.
    public_key: RSAPublicKey = attrs.field(repr=False, eq=False)
    #: Modulus size in bits.
    bits: int
    #: A digest of the key material (so equal keys compare equal across fetches).
    thumbprint: str

    @property
    def signature_length(self) -> int:
        """Bytes in a signature made with this key (the modulus length)."""
        return (self.bits + 7) // 8


@attrs.frozen
class DroppedKey:
    """A key of a JWKS that was not accepted, and why (never the key material)."""

    index: int
    reason: str


def _b64url_uint(value: Any) -> int | None:
    if not isinstance(value, str) or not _B64URL.fullmatch(value):
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return None
    return int.from_bytes(raw, "big") if raw else None


def _judge_jwk(jwk: Any) -> str | None:
    """Return why a JWK is refused, or ``None`` if it is acceptable."""
    if not isinstance(jwk, dict):
        return "not-an-object"
    if jwk.get("kty") != "RSA":
        return "unsupported-kty"
    if any(m in jwk for m in _PRIVATE_MEMBERS):
        return "private-members"
    kid = jwk.get("kid")
    if not isinstance(kid, str) or not kid or len(kid.encode("utf-8", "replace")) > 128:
        return "bad-kid"
    if "alg" in jwk and jwk["alg"] != "RS256":
        return "unsupported-alg"
    if "use" in jwk and jwk["use"] != "sig":
        return "wrong-use"
    if "key_ops" in jwk:
        ops = jwk["key_ops"]
        if not isinstance(ops, list) or "verify" not in ops:
            return "wrong-key-ops"
    e = _b64url_uint(jwk.get("e"))
    if e != _E:
        return "bad-exponent"
    n = _b64url_uint(jwk.get("n"))
    if n is None or not _MIN_BITS <= n.bit_length() <= _MAX_BITS:
        return "bad-modulus"
    return None


def _thumbprint(public_key: RSAPublicKey) -> str:
    numbers = public_key.public_numbers()
    return hashlib.sha256(f"{numbers.e}:{numbers.n:x}".encode()).hexdigest()


@attrs.frozen
class KeySet:
    """An immutable set of verification keys.

    Build one with :meth:`from_jwks` (a JWKS document as dict, str or bytes) or
    :meth:`from_pem` (``CLERK_JWT_KEY``). Look a token's key up with :meth:`get`.
    """

    _by_kid: Mapping[str | None, VerificationKey] = attrs.field(repr=False)
    #: kids that more than one key carries: tokens naming them are refused.
    ambiguous: frozenset[str] = attrs.field(default=frozenset(), repr=False)
    #: Keys of the source document that were refused, with the reason.
    dropped: tuple[DroppedKey, ...] = attrs.field(default=())

    @property
    def is_static(self) -> bool:
        """True for a PEM key set, which ignores the token's ``kid``."""
        return None in self._by_kid

    def __len__(self) -> int:
        return len(self._by_kid)

    def __iter__(self) -> Iterator[VerificationKey]:
        return iter(self._by_kid.values())

    def __contains__(self, kid: object) -> bool:
        return kid in self._by_kid or (self.is_static and kid is not None)

    def get(self, kid: str | None) -> VerificationKey:
        """The key to check a token with ``kid`` against.

        A PEM key set answers every kid (spec §3.3: networkless PEM wins).

        :raises TokenVerificationError: ``jwk-kid-mismatch`` when no (unambiguous) key has
            that kid.
        """
        key = self._by_kid.get(None) or self._by_kid.get(kid)
        if key is None:
            raise TokenVerificationError(Reason.JWK_KID_MISMATCH)
        return key

    def find(self, kid: str | None) -> VerificationKey | None:
        """Like :meth:`get` but answers ``None`` instead of raising."""
        return self._by_kid.get(None) or self._by_kid.get(kid)

    @property
    def kids(self) -> frozenset[str]:
        """The key ids in the set (never log these; they are for comparisons)."""
        return frozenset(k for k in self._by_kid if k is not None)

    @classmethod
    def from_jwks(cls, document: Mapping[str, Any] | str | bytes, *, max_keys: int = 64) -> KeySet:
        """Build a key set from a JWKS document, dropping keys the rules refuse.

        :raises KeyResolutionError: ``jwk-remote-invalid`` when the document is not a
            JWKS, holds more than ``max_keys`` keys, or no usable key.
        """
        if isinstance(document, str | bytes):
            try:
                document = loads_strict(document)
            except StrictJSONError:
                raise KeyResolutionError(
                    Reason.JWK_REMOTE_INVALID, "The JWKS is not valid JSON."
                ) from None
        if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
            raise KeyResolutionError(Reason.JWK_REMOTE_INVALID, "The JWKS has no 'keys' list.")
        raw_keys: list[Any] = document["keys"]
        if len(raw_keys) > max_keys:
            raise KeyResolutionError(Reason.JWK_REMOTE_INVALID, "The JWKS holds too many keys.")
        # Spec: a kid that appears twice is ambiguous and names no key, whichever of
        # its keys would pass the rules (otherwise removing one bad duplicate would
        # silently decide which key a token means). Every copy is reported as dropped.
        kid_counts = Counter(
            jwk["kid"]
            for jwk in raw_keys
            if isinstance(jwk, dict) and isinstance(jwk.get("kid"), str)
        )
        ambiguous = frozenset(kid for kid, count in kid_counts.items() if count > 1)
        accepted: dict[str | None, VerificationKey] = {}
        dropped: list[DroppedKey] = []
        for index, jwk in enumerate(raw_keys):
            why = _judge_jwk(jwk)
            if why is None and jwk["kid"] in ambiguous:
                why = "duplicate-kid"
            if why is None:
                try:
                    imported = RSAKey.import_key({"kty": "RSA", "n": jwk["n"], "e": jwk["e"]})
                except Exception:
                    why = "import-failed"
            if why is not None:
                dropped.append(DroppedKey(index, why))
                continue
            public_key = imported.public_key
            accepted[jwk["kid"]] = VerificationKey(
                kid=jwk["kid"],
                public_key=public_key,
                bits=public_key.key_size,
                thumbprint=_thumbprint(public_key),
            )
        if not accepted:
            raise KeyResolutionError(Reason.JWK_REMOTE_INVALID, "The JWKS holds no usable key.")
        return cls(accepted, ambiguous, tuple(dropped))

    @classmethod
    def from_pem(cls, pem: str | bytes) -> KeySet:
        """Build a one-key set from an RSA SPKI public key in PEM form.

        Accepts the usual multi-line form, a single line (as pasted into an env
        var), and literal ``\\n`` sequences. Only RSA keys of 2048–8192 bits.

        :raises ConfigurationError: naming ``CLERK_JWT_KEY``; the key is not echoed.
        """
        try:
            data = normalize_pem(pem)
            imported = RSAKey.import_key(data)
        except ConfigurationError:
            raise
        except Exception:
            raise ConfigurationError(
                "CLERK_JWT_KEY is not an RSA public key in PEM form "
                "(copy it from the Clerk dashboard, API keys → Show JWT public key)."
            ) from None
        if imported.is_private:
            raise ConfigurationError("CLERK_JWT_KEY holds a private key; give the public key only.")
        public_key = imported.public_key
        if not _MIN_BITS <= public_key.key_size <= _MAX_BITS:
            raise ConfigurationError("CLERK_JWT_KEY must be an RSA key of 2048 to 8192 bits.")
        if public_key.public_numbers().e != _E:
            raise ConfigurationError("CLERK_JWT_KEY must use the public exponent 65537.")
        key = VerificationKey(
            kid=None,
            public_key=public_key,
            bits=public_key.key_size,
            thumbprint=_thumbprint(public_key),
        )
        return cls({None: key})


def _is_public_key_der(body: str) -> bool:
    """True when ``body`` is standard base64 of a DER SubjectPublicKeyInfo (the body of
    a ``PUBLIC KEY`` PEM block), of any key type: from_pem then judges the key."""
    try:
        serialization.load_der_public_key(base64.b64decode(body, validate=True))
    except (binascii.Error, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


_PEM_RE = re.compile(r"-----BEGIN ([A-Z ]+)-----(.*?)-----END \1-----", re.DOTALL)


def normalize_pem(pem: str | bytes) -> bytes:
    """Rebuild a PEM block from the forms people paste: real newlines, literal
    ``\\n``, a single line, surrounding quotes or whitespace."""
    text = pem.decode("ascii", "strict") if isinstance(pem, bytes) else pem
    text = text.strip().strip("'\"").replace("\\n", "\n").replace("\r", "")
    match = _PEM_RE.search(text)
    if match is None:
        body = re.sub(r"\s+", "", text)
        if not _is_public_key_der(body):
            raise ConfigurationError(
                "CLERK_JWT_KEY is not a PEM public key (-----BEGIN PUBLIC KEY----- …)."
            )
        # The bare base64 body, without its BEGIN/END lines, as people paste it (and as
        # Clerk's own SDKs accept it); the same rules follow in from_pem.
        label = "PUBLIC KEY"
    else:
        label, body = match.group(1), re.sub(r"\s+", "", match.group(2))
    if "PRIVATE" in label:
        raise ConfigurationError("CLERK_JWT_KEY holds a private key; give the public key only.")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    body = "\n".join(lines)
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n".encode()
