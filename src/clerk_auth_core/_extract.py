"""Where the token comes from (spec §1): the Authorization header, then cookies.

Input is plain data, never a framework object: headers as a mapping or a list of
``(name, value)`` pairs (``str`` or ``bytes``; names case-insensitive, as ASGI and WSGI
give them). The header wins: once it yields a token, cookies are not looked at even
if that token then fails.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal, TypeAlias

import attrs

from ._errors import Reason, TokenVerificationError, refusal
from ._tokens import is_machine_token

__all__ = [
    "REQUEST_HEADERS",
    "ExtractedToken",
    "HeadersInput",
    "extract_token",
    "find_token",
    "get_header",
    "header_token",
    "header_values",
    "parse_cookies",
]

#: Headers as a mapping or as (name, value) pairs, str or bytes.
HeadersInput: TypeAlias = (
    "Mapping[str, str] | Mapping[bytes, bytes] | Iterable[tuple[str, str]] "
    "| Iterable[tuple[bytes, bytes]]"
)


@attrs.frozen(kw_only=True)
class ExtractedToken:
    """A token found in the request, with where it came from."""

    token: str = attrs.field(repr=False)
    source: Literal["header", "cookie"]
    #: ``__client_uat`` (unix seconds) for a cookie token; ``None`` for the header.
    client_uat: int | None = None


def _text(value: str | bytes) -> str:
    # Header bytes are Latin-1 on the wire (RFC 9110 §5.5); never fails.
    return value.decode("latin-1") if isinstance(value, bytes) else value


#: The request headers the core ever reads (spec §1): the token, the cookies, and the
#: two that mark a CORS preflight. An adapter may pass just these.
REQUEST_HEADERS: Final = ("authorization", "cookie", "access-control-request-method", "origin")

#: How much longer than the token cap a whole ``Authorization`` value may be (the scheme
#: and the spaces around the token) before it is refused unread.
_SCHEME_ALLOWANCE: Final = 256


def get_header(headers: HeadersInput, name: str) -> list[str]:
    """All values of header ``name`` (case-insensitive), in order."""
    return [_text(v) for v in header_values(headers, name)]


def header_values(headers: HeadersInput, name: str) -> list[str] | list[bytes]:
    """All values of header ``name`` as given (``str`` or ``bytes``, undecoded)."""
    name = name.lower()
    # Compare names in their own type (str, or bytes as ASGI gives them): no decoding
    # of every header of the request, only of the values asked for.
    names = (name, name.encode("latin-1"))
    # A list (ASGI) or a dict needs no isinstance(…, Mapping), an ABC check that costs
    # more than the whole scan.
    kind = type(headers)
    if kind is dict:
        items: Any = headers.items()  # type: ignore[union-attr]
    elif kind is list or kind is tuple:
        items = headers
    else:
        items = headers.items() if isinstance(headers, Mapping) else headers
    # Only a name of the same length can match: lower() keeps the length of bytes, and
    # of every str character but "İ", whose lowercase is not ASCII anyway. Comparing
    # lengths first spares a lower() (a new object) for almost every header.
    # (A bytearray name equals its bytes; names were only ever str or bytes.)
    size = len(name)
    return [
        v for k, v in items if len(k) == size and k.lower() in names and type(k) is not bytearray
    ]


def parse_cookies(header_values: Iterable[str]) -> dict[str, str]:
    """Parse ``Cookie`` header values leniently: the first of duplicate names wins, and
    one malformed cookie never hides its neighbours (the stdlib's ``SimpleCookie``
    stops at the first one it cannot parse)."""
    cookies: dict[str, str] = {}
    for header in header_values:
        for piece in header.split(";"):
            name, sep, value = piece.partition("=")
            name = name.strip()
            if not sep or not name or any(c in name for c in ' \t",\\'):
                continue
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            cookies.setdefault(name, value)
    return cookies


def _bearer(value: str) -> str | None:
    """The token in an Authorization value, ``None`` for another scheme.

    Clerk splits on the first space: ``Bearer <token>``, or a bare token. We compare the
    scheme case-insensitively (RFC 9110 §11.1) and allow one or more spaces before the
    token (RFC 6750 §2.1); a value naming Bearer without one clean token is malformed.
    """
    value = value.strip(" \t")
    scheme, sep, rest = value.partition(" ")
    # A comma is in no auth-scheme name (RFC 9110 §11.1: a token) and in no JWT: it is
    # what a proxy or WSGI server leaves when it joins repeated headers into one value.
    if "," in scheme:
        raise _several()
    if not sep:
        if scheme.lower() == "bearer":
            raise TokenVerificationError(Reason.TOKEN_INVALID, "The Bearer token is missing.")
        return scheme  # a bare token
    if scheme.lower() != "bearer":
        return None  # Basic …, Digest …: not ours, fall through to cookies
    token = rest.lstrip(" ")
    # One clean token: no whitespace of any kind inside or after it.
    if not token or _has_space(token):
        raise TokenVerificationError(Reason.TOKEN_INVALID, "The Authorization header is malformed.")
    if "," in token:
        raise _several()
    return token


def _several() -> TokenVerificationError:
    # RFC 9110 §11.6.2: Authorization is a singleton; a proxy and the app could disagree
    # on which of several values counts, so none does.
    return TokenVerificationError(
        Reason.TOKEN_INVALID, "More than one Authorization header was sent."
    )


def _has_space(text: str) -> bool:
    """Whether ``text`` (not empty) holds a character ``str.isspace()`` accepts.

    An ASCII string (CPython stores the flag) is searched for each of the ten ASCII
    such characters: ten ``memchr`` calls cost a third of what ``str.split()`` costs,
    testing every character. A test holds the two equal."""
    if text.isascii():
        return (
            " " in text or "\t" in text or "\n" in text or "\r" in text or "\x0b" in text
            or "\x0c" in text or "\x1c" in text or "\x1d" in text or "\x1e" in text
            or "\x1f" in text
        )  # fmt: skip
    return text.split(None, 1) != [text]


def _uat(value: str | None) -> int:
    # Clerk parses the cookie as an integer; anything else counts as absent (0).
    # ASCII digits only: str.isdigit() also accepts "²" (int() then raises) and other
    # scripts' digits ("١٧٠٠…", which int() would read).
    if value is None or not value.isascii() or not value.isdigit() or len(value) > 12:
        return 0
    return int(value)


def extract_token(
    headers: HeadersInput, *, cookie_suffix: str | None = None, max_size: int | None = None
) -> ExtractedToken | None:
    """Find the session token of a request, or ``None`` when it carries none.

    :param cookie_suffix: the ``__session_<suffix>`` suffix (``ClerkConfig.session_cookie_suffix``).
    :param max_size: the token cap (``ClerkConfig.max_token_size``): an ``Authorization``
        value much longer than it is refused before it is split or scanned.
    :raises TokenVerificationError: for a malformed, oversized or repeated Authorization
        header (``token-invalid``) or inconsistent session cookies
        (``session-token-but-no-client-uat``, ``client-uat-but-no-session-token``).
    """
    found = find_token(headers, cookie_suffix, max_size)
    if found is None:
        return None
    token, client_uat = found
    if client_uat is None:
        return ExtractedToken(token=token, source="header")
    return ExtractedToken(token=token, source="cookie", client_uat=client_uat)


def _header_token(raw: list[str] | list[bytes], max_size: int | None) -> str | None:
    # The size cap first, on the value as given: an oversized header costs one
    # len(), not a decoding, a strip and a scan of all of it.
    if max_size is not None:
        limit = max_size + _SCHEME_ALLOWANCE
        for value in raw:
            if len(value) > limit:
                raise refusal(Reason.TOKEN_INVALID)
    authorizations = [text for text in map(_text, raw) if text.strip()]
    if len(authorizations) > 1:
        raise _several()
    return _bearer(authorizations[0]) if authorizations else None


def header_token(headers: HeadersInput, max_size: int | None = None) -> str | None:
    """The bearer token of the ``Authorization`` header alone, or ``None`` (cookies are
    not read: where machine tokens come from, machine-tokens.md §2.1).

    :raises TokenVerificationError: ``token-invalid`` for an oversized, malformed or
        repeated header, as :func:`find_token`.
    """
    raw = header_values(headers, "authorization")
    return _header_token(raw, max_size) if raw else None


def find_token(
    headers: HeadersInput, cookie_suffix: str | None, max_size: int | None = None
) -> tuple[str, int | None] | None:
    """:func:`extract_token` as ``(token, client_uat)`` (``client_uat`` is ``None`` for
    the header, never for a cookie), without building an :class:`ExtractedToken`."""
    raw = header_values(headers, "authorization")
    if raw:
        token = _header_token(raw, max_size)
        if token is not None:
            return token, None
    cookies = parse_cookies(get_header(headers, "cookie"))
    if not cookies:
        return None
    session_name, uat_name = "__session", "__client_uat"
    if (
        cookie_suffix
        and f"__session_{cookie_suffix}" in cookies
        and f"__client_uat_{cookie_suffix}" in cookies
    ):
        session_name, uat_name = f"__session_{cookie_suffix}", f"__client_uat_{cookie_suffix}"
    session = cookies.get(session_name) or None
    if session is not None and is_machine_token(session):
        session = None  # machine tokens are never read from cookies (spec §1, §6)
    client_uat = _uat(cookies.get(uat_name))
    if session is None:
        if client_uat:
            raise TokenVerificationError(Reason.CLIENT_UAT_BUT_NO_SESSION_TOKEN)
        return None
    if not client_uat:
        raise TokenVerificationError(Reason.SESSION_TOKEN_BUT_NO_CLIENT_UAT)
    return session, client_uat
