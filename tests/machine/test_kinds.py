"""Token kinds from the string alone, and accepts_token (machine-tokens.md §1, §7
"Classification")."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clerk_auth_core import AcceptsToken, ConfigurationError, accepts, token_kind
from clerk_auth_core._token_kinds import KINDS, is_jwt_format, opaque_kind
from clerk_auth_core._tokens import is_machine_token

from .conftest import CLERK_API_KEY, CLERK_M2M_TOKEN, CLERK_OAUTH_TOKEN, P0, PM, PO, Signer


class TestOpaqueKind:
    @pytest.mark.parametrize(
        ("token", "kind"),
        [
            ("mt_x", "m2m_token"),
            ("oat_x", "oauth_token"),
            ("ak_x", "api_key"),
            (CLERK_API_KEY, "api_key"),
            (CLERK_M2M_TOKEN, "m2m_token"),
            (CLERK_OAUTH_TOKEN, "oauth_token"),
            ("unknown_prefix_token", None),
            ("session_token_value", None),
            ("jwt_token_value", None),
            ("", None),
            # Case-sensitive startswith: Clerk's "raise" cases are no machine prefixes.
            ("M2M_token_value", None),
            ("OAUTH_token_value", None),
            ("API_KEY_value", None),
            ("MT_x", None),
        ],
    )
    def test_prefix(self, token: str, kind: str | None) -> None:
        assert opaque_kind(token) == kind
        # One list of prefixes: the session gate's is_machine_token agrees.
        assert is_machine_token(token) is (kind is not None)


class TestJwtFormat:
    @pytest.mark.parametrize(
        ("token", "expected"),
        [
            ("header.payload.signature", True),
            ("a.b.c", True),
            ("invalid", False),
            ("invalid.jwt", False),
            ("invalid.jwt.token.extra", False),
            ("a..c", False),
            ("a.b.c=", False),
        ],
    )
    def test_shape(self, token: str, expected: bool) -> None:
        assert is_jwt_format(token) is expected


class TestTokenKind:
    @pytest.mark.parametrize(
        ("payload", "header", "kind"),
        [
            (PO, {"typ": "at+jwt"}, "oauth_token"),
            (PO, {"typ": "application/at+jwt"}, "oauth_token"),
            (PO, {"typ": "AT+JWT"}, "oauth_token"),
            (PM, {"typ": "JWT"}, "m2m_token"),
            (PM, {"typ": None}, "m2m_token"),
            # M2M first: an at+jwt with a mch_ subject is an M2M token.
            (PM, {"typ": "at+jwt"}, "m2m_token"),
            ({**PO, "sub": "user_123"}, {"typ": "JWT"}, "session_token"),
            (P0, {"typ": "JWT"}, "session_token"),
            # sub must be a string for the M2M test: anything else is simply "not M2M".
            ({**PM, "sub": 123}, {"typ": "JWT"}, "session_token"),
            ({**PM, "sub": None}, {"typ": "at+jwt"}, "oauth_token"),
            ({**PM, "sub": {}}, {"typ": "at+jwt"}, "oauth_token"),
            ({k: v for k, v in PM.items() if k != "sub"}, {"typ": "at+jwt"}, "oauth_token"),
            # The M2M category alone makes no M2M token (the session gate refuses it).
            ({**P0}, {"cat": "cl_B7d4PD333AAA"}, "session_token"),
        ],
    )
    def test_jwt(
        self, sign: Signer, payload: dict[str, Any], header: dict[str, Any], kind: str
    ) -> None:
        assert token_kind(sign(payload, **header)) == kind

    @pytest.mark.parametrize(
        ("token", "kind"),
        [
            ("mt_x", "m2m_token"),
            ("oat_x", "oauth_token"),
            ("ak_x", "api_key"),
            ("mt_opaque_token", "m2m_token"),
            ("", "session_token"),
            ("not.a.jwt", "session_token"),
            ("invalid.jwt.token", "session_token"),
            ("a.b.c", "session_token"),
            ("\u00e9.b.c", "session_token"),
            ("x" * 9000, "session_token"),
        ],
    )
    def test_strings(self, token: str, kind: str) -> None:
        assert token_kind(token) == kind

    def test_never_raises_on_non_strings(self) -> None:
        assert token_kind(None) == "session_token"  # type: ignore[arg-type]


class TestAccepts:
    @pytest.mark.parametrize("kind", KINDS)
    def test_any_accepts_every_kind(self, kind: str) -> None:
        assert accepts(kind, "any")

    @pytest.mark.parametrize(
        ("kind", "accepted", "expected"),
        [
            ("api_key", ["api_key", "m2m_token"], True),
            ("session_token", ["api_key", "m2m_token"], False),
            ("api_key", "m2m_token", False),
            ("api_key", "api_key", True),
            (None, "any", False),
            (None, ["api_key"], False),
            ("session_token", AcceptsToken(), True),
            ("oauth_token", AcceptsToken(), False),
        ],
    )
    def test_clerk_table(self, kind: str | None, accepted: Any, expected: bool) -> None:
        assert accepts(kind, accepted) is expected

    def test_default_is_sessions_only(self) -> None:
        accepted = AcceptsToken()
        assert accepted.kinds == {"session_token"}
        assert accepted.sessions_only
        assert not accepted.machine_kinds

    def test_list_and_any(self) -> None:
        assert AcceptsToken(["session_token", "m2m_token"]).machine_kinds == {"m2m_token"}
        assert AcceptsToken("any").kinds == set(KINDS)
        assert AcceptsToken(AcceptsToken("api_key")) == AcceptsToken("api_key")

    @pytest.mark.parametrize(
        "value", ["api_keys", "session", "ANY", ["api_key", "m2m"], [], ["any"], ""]
    )
    def test_typos_fail_at_construction(self, value: Any) -> None:
        with pytest.raises(ConfigurationError) as info:
            AcceptsToken(value)
        assert info.value.status == 500
        assert "accepts_token" in info.value.message

    def test_accepts_function_validates_too(self) -> None:
        with pytest.raises(ConfigurationError):
            accepts("api_key", "api-key")


class TestNeverRaises:
    @given(st.text(max_size=300) | st.from_regex(r"[A-Za-z0-9_-]{1,40}(\.[A-Za-z0-9_-]{1,80}){2}"))
    def test_any_string_has_a_kind(self, token: str) -> None:
        kind = token_kind(token)
        assert kind in KINDS
        if opaque_kind(token) is not None:
            assert kind == opaque_kind(token)
        elif not is_jwt_format(token):
            assert kind == "session_token"
