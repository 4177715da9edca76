"""The token gate and the header step (spec §3.1–3.2, key-rotation.md "Tokens before keys").

Nothing about a token may cause a key lookup, let alone a fetch, until it has passed
this cheap gate: a size cap, the base64url alphabet, exactly three non-empty canonical
segments, a small strict-JSON header, a strict-JSON payload object, the token type,
``typ``, ``alg`` and ``kid``. The payload is parsed here only so that a malformed one
is refused before any key lookup (spec §3.1: "header and payload strict JSON objects"
belong to the gate); its claims are looked at only after the signature holds.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any, Final

import attrs

from ._errors import Reason, TokenVerificationError
from ._json import StrictJSONError, loads_strict

__all__ = [
    "MACHINE_TOKEN_PREFIXES",
    "UnverifiedToken",
    "b64url_decode",
    "check_canonical",
    "check_header",
    "is_machine_token",
    "parse_token",
]

#: Header size cap (key-rotation.md: header ≤ 1 KiB of strict JSON).
MAX_HEADER_BYTES: Final = 1024

#: Opaque machine tokens (spec §6): M2M, OAuth access token, API key.
MACHINE_TOKEN_PREFIXES: Final = ("mt_", "oat_", "ak_")

#: The only algorithm we can verify (spec §3.2). ``none`` and every HMAC algorithm are
#: never accepted with a public key, whatever a caller passes as ``algorithms``.
SUPPORTED_ALGORITHMS: Final = frozenset({"RS256"})

#: Header ``cat`` values that are session tokens (spec §2): session, untagged.
SESSION_CATEGORIES: Final = frozenset({"cl_B7d4PD111AAA", "cl_I7d4PD111III"})

#: Header members we refuse (spec §3.2): we never fetch or trust keys named by the
#: token (RFC 8725 §3.10), and accept no JWS extensions or JWE/compression members.
FORBIDDEN_HEADER_MEMBERS: Final = frozenset(
    {"crit", "b64", "zip", "enc", "cty", "jku", "x5u", "jwk", "x5c", "x5t", "x5t#S256"}
)

_SHAPE = re.compile(r"([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)")
KID_PATTERN: Final = re.compile(r"[A-Za-z0-9_.-]{1,128}")
_B64_INDEX = {
    c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
}
_ACCESS_TOKEN_TYPES: Final = frozenset({"at+jwt", "application/at+jwt"})


def is_machine_token(token: str) -> bool:
    """True for an opaque machine token (``mt_``, ``oat_``, ``ak_``; spec §6)."""
    return token.startswith(MACHINE_TOKEN_PREFIXES)


def check_canonical(segment: str) -> None:
    """Refuse a base64url segment that no canonical encoder would produce: a length
    of 1 mod 4, or non-zero unused bits in the last character (RFC 4648 §3.5).

    :raises TokenVerificationError: ``token-invalid``.
    """
    rem = len(segment) % 4
    if rem == 1:
        raise TokenVerificationError(Reason.TOKEN_INVALID)
    if rem and _B64_INDEX[segment[-1]] & (0x0F if rem == 2 else 0x03):
        raise TokenVerificationError(Reason.TOKEN_INVALID)


def b64url_decode(segment: str) -> bytes:
    """Decode one canonical, unpadded base64url segment.

    The alphabet was checked by the shape regex; :func:`check_canonical` refuses the
    encodings that several strings share (a malleability we do not accept).

    :raises TokenVerificationError: ``token-invalid``.
    """
    check_canonical(segment)
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):  # pragma: no cover - alphabet already checked
        raise TokenVerificationError(Reason.TOKEN_INVALID) from None


@attrs.frozen(kw_only=True)
class UnverifiedToken:
    """A token that passed the gate and the header step. Nothing in it is trusted yet."""

    #: The compact token (never log it).
    raw: str = attrs.field(repr=False)
    #: The decoded protected header.
    header: dict[str, Any]
    #: ``alg`` from the header (already on the allow-list).
    alg: str
    #: ``kid`` from the header, or ``None`` when absent.
    kid: str | None
    #: ``<header>.<payload>``: the bytes the signature covers.
    signing_input: bytes = attrs.field(repr=False)
    #: The still-encoded payload segment.
    payload_segment: str = attrs.field(repr=False)
    #: The payload, parsed as strict JSON by the gate but *not trusted*: read its
    #: claims only after the signature holds.
    payload: dict[str, Any] = attrs.field(repr=False)
    #: The decoded signature.
    signature: bytes = attrs.field(repr=False)


def parse_token(
    token: str,
    *,
    max_size: int = 8192,
    algorithms: tuple[str, ...] = ("RS256",),
    kid_required: bool = True,
) -> UnverifiedToken:
    """Run the gate and the header step over a compact token, in the spec's order.

    :raises TokenVerificationError: ``token-invalid``, ``token-type-mismatch`` or
        ``token-invalid-algorithm``.
    """
    # §3.1 size first, before decoding anything.
    if not isinstance(token, str) or len(token) > max_size:
        raise TokenVerificationError(Reason.TOKEN_INVALID)
    if is_machine_token(token):
        # §6: machine tokens are refused as such, never mistaken for session tokens.
        raise TokenVerificationError(Reason.TOKEN_TYPE_MISMATCH)
    shape = _SHAPE.fullmatch(token)
    if shape is None or not token.isascii():
        raise TokenVerificationError(Reason.TOKEN_INVALID)
    header_seg, payload_seg, sig_seg = shape.groups()
    if len(header_seg) > (MAX_HEADER_BYTES * 4 + 2) // 3:
        raise TokenVerificationError(Reason.TOKEN_INVALID)
    try:
        header = loads_strict(b64url_decode(header_seg))
        # §3.1: the payload must be a strict JSON object too, so a token with a
        # garbage payload never reaches a key lookup (key-rotation.md, "Tokens before
        # keys"). Parsed, not trusted: claims are read after the signature holds.
        payload = loads_strict(b64url_decode(payload_seg))
    except StrictJSONError:
        raise TokenVerificationError(Reason.TOKEN_INVALID) from None
    signature = b64url_decode(sig_seg)
    alg, kid = check_header(header, algorithms=algorithms, kid_required=kid_required)
    return UnverifiedToken(
        raw=token,
        header=header,
        alg=alg,
        kid=kid,
        signing_input=f"{header_seg}.{payload_seg}".encode("ascii"),
        payload_segment=payload_seg,
        payload=payload,
        signature=signature,
    )


def check_header(
    header: dict[str, Any], *, algorithms: tuple[str, ...], kid_required: bool
) -> tuple[str, str | None]:
    """The header step (spec §3.2), in order; answers ``(alg, kid)``."""
    # 1. Token type, before anything else: category, then access-token typ.
    # A non-string cat (a list, an object) is no session category either; compare by
    # type first, since unhashable values cannot be looked up in a set.
    cat = header.get("cat")
    if "cat" in header and not (isinstance(cat, str) and cat in SESSION_CATEGORIES):
        raise TokenVerificationError(Reason.TOKEN_TYPE_MISMATCH)
    typ = header.get("typ")
    if isinstance(typ, str) and typ.lower() in _ACCESS_TOKEN_TYPES:
        raise TokenVerificationError(Reason.TOKEN_TYPE_MISMATCH)
    # 2. typ, if present, must be JWT (RFC 7519 §5.1: compared case-insensitively).
    if "typ" in header and not (isinstance(typ, str) and typ.lower() == "jwt"):
        raise TokenVerificationError(Reason.TOKEN_INVALID)
    # 3. alg on the allow-list; missing or non-string is an algorithm error too.
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algorithms or alg not in SUPPORTED_ALGORITHMS:
        raise TokenVerificationError(Reason.TOKEN_INVALID_ALGORITHM)
    # 4. No member that names keys or changes how the JWS is processed.
    if not FORBIDDEN_HEADER_MEMBERS.isdisjoint(header):
        raise TokenVerificationError(Reason.TOKEN_INVALID)
    # 5. kid: syntactically safe when present; required only with a JWKS.
    kid = header.get("kid")
    if kid is None and "kid" not in header:
        if kid_required:
            raise TokenVerificationError(Reason.TOKEN_INVALID)
        return alg, None
    if not isinstance(kid, str) or KID_PATTERN.fullmatch(kid) is None:
        raise TokenVerificationError(Reason.TOKEN_INVALID)
    return alg, kid
