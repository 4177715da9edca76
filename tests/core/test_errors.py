"""The error tree and the reason table (spec §5)."""

from __future__ import annotations

import pickle

import pytest

from clerk_auth_core import (
    REASONS,
    AuthorizationError,
    ClerkAuthError,
    ConfigurationError,
    KeyResolutionError,
    Reason,
    TokenVerificationError,
)

#: Every reason string of the spec (§5), with the HTTP status and RFC 6750 error code.
SPEC_REASONS = {
    "token-invalid": (401, "invalid_token"),
    "token-invalid-algorithm": (401, "invalid_token"),
    "token-invalid-signature": (401, "invalid_token"),
    "token-verification-failed": (401, "invalid_token"),
    "token-expired": (401, "invalid_token"),
    "token-not-active-yet": (401, "invalid_token"),
    "token-iat-in-the-future": (401, "invalid_token"),
    "token-invalid-authorized-parties": (401, "invalid_token"),
    "token-invalid-issuer": (401, "invalid_token"),
    "token-type-mismatch": (401, "invalid_token"),
    "jwk-failed-to-resolve": (500, None),
    "jwk-kid-mismatch": (401, "invalid_token"),
    "jwk-remote-failed-to-load": (503, None),
    "jwk-remote-invalid": (503, None),
    "secret-key-invalid": (500, None),
    "session-token-and-uat-missing": (401, None),
    "session-token-but-no-client-uat": (401, "invalid_token"),
    "client-uat-but-no-session-token": (401, None),
    "session-token-iat-before-client-uat": (401, "invalid_token"),
    "session-pending": (401, "invalid_token"),
}


class TestReasons:
    @pytest.mark.parametrize(("reason", "expected"), sorted(SPEC_REASONS.items()))
    def test_spec_reason(self, reason: str, expected: tuple[int, str | None]) -> None:
        info = REASONS[reason]
        assert (info.status, info.bearer_error) == expected
        assert info.message.endswith(".")

    def test_constants_are_the_spec_strings(self) -> None:
        constants = {
            value
            for name, value in vars(Reason).items()
            if name.isupper() and isinstance(value, str)
        }
        assert set(SPEC_REASONS) <= constants
        # Ours beyond the spec's list (reverification-error is Clerk's, issue 17).
        # (The webhook-… reasons, issue 17, are held by tests/webhooks; the machine-token
        # reasons, issue 14, by tests/machine.)
        machine = {"unexpected-error", "token-revoked", "machine-token-missing"}
        ours = {
            r
            for r in constants - set(SPEC_REASONS)
            if not r.startswith("webhook-") and r not in machine
        }
        assert ours == {"insufficient-scope", "reverification-error", "configuration-invalid"}
        assert constants == set(REASONS)

    def test_ours(self) -> None:
        assert (
            REASONS["insufficient-scope"].status,
            REASONS["insufficient-scope"].bearer_error,
        ) == (
            403,
            "insufficient_scope",
        )
        assert REASONS["configuration-invalid"].status == 500

    def test_messages_are_unique_per_status(self) -> None:
        # Apart from the two "keys could not be loaded" reasons, each message says
        # something specific.
        messages = [
            info.message for reason, info in REASONS.items() if reason != "jwk-remote-invalid"
        ]
        assert len(messages) == len(set(messages))


class TestErrorTree:
    @pytest.mark.parametrize(
        ("error", "reason", "status", "bearer_error"),
        [
            pytest.param(
                TokenVerificationError(), "token-invalid", 401, "invalid_token", id="token"
            ),
            pytest.param(KeyResolutionError(), "jwk-remote-failed-to-load", 503, None, id="keys"),
            pytest.param(
                AuthorizationError(), "insufficient-scope", 403, "insufficient_scope", id="authz"
            ),
            pytest.param(
                ConfigurationError("X is wrong."), "configuration-invalid", 500, None, id="config"
            ),
            pytest.param(
                KeyResolutionError(Reason.SECRET_KEY_INVALID),
                "secret-key-invalid",
                500,
                None,
                id="secret",
            ),
        ],
    )
    def test_defaults(
        self, error: ClerkAuthError, reason: str, status: int, bearer_error: str | None
    ) -> None:
        assert isinstance(error, ClerkAuthError)
        assert error.reason == reason
        assert error.status == status
        assert error.bearer_error == bearer_error
        assert str(error) == f"{reason}: {error.message}"
        assert repr(error).startswith(f"{type(error).__name__}(reason={reason!r}")

    def test_configuration_error_is_value_error(self) -> None:
        assert isinstance(ConfigurationError("x"), ValueError)
        assert ConfigurationError("CLERK_X is wrong.").message == "CLERK_X is wrong."

    def test_custom_message(self) -> None:
        error = TokenVerificationError(Reason.TOKEN_EXPIRED, "Expired a while ago.")
        assert error.message == "Expired a while ago."
        assert error.status == 401

    def test_unknown_reason_keeps_class_semantics(self) -> None:
        error = KeyResolutionError("made-up")
        assert error.reason == "made-up"
        assert error.status == 503

    @pytest.mark.parametrize(
        "error",
        [
            pytest.param(TokenVerificationError(Reason.TOKEN_EXPIRED, "m"), id="token"),
            pytest.param(
                KeyResolutionError(Reason.JWK_REMOTE_INVALID, "m", retry_after=42), id="keys"
            ),
            pytest.param(AuthorizationError(), id="authz"),
            pytest.param(ConfigurationError("CLERK_X is wrong."), id="config"),
        ],
    )
    def test_pickle_round_trip(self, error: ClerkAuthError) -> None:
        # Errors cross process boundaries (worker pools, multiprocessing servers).
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error)
        assert (copy.reason, copy.message, copy.status, copy.bearer_error) == (
            error.reason,
            error.message,
            error.status,
            error.bearer_error,
        )
        if isinstance(error, KeyResolutionError):
            assert isinstance(copy, KeyResolutionError)
            assert copy.retry_after == error.retry_after
