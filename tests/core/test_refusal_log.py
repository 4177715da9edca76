"""The refusal log (sans-I/O): which refusals a server logs, at which level, how often,
with which hint, and never the token or a secret."""

from __future__ import annotations

import logging
from types import MappingProxyType

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from clerk_auth_core import (
    AuthorizationError,
    ClerkAuthError,
    ClerkConfig,
    ConfigurationError,
    JwksStats,
    KeyResolutionError,
    Reason,
    TokenVerificationError,
)
from clerk_auth_core._refusal_log import MAX_KEYS, RefusalLog, warm_up_failure
from clerk_auth_core.testing import REMOVE, MockClerk

ISSUER = "https://clerk.refusals.test"
CLERK = MockClerk(issuer=ISSUER)
CONFIG = CLERK.pem_config()
SECRET = "sk_test_NeverEchoedEither0123456789abcdef"


def _headers(token: str) -> list[tuple[str, str]]:
    return [("Authorization", f"Bearer {token}")]


class TestRateLimit:
    def test_one_line_per_reason_per_interval_then_the_count(self) -> None:
        log = RefusalLog()
        error = TokenVerificationError(Reason.TOKEN_EXPIRED)
        first = log.line(error, now=100.0)
        assert first is not None
        assert "token-expired" in first.message
        assert "more" not in first.message
        assert log.line(error, now=101.0) is None
        assert log.line(error, now=109.9) is None
        later = log.line(error, now=110.0)
        assert later is not None
        assert "(2 more token-expired since the last such line.)" in later.message
        assert log.line(error, now=115.0) is None

    def test_reasons_are_limited_apart(self) -> None:
        log = RefusalLog()
        assert log.line(TokenVerificationError(Reason.TOKEN_EXPIRED), now=0.0) is not None
        assert log.line(TokenVerificationError(Reason.TOKEN_INVALID), now=0.1) is not None
        assert log.line(TokenVerificationError(Reason.TOKEN_EXPIRED), now=0.2) is None

    def test_the_interval_is_a_parameter(self) -> None:
        log = RefusalLog(interval=0.0)
        error = TokenVerificationError(Reason.TOKEN_EXPIRED)
        assert log.line(error, now=0.0) is not None
        assert log.line(error, now=0.0) is not None

    def test_the_state_is_bounded(self) -> None:
        log = RefusalLog()
        for n in range(MAX_KEYS * 3):
            assert log.due(f"invented-{n}", 0.0) == 0
            assert len(log._seen) <= MAX_KEYS

    def test_setup_errors_are_errors_and_limited_too(self) -> None:
        log = RefusalLog()
        line = log.setup_error("x", "call ClerkAuth(app).", now=0.0)
        assert line is not None
        assert line.level == logging.ERROR
        assert line.message == "clerk-auth: call ClerkAuth(app)."
        assert log.setup_error("x", "call ClerkAuth(app).", now=1.0) is None
        again = log.setup_error("x", "call ClerkAuth(app).", now=20.0)
        assert again is not None
        assert again.message.endswith("(1 more since the last such line.)")


@pytest.mark.parametrize(
    ("error", "level"),
    [
        (TokenVerificationError(Reason.SESSION_TOKEN_AND_UAT_MISSING), logging.INFO),
        (TokenVerificationError(Reason.TOKEN_INVALID_SIGNATURE), logging.INFO),
        (AuthorizationError(), logging.INFO),
        (KeyResolutionError(), logging.WARNING),
        (KeyResolutionError(Reason.SECRET_KEY_INVALID), logging.WARNING),
        (ConfigurationError("The server is misconfigured."), logging.WARNING),
    ],
)
def test_level_by_status(error: ClerkAuthError, level: int) -> None:
    line = RefusalLog().line(error, now=0.0)
    assert line is not None
    assert line.level == level
    assert line.message.startswith(f"clerk-auth: refused {error.status} {error.reason}: ")


class TestHints:
    def test_azp_against_the_allowed_parties(self) -> None:
        token = CLERK.mint(azp="https://evil.example")
        error = TokenVerificationError(Reason.TOKEN_INVALID_AUTHORIZED_PARTIES)
        line = RefusalLog().line(error, now=0.0, config=CONFIG, headers=_headers(token))
        assert line is not None
        assert "azp 'https://evil.example'" in line.message
        assert repr([CLERK.origin]) in line.message
        assert "CLERK_AUTHORIZED_PARTIES" in line.message
        assert token not in line.message

    def test_no_azp(self) -> None:
        token = CLERK.mint(azp=REMOVE)
        error = TokenVerificationError(Reason.TOKEN_INVALID_AUTHORIZED_PARTIES)
        line = RefusalLog().line(error, now=0.0, config=CONFIG, headers=_headers(token))
        assert line is not None
        assert "the token has no azp" in line.message

    def test_issuer_against_the_expected_one(self) -> None:
        token = CLERK.mint(iss="https://clerk.other.example")
        error = TokenVerificationError(Reason.TOKEN_INVALID_ISSUER)
        line = RefusalLog().line(error, now=0.0, config=CONFIG, headers=_headers(token))
        assert line is not None
        assert "iss is 'https://clerk.other.example'" in line.message
        assert repr(ISSUER) in line.message

    def test_kid_but_not_the_key_list(self) -> None:
        token = CLERK.mint()
        error = TokenVerificationError(Reason.JWK_KID_MISMATCH)
        line = RefusalLog().line(error, now=0.0, config=CONFIG, headers=_headers(token))
        assert line is not None
        assert f"names key {CLERK.kid!r}" in line.message
        assert "does not hold" in line.message

    def test_the_token_is_read_only_when_the_line_is_due(self) -> None:
        class Exploding(list[tuple[str, str]]):
            def __iter__(self):  # type: ignore[no-untyped-def]
                raise AssertionError("headers read for a suppressed line")

        log = RefusalLog()
        error = TokenVerificationError(Reason.TOKEN_INVALID_ISSUER)
        assert log.line(error, now=0.0) is not None
        assert log.line(error, now=1.0, config=CONFIG, headers=Exploding()) is None

    def test_other_reasons_get_no_hint(self) -> None:
        token = CLERK.mint()
        error = TokenVerificationError(Reason.TOKEN_EXPIRED)
        line = RefusalLog().line(error, now=0.0, config=CONFIG, headers=_headers(token))
        assert line is not None
        assert "Hint" not in line.message

    def test_unreadable_token_no_hint(self) -> None:
        error = TokenVerificationError(Reason.TOKEN_INVALID_ISSUER)
        line = RefusalLog().line(error, now=0.0, config=CONFIG, headers=_headers("garbage"))
        assert line is not None
        assert "Hint" not in line.message
        assert "garbage" not in line.message

    @given(value=st.text(max_size=300))
    def test_a_hostile_claim_cannot_forge_a_line_or_flood_it(self, value: str) -> None:
        token = CLERK.mint(azp=value)
        error = TokenVerificationError(Reason.TOKEN_INVALID_AUTHORIZED_PARTIES)
        line = RefusalLog().line(error, now=0.0, config=CONFIG, headers=_headers(token))
        assert line is not None
        assert "\n" not in line.message
        assert "\r" not in line.message
        assert len(line.message) < 600
        assert token not in line.message


def _stats(**failures: int) -> JwksStats:
    fields = {f.name: 0 for f in attrs.fields(JwksStats)}
    fields.update(failures_by_reason=MappingProxyType(failures), keys_dropped={}, in_flight=False)
    return JwksStats(**fields)


class TestWarmUpFailure:
    def test_a_refused_secret_key_says_check_the_key(self) -> None:
        config = ClerkConfig(secret_key="sk_test_WrongKeyNeverEchoed0123456789", issuer=ISSUER)
        message = warm_up_failure(config, _stats(**{"secret-key-invalid": 1}))
        assert "CLERK_SECRET_KEY was refused" in message
        assert "check the key" in message
        assert "sk_test_WrongKeyNeverEchoed" not in message

    def test_an_unreachable_jwks_says_where_and_why(self) -> None:
        config = ClerkConfig(secret_key=SECRET, api_url="http://127.0.0.1:9", issuer=ISSUER)
        message = warm_up_failure(config, _stats(network=1))
        assert "could not be fetched from http://127.0.0.1:9" in message
        assert "(network)" in message
        assert SECRET not in message
