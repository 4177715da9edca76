"""The table of hostile tokens: one :class:`Case` per attack, with its exact reason.

Sources: RFC 8725 (JWT BCP) §2–3; the attack classes of jwt_tool, the "JSON Web Token
Attacker" Burp extension and PortSwigger's JWT labs (alg ``none``, HMAC with the public
key, embedded ``jwk``/``jku``/``x5u``/``x5c``, ``kid`` injection and traversal); the
advisories CVE-2015-9235 (jsonwebtoken: HS with an RSA key), CVE-2016-10555 (jwt-simple
the same), CVE-2018-0114 (node-jose: trusted embedded ``jwk``), CVE-2022-21449 (Java's
"psychic" ECDSA signatures, r = s = 0), CVE-2022-29217 (PyJWT: algorithm confusion
through a PEM), CVE-2022-23529/23540 (jsonwebtoken), CVE-2023-48223 (fast-jwt: HS with
a PEM), CVE-2024-54150 (cjwt: algorithm confusion), and the parser-differential family
(duplicate members, BOM/UTF-16, non-canonical base64, GHSA-c7hr-j4mj-j2w6 style
signature malleability).

Each case says how the token is built (from a :class:`Kit`), the reason the library
must answer (``None``: the token is genuine and must be accepted, a control), and
whether the gate (:func:`clerk_auth_core.parse_token`, key-rotation.md "Tokens before
keys") must refuse it before any key lookup, and so before any JWKS fetch.

Reasons are those of a JWKS configuration (``CLERK_SECRET_KEY``, kids required);
``pem`` gives the answer of a networkless ``CLERK_JWT_KEY`` configuration where it
differs (the PEM key answers any ``kid``).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from clerk_auth_core import Reason
from clerk_auth_core.testing import CAT_JWT_TEMPLATE, CAT_M2M, CAT_SESSION, CAT_UNTAGGED, REMOVE

from .kit import FOREIGN_KID, Kit, b64url, hs, merge, seg

__all__ = ["CASES", "CLASSES", "SAME", "Case"]

R = Reason
INVALID = R.TOKEN_INVALID
ALG = R.TOKEN_INVALID_ALGORITHM
SIG = R.TOKEN_INVALID_SIGNATURE
FAILED = R.TOKEN_VERIFICATION_FAILED
KID = R.JWK_KID_MISMATCH
TYPE = R.TOKEN_TYPE_MISMATCH

#: ``Case.pem`` default: the PEM configuration answers the same as the JWKS one.
SAME: Final = "same"


@dataclass(frozen=True)
class Case:
    """One hostile token and what must happen to it."""

    id: str
    #: The attack class (one of :data:`CLASSES`).
    cls: str
    build: Callable[[Kit], str]
    #: The exact reason (JWKS configuration); ``None``: accepted (a control).
    reason: str | None
    #: The gate must refuse it: no key lookup, no JWKS fetch.
    gate: bool
    #: The reason under a PEM configuration (:data:`SAME` unless it differs).
    pem: str | None = SAME
    #: It names a syntactically valid kid the set does not hold: a warm cache may
    #: refetch once (the unknown-kid rule), never more.
    unknown_kid: bool = False
    #: It can travel in an ``Authorization`` header (no CR, LF, NUL; not trimmed away).
    http: bool = True
    #: It can travel in a ``__session`` cookie with the same outcome.
    cookie: bool = True

    @property
    def pem_reason(self) -> str | None:
        return self.reason if self.pem == SAME else self.pem


#: The attack classes the table must cover (``test_table`` checks each has cases).
CLASSES: Final = (
    "control",
    "alg-none",
    "hmac-confusion",
    "embedded-key",
    "kid",
    "jwe-nested",
    "signature",
    "base64",
    "json",
    "claim-types",
    "token-type",
    "other-alg",
    "psychic-ecdsa",
    "weak-jwks-key",
    "size",
)

CASES: list[Case] = []


def case(
    id: str, cls: str, reason: str | None, gate: bool, build: Callable[[Kit], str], **kw: Any
) -> None:
    assert cls in CLASSES, cls
    CASES.append(Case(id=id, cls=cls, build=build, reason=reason, gate=gate, **kw))


# -- helpers --------------------------------------------------------------------------------

_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def set_unused_bits(segment: str) -> str:
    """The same bytes, non-canonically: set the unused low bits of the last character
    (RFC 4648 §3.5). Decoders that ignore them accept a second spelling of a token."""
    rem = len(segment) % 4
    assert rem in (2, 3), "the segment has no unused bits"
    last = _B64.index(segment[-1])
    assert last & (0x0F if rem == 2 else 0x03) == 0
    return segment[:-1] + _B64[last | 1]


def spaced(text: str, total_mod3: int = 1) -> str:
    """``text`` with JSON whitespace after the first ``{`` so its length is not a
    multiple of 3 (its base64url then has unused bits)."""
    pad = 0
    while (len(text) + pad) % 3 != total_mod3:
        pad += 1
    return "{" + " " * pad + text[1:]


def parts(token: str) -> list[str]:
    return token.split(".")


def with_sig(token: str, sig_segment: str) -> str:
    h, p, _ = parts(token)
    return f"{h}.{p}.{sig_segment}"


def sig_bytes(token: str) -> bytes:
    s = parts(token)[2]
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def token_with_dash(k: Kit) -> str:
    """A genuine token whose signature segment has a ``-`` or ``_`` (nearly all do)."""
    for i in range(100):
        token = k.valid(jti=f"jti{i}")
        if "-" in parts(token)[2] or "_" in parts(token)[2]:
            return token
    raise AssertionError("no signature with - or _ in 100 tries")


def none_token(k: Kit, alg: Any, signature: str) -> str:
    """A header with ``alg`` (``REMOVE``: no alg member) over a valid payload, and the
    given signature: ``""`` (the classic ``h.p.``) or ``"real"`` (an RS256 signature by
    the real key, so only the algorithm is wrong)."""
    header = k.header(alg=alg)
    if signature == "real":
        return k.token(header)
    return f"{seg(header)}.{seg(k.claims())}."


# -- control -------------------------------------------------------------------------------

case("genuine-token", "control", None, False, lambda k: k.valid())
# RFC 7519 §2 NumericDate may be non-integer: a float exp is a number, not an attack.
case("exp-float-in-range", "control", None, False,
     lambda k: k.valid(exp=k.claims()["iat"] + 60.5))  # fmt: skip
case("genuine-token-cat-session", "control", None, False,
     lambda k: k.token(k.header(cat=CAT_SESSION)))  # fmt: skip
case("genuine-token-cat-untagged", "control", None, False,
     lambda k: k.token(k.header(cat=CAT_UNTAGGED)))  # fmt: skip

# -- alg none in every spelling (RFC 8725 §2.1, §3.1; CVE-2015-9235) -----------------------

_NONES: dict[str, Any] = {
    "none": "none", "None": "None", "NONE": "NONE", "nOnE": "nOnE", "empty": "",
    "null": None, "missing": REMOVE,
}  # fmt: skip
for _name, _alg in _NONES.items():
    # Empty signature: the gate's shape rule (three non-empty segments) refuses it first.
    case(f"alg-{_name}-empty-sig", "alg-none", INVALID, True,
         lambda k, a=_alg: none_token(k, a, ""))  # fmt: skip
    # A real RS256 signature: only the algorithm is wrong.
    case(f"alg-{_name}-real-sig", "alg-none", ALG, True,
         lambda k, a=_alg: none_token(k, a, "real"))  # fmt: skip
case("alg-none-junk-sig", "alg-none", ALG, True,
     lambda k: k.token(k.header(alg="none"), signature=b"\x00"))  # fmt: skip
case("alg-none-no-kid-no-typ", "alg-none", ALG, True,
     lambda k: k.token({"alg": "none"}, signature=b"sig"))  # fmt: skip

# -- HMAC keyed with the public key (RFC 8725 §2.1, §3.1; CVE-2016-10555, CVE-2022-29217) ---


def _hmac_token(alg: str, secret: Callable[[Kit], bytes], **header: Any) -> Callable[[Kit], str]:
    return lambda k: k.token(
        k.header(alg=alg, **header), sign=lambda data: hs(alg, secret(k), data)
    )


for _alg in ("HS256", "HS384", "HS512"):
    case(f"{_alg.lower()}-public-pem", "hmac-confusion", ALG, True,
         _hmac_token(_alg, lambda k: k.pem))  # fmt: skip
    case(f"{_alg.lower()}-public-jwk-json", "hmac-confusion", ALG, True,
         _hmac_token(_alg, lambda k: k.jwk_bytes))  # fmt: skip
case("hs256-public-pem-stripped", "hmac-confusion", ALG, True,
     _hmac_token("HS256", lambda k: k.pem.strip()))  # fmt: skip
case("hs256-public-der", "hmac-confusion", ALG, True, _hmac_token("HS256", lambda k: k.der))
case("hs256-modulus-bytes", "hmac-confusion", ALG, True,
     _hmac_token("HS256", lambda k: base64.urlsafe_b64decode(k.jwk["n"] + "==")))  # fmt: skip
# Without a kid: a PEM configuration needs none, the classic target of the confusion.
case("hs256-public-pem-no-kid", "hmac-confusion", ALG, True,
     _hmac_token("HS256", lambda k: k.pem, kid=REMOVE))  # fmt: skip
# Naming the JWKS's symmetric key (an oct key made of the PEM bytes): still refused.
case("hs256-pem-kid-of-oct-key", "hmac-confusion", ALG, True,
     _hmac_token("HS256", lambda k: k.pem, kid="ins_oct"))  # fmt: skip
# An HMAC tag under alg RS256: the length differs from the modulus.
case("rs256-header-hmac-tag", "hmac-confusion", SIG, False,
     lambda k: k.token(sign=lambda data: hs("HS256", k.pem, data)))  # fmt: skip

# -- keys named or carried by the token (RFC 8725 §3.10; CVE-2018-0114) ---------------------


def _embedded(member: str) -> Callable[[Kit], Any]:
    values: dict[str, Callable[[Kit], Any]] = {
        "jwk": lambda k: {"kty": "RSA", "n": k.jwk["n"], "e": "AQAB", "kid": k.kid},
        "jku": lambda k: "https://evil.example/.well-known/jwks.json",
        "x5u": lambda k: "https://evil.example/cert.pem",
        "x5c": lambda k: [base64.b64encode(k.der).decode()],
        "x5t": lambda k: b64url(b"\x01" * 20),
        "x5t#S256": lambda k: b64url(b"\x02" * 32),
        "crit": lambda k: ["exp"],
    }
    return values[member]


for _member in ("jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256", "crit"):
    _name = _member.replace("#", "-").lower()
    # Signed by the attacker's key (what the embedded member points at) ...
    case(f"{_name}-attacker-signed", "embedded-key", INVALID, True,
         lambda k, m=_member: k.token(k.header(**{m: _embedded(m)(k)}),
                                      sign=k.rs256(k.foreign)))  # fmt: skip
    # ... and signed by the real key: the member alone is enough to refuse it.
    case(f"{_name}-real-signed", "embedded-key", INVALID, True,
         lambda k, m=_member: k.token(k.header(**{m: _embedded(m)(k)})))  # fmt: skip
case("jwk-attacker-key-no-kid", "embedded-key", INVALID, True,
     lambda k: k.token(k.header(kid=REMOVE, jwk=_embedded("jwk")(k)),
                       sign=k.rs256(k.foreign)))  # fmt: skip
case("crit-empty-list", "embedded-key", INVALID, True, lambda k: k.token(k.header(crit=[])))
case("b64-false", "embedded-key", INVALID, True, lambda k: k.token(k.header(b64=False)))
case("zip-def", "embedded-key", INVALID, True, lambda k: k.token(k.header(zip="DEF")))
case("enc-member", "embedded-key", INVALID, True, lambda k: k.token(k.header(enc="A256GCM")))

# -- kid tricks (RFC 8725 §3.10; kid injection in jwt_tool) ---------------------------------

_BAD_KIDS: dict[str, Callable[[Kit], Any]] = {
    "kid-path-traversal": lambda k: "../../dev/null",
    "kid-path-traversal-deep": lambda k: "../../../../../../etc/passwd",
    "kid-path-traversal-encoded": lambda k: "..%2f..%2fdev%2fnull",
    "kid-sql-or": lambda k: "' OR 1=1 --",
    "kid-sql-union": lambda k: "x' UNION SELECT 'AAAA' --",
    "kid-shell": lambda k: "ins_$(id)",
    "kid-url": lambda k: "https://evil.example/jwks.json",
    "kid-10kb": lambda k: "A" * 10240,
    "kid-129-chars": lambda k: "a" * 129,
    "kid-empty": lambda k: "",
    "kid-int": lambda k: 1,
    "kid-zero": lambda k: 0,
    "kid-float": lambda k: 1.5,
    "kid-bool": lambda k: True,
    "kid-list-of-real": lambda k: [k.kid],
    "kid-list-empty": lambda k: [],
    "kid-null": lambda k: None,
    "kid-object": lambda k: {"kid": k.kid},
    "kid-homoglyph-cyrillic-i": lambda k: "\u0456" + k.kid[1:],
    "kid-fullwidth": lambda k: "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else c for c in k.kid),
    "kid-nul-suffix": lambda k: "ins_x\u0000",
    "kid-real-nul-suffix": lambda k: k.kid + "\u0000",
    "kid-real-newline": lambda k: k.kid + "\n",
    "kid-real-space": lambda k: k.kid + " ",
    "kid-zero-width": lambda k: k.kid + "\u200b",
    "kid-lone-surrogate": lambda k: k.kid + "\ud800",
}
for _name, _kid in _BAD_KIDS.items():
    # Signed by the real key, so only the kid can be what is refused.
    if _name == "kid-lone-surrogate":
        build = lambda k, f=_kid: k.token(json.dumps(k.header(kid=f(k))))  # noqa: E731
    else:
        build = lambda k, f=_kid: k.token(k.header(kid=f(k)))  # noqa: E731
    case(_name, "kid", INVALID, True, build)
# A kid is required with a JWKS; a PEM key needs none, and the token is genuine.
case("kid-missing", "kid", INVALID, True, lambda k: k.token(k.header(kid=REMOVE)), pem=None)
# Another instance's key under this instance's kid: the signature is false, and a bad
# signature never triggers a refetch (key-rotation.md).
case("foreign-key-real-kid", "kid", SIG, False, lambda k: k.token(sign=k.rs256(k.foreign)))
case("foreign-key-foreign-kid", "kid", KID, False,
     lambda k: k.token(k.header(kid=FOREIGN_KID), sign=k.rs256(k.foreign)),
     pem=SIG, unknown_kid=True)  # fmt: skip
# Syntactically valid kids the set does not hold (signed by the real key: a PEM
# configuration, which ignores kids, accepts them).
case("kid-128-chars-unknown", "kid", KID, False, lambda k: k.token(k.header(kid="a" * 128)),
     pem=None, unknown_kid=True)  # fmt: skip
case("kid-dotdot", "kid", KID, False, lambda k: k.token(k.header(kid="..")),
     pem=None, unknown_kid=True)  # fmt: skip
case("kid-real-uppercased", "kid", KID, False, lambda k: k.token(k.header(kid=k.kid.upper())),
     pem=None, unknown_kid=True)  # fmt: skip
case("kid-real-prefix", "kid", KID, False, lambda k: k.token(k.header(kid=k.kid[:-1])),
     pem=None, unknown_kid=True)  # fmt: skip

# -- JWE and nested JWTs (RFC 8725 §2.7, §3.11) ----------------------------------------------

case("jwe-5-segments", "jwe-nested", INVALID, True,
     lambda k: ".".join([seg({"alg": "RSA-OAEP", "enc": "A256GCM", "kid": k.kid}),
                         b64url(b"k" * 256), b64url(b"i" * 12), b64url(b"c" * 40),
                         b64url(b"t" * 16)]))  # fmt: skip
case("jwe-5-segments-rs256-header", "jwe-nested", INVALID, True,
     lambda k: k.token() + "." + b64url(b"tag1") + "." + b64url(b"tag2"))  # fmt: skip
case("jwe-dir-empty-key", "jwe-nested", INVALID, True,
     lambda k: ".".join([seg({"alg": "dir", "enc": "A128GCM"}), "", b64url(b"i" * 12),
                         b64url(b"c" * 40), b64url(b"t" * 16)]))  # fmt: skip
case("nested-cty-jwt-object-payload", "jwe-nested", INVALID, True,
     lambda k: k.token(k.header(cty="JWT")))  # fmt: skip
case("nested-cty-jwt-token-payload", "jwe-nested", INVALID, True,
     lambda k: k.token(k.header(cty="JWT"), k.valid()))  # fmt: skip
case("nested-token-payload-no-cty", "jwe-nested", INVALID, True,
     lambda k: k.token(k.header(), k.valid()))  # fmt: skip

# -- signatures (RFC 8725 §3.1; stripping, swapping, length, malleability) -------------------

case("sig-stripped", "signature", INVALID, True, lambda k: with_sig(k.valid(), ""))
case("sig-stripped-no-dot", "signature", INVALID, True, lambda k: k.valid().rpartition(".")[0])
case("sig-truncated-1-char", "signature", INVALID, True, lambda k: k.valid()[:-1])
case("sig-truncated-2-chars", "signature", SIG, False, lambda k: k.valid()[:-2])
case("sig-one-byte-shorter", "signature", SIG, False,
     lambda k: with_sig(k.valid(), b64url(sig_bytes(k.valid())[:-1])))  # fmt: skip
case("sig-one-byte-longer", "signature", SIG, False,
     lambda k: with_sig(k.valid(), b64url(sig_bytes(k.valid()) + b"\x00")))  # fmt: skip
case("sig-leading-zero-byte", "signature", SIG, False,
     lambda k: with_sig(k.valid(), b64url(b"\x00" + sig_bytes(k.valid()))))  # fmt: skip
case("sig-of-another-token", "signature", SIG, False,
     lambda k: with_sig(k.valid(sub="user_admin"), parts(k.valid())[2]))  # fmt: skip
case("sig-header-swapped", "signature", SIG, False,
     lambda k: ".".join([seg(k.header(cat=CAT_SESSION)), *parts(k.valid())[1:]]))  # fmt: skip
case("sig-all-zero", "signature", SIG, False, lambda k: k.token(signature=b"\x00" * 256))
case("sig-all-ff", "signature", SIG, False, lambda k: k.token(signature=b"\xff" * 256))
case("sig-equals-modulus", "signature", SIG, False,
     lambda k: k.token(signature=base64.urlsafe_b64decode(k.jwk["n"] + "==")))  # fmt: skip
case("sig-one", "signature", SIG, False,
     lambda k: k.token(signature=(1).to_bytes(256, "big")))  # fmt: skip
case("sig-rs512-by-real-key", "signature", SIG, False,
     lambda k: k.token(sign=lambda d: k.key.sign(d, _pkcs1(), _sha512())))  # fmt: skip
case("sig-pss-by-real-key", "signature", SIG, False,
     lambda k: k.token(sign=lambda d: k.key.sign(d, _pss(), _sha256())))  # fmt: skip
case("payload-truncated", "signature", INVALID, True,
     lambda k: ".".join([(p := parts(k.valid()))[0], p[1][:-4], p[2]]))  # fmt: skip
case("payload-of-another-token", "signature", SIG, False,
     lambda k: ".".join([(p := parts(k.valid()))[0], parts(k.valid(sub="user_admin"))[1],
                         p[2]]))  # fmt: skip


def _pkcs1() -> Any:
    from cryptography.hazmat.primitives.asymmetric import padding

    return padding.PKCS1v15()


def _pss() -> Any:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)


def _sha256() -> Any:
    from cryptography.hazmat.primitives import hashes

    return hashes.SHA256()


def _sha512() -> Any:
    from cryptography.hazmat.primitives import hashes

    return hashes.SHA512()


# -- base64url: padding, alphabet, unused bits, whitespace, segments -------------------------

case("b64-padded-signature", "base64", INVALID, True, lambda k: k.valid() + "==")
case("b64-padded-header", "base64", INVALID, True,
     lambda k: (lambda p: f"{p[0]}==.{p[1]}.{p[2]}")(parts(k.valid())))  # fmt: skip
case("b64-standard-alphabet", "base64", INVALID, True,
     lambda k: token_with_dash(k).translate(str.maketrans("-_", "+/")))  # fmt: skip
case("b64-unused-bits-signature", "base64", INVALID, True,
     lambda k: with_sig(k.valid(), set_unused_bits(parts(k.valid())[2])))  # fmt: skip
case("b64-unused-bits-header", "base64", INVALID, True,
     lambda k: (lambda h: k.token(h).replace(seg(h), set_unused_bits(seg(h)), 1))(
         spaced(json.dumps(k.header(), separators=(",", ":")))))  # fmt: skip
case("b64-unused-bits-payload", "base64", INVALID, True,
     lambda k: (lambda p: k.token(None, p).replace(seg(p), set_unused_bits(seg(p)), 1))(
         spaced(json.dumps(k.claims(), separators=(",", ":")), 2)))  # fmt: skip
case("b64-length-1-mod-4", "base64", INVALID, True, lambda k: k.valid() + "AAA")
case("b64-space-inside-signature", "base64", INVALID, True,
     lambda k: (t := k.valid())[:-20] + " " + t[-20:])  # fmt: skip
case("b64-tab-inside-signature", "base64", INVALID, True,
     lambda k: (t := k.valid())[:-20] + "\t" + t[-20:])  # fmt: skip
case("b64-newline-inside-payload", "base64", INVALID, True,
     lambda k: (lambda p: f"{p[0]}.{p[1][:10]}\n{p[1][10:]}.{p[2]}")(parts(k.valid())),
     http=False, cookie=False)  # fmt: skip
case("b64-nul-inside", "base64", INVALID, True,
     lambda k: (t := k.valid())[:-20] + "\x00" + t[-20:], http=False)  # fmt: skip
# Surrounding whitespace: refused by the token gate; an HTTP header or cookie value is
# trimmed before it gets there (RFC 9110 §5.5), so these are core-only.
case("b64-leading-space", "base64", INVALID, True, lambda k: " " + k.valid(),
     http=False, cookie=False)  # fmt: skip
case("b64-trailing-newline", "base64", INVALID, True, lambda k: k.valid() + "\n",
     http=False, cookie=False)  # fmt: skip
case("segments-4", "base64", INVALID, True, lambda k: k.valid() + "." + b64url(b"extra"))
case("segments-trailing-dot", "base64", INVALID, True, lambda k: k.valid() + ".")
# A byte outside the alphabet where a separator belongs still splits into three parts
# once the alphabet is mapped; the separators themselves must be dots.
case("segments-comma-separator", "base64", INVALID, True,
     lambda k: k.valid().replace(".", ",", 1))  # fmt: skip
case("segments-plus-separator", "base64", INVALID, True,
     lambda k: (lambda p: f"{p[0]}.{p[1]}+{p[2]}")(parts(k.valid())))  # fmt: skip
case("segments-leading-dot", "base64", INVALID, True, lambda k: "." + k.valid())
case("segments-empty-middle", "base64", INVALID, True,
     lambda k: (lambda p: f"{p[0]}..{p[2]}")(parts(k.valid())))  # fmt: skip
case("segments-fullwidth-dot", "base64", INVALID, True,
     lambda k: k.valid().replace(".", "\uff0e"))  # fmt: skip
case("non-ascii-in-signature", "base64", INVALID, True,
     lambda k: (t := k.valid())[:-2] + "é" + t[-1:])  # fmt: skip
case("not-a-jwt", "base64", INVALID, True, lambda k: "not-a-jwt")

# -- JSON parser differentials (RFC 7515 §5.2, RFC 8259 §8.1, RFC 8725 §3.x) ----------------
# All of these carry a real RS256 signature: only the JSON is what must be refused.


def _raw(header: Callable[[Kit], str] | None = None, payload: Callable[[Kit], Any] | None = None):
    return lambda k: k.token(
        None if header is None else header(k), None if payload is None else payload(k)
    )


case("dup-alg-none-last", "json", INVALID, True,
     _raw(header=lambda k: k.header_json() + ',"alg":"none"}'))  # fmt: skip
case("dup-alg-rs256-last", "json", INVALID, True,
     _raw(header=lambda k: k.header_json(alg="none") + ',"alg":"RS256"}'))  # fmt: skip
case("dup-kid", "json", INVALID, True,
     _raw(header=lambda k: k.header_json() + ',"kid":"../../dev/null"}'))  # fmt: skip
case("dup-sub", "json", INVALID, True,
     _raw(payload=lambda k: k.claims_json() + ',"sub":"user_admin"}'))  # fmt: skip
case("dup-exp", "json", INVALID, True,
     _raw(payload=lambda k: k.claims_json() + ',"exp":99999999999}'))  # fmt: skip
case("dup-escaped-name", "json", INVALID, True,
     _raw(payload=lambda k: k.claims_json() + ',"s\\u0075b":"user_admin"}'))  # fmt: skip
case("dup-in-nested-object", "json", INVALID, True,
     _raw(payload=lambda k: k.claims_json()
          + ',"act":{"sub":"user_a","sub":"user_b"}}'))  # fmt: skip
case("bom-header", "json", INVALID, True,
     _raw(header=lambda k: b"\xef\xbb\xbf" + json.dumps(k.header()).encode()))  # fmt: skip
case("bom-payload", "json", INVALID, True,
     _raw(payload=lambda k: b"\xef\xbb\xbf" + json.dumps(k.claims()).encode()))  # fmt: skip
case("utf16le-payload", "json", INVALID, True,
     _raw(payload=lambda k: json.dumps(k.claims()).encode("utf-16-le")))  # fmt: skip
case("utf16-bom-payload", "json", INVALID, True,
     _raw(payload=lambda k: json.dumps(k.claims()).encode("utf-16")))  # fmt: skip
case("utf16be-header", "json", INVALID, True,
     _raw(header=lambda k: json.dumps(k.header()).encode("utf-16-be")))  # fmt: skip
case("utf32-payload", "json", INVALID, True,
     _raw(payload=lambda k: json.dumps(k.claims()).encode("utf-32")))  # fmt: skip
case("invalid-utf8-payload", "json", INVALID, True,
     _raw(payload=lambda k: k.claims_json().encode() + b',"x":"\xff\xfe"}'))  # fmt: skip
case("overlong-utf8-payload", "json", INVALID, True,
     _raw(payload=lambda k: k.claims_json().encode() + b',"x":"\xc0\xaf"}'))  # fmt: skip
case("lone-surrogate-in-sub", "json", INVALID, True,
     _raw(payload=lambda k: k.claims_json(sub=REMOVE) + ',"sub":"user_\\ud800"}'))  # fmt: skip
case("lone-surrogate-in-name", "json", INVALID, True,
     _raw(payload=lambda k: k.claims_json() + ',"\\udc00x":1}'))  # fmt: skip
case("lone-surrogate-in-header", "json", INVALID, True,
     _raw(header=lambda k: k.header_json() + ',"x":"\\ud83d"}'))  # fmt: skip
case("exp-leading-zero", "json", INVALID, True,
     _raw(payload=lambda k: k.claims_json(exp=REMOVE) + ',"exp":01}'))  # fmt: skip
case("exp-plus-sign", "json", INVALID, True,
     _raw(payload=lambda k: k.claims_json(exp=REMOVE) + ',"exp":+1}'))  # fmt: skip
case("exp-hex", "json", INVALID, True,
     _raw(payload=lambda k: k.claims_json(exp=REMOVE) + ',"exp":0x7fffffff}'))  # fmt: skip
case("nesting-17-deep", "json", INVALID, True,
     _raw(payload=lambda k: k.claims_json() + ',"x":' + "[" * 17 + "]" * 17 + "}"))  # fmt: skip
case("nesting-2000-deep", "json", INVALID, True,
     _raw(payload=lambda k: k.claims_json() + ',"x":' + "[" * 2000 + "]" * 2000 + "}"))  # fmt: skip
case("nesting-deep-header", "json", INVALID, True,
     _raw(header=lambda k: k.header_json() + ',"x":' + '{"a":' * 99 + "1" + "}" * 100))  # fmt: skip
case("exp-1e400", "json", INVALID, True,
     _raw(payload=lambda k: k.claims_json(exp=REMOVE) + ',"exp":1e400}'))  # fmt: skip
case("exp-400-digits", "json", INVALID, True,
     _raw(payload=lambda k: k.claims_json(exp=REMOVE) + ',"exp":' + "9" * 400 + "}"))  # fmt: skip
case("exp-5000-digits", "json", INVALID, True,
     _raw(payload=lambda k: k.claims_json(exp=REMOVE) + ',"exp":' + "9" * 5000 + "}"))  # fmt: skip
case("exp-nan", "json", INVALID, True,
     _raw(payload=lambda k: k.claims_json(exp=REMOVE) + ',"exp":NaN}'))  # fmt: skip
case("exp-infinity", "json", INVALID, True,
     _raw(payload=lambda k: k.claims_json(exp=REMOVE) + ',"exp":Infinity}'))  # fmt: skip
case("nbf-minus-infinity", "json", INVALID, True,
     _raw(payload=lambda k: k.claims_json(nbf=REMOVE) + ',"nbf":-Infinity}'))  # fmt: skip
case("header-nan-member", "json", INVALID, True,
     _raw(header=lambda k: k.header_json() + ',"x":NaN}'))  # fmt: skip
case("header-array", "json", INVALID, True, _raw(header=lambda k: json.dumps([k.header()])))
case("header-string", "json", INVALID, True, _raw(header=lambda k: '"RS256"'))
case("header-null", "json", INVALID, True, _raw(header=lambda k: "null"))
case("payload-array", "json", INVALID, True, _raw(payload=lambda k: json.dumps([k.claims()])))
case("payload-number", "json", INVALID, True, _raw(payload=lambda k: "1"))
case("payload-empty", "json", INVALID, True, _raw(payload=lambda k: b""))
case("payload-trailing-garbage", "json", INVALID, True,
     _raw(payload=lambda k: json.dumps(k.claims()) + "x"))  # fmt: skip
case("payload-two-objects", "json", INVALID, True,
     _raw(payload=lambda k: json.dumps(k.claims()) + json.dumps(k.claims(sub="u"))))  # fmt: skip
case("payload-comment", "json", INVALID, True,
     _raw(payload=lambda k: "/*x*/" + json.dumps(k.claims())))  # fmt: skip
case("payload-single-quotes", "json", INVALID, True,
     _raw(payload=lambda k: json.dumps(k.claims()).replace('"', "'")))  # fmt: skip
case("payload-trailing-comma", "json", INVALID, True,
     _raw(payload=lambda k: k.claims_json() + ",}"))  # fmt: skip

# -- claim type confusion (RFC 7519 §4.1; checked only after the signature holds) -----------


@dataclass(frozen=True)
class Now:
    """A time relative to the token's ``iat``, as a number or (``text``) a string."""

    offset: int
    text: bool = False


_CLAIMS: list[tuple[str, dict[str, Any], str]] = [
    ("exp-string", {"exp": "9999999999"}, FAILED),
    ("exp-numeric-string", {"exp": Now(60, text=True)}, FAILED),
    ("exp-bool", {"exp": True}, FAILED),
    ("exp-1e30", {"exp": 1e30}, FAILED),
    ("exp-2-pow-64", {"exp": 2**64}, FAILED),
    ("exp-minus-1e30", {"exp": -1e30}, FAILED),
    ("exp-null", {"exp": None}, FAILED),
    ("exp-list", {"exp": [Now(60)]}, FAILED),
    ("exp-object", {"exp": {"$gt": 0}}, FAILED),
    ("exp-missing", {"exp": REMOVE}, FAILED),
    ("iat-string", {"iat": "0"}, FAILED),
    ("iat-missing", {"iat": REMOVE}, FAILED),
    ("nbf-string", {"nbf": "0"}, FAILED),
    ("nbf-bool", {"nbf": False}, FAILED),
    ("sub-int", {"sub": 12345}, FAILED),
    ("sub-null", {"sub": None}, FAILED),
    ("sub-list", {"sub": ["user_admin"]}, FAILED),
    ("sub-object", {"sub": {"id": "user_admin"}}, FAILED),
    ("sub-empty", {"sub": ""}, FAILED),
    ("sub-missing", {"sub": REMOVE}, FAILED),
    ("sid-int", {"sid": 1}, FAILED),
    ("sid-missing", {"sid": REMOVE}, FAILED),
    ("azp-list", {"azp": ["{origin}"]}, R.TOKEN_INVALID_AUTHORIZED_PARTIES),
    ("azp-object", {"azp": {"origin": "{origin}"}}, R.TOKEN_INVALID_AUTHORIZED_PARTIES),
    ("azp-null", {"azp": None}, R.TOKEN_INVALID_AUTHORIZED_PARTIES),
    ("azp-prefix-match", {"azp": "{origin}.evil.example"}, R.TOKEN_INVALID_AUTHORIZED_PARTIES),
    ("azp-other-origin", {"azp": "https://evil.example"}, R.TOKEN_INVALID_AUTHORIZED_PARTIES),
    ("azp-empty", {"azp": ""}, R.TOKEN_INVALID_AUTHORIZED_PARTIES),
    ("iss-object", {"iss": {"url": "{iss}"}}, R.TOKEN_INVALID_ISSUER),
    ("iss-list", {"iss": ["{iss}"]}, R.TOKEN_INVALID_ISSUER),
    ("iss-null", {"iss": None}, R.TOKEN_INVALID_ISSUER),
    ("iss-trailing-slash", {"iss": "{iss}/"}, R.TOKEN_INVALID_ISSUER),
    ("iss-other-instance", {"iss": "https://other.clerk.accounts.dev"}, R.TOKEN_INVALID_ISSUER),
    # Replays and clock games.
    ("exp-expired-replay", {"exp": Now(-100)}, R.TOKEN_EXPIRED),
    ("nbf-in-the-future", {"nbf": Now(100)}, R.TOKEN_NOT_ACTIVE_YET),
    ("iat-in-the-future", {"iat": Now(100), "exp": Now(200)}, R.TOKEN_IAT_IN_THE_FUTURE),
    # A JWT-template token signed by the instance key, living for ten years.
    ("lifetime-ten-years", {"exp": Now(315_360_000)}, FAILED),
]


def _resolve(value: Any, k: Kit, iat: int) -> Any:
    if isinstance(value, Now):
        return str(iat + value.offset) if value.text else iat + value.offset
    if isinstance(value, list):
        return [_resolve(v, k, iat) for v in value]
    if isinstance(value, dict):
        return {n: _resolve(v, k, iat) for n, v in value.items()}
    if isinstance(value, str):
        return value.replace("{origin}", k.clerk.origin).replace("{iss}", k.clerk.issuer)
    return value


def _claims_token(overrides: dict[str, Any]) -> Callable[[Kit], str]:
    def build(k: Kit) -> str:
        base = k.claims()
        return k.token(payload=merge(base, {n: _resolve(v, k, base["iat"]) for n, v in
                                            overrides.items()}))  # fmt: skip

    return build


for _name, _over, _reason in _CLAIMS:
    case(_name, "claim-types", _reason, False, _claims_token(_over))

# -- token types (spec §3.2, §6) --------------------------------------------------------------

case("cat-m2m", "token-type", TYPE, True, lambda k: k.token(k.header(cat=CAT_M2M)))
case("cat-jwt-template", "token-type", TYPE, True,
     lambda k: k.token(k.header(cat=CAT_JWT_TEMPLATE)))  # fmt: skip
case("cat-list", "token-type", TYPE, True, lambda k: k.token(k.header(cat=[CAT_SESSION])))
case("typ-at-jwt", "token-type", TYPE, True, lambda k: k.token(k.header(typ="at+jwt")))
case("typ-application-at-jwt-upper", "token-type", TYPE, True,
     lambda k: k.token(k.header(typ="APPLICATION/AT+JWT")))  # fmt: skip
case("typ-jws", "token-type", INVALID, True, lambda k: k.token(k.header(typ="JWS")))
case("typ-list", "token-type", INVALID, True, lambda k: k.token(k.header(typ=["JWT"])))
case("sub-m2m", "token-type", TYPE, False, lambda k: k.valid(sub="mch_2abc"))
# Opaque machine tokens are never read from cookies (spec §1), so header only.
case("opaque-machine-token", "token-type", TYPE, True, lambda k: "mt_" + "a" * 32, cookie=False)
case("opaque-oauth-token", "token-type", TYPE, True, lambda k: "oat_" + "b" * 32, cookie=False)
case("opaque-api-key", "token-type", TYPE, True, lambda k: "ak_" + "c" * 32, cookie=False)

# -- other algorithms ------------------------------------------------------------------------

for _name, _alg in {
    "alg-ps256": "PS256", "alg-rs512": "RS512", "alg-rs384": "RS384", "alg-eddsa": "EdDSA",
    "alg-lowercase": "rs256", "alg-trailing-space": "RS256 ", "alg-nul-suffix": "RS256\u0000",
    "alg-list": ["RS256"], "alg-object": {"RS256": True}, "alg-number": 256,
    "alg-bool": True, "alg-cyrillic-s": "R\u0405256",
}.items():  # fmt: skip
    case(_name, "other-alg", ALG, True, lambda k, a=_alg: k.token(k.header(alg=a)))

# -- ECDSA "psychic signatures" (CVE-2022-21449): r = s = 0 -----------------------------------

ZERO_DER = bytes.fromhex("3006020100020100")  # SEQUENCE { INTEGER 0, INTEGER 0 }

case("es256-r0-s0-raw", "psychic-ecdsa", ALG, True,
     lambda k: k.token(k.header(alg="ES256"), signature=b"\x00" * 64))  # fmt: skip
case("es256-r0-s0-der", "psychic-ecdsa", ALG, True,
     lambda k: k.token(k.header(alg="ES256"), signature=ZERO_DER))  # fmt: skip
case("es384-r0-s0-raw", "psychic-ecdsa", ALG, True,
     lambda k: k.token(k.header(alg="ES384"), signature=b"\x00" * 96))  # fmt: skip
case("es512-r0-s0-raw", "psychic-ecdsa", ALG, True,
     lambda k: k.token(k.header(alg="ES512"), signature=b"\x00" * 132))  # fmt: skip
case("es256-r0-s0-no-kid", "psychic-ecdsa", ALG, True,
     lambda k: k.token(k.header(alg="ES256", kid=REMOVE), signature=b"\x00" * 64))  # fmt: skip

# -- weak or unusable keys in the JWKS (key-rotation.md "Which keys are accepted") ----------
# Each signs a token naming its own kid; the set dropped that key, so the kid names no
# key (spec §5: jwk-kid-mismatch "for a kid whose key was dropped by the key rules").
# A PEM configuration checks the signature against its one key instead.

case("weak-rsa-512", "weak-jwks-key", KID, False,
     lambda k: k.token(k.header(kid="ins_weak512"), sign=k.rs256(k.weak.rsa512)),
     pem=SIG, unknown_kid=True)  # fmt: skip
case("weak-rsa-1024", "weak-jwks-key", KID, False,
     lambda k: k.token(k.header(kid="ins_weak1024"), sign=k.rs256(k.weak.rsa1024)),
     pem=SIG, unknown_kid=True)  # fmt: skip
case("weak-e-3", "weak-jwks-key", KID, False,
     lambda k: k.token(k.header(kid="ins_e3"), sign=k.rs256(k.weak.e3)),
     pem=SIG, unknown_kid=True)  # fmt: skip
# e = 1: the forged "signature" is the padded digest itself; no private key involved.
case("weak-e-1-forgery", "weak-jwks-key", KID, False,
     lambda k: k.token(k.header(kid="ins_e1"), sign=k.rs256(k.weak.e1)),
     pem=SIG, unknown_kid=True)  # fmt: skip
case("weak-oct-key-rs256-header", "weak-jwks-key", KID, False,
     lambda k: k.token(k.header(kid="ins_oct"), sign=lambda d: hs("HS256", k.pem, d)),
     pem=SIG, unknown_kid=True)  # fmt: skip
case("weak-private-members", "weak-jwks-key", KID, False,
     lambda k: k.token(k.header(kid="ins_private"), sign=k.rs256(k.weak.private)),
     pem=SIG, unknown_kid=True)  # fmt: skip
case("weak-duplicate-kid", "weak-jwks-key", KID, False,
     lambda k: k.token(k.header(kid="ins_dup"), sign=k.rs256(k.weak.dup_a)),
     pem=SIG, unknown_kid=True)  # fmt: skip
case("weak-duplicate-kid-other-copy", "weak-jwks-key", KID, False,
     lambda k: k.token(k.header(kid="ins_dup"), sign=k.rs256(k.weak.dup_b)),
     pem=SIG, unknown_kid=True)  # fmt: skip
case("weak-use-enc", "weak-jwks-key", KID, False,
     lambda k: k.token(k.header(kid="ins_use_enc"), sign=k.rs256(k.weak.dup_a)),
     pem=SIG, unknown_kid=True)  # fmt: skip
case("weak-alg-hs256-on-rsa-jwk", "weak-jwks-key", KID, False,
     lambda k: k.token(k.header(kid="ins_alg_hs256"), sign=k.rs256(k.weak.dup_a)),
     pem=SIG, unknown_kid=True)  # fmt: skip
case("weak-key-ops-encrypt", "weak-jwks-key", KID, False,
     lambda k: k.token(k.header(kid="ins_ops_encrypt"), sign=k.rs256(k.weak.dup_a)),
     pem=SIG, unknown_kid=True)  # fmt: skip

# -- size (spec §3.1: 8 KiB token, 1 KiB header) ------------------------------------------------

case("token-over-8-kib", "size", INVALID, True, lambda k: k.valid(pad="x" * 6200))
case("header-over-1-kib", "size", INVALID, True, lambda k: k.token(k.header(pad="x" * 1000)))
case("token-1-mib", "size", INVALID, True, lambda k: "a" * (1 << 20), http=False)
