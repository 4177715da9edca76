"""Hypothesis strategies for whole requests: header values and lists, cookie strings,
token bytes, mutations of genuine tokens, and re-signed near-valid tokens.

A drawn :class:`Req` knows what it carries: ``expect`` is the exact reason (``None``:
signed in) when the oracle can tell, else :data:`UNKNOWN`, and ``genuine`` lists the
genuine tokens placed anywhere in it (the only ones that may ever sign a request in).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from clerk_auth_core.testing import (
    CAT_JWT_TEMPLATE,
    CAT_M2M,
    CAT_SESSION,
    CAT_UNTAGGED,
    b64url,
    mint_token,
)

from .harness import World, decode_segment
from .oracle import expected_reason

__all__ = ["UNKNOWN", "Req", "header_lists", "mutated", "requests", "token_texts"]

B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
#: What an HTTP field value may hold: visible ASCII, SP, HTAB, obs-text (RFC 9110 §5.5).
HTTP_SAFE = "".join(map(chr, range(0x20, 0x7F))) + "\t" + "".join(map(chr, range(0x80, 0x100)))


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()


@dataclass
class Req:
    """One request: headers (``str`` values, HTTP-safe), path, and what must happen."""

    headers: list[tuple[str, str]]
    path: str = "/protected"
    expect: Any = UNKNOWN
    #: Genuine tokens (of the world's pool) placed in the request.
    genuine: list[str] = field(default_factory=list)
    #: Every token-like value placed (for the leak check).
    tokens: list[str] = field(default_factory=list)
    #: The sub a re-signed token carries when the oracle says it is valid.
    resigned_sub: str | None = None


# -- token text ------------------------------------------------------------------------------

header_text = st.text(alphabet=HTTP_SAFE, max_size=80)
token_texts = (
    st.text(alphabet=B64URL + ".", min_size=1, max_size=120)
    | st.text(alphabet=B64URL + ".=+/ \t", min_size=1, max_size=120)
    | st.binary(max_size=90).map(lambda b: b.decode("latin-1"))
    | st.sampled_from(["mt_x", "oat_x", "ak_x", "Bearer", "bearer", "null", "undefined", "."])
)

_OPS = [
    "flip", "delete", "insert", "truncate", "splice", "swap", "unused-bits", "pad",
    "dup-segment", "case", "sig-bit", "payload-edit", "drop-segment",
]  # fmt: skip
_CHARS = B64URL + ".=+/ \t~%\u00e9"


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


@st.composite
def mutated(draw: st.DrawFn, pool: list[str]) -> str:
    """A genuine token with 1–3 mutations: characters, segments, signature bits, a
    re-encoded payload (unsigned), non-canonical base64."""
    token = draw(st.sampled_from(pool))
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(_OPS))
        parts = token.split(".")
        if op in ("flip", "delete", "insert", "truncate", "case") and token:
            i = draw(st.integers(0, len(token) - 1))
            c = draw(st.sampled_from(_CHARS))
            token = {
                "flip": token[:i] + c + token[i + 1 :],
                "delete": token[:i] + token[i + 1 :],
                "insert": token[:i] + c + token[i:],
                "truncate": token[:i],
                "case": token[:i] + token[i].swapcase() + token[i + 1 :],
            }[op]
        elif op == "splice" and len(parts) == 3:
            other = draw(st.sampled_from(pool)).split(".")
            j = draw(st.integers(0, 2))
            parts[j] = other[j]
            token = ".".join(parts)
        elif op == "swap" and len(parts) >= 2:
            i, j = draw(st.integers(0, len(parts) - 1)), draw(st.integers(0, len(parts) - 1))
            parts[i], parts[j] = parts[j], parts[i]
            token = ".".join(parts)
        elif op == "unused-bits" and parts:
            j = draw(st.integers(0, len(parts) - 1))
            s = parts[j]
            if len(s) % 4 in (2, 3) and s[-1] in B64URL:
                parts[j] = s[:-1] + B64URL[B64URL.index(s[-1]) | 1]
            token = ".".join(parts)
        elif op == "pad":
            token = draw(st.sampled_from([token + "=", token + "==", token.replace(".", "=.", 1)]))
        elif op == "dup-segment" and parts:
            j = draw(st.integers(0, len(parts) - 1))
            token = ".".join([*parts[: j + 1], parts[j], *parts[j + 1 :]])
        elif op == "drop-segment" and parts:
            j = draw(st.integers(0, len(parts) - 1))
            token = ".".join(parts[:j] + parts[j + 1 :])
        elif op == "sig-bit" and len(parts) == 3:
            try:
                sig = bytearray(_b64decode(parts[2]))
            except ValueError:
                continue
            if sig:
                i = draw(st.integers(0, len(sig) - 1))
                sig[i] ^= 1 << draw(st.integers(0, 7))
                parts[2] = b64url(bytes(sig))
                token = ".".join(parts)
        elif op == "payload-edit" and len(parts) == 3:
            try:
                payload = decode_segment(parts[1])
            except ValueError:
                continue
            if isinstance(payload, dict):
                payload[draw(st.sampled_from(["sub", "exp", "azp", "org_role", "sts"]))] = draw(
                    st.sampled_from(["user_admin", 9999999999, "org:admin", "active", None])
                )
                parts[1] = b64url(json.dumps(payload, separators=(",", ":")).encode())
                token = ".".join(parts)
    return token


# -- re-signed near-valid tokens --------------------------------------------------------------

_OFFSETS = [-(10**6), -3601, -3600, -600, -60, -20, 0, 20, 60, 600, 3000, 3590, 3601, 10**6]
CLAIM_NAMES = [
    "sub", "sid", "azp", "iss", "exp", "nbf", "iat", "sts", "v", "fea", "pla", "aud", "jti",
    "act", "fva", "o", "org_role", "x",
]  # fmt: skip


def claim_values(world: World, now: int) -> st.SearchStrategy[Any]:
    origin, issuer = world.clerk.origin, world.clerk.issuer
    return st.one_of(
        st.sampled_from(_OFFSETS).map(lambda o: now + o),
        st.sampled_from(_OFFSETS).map(lambda o: now + o + 0.5),
        st.sampled_from(
            [
                "123",
                "",
                "user_x",
                "mch_x",
                "sess_x",
                origin,
                origin + "/",
                issuer,
                issuer + "/",
                "pending",
                "active",
                "o:a,u:b",
                "bad",
                "o:",
                ":x",
                " ",
                "o:a,,u:b",
                "uo:r",
                True,
                False,
                None,
                0,
                -1,
                1.5,
                1e30,
                -1e30,
                2**53,
                2**53 + 1,
                2**64,
                10**45,
                float("nan"),
                float("inf"),
                2,
                2.0,
                "2",
                [],
                {},
                [now],
                {"sub": "user_x"},
                [origin],
                {"url": issuer},
            ]
        ),
        st.text(max_size=12),
        st.integers(),
        st.floats(),
    )


@st.composite
def resigned_payload(draw: st.DrawFn, world: World, now: int) -> dict[str, Any]:
    payload = world.base_claims()
    names = draw(st.lists(st.sampled_from(CLAIM_NAMES), max_size=4, unique=True))
    for name in names:
        if name in payload and draw(st.booleans()):
            del payload[name]
        else:
            payload[name] = draw(claim_values(world, now))
    return payload


HEADER_NAMES = [
    "alg", "kid", "typ", "cat", "crit", "jku", "jwk", "x5u", "x5c", "x5t", "x5t#S256", "zip",
    "b64", "cty", "enc", "x",
]  # fmt: skip


def header_values(name: str, kid: str) -> st.SearchStrategy[Any]:
    pools: dict[str, list[Any]] = {
        "alg": ["RS256", "rs256", "RS512", "HS256", "none", "", None, ["RS256"], 1],
        "kid": [
            kid,
            kid.upper(),
            kid + "x",
            "ins_other",
            "",
            "a" * 128,
            "a" * 129,
            "../x",
            None,
            5,
            [kid],
            kid + "\u0000",
        ],
        "typ": [
            "JWT",
            "jwt",
            "Jwt",
            "at+jwt",
            "AT+JWT",
            "application/at+jwt",
            "JWS",
            "",
            None,
            1,
            ["JWT"],
        ],
        "cat": [CAT_SESSION, CAT_UNTAGGED, CAT_M2M, CAT_JWT_TEMPLATE, "", None, 1, [CAT_SESSION]],
    }
    if name in pools:
        return st.sampled_from(pools[name])
    return st.sampled_from([None, "", "x", 0, False, [], {}, ["exp"], "https://evil.example/"])


@st.composite
def resigned_header(draw: st.DrawFn, world: World) -> dict[str, Any]:
    header: dict[str, Any] = {"alg": "RS256", "kid": world.kid, "typ": "JWT"}
    # The members that decide most (alg, kid, typ, cat) are drawn more often.
    names = st.sampled_from(HEADER_NAMES[:4] * 4 + HEADER_NAMES)
    for name in draw(st.lists(names, max_size=3, unique=True)):
        if name in header and draw(st.booleans()):
            del header[name]
        else:
            header[name] = draw(header_values(name, world.kid))
    return header


def sign(world: World, header: dict[str, Any], payload: dict[str, Any]) -> str:
    return mint_token(world.clerk.private_key, header, payload)


# -- requests ---------------------------------------------------------------------------------

HEADER_NAMES_HTTP = ["Authorization", "authorization", "Cookie", "cookie", "X-Other", "Origin"]
COOKIE_NAMES = ["__session", "__client_uat", "__session_x", "__client_uat_x", "x", ""]


@st.composite
def cookie_strings(draw: st.DrawFn, values: st.SearchStrategy[str]) -> str:
    pairs = draw(st.lists(st.tuples(st.sampled_from(COOKIE_NAMES), values), max_size=5))
    sep = draw(st.sampled_from(["; ", ";", " ; ", ",", ";;"]))
    return sep.join(f"{n}={v}" for n, v in pairs)


@st.composite
def header_lists(draw: st.DrawFn, world: World) -> Req:
    """Raw header lists: any names (duplicates too), values that may embed genuine or
    mutated tokens, cookie strings, schemes."""
    pool = world.tokens
    values = st.one_of(
        header_text,
        token_texts,
        st.sampled_from(pool),
        mutated(pool),
        st.sampled_from(["0", "1", str(2**40), "\u00b2", "-1"]),
    )
    headers: list[tuple[str, str]] = []
    placed: list[str] = []
    for _ in range(draw(st.integers(0, 4))):
        name = draw(st.sampled_from(HEADER_NAMES_HTTP))
        kind = draw(st.sampled_from(["scheme", "raw", "cookie"]))
        value = draw(values)
        placed.append(value)
        if kind == "scheme":
            scheme = draw(st.sampled_from(["Bearer ", "bearer  ", "BEARER\t", "Basic ", "", " "]))
            suffix = draw(st.sampled_from(["", "", " ", " junk", "\t", ","]))
            text = scheme + value + suffix
        elif kind == "cookie":
            text = draw(cookie_strings(st.one_of(st.just(value), values)))
        else:
            text = value
        headers.append((name, _http_safe(text)))
    genuine = [t for t in pool if any(t in v for _, v in headers)]
    return Req(headers=headers, genuine=genuine, tokens=placed, path=draw(_paths))


_paths = st.sampled_from(["/protected", "/protected", "/optional", "/admin"])


def _http_safe(text: str) -> str:
    return "".join(c for c in text if c in HTTP_SAFE).strip(" \t")


@st.composite
def exact_requests(draw: st.DrawFn, world: World, now: int) -> Req:
    """A request whose outcome the oracle knows exactly: a genuine token, or a token
    re-signed by the real key after its header or claims were changed, as a Bearer
    token or a ``__session`` cookie."""
    kind = draw(st.sampled_from(["genuine", "claims", "claims", "header", "header"]))
    if kind == "genuine":
        g = world.genuine[draw(st.sampled_from(world.tokens))]
        header = decode_segment(g.token.split(".")[0])
        payload = decode_segment(g.token.split(".")[1])
        token = g.token
    else:
        header = draw(resigned_header(world)) if kind == "header" else world_header(world)
        payload = draw(resigned_payload(world, now)) if kind == "claims" else world.base_claims()
        token = sign(world, header, payload)
    uat: int | None = None
    if draw(st.booleans()):
        headers = [("Authorization", draw(st.sampled_from(["Bearer ", "bearer ", ""])) + token)]
    else:
        uat = draw(st.sampled_from([1, 1, now - 100, now - 100, now + 100, 0]))
        headers = [("Cookie", f"__session={token}; __client_uat={uat}")]
    expect = expected_reason(
        header, payload, kid=world.kid, origin=world.clerk.origin, issuer=world.clerk.issuer,
        now=now, uat=uat,
    )  # fmt: skip
    return Req(
        headers=headers,
        expect=expect,
        genuine=[token] if token in world.genuine else [],
        tokens=[token],
        resigned_sub=payload.get("sub") if expect is None else None,
    )


def world_header(world: World) -> dict[str, Any]:
    return {"alg": "RS256", "kid": world.kid, "typ": "JWT"}


@st.composite
def mutated_requests(draw: st.DrawFn, world: World) -> Req:
    token = draw(mutated(world.tokens))
    transport = draw(st.sampled_from(["bearer", "bare", "cookie"]))
    if transport == "cookie":
        headers = [("Cookie", f"__client_uat=1; __session={token}")]
    else:
        headers = [("Authorization", ("Bearer " if transport == "bearer" else "") + token)]
    headers = [(n, _http_safe(v)) for n, v in headers]
    genuine = [t for t in world.tokens if any(t in v for _, v in headers)]
    return Req(headers=headers, genuine=genuine, tokens=[token], path=draw(_paths))


def requests(world: World, now: int) -> st.SearchStrategy[Req]:
    """Any request: exact (oracle-known), mutated genuine tokens, raw header lists."""
    return st.one_of(exact_requests(world, now), mutated_requests(world), header_lists(world))
