"""The token gate and the header step (spec §3.1–3.2, key-rotation.md "Tokens before keys").

Nothing about a token may cause a key lookup, let alone a fetch, until it has passed
this cheap gate: a size cap, the base64url alphabet, exactly three non-empty canonical
segments, a small strict-JSON header, a strict-JSON payload object, the token type,
``typ``, ``alg`` and ``kid``. The payload is parsed here only so that a malformed one
is refused before any key lookup (spec §3.1: "header and payload strict JSON objects"
belong to the gate); its claims are looked at only after the signature holds.
"""

from __future__ import annotations

import binascii
import re
from binascii import a2b_base64
from collections.abc import Callable
from typing import Any, Final, TypeAlias

import attrs

from ._bounded import remember
from ._cache import HEADER_ENTRIES, HeaderVerdict
from ._errors import Reason, TokenVerificationError, refusal
from ._json import StrictJSONError, loads_object, loads_strict

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

KID_PATTERN: Final = re.compile(r"[A-Za-z0-9_.-]{1,128}")
_B64_INDEX = {
    c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
}
_ACCESS_TOKEN_TYPES: Final = frozenset({"at+jwt", "application/at+jwt"})
#: RFC 9068 access-token ``typ`` values (lower-cased): OAuth JWTs (machine-tokens.md §1).
ACCESS_TOKEN_TYPES: Final = _ACCESS_TOKEN_TYPES

# The shape check and the decoding are one pass of C code over the token's bytes:
# translate base64url to standard base64 ("-" → "+", "_" → "/") and turn every byte
# outside the alphabet ("+", "/", "=", spaces, anything) into ".", the separator; then
# splitting at "." checks the alphabet and the three segments at once (a stray byte
# makes a fourth segment, or an empty one). Exactly three parts still allow a stray
# byte *in place of* a separator ("head,body.sig"), so the two separators are then
# checked in the original bytes.
_STD_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_URL_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_TO_STD = bytearray(b"." * 256)
for _url, _std in zip(_URL_ALPHABET, _STD_ALPHABET, strict=True):
    _TO_STD[_url] = _std
_TO_STANDARD: Final = bytes(_TO_STD)
#: By segment length mod 4, whether each possible last byte (standard alphabet) is
#: non-canonical: a length of 1 mod 4 always is; otherwise a last character with any
#: of its unused low bits set (4 of them after 2 characters, 2 after 3; RFC 4648 §3.5).
_NON_CANONICAL: Final = tuple(
    bytes(
        1 if rem == 1 or (c in _STD_ALPHABET and _STD_ALPHABET.index(c) & bits) else 0
        for c in range(256)
    )
    for rem, bits in ((0, 0), (1, 0), (2, 0x0F), (3, 0x03))
)
_PADDING: Final = (b"", b"", b"==", b"=")
_DOT: Final = ord(".")
#: Longest header segment: base64url of MAX_HEADER_BYTES.
_MAX_HEADER_SEGMENT: Final = (MAX_HEADER_BYTES * 4 + 2) // 3


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

    :raises TokenVerificationError: ``token-invalid`` for a character outside the
        alphabet or an encoding that several strings share (:func:`check_canonical`;
        a malleability we do not accept).
    """
    try:
        std = segment.encode("ascii").translate(_TO_STANDARD)
    except UnicodeEncodeError:
        raise TokenVerificationError(Reason.TOKEN_INVALID) from None
    if not std or b"." in std:
        raise TokenVerificationError(Reason.TOKEN_INVALID)
    return _decode_std(std)


def _decode_std(std: bytes) -> bytes:
    """Decode a non-empty segment already translated to the standard alphabet (and
    checked for it), refusing non-canonical encodings (RFC 4648 §3.5)."""
    rem = len(std) & 3
    if _NON_CANONICAL[rem][std[-1]]:
        raise TokenVerificationError(Reason.TOKEN_INVALID)
    return binascii.a2b_base64(std + _PADDING[rem])


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


#: What the gate hands the verifier: ``(kid, signing input, signature, payload,
#: (header, alg, kid))``. A tuple, not an :class:`UnverifiedToken`, on the hot path.
Gated: TypeAlias = (
    "tuple[str | None, bytes, bytes, dict[str, Any], tuple[dict[str, Any], str, str | None]]"
)


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
    gated = gate(token, max_size, algorithms, kid_required, None)
    if type(gated) is str:
        raise refusal(gated)
    return unverified_token(token, gated)  # type: ignore[arg-type]


def unverified_token(token: str, gated: Gated) -> UnverifiedToken:
    """The :class:`UnverifiedToken` for what :func:`gate` answered."""
    kid, signing_input, signature, payload, (header, alg, _) = gated
    return UnverifiedToken(
        raw=token,
        header=dict(header),
        alg=alg,
        kid=kid,
        signing_input=signing_input,
        payload_segment=token[token.index(".") + 1 : len(signing_input)],
        payload=payload,
        signature=signature,
    )


def gate(
    token: str,
    max_size: int,
    algorithms: tuple[str, ...],
    kid_required: bool,
    headers: dict[bytes, HeaderVerdict] | None,
    check: HeaderCheck | None = None,
) -> Gated | str:
    """The gate and the header step (:func:`parse_token`'s work): the parts of the
    token as a tuple, or the reason it is refused (returned, not raised: the caller
    raises once, where it is cheapest).

    Every gate failure has the same reason (``token-invalid``), so the gate's checks
    may run in any order; what matters is that all of them come before the header
    step's own reasons, and that the size cap comes first of all.

    :param headers: a table of header verdicts by segment to reuse and fill (a
        configuration's :class:`~clerk_auth_core._cache.TokenCache`); the header step
        is a pure function of the segment and the two options, which the owner of the
        table keeps fixed.
    :param check: the header step to run instead of :func:`check_header` (machine
        JWTs have their own ``typ``/``cat`` rules, ``_machine_verify.py``); ``headers``
        must then be a table of that step's verdicts, never the configuration's.
    """
    # §3.1 size first, before decoding anything.
    if not isinstance(token, str) or len(token) > max_size:
        return Reason.TOKEN_INVALID
    if token.startswith(MACHINE_TOKEN_PREFIXES):
        # §6: machine tokens are refused as such, never mistaken for session tokens.
        return Reason.TOKEN_TYPE_MISMATCH
    # Shape: the base64url alphabet and exactly three non-empty segments.
    if not token.isascii():
        return Reason.TOKEN_INVALID
    raw = token.encode("ascii")
    std = raw.translate(_TO_STANDARD)
    parts = std.split(b".")
    if len(parts) != 3:
        return Reason.TOKEN_INVALID
    header_std, payload_std, signature_std = parts
    if not header_std or not payload_std or not signature_std:
        return Reason.TOKEN_INVALID
    end = len(header_std) + 1 + len(payload_std)
    if raw[len(header_std)] != _DOT or raw[end] != _DOT:
        return Reason.TOKEN_INVALID
    verdict = None if headers is None else headers.get(header_std)
    if verdict is None:
        verdict = _header_verdict(header_std, algorithms, kid_required, check)
        if headers is not None:
            remember(headers, header_std, verdict, HEADER_ENTRIES)
    if verdict == Reason.TOKEN_INVALID:
        return Reason.TOKEN_INVALID
    # Canonical base64url (no other string may decode to the same bytes), decoded.
    # The alphabet is checked, so a2b_base64 cannot fail.
    sig_rem = len(signature_std) & 3
    payload_rem = len(payload_std) & 3
    if _NON_CANONICAL[sig_rem][signature_std[-1]] or _NON_CANONICAL[payload_rem][payload_std[-1]]:
        return Reason.TOKEN_INVALID
    try:
        # §3.1: the payload must be a strict JSON object too, so a token with a
        # garbage payload never reaches a key lookup (key-rotation.md, "Tokens before
        # keys"). Parsed, not trusted: claims are read after the signature holds.
        payload = loads_object(a2b_base64(payload_std + _PADDING[payload_rem]))
    except StrictJSONError:
        return Reason.TOKEN_INVALID
    if isinstance(verdict, str):
        # §3.2: the header step's own reason, now that the whole gate has passed.
        return verdict
    return (
        verdict[2],
        raw[:end],
        a2b_base64(signature_std + _PADDING[sig_rem]),
        payload,
        verdict,
    )


#: A header step: ``(header, algorithms=, kid_required=) -> (alg, kid)`` or raise.
HeaderCheck: TypeAlias = Callable[..., tuple[str, str | None]]


def _header_verdict(
    header_std: bytes,
    algorithms: tuple[str, ...],
    kid_required: bool,
    check: HeaderCheck | None = None,
) -> HeaderVerdict:
    """The header's part of the gate (≤ 1 KiB of strict JSON) and the header step:
    ``(header, alg, kid)``, or the reason the header is refused."""
    if len(header_std) > _MAX_HEADER_SEGMENT:
        return Reason.TOKEN_INVALID
    try:
        header = loads_strict(_decode_std(header_std))
        alg, kid = (check or check_header)(header, algorithms=algorithms, kid_required=kid_required)
    except StrictJSONError:
        return Reason.TOKEN_INVALID
    except TokenVerificationError as exc:
        return exc.reason
    return header, alg, kid


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
