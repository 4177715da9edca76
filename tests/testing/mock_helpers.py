"""Token helpers shared by the mock issuer's tests (a unique module name, because
pytest's default import mode puts every test directory on ``sys.path``)."""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers


def b64d(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def decode(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _ = token.split(".")
    return json.loads(b64d(header)), json.loads(b64d(payload))


def signature_holds(token: str, jwks: dict[str, Any]) -> bool:
    header, payload, signature = token.split(".")
    kid = json.loads(b64d(header)).get("kid")
    for jwk in jwks["keys"]:
        if jwk["kid"] != kid:
            continue
        n = int.from_bytes(b64d(jwk["n"]), "big")
        e = int.from_bytes(b64d(jwk["e"]), "big")
        key = RSAPublicNumbers(e, n).public_key()
        try:
            key.verify(
                b64d(signature),
                f"{header}.{payload}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except InvalidSignature:
            return False
        return True
    return False
