"""Shared helpers for the core suite: keys made once, a small token minter, a fixed clock.

The minter signs with ``cryptography`` directly (RSASSA-PKCS1-v1_5 / SHA-256) so a
test can sign anything, including headers and payloads no JOSE library would produce:
``header`` and ``claims`` may be a mapping (serialized compactly), or ``str``/``bytes``
taken verbatim, so broken shapes (duplicate members, a BOM, NaN …) can be signed too.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from joserfc.jwk import RSAKey

from clerk_auth_core import ClerkConfig, KeySet

#: The fixed clock of the whole suite (unix seconds).
NOW = 1_700_000_000
HOST = "clerk.example.com"
ISSUER = f"https://{HOST}"
#: ``pk_test_`` + unpadded standard base64 of ``<host>$`` (spec §4).
PUBLISHABLE_KEY = "pk_test_" + base64.b64encode(f"{HOST}$".encode()).decode().rstrip("=")
PUBLISHABLE_KEY_LIVE = "pk_live_" + base64.b64encode(f"{HOST}$".encode()).decode().rstrip("=")
#: A recognisable secret: tests assert it never appears in messages or reprs.
SECRET_KEY = "sk_test_S3cr3tNeverEchoThis0123456789abcdef"
SECRET_KEY_LIVE = "sk_live_S3cr3tNeverEchoThis0123456789abcdef"
KID = "ins_2abcDEFghi"
AZP = "https://app.example"

CAT_SESSION = "cl_B7d4PD111AAA"
CAT_JWT_TEMPLATE = "cl_B7d4PD222AAA"
CAT_M2M = "cl_B7d4PD333AAA"
CAT_UNTAGGED = "cl_I7d4PD111III"


class _Delete:
    def __repr__(self) -> str:
        return "DELETE"


#: Use as an override value to remove a member from a header, claim set or JWK.
DELETE: Any = _Delete()


def b64u(data: bytes) -> str:
    """Unpadded base64url, as in a compact JWS."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for name, value in overrides.items():
        if value is DELETE:
            out.pop(name, None)
        else:
            out[name] = value
    return out


def make_header(**overrides: Any) -> dict[str, Any]:
    """A Clerk session-token header; ``name=DELETE`` removes a member."""
    return _merge({"alg": "RS256", "kid": KID, "typ": "JWT", "cat": CAT_SESSION}, overrides)


def make_claims(**overrides: Any) -> dict[str, Any]:
    """A v1 Clerk session-token claim set issued 5 s before NOW (Clerk's shape:
    ``nbf = iat - 10``, ``exp = iat + 60``)."""
    iat = NOW - 5
    base = {
        "azp": AZP,
        "exp": iat + 60,
        "fva": [3, -1],
        "iat": iat,
        "iss": ISSUER,
        "jti": "a1b2c3d4e5f6a7b8c9d0",
        "nbf": iat - 10,
        "sid": "sess_2abc",
        "sub": "user_2abc",
    }
    return _merge(base, overrides)


def encode_part(part: Mapping[str, Any] | str | bytes) -> str:
    """A mapping as compact JSON, a ``str``/``bytes`` verbatim; then base64url."""
    if isinstance(part, Mapping):
        data = json.dumps(part, separators=(",", ":")).encode()
    elif isinstance(part, str):
        data = part.encode("utf-8", "surrogatepass")
    else:
        data = part
    return b64u(data)


class Signer:
    """An RSA key pair and its public forms (JWK, PEM)."""

    def __init__(self, bits: int = 2048) -> None:
        self.jwk = RSAKey.generate_key(bits)
        self.private_key: rsa.RSAPrivateKey = self.jwk.private_key  # type: ignore[assignment]
        self.public_key = self.private_key.public_key()

    def public_jwk(self, kid: str | None = KID, **overrides: Any) -> dict[str, Any]:
        """The public JWK as Clerk serves it; ``name=DELETE`` removes a member."""
        public = self.jwk.as_dict(private=False)
        base = {"use": "sig", "kty": "RSA", "kid": kid, "alg": "RS256"}
        base.update(n=public["n"], e=public["e"])
        return _merge(base, overrides)

    def jwks(self, kid: str = KID) -> dict[str, Any]:
        return {"keys": [self.public_jwk(kid)]}

    @property
    def pem(self) -> str:
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    def sign(self, data: bytes) -> bytes:
        return self.private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    def mint(
        self,
        claims: Mapping[str, Any] | str | bytes | None = None,
        header: Mapping[str, Any] | str | bytes | None = None,
        *,
        signature: bytes | Callable[[bytes], bytes] | None = None,
    ) -> str:
        """A compact token. ``signature`` replaces the real one (bytes) or transforms it."""
        head = encode_part(make_header() if header is None else header)
        body = encode_part(make_claims() if claims is None else claims)
        signing_input = f"{head}.{body}".encode("ascii")
        sig = self.sign(signing_input)
        if callable(signature):
            sig = signature(sig)
        elif signature is not None:
            sig = signature
        return f"{head}.{body}.{b64u(sig)}"


def make_config(**overrides: Any) -> ClerkConfig:
    """A JWKS-style configuration (publishable key, one authorized party)."""
    settings: dict[str, Any] = {"publishable_key": PUBLISHABLE_KEY, "authorized_parties": AZP}
    settings.update(overrides)
    return ClerkConfig(**settings)


def cookie_suffix(publishable_key: str) -> str:
    """Computed independently of the library: first 8 chars of url-safe base64 of
    SHA-1(publishable key) (spec §1)."""
    digest = hashlib.sha1(publishable_key.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()[:8]


@pytest.fixture(scope="session")
def signer() -> Signer:
    """The instance's signing key (RSA-2048), made once per session."""
    return Signer()


@pytest.fixture(scope="session")
def other_signer() -> Signer:
    """Another RSA-2048 key: right shape, wrong key."""
    return Signer()


@pytest.fixture(scope="session")
def keys(signer: Signer) -> KeySet:
    """The instance's JWKS key set."""
    return KeySet.from_jwks(signer.jwks())


@pytest.fixture(scope="session")
def pem_keys(signer: Signer) -> KeySet:
    """The instance's key as a networkless PEM set."""
    return KeySet.from_pem(signer.pem)


@pytest.fixture(scope="session")
def config() -> ClerkConfig:
    """Publishable key (so the issuer is known) and one authorized party."""
    return make_config()


@pytest.fixture(scope="session")
def pem_config(signer: Signer) -> ClerkConfig:
    """Networkless: CLERK_JWT_KEY, so the token's kid is not required."""
    return make_config(jwt_key=signer.pem)
