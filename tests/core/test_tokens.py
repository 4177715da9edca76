"""The gate and the header step (spec §3.1–3.2; key-rotation.md "Tokens before keys")."""

from __future__ import annotations

from typing import Any

import pytest

from clerk_auth_core import Reason, TokenVerificationError, parse_token
from clerk_auth_core._tokens import MAX_HEADER_BYTES, check_canonical

from .conftest import (
    CAT_JWT_TEMPLATE,
    CAT_M2M,
    CAT_SESSION,
    CAT_UNTAGGED,
    DELETE,
    KID,
    Signer,
    b64u,
    encode_part,
    make_claims,
    make_header,
)

INVALID = Reason.TOKEN_INVALID
MISMATCH = Reason.TOKEN_TYPE_MISMATCH
BAD_ALG = Reason.TOKEN_INVALID_ALGORITHM
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def reason_of(token: Any, **kwargs: Any) -> str:
    with pytest.raises(TokenVerificationError) as info:
        parse_token(token, **kwargs)
    return info.value.reason


def segments(token: str) -> list[str]:
    return token.split(".")


def set_unused_bits(segment: str) -> str:
    """The same bytes, non-canonically: set the lowest unused bit of the last char."""
    assert len(segment) % 4 in (2, 3)
    return segment[:-1] + _ALPHABET[_ALPHABET.index(segment[-1]) | 1]


def header_of_size(size: int) -> bytes:
    """A valid header of exactly ``size`` bytes (padded with a harmless member)."""
    base = b'{"alg":"RS256","kid":"' + KID.encode() + b'","typ":"JWT","pad":""}'
    assert size >= len(base)
    return base[:-2] + b"x" * (size - len(base)) + b'"}'


class TestCheckCanonical:
    @pytest.mark.parametrize(
        "segment",
        [
            pytest.param("AAAA", id="len-0-mod-4"),
            pytest.param("AA", id="len-2-zero-bits"),
            pytest.param("AQ", id="len-2-one-byte"),
            pytest.param("AAA", id="len-3-zero-bits"),
            pytest.param("AAE", id="len-3-two-bytes"),
        ],
    )
    def test_canonical(self, segment: str) -> None:
        check_canonical(segment)

    @pytest.mark.parametrize(
        "segment",
        [
            pytest.param("A", id="len-1-mod-4"),
            pytest.param("AAAAA", id="len-5"),
            pytest.param("AB", id="len-2-unused-bit-0"),
            pytest.param("AI", id="len-2-unused-bit-3"),
            pytest.param("AR", id="len-2-same-byte-as-AQ"),
            pytest.param("AAF", id="len-3-unused-bit-0"),
            pytest.param("AAG", id="len-3-unused-bit-1"),
        ],
    )
    def test_non_canonical(self, segment: str) -> None:
        with pytest.raises(TokenVerificationError) as info:
            check_canonical(segment)
        assert info.value.reason == INVALID


class TestParseToken:
    """The gate: size, alphabet, shape, canonical base64url, strict JSON."""

    def test_valid_token(self, signer: Signer) -> None:
        token = signer.mint()
        parsed = parse_token(token)
        assert parsed.alg == "RS256"
        assert parsed.kid == KID
        assert parsed.header == make_header()
        assert parsed.payload == make_claims()
        assert parsed.raw == token
        head, body, _sig = segments(token)
        assert parsed.signing_input == f"{head}.{body}".encode()
        assert parsed.payload_segment == body
        assert len(parsed.signature) == 256
        assert token not in repr(parsed)

    # -- size ------------------------------------------------------------------------

    @staticmethod
    def token_of_length(signer: Signer, length: int) -> str:
        """A valid token of exactly ``length`` chars (padding a claim and a header member;
        a base64url segment can have any length except 1 mod 4, so combine two)."""
        sig_len = len(b64u(b"\0" * 256))
        for extra in range(4):
            header = make_header(p="y" * extra)
            room = length - len(encode_part(header)) - sig_len - 2
            base = len(encode_part(make_claims(pad=""))) * 3 // 4
            for pad in range(room * 3 // 4 - base - 4, room * 3 // 4 - base + 4):
                claims = make_claims(pad="x" * pad)
                if len(encode_part(claims)) == room:
                    token = signer.mint(claims, header)
                    assert len(token) == length
                    return token
        raise AssertionError(f"could not build a token of {length} chars")

    def test_size_cap_default_boundary(self, signer: Signer) -> None:
        at_cap = self.token_of_length(signer, 8192)
        assert parse_token(at_cap).kid == KID
        over = self.token_of_length(signer, 8193)
        assert reason_of(over) == INVALID

    def test_size_cap_is_configurable(self, signer: Signer) -> None:
        token = signer.mint()
        assert parse_token(token, max_size=len(token)).kid == KID
        assert reason_of(token, max_size=len(token) - 1) == INVALID

    def test_size_cap_before_anything_else(self) -> None:
        # An oversized opaque machine token is refused for its size, not its type.
        assert reason_of("mt_" + "a" * 9000) == INVALID

    # -- shape and alphabet ------------------------------------------------------------

    @pytest.mark.parametrize(
        "mangle",
        [
            pytest.param(lambda t: t.rsplit(".", 1)[0], id="two-segments"),
            pytest.param(lambda t: t + ".AAAA", id="four-segments"),
            pytest.param(lambda t: "." + t.split(".", 1)[1], id="empty-header"),
            pytest.param(
                lambda t: ".".join([segments(t)[0], "", segments(t)[2]]), id="empty-payload"
            ),
            pytest.param(lambda t: t.rsplit(".", 1)[0] + ".", id="empty-signature"),
            pytest.param(lambda t: t + "=", id="padding"),
            pytest.param(lambda t: t + "==", id="double-padding"),
            pytest.param(lambda t: t[:-2] + "+/", id="standard-base64-chars"),
            pytest.param(lambda t: t[:-1] + "é", id="non-ascii"),
            pytest.param(lambda t: t[:-1] + "\uff41", id="fullwidth-letter"),
            pytest.param(lambda t: t[:-1] + "\u0663", id="arabic-indic-digit"),
            pytest.param(lambda t: t + "\n", id="trailing-newline"),
            pytest.param(lambda t: " " + t, id="leading-space"),
            pytest.param(lambda t: t.replace(".", " . ", 1), id="inner-space"),
            pytest.param(lambda t: "", id="empty-string"),
            pytest.param(lambda t: "..", id="only-dots"),
        ],
    )
    def test_shape(self, signer: Signer, mangle: Any) -> None:
        token = signer.mint()
        parse_token(token)  # control: the original passes
        assert reason_of(mangle(token)) == INVALID

    @pytest.mark.parametrize("position", [0, 1], ids=["first-dot", "second-dot"])
    def test_separator_is_a_dot(self, signer: Signer, position: int) -> None:
        # Every other ASCII byte outside the alphabet, put where a "." belongs, leaves
        # three segments once split, and still must not pass the gate.
        token = signer.mint()
        dot = [i for i, c in enumerate(token) if c == "."][position]
        strays = [chr(b) for b in range(128) if chr(b) not in _ALPHABET + "."]
        assert len(strays) == 63
        for stray in strays:
            assert reason_of(token[:dot] + stray + token[dot + 1 :]) == INVALID, repr(stray)

    @pytest.mark.parametrize("value", [None, b"a.b.c", 1, ["a", "b", "c"]])
    def test_not_a_string(self, value: Any) -> None:
        assert reason_of(value) == INVALID

    # -- canonical base64url -------------------------------------------------------------

    @pytest.mark.parametrize("index", [0, 1, 2], ids=["header", "payload", "signature"])
    def test_non_canonical_segment(self, signer: Signer, index: int) -> None:
        # Make the header and payload length 2 mod 3 bytes, so their segments end in a
        # character with unused bits; a 256-byte signature always does.
        claims, header = make_claims(), make_header()
        while len(encode_part(claims)) % 4 not in (2, 3):
            claims["p"] = claims.get("p", "") + "x"
        while len(encode_part(header)) % 4 not in (2, 3):
            header["p"] = header.get("p", "") + "x"
        token = signer.mint(claims, header)
        parse_token(token)  # canonical control
        parts = segments(token)
        parts[index] = set_unused_bits(parts[index])
        assert reason_of(".".join(parts)) == INVALID

    @pytest.mark.parametrize("index", [0, 1, 2], ids=["header", "payload", "signature"])
    def test_segment_length_one_mod_four(self, signer: Signer, index: int) -> None:
        parts = segments(signer.mint())
        while len(parts[index]) % 4 != 1:
            parts[index] += "A"
        assert reason_of(".".join(parts)) == INVALID

    # -- header and payload: strict JSON objects -----------------------------------------

    def test_header_size_boundary(self, signer: Signer) -> None:
        assert parse_token(signer.mint(header=header_of_size(MAX_HEADER_BYTES))).kid == KID
        assert reason_of(signer.mint(header=header_of_size(MAX_HEADER_BYTES + 1))) == INVALID

    @pytest.mark.parametrize(
        "raw",
        [
            pytest.param(b'\xef\xbb\xbf{"alg":"RS256","kid":"k"}', id="bom"),
            pytest.param('{"alg":"RS256","kid":"k"}'.encode("utf-16"), id="utf16"),
            pytest.param('{"alg":"RS256","kid":"k"}'.encode("utf-16-le"), id="utf16-le"),
            pytest.param(b'{"alg":"RS256","alg":"RS256","kid":"k"}', id="duplicate-member"),
            pytest.param(b'{"alg":"HS256","alg":"RS256","kid":"k"}', id="duplicate-alg"),
            pytest.param(b'{"alg":"RS256","kid":"k","x":NaN}', id="nan"),
            pytest.param(b'{"alg":"RS256","kid":"k","x":1e400}', id="1e400"),
            pytest.param(b'{"alg":"RS256","kid":"k","x":' + b"9" * 300 + b"}", id="huge-int"),
            pytest.param(b'{"alg":"RS256","kid":"k\\ud800"}', id="lone-surrogate"),
            pytest.param(b'{"alg":"RS256","x":' + b"[" * 40 + b"]" * 40 + b"}", id="deep"),
            pytest.param(b'["RS256"]', id="array"),
            pytest.param(b'"RS256"', id="string"),
            pytest.param(b"null", id="null"),
            pytest.param(b"", id="empty"),
            pytest.param(b"\x00\x01\x02", id="binary"),
        ],
    )
    def test_header_not_strict_json_object(self, signer: Signer, raw: bytes) -> None:
        assert reason_of(signer.mint(header=raw)) == INVALID

    @pytest.mark.parametrize(
        "raw",
        [
            pytest.param(b'\xef\xbb\xbf{"sub":"user_1"}', id="bom"),
            pytest.param('{"sub":"user_1"}'.encode("utf-16"), id="utf16"),
            pytest.param(b'{"sub":"user_1","sub":"user_2"}', id="duplicate-member"),
            pytest.param(b'{"sub":"user_1","exp":NaN}', id="nan"),
            pytest.param(b'{"sub":"user_1","exp":Infinity}', id="infinity"),
            pytest.param(b'{"sub":"user_1","exp":1e400}', id="1e400"),
            pytest.param(b'{"sub":"user_1","exp":' + b"9" * 2000 + b"}", id="huge-int"),
            pytest.param(b'{"sub":"\\udc00"}', id="lone-surrogate"),
            pytest.param(b'{"o":' + b'{"o":' * 20 + b"{}" + b"}" * 21, id="deep"),
            pytest.param(b"[" * 2000 + b"]" * 2000, id="recursion-bomb"),
            pytest.param(b'[{"sub":"user_1"}]', id="array"),
            pytest.param(b"42", id="number"),
            pytest.param(b"not json", id="text"),
        ],
    )
    def test_payload_not_strict_json_object(self, signer: Signer, raw: bytes) -> None:
        # Part of the gate (spec §3.1), so it is refused before any key is looked up.
        assert reason_of(signer.mint(claims=raw)) == INVALID

    # -- machine tokens ----------------------------------------------------------------

    @pytest.mark.parametrize(
        "token",
        [
            pytest.param("mt_2abcDEF0123456789", id="m2m"),
            pytest.param("oat_2abcDEF0123456789", id="oauth"),
            pytest.param("ak_2abcDEF0123456789", id="api-key"),
        ],
    )
    def test_opaque_machine_token(self, token: str) -> None:
        assert reason_of(token) == MISMATCH

    @pytest.mark.parametrize("token", ["mtx_abc", "MT_abc", "at_abc", "oauth_abc"])
    def test_not_machine_token_prefix(self, token: str) -> None:
        assert reason_of(token) == INVALID


def header_reason(signer: Signer, kid_required: bool = True, **overrides: Any) -> str:
    return reason_of(signer.mint(header=make_header(**overrides)), kid_required=kid_required)


class TestCheckHeader:
    """The header step (spec §3.2), driven through :func:`parse_token`."""

    @pytest.mark.parametrize(
        "overrides",
        [
            pytest.param({"cat": CAT_SESSION}, id="cat-session"),
            pytest.param({"cat": CAT_UNTAGGED}, id="cat-untagged"),
            pytest.param({"cat": DELETE}, id="no-cat"),
            pytest.param({"typ": DELETE}, id="no-typ"),
            pytest.param({"typ": "jwt"}, id="typ-lowercase"),
            pytest.param({"typ": "Jwt"}, id="typ-mixed-case"),
            pytest.param({"kid": "a" * 128}, id="kid-128"),
            pytest.param({"kid": "A-z_0.9"}, id="kid-all-classes"),
            pytest.param({"x5t#S": "x", "jwks": "y"}, id="near-forbidden-names"),
        ],
    )
    def test_accepts(self, signer: Signer, overrides: dict[str, Any]) -> None:
        parsed = parse_token(signer.mint(header=make_header(**overrides)))
        assert parsed.alg == "RS256"

    @pytest.mark.parametrize(
        ("cat", "expected"),
        [
            pytest.param(CAT_JWT_TEMPLATE, MISMATCH, id="jwt-template"),
            pytest.param(CAT_M2M, MISMATCH, id="m2m"),
            pytest.param("cl_unknown", MISMATCH, id="unknown"),
            pytest.param("", MISMATCH, id="empty"),
            pytest.param(CAT_SESSION.lower(), MISMATCH, id="session-lowercase"),
            pytest.param(1, MISMATCH, id="number"),
            pytest.param(None, MISMATCH, id="null"),
            pytest.param([CAT_SESSION], MISMATCH, id="list"),
            pytest.param({"c": CAT_SESSION}, MISMATCH, id="object"),
        ],
    )
    def test_cat(self, signer: Signer, cat: Any, expected: str) -> None:
        assert header_reason(signer, cat=cat) == expected

    @pytest.mark.parametrize(
        ("typ", "expected"),
        [
            pytest.param("at+jwt", MISMATCH, id="at+jwt"),
            pytest.param("application/at+jwt", MISMATCH, id="application/at+jwt"),
            pytest.param("AT+JWT", MISMATCH, id="AT+JWT"),
            pytest.param("Application/At+Jwt", MISMATCH, id="mixed-case-media-type"),
            pytest.param("JOSE", INVALID, id="jose"),
            pytest.param("JWS", INVALID, id="jws"),
            pytest.param("application/jwt", INVALID, id="application/jwt"),
            pytest.param("", INVALID, id="empty"),
            pytest.param(" JWT", INVALID, id="padded"),
            pytest.param(1, INVALID, id="number"),
            pytest.param(None, INVALID, id="null"),
            pytest.param(["JWT"], INVALID, id="list"),
        ],
    )
    def test_typ(self, signer: Signer, typ: Any, expected: str) -> None:
        assert header_reason(signer, typ=typ) == expected

    @pytest.mark.parametrize(
        "alg",
        [
            pytest.param(DELETE, id="missing"),
            pytest.param(None, id="null"),
            pytest.param(256, id="number"),
            pytest.param(["RS256"], id="list"),
            pytest.param({"RS256": 1}, id="object"),
            pytest.param("none", id="none"),
            pytest.param("None", id="None"),
            pytest.param("HS256", id="HS256"),
            pytest.param("HS384", id="HS384"),
            pytest.param("HS512", id="HS512"),
            pytest.param("RS384", id="RS384"),
            pytest.param("RS512", id="RS512"),
            pytest.param("PS256", id="PS256"),
            pytest.param("ES256", id="ES256"),
            pytest.param("EdDSA", id="EdDSA"),
            pytest.param("rs256", id="lowercase"),
            pytest.param("RS256 ", id="trailing-space"),
        ],
    )
    def test_alg(self, signer: Signer, alg: Any) -> None:
        assert header_reason(signer, alg=alg) == BAD_ALG

    @pytest.mark.parametrize("alg", ["HS256", "none", "RS384"])
    def test_alg_never_widened_by_caller(self, signer: Signer, alg: str) -> None:
        # Only RS256 can be verified; an allow-list naming others changes nothing.
        token = signer.mint(header=make_header(alg=alg))
        assert reason_of(token, algorithms=(alg, "RS256")) == BAD_ALG

    def test_alg_outside_configured_list(self, signer: Signer) -> None:
        assert reason_of(signer.mint(), algorithms=()) == BAD_ALG

    @pytest.mark.parametrize(
        "member",
        ["crit", "b64", "zip", "enc", "cty", "jku", "x5u", "jwk", "x5c", "x5t", "x5t#S256"],
    )
    def test_forbidden_member(self, signer: Signer, member: str) -> None:
        assert header_reason(signer, **{member: "x"}) == INVALID

    @pytest.mark.parametrize("member", ["jku", "jwk", "x5u", "x5c"])
    def test_forbidden_member_with_pem_and_no_kid(self, signer: Signer, member: str) -> None:
        # A PEM key makes kid optional; it does not make key-naming members harmless.
        assert header_reason(signer, kid_required=False, kid=DELETE, **{member: "x"}) == INVALID

    @pytest.mark.parametrize("member", ["crit", "jku", "jwk"])
    def test_forbidden_member_even_null(self, signer: Signer, member: str) -> None:
        assert header_reason(signer, **{member: None}) == INVALID

    @pytest.mark.parametrize(
        "kid",
        [
            pytest.param("a" * 129, id="too-long"),
            pytest.param("", id="empty"),
            pytest.param("ins 1", id="space"),
            pytest.param("ins/1", id="slash"),
            pytest.param("../ins", id="dotdot-slash"),
            pytest.param("ins_1\n", id="trailing-newline"),
            pytest.param("ins_é", id="non-ascii"),
            pytest.param("ins%2F", id="percent"),
            pytest.param(123, id="number"),
            pytest.param(None, id="null"),
            pytest.param(["ins_1"], id="list"),
        ],
    )
    def test_kid_pattern(self, signer: Signer, kid: Any) -> None:
        assert header_reason(signer, kid=kid) == INVALID
        # The pattern holds with a PEM key as well (kid optional, not unchecked).
        assert header_reason(signer, kid_required=False, kid=kid) == INVALID

    def test_kid_missing_with_jwks(self, signer: Signer) -> None:
        assert header_reason(signer, kid=DELETE) == INVALID

    def test_kid_missing_with_pem(self, signer: Signer) -> None:
        parsed = parse_token(signer.mint(header=make_header(kid=DELETE)), kid_required=False)
        assert parsed.kid is None

    # -- order: first failure wins -----------------------------------------------------

    @pytest.mark.parametrize(
        ("overrides", "expected"),
        [
            pytest.param({"cat": CAT_M2M, "alg": "HS256"}, MISMATCH, id="cat-before-alg"),
            pytest.param({"cat": CAT_M2M, "typ": "JOSE"}, MISMATCH, id="cat-before-typ"),
            pytest.param({"typ": "at+jwt", "alg": "none"}, MISMATCH, id="at-jwt-before-alg"),
            pytest.param({"typ": "JOSE", "alg": "HS256"}, INVALID, id="typ-before-alg"),
            pytest.param({"alg": "HS256", "jku": "https://x"}, BAD_ALG, id="alg-before-members"),
            pytest.param({"alg": "none", "kid": DELETE}, BAD_ALG, id="alg-before-kid"),
            pytest.param({"cat": CAT_JWT_TEMPLATE, "kid": 5}, MISMATCH, id="cat-before-kid"),
        ],
    )
    def test_order(self, signer: Signer, overrides: dict[str, Any], expected: str) -> None:
        assert header_reason(signer, **overrides) == expected

    @pytest.mark.parametrize(
        "header",
        [
            pytest.param(make_header(cat=CAT_M2M), id="m2m-category"),
            pytest.param(make_header(typ="at+jwt"), id="access-token-typ"),
            pytest.param(make_header(alg="none"), id="alg-none"),
        ],
    )
    def test_gate_before_header_step(self, signer: Signer, header: dict[str, Any]) -> None:
        # A shape failure (here: a non-canonical signature, or a non-JSON payload) wins
        # over any header rule: step 1 comes first.
        parts = segments(signer.mint(header=header))
        parts[2] = set_unused_bits(parts[2])
        assert reason_of(".".join(parts)) == INVALID
        assert reason_of(signer.mint(claims=b"not json", header=header)) == INVALID

    def test_header_is_parsed_unsigned(self) -> None:
        # The gate never looks at the signature: any 3 canonical segments will do.
        token = f"{encode_part(make_header())}.{encode_part(make_claims())}.{b64u(b'sig')}"
        assert parse_token(token).signature == b"sig"
