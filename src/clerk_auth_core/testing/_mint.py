"""Keys and tokens: RSA keys, their JWKs, RS256 signing and Clerk-shaped claims.

Pure functions (no server, no state) so they can be used without a running
:class:`~clerk_auth_core.testing.MockClerk`. Signing uses ``cryptography`` directly
rather than joserfc: a test kit must be able to sign headers a JOSE library would
refuse to produce (``alg: none`` claims, ``crit``, odd ``typ`` …).
"""

from __future__ import annotations

import base64
import enum
import json
import secrets
import string
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

__all__ = [
    "CAT_JWT_TEMPLATE",
    "CAT_M2M",
    "CAT_SESSION",
    "CAT_UNTAGGED",
    "REMOVE",
    "Remove",
    "apply_overrides",
    "comma_join",
    "b64url",
    "encode_segment",
    "generate_key",
    "mint_token",
    "org_claims_v1",
    "org_claims_v2",
    "public_jwk",
    "public_pem",
    "random_id",
    "session_claims",
    "sign",
]

#: Header ``cat`` values (spec §2).
CAT_SESSION = "cl_B7d4PD111AAA"
CAT_JWT_TEMPLATE = "cl_B7d4PD222AAA"
CAT_M2M = "cl_B7d4PD333AAA"
CAT_UNTAGGED = "cl_I7d4PD111III"

_ALPHANUMERIC = string.ascii_letters + string.digits


class Remove(enum.Enum):
    """Type of :data:`REMOVE`."""

    REMOVE = "REMOVE"

    def __repr__(self) -> str:
        return "REMOVE"


#: Give this as a claim or header value to leave that member out of the token.
REMOVE = Remove.REMOVE


def random_id(prefix: str, length: int = 27) -> str:
    """``prefix`` + ``length`` random letters and digits (Clerk's id style)."""
    return prefix + "".join(secrets.choice(_ALPHANUMERIC) for _ in range(length))


def generate_key(bits: int = 2048) -> RSAPrivateKey:
    """A fresh RSA private key with the public exponent 65537."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _uint(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8 or 1, "big"))


def public_jwk(key: RSAPrivateKey, kid: str) -> dict[str, Any]:
    """The public JWK of ``key`` as Clerk serves it (spec §4)."""
    numbers = key.public_key().public_numbers()
    return {
        "use": "sig",
        "kty": "RSA",
        "kid": kid,
        "alg": "RS256",
        "n": _uint(numbers.n),
        "e": _uint(numbers.e),
    }


def public_pem(key: RSAPrivateKey) -> str:
    """The SPKI PEM of ``key``'s public half (what ``CLERK_JWT_KEY`` holds)."""
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def sign(key: RSAPrivateKey, signing_input: str | bytes) -> str:
    """The base64url RS256 (RSASSA-PKCS1-v1_5, SHA-256) signature of ``signing_input``."""
    data = signing_input.encode("ascii") if isinstance(signing_input, str) else signing_input
    return b64url(key.sign(data, padding.PKCS1v15(), hashes.SHA256()))


def encode_segment(part: Mapping[str, Any] | str | bytes) -> str:
    """Base64url a token segment: a mapping as compact JSON, a ``str`` as UTF-8 (lone
    surrogates kept, for strict-JSON tests), ``bytes`` as they are."""
    if isinstance(part, bytes):
        raw = part
    elif isinstance(part, str):
        raw = part.encode("utf-8", "surrogatepass")
    else:
        raw = json.dumps(part, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return b64url(raw)


def mint_token(key: RSAPrivateKey, header: Mapping[str, Any], payload: Mapping[str, Any]) -> str:
    """Sign ``payload`` with ``key`` (RS256) under exactly the given ``header``.

    Compact JSON, base64url without padding. The header is used as given: add
    ``alg``/``kid``/``typ`` yourself.
    """
    signing_input = f"{encode_segment(header)}.{encode_segment(payload)}"
    return f"{signing_input}.{sign(key, signing_input)}"


def apply_overrides(base: dict[str, Any], overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """``base`` updated with ``overrides``; a :data:`REMOVE` value deletes the member."""
    for name, value in (overrides or {}).items():
        if value is REMOVE:
            base.pop(name, None)
        else:
            base[name] = value
    return base


def _comma_list(value: Sequence[str] | str | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v for v in value.split(",") if v]
    return list(value)


def org_claims_v1(org: Mapping[str, Any]) -> dict[str, Any]:
    """v1 organisation claims: ``org_id``, ``org_slug``, ``org_role`` (``org:`` prefixed),
    ``org_permissions``, from ``{id, slug, role, permissions}``."""
    claims: dict[str, Any] = {"org_id": org["id"]}
    if org.get("slug") is not None:
        claims["org_slug"] = org["slug"]
    if org.get("role") is not None:
        role = str(org["role"])
        claims["org_role"] = role if role.startswith("org:") else f"org:{role}"
    claims["org_permissions"] = list(org.get("permissions") or [])
    return claims


def org_claims_v2(
    org: Mapping[str, Any] | None, features: Sequence[str] | str | None
) -> tuple[dict[str, Any] | None, list[str]]:
    """v2 ``o`` claim and ``fea`` entries from ``{id, slug, role, permissions}``.

    Permissions must read ``org:<feature>:<permission>``. ``per`` lists the distinct
    permission names; ``fpm[k]`` is the bitmask (bit i = ``per[i]``) of the k-th
    organisation-scoped feature of ``fea`` (scope ``o``, ``ou`` or ``uo``), the encoding
    Clerk's SDK decodes (spec §2). Features named only by a permission are appended to
    ``fea`` as ``o:<feature>``.
    """
    fea = _comma_list(features)
    if org is None:
        return None, fea
    names: list[str] = []
    grants: dict[str, set[str]] = {}
    for permission in org.get("permissions") or []:
        parts = str(permission).split(":")
        if len(parts) != 3 or parts[0] != "org" or not all(parts):
            raise ValueError(
                f"v2 permissions must read org:<feature>:<permission>, not {permission!r}"
            )
        grants.setdefault(parts[1], set()).add(parts[2])
        if parts[2] not in names:
            names.append(parts[2])
    org_features = [
        entry.partition(":")[2] for entry in fea if entry.partition(":")[0] in ("o", "ou", "uo")
    ]
    for feature in grants:
        if feature not in org_features:
            fea.append(f"o:{feature}")
            org_features.append(feature)
    masks = [
        sum(1 << i for i, name in enumerate(names) if name in grants.get(feature, ()))
        for feature in org_features
    ]
    o: dict[str, Any] = {"id": org["id"]}
    if org.get("slug") is not None:
        o["slg"] = org["slug"]
    if org.get("role") is not None:
        o["rol"] = str(org["role"]).removeprefix("org:")
    o["per"] = ",".join(names)
    o["fpm"] = ",".join(str(mask) for mask in masks)
    return o, fea


def comma_join(value: Sequence[str] | str | None) -> str | None:
    """A comma list claim (``fea``, ``pla``) from a list or a ready string; ``None`` if
    empty."""
    items = _comma_list(value)
    return ",".join(items) if items else None


def session_claims(
    *,
    sub: str | Remove,
    sid: str | Remove,
    azp: str | Remove,
    iss: str | Remove,
    iat: float,
    lifetime: float,
    nbf: float | Remove,
    version: int = 1,
    org: Mapping[str, Any] | None = None,
    sts: str | None = None,
    act: Mapping[str, Any] | None = None,
    fva: Sequence[int] | None = None,
    features: Sequence[str] | str | None = None,
    plans: Sequence[str] | str | None = None,
) -> dict[str, Any]:
    """The payload of a Clerk session token, v1 or v2 (spec §2). A :data:`REMOVE`
    argument leaves its claim out; ``None`` optional claims are simply absent."""
    if version not in (1, 2):
        raise ValueError("version must be 1 or 2")
    claims: dict[str, Any] = {
        "azp": azp,
        "exp": iat + lifetime,
        "fva": list(fva) if fva is not None else None,
        "iat": iat,
        "iss": iss,
        "jti": random_id("", 20).lower(),
        "nbf": nbf,
        "sid": sid,
        "sts": sts,
        "sub": sub,
        "act": dict(act) if act is not None else None,
    }
    if version == 1:
        if org is not None:
            claims.update(org_claims_v1(org))
        fea = comma_join(features)
    else:
        claims["v"] = 2
        o, fea_list = org_claims_v2(org, features)
        claims["o"] = o
        fea = comma_join(fea_list)
    claims["fea"] = fea
    claims["pla"] = comma_join(plans)
    return {k: v for k, v in claims.items() if v is not None and v is not REMOVE}
