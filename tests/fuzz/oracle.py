"""An independent oracle: the reason the spec (clerk-session-tokens.md §1–3, §5) gives
for a token whose header and payload we chose and signed with the real key.

Written from the spec's text, not from the library's code, so a property comparing the
two catches a rule the library applies in the wrong order, too loosely or not at all.
Configuration assumed: a JWKS with one key (``kid``), the issuer and one authorized
party known, clock skew 5 s, lifetime cap 3600 s, pending sessions refused.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from clerk_auth_core import Reason

__all__ = ["SKEW", "expected_reason", "json_is_strict"]

SKEW = 5
LIFETIME = 3600
SESSION_CATS = {"cl_B7d4PD111AAA", "cl_I7d4PD111III"}
FORBIDDEN = {"crit", "b64", "zip", "enc", "cty", "jku", "x5u", "jwk", "x5c", "x5t", "x5t#S256"}
KID_RE = re.compile(r"[A-Za-z0-9_.-]{1,128}")
R = Reason


def json_is_strict(value: Any) -> bool:
    """What ``json.dumps`` wrote for ``value`` passes the spec's strict JSON: no
    NaN/Infinity, numbers a double can hold (and short: the gate refuses more than 40
    characters), nesting at most 16."""

    def ok(v: Any, depth: int) -> bool:
        if isinstance(v, bool) or v is None or isinstance(v, str):
            return True
        if isinstance(v, int):
            return len(str(v)) <= 40
        if isinstance(v, float):
            return math.isfinite(v) and len(json.dumps(v)) <= 40
        if depth > 16:
            return False
        items = v.values() if isinstance(v, dict) else v
        return all(ok(x, depth + 1) for x in items)

    return ok(value, 1)


def _time(payload: Mapping[str, Any], name: str) -> tuple[bool, float | None]:
    """(well-formed, value): absent is well-formed with ``None``."""
    if name not in payload:
        return True, None
    v = payload[name]
    if isinstance(v, bool) or not isinstance(v, int | float):
        return False, None
    if not math.isfinite(v) or abs(v) > 2**53:
        return False, None
    return True, v


def _malformed_list(value: Any) -> bool:
    if not isinstance(value, str) or not value.strip():
        return False
    return any(
        not e.strip().partition(":")[1] or not e.strip().partition(":")[2] for e in value.split(",")
    )


def expected_reason(
    header: Mapping[str, Any],
    payload: Any,
    *,
    kid: str,
    origin: str,
    issuer: str,
    now: float,
    uat: int | None = None,
) -> str | None:
    """The spec's reason for ``header.payload`` signed RS256 by the key of ``kid``
    (``None``: signed in). ``uat``: sent as a cookie with this ``__client_uat``."""
    if uat == 0:
        return R.SESSION_TOKEN_BUT_NO_CLIENT_UAT  # §1, before the token is looked at
    # §3.1 strict JSON objects.
    if not (isinstance(header, dict) and isinstance(payload, dict)):
        return R.TOKEN_INVALID
    if not (json_is_strict(header) and json_is_strict(payload)):
        return R.TOKEN_INVALID
    # §3.2 header, in order: token type, typ, alg, forbidden members, kid.
    cat = header.get("cat")
    if "cat" in header and not (isinstance(cat, str) and cat in SESSION_CATS):
        return R.TOKEN_TYPE_MISMATCH
    typ = header.get("typ")
    if isinstance(typ, str) and typ.lower() in ("at+jwt", "application/at+jwt"):
        return R.TOKEN_TYPE_MISMATCH
    if "typ" in header and not (isinstance(typ, str) and typ.lower() == "jwt"):
        return R.TOKEN_INVALID
    if header.get("alg") != "RS256":
        return R.TOKEN_INVALID_ALGORITHM
    if FORBIDDEN & set(header):
        return R.TOKEN_INVALID
    token_kid = header.get("kid")
    if not isinstance(token_kid, str) or not KID_RE.fullmatch(token_kid):
        return R.TOKEN_INVALID
    # §3.3 key: the set holds one key.
    if token_kid != kid:
        return R.JWK_KID_MISMATCH
    # §3.4 the signature holds (we signed with that key). §3.5 claims, Clerk's order.
    sub = payload.get("sub")
    if not isinstance(sub, str) or not sub:
        return R.TOKEN_VERIFICATION_FAILED
    if sub.startswith("mch_"):
        return R.TOKEN_TYPE_MISMATCH
    azp = payload.get("azp")
    if not isinstance(azp, str) or azp != origin:
        return R.TOKEN_INVALID_AUTHORIZED_PARTIES
    ok, exp = _time(payload, "exp")
    if not ok or exp is None:
        return R.TOKEN_VERIFICATION_FAILED
    if exp <= now - SKEW:
        return R.TOKEN_EXPIRED
    ok, nbf = _time(payload, "nbf")
    if not ok:
        return R.TOKEN_VERIFICATION_FAILED
    if nbf is not None and nbf > now + SKEW:
        return R.TOKEN_NOT_ACTIVE_YET
    ok, iat = _time(payload, "iat")
    if not ok or iat is None:
        return R.TOKEN_VERIFICATION_FAILED
    if iat > now + SKEW:
        return R.TOKEN_IAT_IN_THE_FUTURE
    sid = payload.get("sid")
    if not isinstance(sid, str) or not sid:
        return R.TOKEN_VERIFICATION_FAILED
    if exp - iat > LIFETIME:
        return R.TOKEN_VERIFICATION_FAILED
    if payload.get("iss") != issuer:  # §3.7
        return R.TOKEN_INVALID_ISSUER
    # §2: in a v2 token a fea (or pla) entry without ``:`` is malformed.
    if payload.get("v") == 2 and (
        _malformed_list(payload.get("fea")) or _malformed_list(payload.get("pla"))
    ):
        return R.TOKEN_INVALID
    if uat is not None and iat < uat:  # §1
        return R.SESSION_TOKEN_IAT_BEFORE_CLIENT_UAT
    if payload.get("sts") == "pending":  # §3.8
        return R.SESSION_PENDING
    return None
