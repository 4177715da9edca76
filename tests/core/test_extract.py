"""Where the token comes from (spec §1): the Authorization header, then cookies."""

from __future__ import annotations

from http.cookies import SimpleCookie
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clerk_auth_core import ExtractedToken, Reason, TokenVerificationError, extract_token
from clerk_auth_core import parse_cookies as parse_cookies_
from clerk_auth_core._extract import _has_space, get_header

from .conftest import PUBLISHABLE_KEY, PUBLISHABLE_KEY_LIVE, cookie_suffix

TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyXzEifQ.c2ln"
OTHER = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyXzIifQ.c2ln"
UAT = "1699999000"
SUFFIX = cookie_suffix(PUBLISHABLE_KEY)


def extract(headers: Any, suffix: str | None = None) -> ExtractedToken | None:
    return extract_token(headers, cookie_suffix=suffix)


def extract_reason(headers: Any, suffix: str | None = None) -> str:
    with pytest.raises(TokenVerificationError) as info:
        extract(headers, suffix)
    return info.value.reason


def cookie(value: str) -> dict[str, str]:
    return {"cookie": value}


SESSION_COOKIES = f"__session={OTHER}; __client_uat={UAT}"


class TestExtractTokenHeader:
    @pytest.mark.parametrize(
        "value",
        [
            pytest.param(f"Bearer {TOKEN}", id="bearer"),
            pytest.param(f"bearer {TOKEN}", id="lowercase"),
            pytest.param(f"BEARER {TOKEN}", id="uppercase"),
            pytest.param(f"BeArEr {TOKEN}", id="mixed-case"),
            pytest.param(f"Bearer  {TOKEN}", id="two-spaces"),
            pytest.param(f"Bearer     {TOKEN}", id="many-spaces"),
            pytest.param(f"  Bearer {TOKEN}  ", id="surrounding-spaces"),
            pytest.param(f"\tBearer {TOKEN}\t", id="surrounding-tabs"),
            pytest.param(TOKEN, id="bare-token"),
            pytest.param(f"  {TOKEN} ", id="bare-token-padded"),
        ],
    )
    def test_token_found(self, value: str) -> None:
        assert extract({"authorization": value}) == ExtractedToken(token=TOKEN, source="header")

    @pytest.mark.parametrize(
        "value",
        [
            pytest.param("Bearer", id="scheme-only"),
            pytest.param("bearer", id="scheme-only-lowercase"),
            pytest.param("Bearer   ", id="scheme-and-spaces"),
            pytest.param("Bearer a b", id="two-tokens"),
            pytest.param(f"Bearer {TOKEN} junk", id="trailing-junk"),
            pytest.param(f"Bearer {TOKEN}\tjunk", id="tab-then-junk"),
            pytest.param(f"Bearer {TOKEN}\x0b", id="trailing-vertical-tab"),
            pytest.param(f"Bearer {TOKEN}\n", id="trailing-newline"),
        ],
    )
    def test_malformed_bearer(self, value: str) -> None:
        assert extract_reason({"authorization": value}) == Reason.TOKEN_INVALID

    @pytest.mark.parametrize(
        "value",
        [
            pytest.param("Bearer", id="scheme-only"),
            pytest.param("Bearer a b", id="two-tokens"),
            pytest.param(f"Bearer {TOKEN} junk", id="trailing-junk"),
        ],
    )
    def test_header_wins_even_when_it_fails(self, value: str) -> None:
        headers = {"authorization": value, "cookie": SESSION_COOKIES}
        assert extract_reason(headers) == Reason.TOKEN_INVALID

    def test_header_token_wins_over_cookie(self) -> None:
        headers = {"authorization": f"Bearer {TOKEN}", "cookie": SESSION_COOKIES}
        assert extract(headers) == ExtractedToken(token=TOKEN, source="header")

    def test_header_wins_over_broken_cookies(self) -> None:
        # Cookies that would fail on their own are not looked at.
        headers = {"authorization": f"Bearer {TOKEN}", "cookie": f"__session={OTHER}"}
        assert extract(headers) == ExtractedToken(token=TOKEN, source="header")

    @pytest.mark.parametrize(
        "value",
        [
            pytest.param("Basic dXNlcjpwYXNz", id="basic"),
            pytest.param('Digest username="u"', id="digest"),
            pytest.param("Token abc", id="token-scheme"),
            pytest.param(f"Bearerx {TOKEN}", id="scheme-prefix-of-bearer"),
        ],
    )
    def test_other_scheme_falls_through_to_cookies(self, value: str) -> None:
        assert extract({"authorization": value}) is None
        found = extract({"authorization": value, "cookie": SESSION_COOKIES})
        assert found == ExtractedToken(token=OTHER, source="cookie", client_uat=int(UAT))

    @pytest.mark.parametrize("value", ["", "   ", "\t"])
    def test_empty_header_is_no_header(self, value: str) -> None:
        assert extract({"authorization": value}) is None
        assert extract({"authorization": value, "cookie": SESSION_COOKIES}) is not None

    def test_empty_authorization_headers_are_ignored(self) -> None:
        headers = [
            ("authorization", ""),
            ("authorization", f"Bearer {TOKEN}"),
            ("authorization", "  "),
        ]
        assert extract(headers) == ExtractedToken(token=TOKEN, source="header")

    # Issue 12: Authorization is a singleton (RFC 9110); a proxy and the app could
    # disagree on which of several counts, so a request with several is refused.
    @pytest.mark.parametrize(
        "headers",
        [
            pytest.param(
                [("authorization", f"Bearer {TOKEN}"), ("authorization", "x y")], id="two"
            ),
            pytest.param(
                [("authorization", f"Bearer {TOKEN}"), ("authorization", f"Bearer {TOKEN}")],
                id="same-twice",
            ),
            pytest.param([("authorization", f"Bearer {TOKEN},Bearer {TOKEN}")], id="wsgi-joined"),
            pytest.param([("authorization", f"Bearer {TOKEN}, Bearer {TOKEN}")], id="joined-space"),
            pytest.param([("authorization", f"Bearer {TOKEN},{TOKEN}")], id="joined-tokens"),
            pytest.param([("authorization", f"{TOKEN},Bearer {TOKEN}")], id="bare-then-bearer"),
            pytest.param([("authorization", f"{TOKEN},{TOKEN}")], id="bare-joined"),
            pytest.param(
                [("authorization", "Basic dXNlcjpwYXNz"), ("authorization", f"Bearer {TOKEN}")],
                id="basic-and-bearer",
            ),
        ],
    )
    def test_several_authorization_values_are_refused(self, headers: list[tuple[str, str]]) -> None:
        with pytest.raises(TokenVerificationError) as info:
            extract([*headers, ("cookie", SESSION_COOKIES)])
        assert info.value.reason == Reason.TOKEN_INVALID

    def test_other_schemes_with_commas_still_fall_through_to_cookies(self) -> None:
        digest = 'Digest username="u", realm="r", nonce="n"'
        assert extract({"authorization": digest}) is None
        assert extract({"authorization": digest, "cookie": SESSION_COOKIES}) is not None

    def test_oversized_header_is_refused_before_it_is_read(self) -> None:
        # The cap applies to the raw value: a 16 KiB value of spaces, which would be
        # ignored as empty if it were stripped first, is refused unread.
        for value in (f"Bearer {'a' * 16384}", " " * 16384, "Basic " + "x" * 16384):
            with pytest.raises(TokenVerificationError) as info:
                extract_token({"authorization": value}, max_size=8192)
            assert info.value.reason == Reason.TOKEN_INVALID
        # Just under the allowance: read as usual (padding spaces are allowed).
        padded = "Bearer" + " " * 200 + TOKEN
        assert extract_token({"authorization": padded}, max_size=len(TOKEN)) is not None

    def test_machine_token_in_header_is_extracted(self) -> None:
        # Extraction does not judge; the gate refuses it (token-type-mismatch).
        assert extract({"authorization": "Bearer mt_abc"}) == ExtractedToken(
            token="mt_abc", source="header"
        )


class TestExtractTokenHeaderForms:
    @pytest.mark.parametrize(
        "headers",
        [
            pytest.param({"Authorization": f"Bearer {TOKEN}"}, id="dict"),
            pytest.param({"AUTHORIZATION": f"Bearer {TOKEN}"}, id="dict-uppercase-name"),
            pytest.param({"authorization": f"Bearer {TOKEN}"}, id="dict-lowercase-name"),
            pytest.param([("Authorization", f"Bearer {TOKEN}")], id="list-of-str-pairs"),
            pytest.param(
                [(b"authorization", f"Bearer {TOKEN}".encode())], id="list-of-bytes-pairs"
            ),
            pytest.param({b"Authorization": f"Bearer {TOKEN}".encode()}, id="dict-of-bytes"),
            pytest.param(
                (("x-other", "1"), ("aUtHoRiZaTiOn", f"Bearer {TOKEN}")), id="tuple-pairs"
            ),
        ],
    )
    def test_header_forms(self, headers: Any) -> None:
        assert extract(headers) == ExtractedToken(token=TOKEN, source="header")

    @pytest.mark.parametrize(
        "headers",
        [
            pytest.param({"Cookie": SESSION_COOKIES}, id="dict"),
            pytest.param({"COOKIE": SESSION_COOKIES}, id="dict-uppercase-name"),
            pytest.param([("cookie", SESSION_COOKIES)], id="list-of-str-pairs"),
            pytest.param([(b"cookie", SESSION_COOKIES.encode())], id="list-of-bytes-pairs"),
            pytest.param(
                [
                    (b"cookie", f"__session={OTHER}".encode()),
                    (b"cookie", f"__client_uat={UAT}".encode()),
                ],
                id="split-over-two-headers",
            ),
        ],
    )
    def test_cookie_forms(self, headers: Any) -> None:
        assert extract(headers) == ExtractedToken(token=OTHER, source="cookie", client_uat=int(UAT))

    def test_bytes_are_latin1(self) -> None:
        # Header bytes are Latin-1 on the wire (RFC 9110 §5.5); decoding never fails.
        found = extract([(b"authorization", b"Bearer tok\xe9n")])
        assert found is not None
        assert found.token == "tok\xe9n"

    def test_no_headers(self) -> None:
        assert extract({}) is None
        assert extract([]) is None


class TestExtractTokenCookies:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            pytest.param(SESSION_COOKIES, (OTHER, int(UAT)), id="plain-pair"),
            pytest.param(
                f"__client_uat={UAT}; __session={OTHER}", (OTHER, int(UAT)), id="reversed"
            ),
            pytest.param(f"__session={OTHER};__client_uat={UAT}", (OTHER, int(UAT)), id="no-space"),
            pytest.param(
                f'__session="{OTHER}"; __client_uat="{UAT}"', (OTHER, int(UAT)), id="quoted"
            ),
            pytest.param(f"theme=dark; __session={OTHER}; __client_uat=1", (OTHER, 1), id="uat-1"),
            pytest.param(
                f"__session={TOKEN}; __session={OTHER}; __client_uat={UAT}",
                (TOKEN, int(UAT)),
                id="duplicate-first-wins",
            ),
            pytest.param(
                f"__session={OTHER}; __client_uat={UAT}; __client_uat=0",
                (OTHER, int(UAT)),
                id="duplicate-uat-first-wins",
            ),
        ],
    )
    def test_found(self, value: str, expected: tuple[str, int]) -> None:
        token, uat = expected
        assert extract(cookie(value)) == ExtractedToken(
            token=token, source="cookie", client_uat=uat
        )

    def test_first_cookie_header_wins(self) -> None:
        headers = [
            ("cookie", f"__session={TOKEN}"),
            ("cookie", f"__session={OTHER}; __client_uat={UAT}"),
        ]
        found = extract(headers)
        assert found is not None
        assert found.token == TOKEN

    @pytest.mark.parametrize(
        "value",
        [
            pytest.param("", id="empty-header"),
            pytest.param("theme=dark; lang=en", id="unrelated"),
            pytest.param("__client_uat=0", id="uat-zero-alone"),
            pytest.param("__session=; __client_uat=0", id="empty-session-uat-zero"),
            pytest.param("__client_uat=abc", id="uat-not-a-number"),
            pytest.param("__session_abc=x; __client_uat_abc=1", id="suffixed-without-known-suffix"),
            pytest.param("__session=mt_abc", id="machine-token-cookie-alone"),
            pytest.param("__session=oat_abc; __client_uat=0", id="oauth-token-cookie"),
        ],
    )
    def test_no_token(self, value: str) -> None:
        # None → the request outcome is session-token-and-uat-missing.
        assert extract(cookie(value)) is None

    @pytest.mark.parametrize(
        ("value", "reason"),
        [
            pytest.param(f"__session={OTHER}", Reason.SESSION_TOKEN_BUT_NO_CLIENT_UAT, id="no-uat"),
            pytest.param(
                f"__session={OTHER}; __client_uat=0",
                Reason.SESSION_TOKEN_BUT_NO_CLIENT_UAT,
                id="uat-zero",
            ),
            pytest.param(
                f"__session={OTHER}; __client_uat=",
                Reason.SESSION_TOKEN_BUT_NO_CLIENT_UAT,
                id="uat-empty",
            ),
            pytest.param(
                f"__session={OTHER}; __client_uat=-5",
                Reason.SESSION_TOKEN_BUT_NO_CLIENT_UAT,
                id="uat-negative",
            ),
            pytest.param(
                f"__session={OTHER}; __client_uat=17e8",
                Reason.SESSION_TOKEN_BUT_NO_CLIENT_UAT,
                id="uat-not-an-integer",
            ),
            pytest.param(
                f"__session={OTHER}; __client_uat=1234567890123",
                Reason.SESSION_TOKEN_BUT_NO_CLIENT_UAT,
                id="uat-absurd",
            ),
            pytest.param(
                f"__session={OTHER}; __client_uat=\u00b2",
                Reason.SESSION_TOKEN_BUT_NO_CLIENT_UAT,
                id="uat-superscript-digit",
            ),
            pytest.param(
                f"__session={OTHER}; __client_uat=\u0661\u0667\u0660\u0660",
                Reason.SESSION_TOKEN_BUT_NO_CLIENT_UAT,
                id="uat-arabic-indic-digits",
            ),
            pytest.param(
                f"__client_uat={UAT}", Reason.CLIENT_UAT_BUT_NO_SESSION_TOKEN, id="no-session"
            ),
            pytest.param(
                f"__session=; __client_uat={UAT}",
                Reason.CLIENT_UAT_BUT_NO_SESSION_TOKEN,
                id="empty-session",
            ),
            pytest.param(
                f"__session=mt_abc; __client_uat={UAT}",
                Reason.CLIENT_UAT_BUT_NO_SESSION_TOKEN,
                id="machine-token-cookie-ignored",
            ),
            pytest.param(
                f"__session=ak_abc; __client_uat={UAT}",
                Reason.CLIENT_UAT_BUT_NO_SESSION_TOKEN,
                id="api-key-cookie-ignored",
            ),
        ],
    )
    def test_cookie_reasons(self, value: str, reason: str) -> None:
        assert extract_reason(cookie(value)) == reason

    # -- which pair: plain or suffixed -----------------------------------------------------

    def test_suffixed_pair_when_key_known_and_both_present(self) -> None:
        value = f"{SESSION_COOKIES}; __session_{SUFFIX}={TOKEN}; __client_uat_{SUFFIX}=1700000001"
        assert extract(cookie(value), SUFFIX) == ExtractedToken(
            token=TOKEN, source="cookie", client_uat=1700000001
        )

    def test_suffixed_pair_alone(self) -> None:
        value = f"__session_{SUFFIX}={TOKEN}; __client_uat_{SUFFIX}={UAT}"
        found = extract(cookie(value), SUFFIX)
        assert found is not None
        assert found.token == TOKEN
        # Without the publishable key the suffixed pair is not looked at.
        assert extract(cookie(value)) is None

    @pytest.mark.parametrize(
        "extra",
        [
            pytest.param(f"__session_{SUFFIX}={TOKEN}", id="only-suffixed-session"),
            pytest.param(f"__client_uat_{SUFFIX}=1700000001", id="only-suffixed-uat"),
            pytest.param(
                f"__session_{cookie_suffix(PUBLISHABLE_KEY_LIVE)}={TOKEN}; "
                f"__client_uat_{cookie_suffix(PUBLISHABLE_KEY_LIVE)}=1",
                id="another-keys-suffix",
            ),
        ],
    )
    def test_plain_pair_otherwise(self, extra: str) -> None:
        found = extract(cookie(f"{SESSION_COOKIES}; {extra}"), SUFFIX)
        assert found == ExtractedToken(token=OTHER, source="cookie", client_uat=int(UAT))

    def test_suffixed_pair_reasons_come_from_the_plain_pair(self) -> None:
        # Only the suffixed session is present: the plain pair decides (here: only a uat).
        value = f"__session_{SUFFIX}={TOKEN}; __client_uat={UAT}"
        assert extract_reason(cookie(value), SUFFIX) == Reason.CLIENT_UAT_BUT_NO_SESSION_TOKEN

    def test_suffixed_pair_with_zero_uat(self) -> None:
        value = f"__session_{SUFFIX}={TOKEN}; __client_uat_{SUFFIX}=0; {SESSION_COOKIES}"
        assert extract_reason(cookie(value), SUFFIX) == Reason.SESSION_TOKEN_BUT_NO_CLIENT_UAT

    # -- a malformed neighbour hides nothing -----------------------------------------------

    @pytest.mark.parametrize(
        "value",
        [
            pytest.param(f"a=b; bad cookie; __session={OTHER}; __client_uat={UAT}", id="no-equals"),
            pytest.param(f'__session={OTHER}; x=a"b; __client_uat={UAT}', id="quote-in-value"),
            pytest.param(f'__session={OTHER}; j={{"a":1}}; __client_uat={UAT}', id="json-value"),
            pytest.param(f"__session={OTHER}; a\\b=1; __client_uat={UAT}", id="backslash-name"),
            pytest.param(f"=x; __session={OTHER}; __client_uat={UAT}", id="empty-name"),
            pytest.param(
                f'x="open; __session={OTHER}; __client_uat={UAT}', id="unterminated-quote"
            ),
        ],
    )
    def test_malformed_neighbour(self, value: str) -> None:
        simple = SimpleCookie()
        simple.load(value)
        # The stdlib parser loses at least one of the two cookies on this input …
        assert not {"__session", "__client_uat"} <= set(simple)
        # … ours does not.
        assert extract(cookie(value)) == ExtractedToken(
            token=OTHER, source="cookie", client_uat=int(UAT)
        )


class TestParseCookies:
    @pytest.mark.parametrize(
        ("headers", "expected"),
        [
            pytest.param(["a=1; b=2"], {"a": "1", "b": "2"}, id="two"),
            pytest.param(["a=1", "b=2"], {"a": "1", "b": "2"}, id="two-headers"),
            pytest.param(["a=1; a=2"], {"a": "1"}, id="duplicate-first-wins"),
            pytest.param(["a=1", "a=2"], {"a": "1"}, id="duplicate-across-headers"),
            pytest.param(['a="x y"'], {"a": "x y"}, id="quoted"),
            pytest.param(['a="'], {"a": '"'}, id="lone-quote"),
            pytest.param(["a=b=c"], {"a": "b=c"}, id="equals-in-value"),
            pytest.param(["a="], {"a": ""}, id="empty-value"),
            pytest.param([" a = 1 ;  b=2 "], {"a": "1", "b": "2"}, id="spaces"),
            pytest.param(["novalue; a=1"], {"a": "1"}, id="piece-without-equals"),
            pytest.param(
                ['a b=1; "c"=2; d,e=3; f\\g=4; h\tx=5; ok=6'], {"ok": "6"}, id="bad-names"
            ),
            pytest.param([";;;"], {}, id="only-separators"),
            pytest.param([], {}, id="none"),
        ],
    )
    def test_parse(self, headers: list[str], expected: dict[str, str]) -> None:
        assert parse_cookies_(headers) == expected


class TestGetHeader:
    def test_all_values_in_order(self) -> None:
        headers = [("X-A", "1"), ("x-b", "2"), ("x-a", "3"), (b"X-A", b"4")]
        assert get_header(headers, "x-a") == ["1", "3", "4"]
        assert get_header(headers, "X-B") == ["2"]
        assert get_header(headers, "x-c") == []

    @given(
        st.lists(
            st.tuples(
                st.text(st.sampled_from("aAuUtThHİıKk\u212a-xX"), max_size=15)
                | st.sampled_from(["authorization", "AUTHORIZATION", "Authorization", "cookie"]),
                st.text(max_size=5),
            ),
            max_size=6,
        ),
        st.booleans(),
        st.sampled_from(["authorization", "Authorization", "cookie", "x-a"]),
    )
    def test_same_as_lowering_every_name(
        self, pairs: list[tuple[str, str]], as_bytes: bool, name: str
    ) -> None:
        # The length check before lower() must never hide a match: "İ" (whose
        # lowercase is two characters) and the Kelvin sign (lowercase "k") included.
        if as_bytes:
            headers: list[Any] = [(k.encode("utf-8"), v.encode("utf-8")) for k, v in pairs]
            expected = [
                v.decode("latin-1") for k, v in headers if k.lower() == name.lower().encode()
            ]
        else:
            headers = pairs
            expected = [v for k, v in pairs if k.lower() == name.lower()]
        assert get_header(headers, name) == expected


class TestHasSpace:
    """The Bearer check's scan: the same answer as ``str.split()``, which cuts at
    exactly the characters ``str.isspace()`` accepts."""

    def test_every_character_at_each_place(self) -> None:
        # Every character up to U+3000 (the last whitespace below U+FFFF), in ASCII
        # text and, with "é", in text that is not.
        for code in range(0x3001):
            c = chr(code)
            for text in (c, f"abc{c}", f"{c}abc", f"ab{c}cd", f"{TOKEN}{c}é"):
                assert _has_space(text) == (text.split(None, 1) != [text]), (hex(code), text)

    @given(st.text(min_size=1, max_size=40))
    def test_any_text(self, text: str) -> None:
        assert _has_space(text) == (text.split(None, 1) != [text])
