"""The Svix scheme written out from its published description, for the webhook tests
(a module of its own: ``conftest`` is not importable by name). Deliberately not the
library's code, so a mistake in one is not repeated in the other."""

from __future__ import annotations

import base64
import hashlib
import hmac

__all__ = ["NOW", "SECRET", "headers_for", "sign"]

#: A fixed clock for the core tests.
NOW = 1_700_000_000
#: A signing secret made from fixed bytes.
SECRET = "whsec_" + base64.b64encode(bytes(range(24))).decode()


def sign(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    """``base64(HMAC-SHA256(base64decode(secret without whsec_), id.timestamp.body))``."""
    key = base64.b64decode(secret[len("whsec_") :])
    content = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    return base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()


def headers_for(
    body: bytes, *, secret: str = SECRET, msg_id: str = "msg_2abcDEF", timestamp: int = NOW
) -> dict[str, str]:
    """The three headers of a delivery of ``body``."""
    stamp = str(timestamp)
    return {
        "svix-id": msg_id,
        "svix-timestamp": stamp,
        "svix-signature": "v1," + sign(secret, msg_id, stamp, body),
    }
