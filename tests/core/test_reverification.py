"""Reverification (step-up): Clerk's levels and presets over ``fva``, the requirement,
its validation at declaration, and the 403 answer in Clerk's ``clerk_error`` shape."""

from __future__ import annotations

import json
import pickle
from typing import Any

import pytest

from clerk_auth_core import (
    AuthorizationError,
    ConfigurationError,
    Reason,
    RequestState,
    Requirements,
    Reverification,
    ReverificationError,
    SessionClaims,
    http_answer,
)


def claims(fva: Any = None, **extra: Any) -> SessionClaims:
    payload: dict[str, Any] = {"sub": "user_1", "sid": "sess_1", "iat": 0, "exp": 60, **extra}
    if fva is not None:
        payload["fva"] = fva
    return SessionClaims.from_payload(payload)


#: preset -> (level, afterMinutes), Clerk's TYPES_TO_OBJECTS.
PRESETS = {
    "strict_mfa": ("multi_factor", 10),
    "strict": ("second_factor", 10),
    "moderate": ("second_factor", 60),
    "lax": ("second_factor", 1440),
}


class TestPresets:
    @pytest.mark.parametrize(("preset", "expected"), sorted(PRESETS.items()))
    def test_preset_expands_as_clerk_does(self, preset: str, expected: tuple[str, int]) -> None:
        r = Reverification.of(preset)
        assert (r.level, r.after_minutes, r.preset) == (*expected, preset)
        assert r.metadata == preset

    @pytest.mark.parametrize("preset", sorted(PRESETS))
    def test_boundary_minute(self, preset: str) -> None:
        # Clerk: afterMinutes > age, strictly. Minute N-1 passes, minute N refuses.
        n = PRESETS[preset][1]
        for fva, ok in (
            ([n - 1, n - 1], True),
            ([0, n - 1], True),
            ([0, n], False),
            ([n - 1, n], False),
            ([0, n + 1], False),
        ):
            assert claims(fva).has(reverification=preset) is ok, (preset, fva)

    @pytest.mark.parametrize("preset", ["strict", "moderate", "lax"])
    def test_second_factor_without_a_second_factor_falls_back_to_the_first(
        self, preset: str
    ) -> None:
        n = PRESETS[preset][1]
        assert claims([n - 1, -1]).has(reverification=preset)
        assert not claims([n, -1]).has(reverification=preset)

    @pytest.mark.parametrize("preset", ["strict", "moderate", "lax"])
    def test_second_factor_ignores_a_stale_first_factor(self, preset: str) -> None:
        n = PRESETS[preset][1]
        assert claims([n * 100, 0]).has(reverification=preset)

    def test_strict_mfa_needs_both_factors_fresh(self) -> None:
        assert claims([9, 9]).has(reverification="strict_mfa")
        assert not claims([10, 0]).has(reverification="strict_mfa")
        assert not claims([0, 10]).has(reverification="strict_mfa")

    def test_strict_mfa_without_a_second_factor_fails_closed(self) -> None:
        # Current Clerk: "If no second factor is enrolled we cannot satisfy the
        # requirement; fail closed" (older releases fell back to the first factor).
        assert not claims([0, -1]).has(reverification="strict_mfa")
        assert not claims([0, -1]).has(
            reverification={"level": "multi_factor", "afterMinutes": 1440}
        )


class TestLevels:
    @pytest.mark.parametrize(
        ("level", "fva", "ok"),
        [
            ("first_factor", [4, -1], True),
            ("first_factor", [5, -1], False),
            ("first_factor", [4, 9999], True),  # the second factor plays no part
            ("first_factor", [5, 0], False),
            ("second_factor", [9999, 4], True),
            ("second_factor", [0, 5], False),
            ("second_factor", [4, -1], True),
            ("second_factor", [5, -1], False),
            ("multi_factor", [4, 4], True),
            ("multi_factor", [5, 4], False),
            ("multi_factor", [4, 5], False),
            ("multi_factor", [4, -1], False),
        ],
    )
    def test_level(self, level: str, fva: list[int], ok: bool) -> None:
        required = {"level": level, "afterMinutes": 5}
        assert claims(fva).has(reverification=required) is ok
        assert Reverification.of(required).metadata == required

    @pytest.mark.parametrize("level", ["first_factor", "second_factor", "multi_factor"])
    @pytest.mark.parametrize("fva", [[-1, 0], [-1, -1], [-2, 0], [0, -2]])
    def test_never_or_invalid_ages_fail_closed(self, level: str, fva: list[int]) -> None:
        # fva[0] == -1 is not a valid state (Clerk fails closed); so is any age < -1.
        assert not claims(fva).has(reverification={"level": level, "afterMinutes": 1440})

    @pytest.mark.parametrize(
        "fva", [None, [1], [1, 2, 3], [1.0, 2], [True, 0], ["1", "2"], {"0": 1}, "1,2"]
    )
    @pytest.mark.parametrize("preset", sorted(PRESETS))
    def test_missing_or_malformed_fva_fails_closed(self, fva: Any, preset: str) -> None:
        # Old token versions have no fva: current Clerk answers "fail", not "skip".
        assert not claims(fva).has(reverification=preset)

    def test_other_checks_still_apply(self) -> None:
        member = claims([0, 0], org_id="org_1", org_role="org:member")
        assert member.has(reverification="strict")
        assert not member.has(role="admin", reverification="strict")
        assert claims([0, 0], org_id="org_1", org_role="org:admin").has(
            role="admin", reverification="strict"
        )


class TestDeclaration:
    @pytest.mark.parametrize(
        ("value", "says"),
        [
            ("Strict", "not a Clerk preset"),
            ("strict-mfa", "not a Clerk preset"),
            ("", "not a Clerk preset"),
            ({"level": "mfa", "afterMinutes": 5}, "level 'mfa'"),
            ({"afterMinutes": 5}, "level None"),
            ({"level": "first_factor"}, "afterMinutes None"),
            ({"level": "first_factor", "afterMinutes": 0}, "afterMinutes 0"),
            ({"level": "first_factor", "afterMinutes": -5}, "afterMinutes -5"),
            ({"level": "first_factor", "afterMinutes": 1.5}, "afterMinutes 1.5"),
            ({"level": "first_factor", "afterMinutes": True}, "afterMinutes True"),
            ({"level": "first_factor", "afterMinutes": "5"}, "afterMinutes '5'"),
            ({"level": "first_factor", "afterMinutes": 5, "after_minutes": 5}, "unknown keys"),
            (10, "give a preset name"),
        ],
    )
    def test_invalid_values_are_refused_when_declared(self, value: Any, says: str) -> None:
        for declare in (
            lambda: Requirements.of(reverification=value),
            lambda: Requirements(reverification=value),
            lambda: Reverification.of(value),
            lambda: claims([0, 0]).has(reverification=value),
        ):
            with pytest.raises(ConfigurationError, match="reverification") as info:
                declare()
            assert says in info.value.message
            assert isinstance(info.value, ValueError)

    def test_requirements_hold_a_validated_value(self) -> None:
        assert Requirements.of(reverification="lax").reverification == Reverification(
            level="second_factor", after_minutes=1440, preset="lax"
        )
        assert Requirements().reverification is None
        assert not Requirements()
        assert Requirements.of(reverification="lax")


def _refusal(requirements: Requirements, fva: Any, **extra: Any) -> Any:
    state = RequestState(status="signed-in", claims=claims(fva, **extra), token="t")
    return state.refusal(requirements)


class TestAnswer:
    def test_the_403_body_is_clerks_exactly(self) -> None:
        error = _refusal(Requirements.of(reverification="strict"), [0, 10])
        assert isinstance(error, ReverificationError)
        assert isinstance(error, AuthorizationError)
        assert error.reason == Reason.REVERIFICATION_ERROR == "reverification-error"
        answer = http_answer(error)
        assert answer.status == 403
        assert answer.body_bytes == (
            b'{"clerk_error":{"type":"forbidden","reason":"reverification-error",'
            b'"metadata":{"reverification":"strict"}}}'
        )
        assert answer.headers == (
            (
                "WWW-Authenticate",
                'Bearer error="insufficient_scope", '
                'error_description="The session must be reverified to use this route."',
            ),
            ("Cache-Control", "no-store"),
            ("Content-Type", "application/json"),
        )
        assert answer.reason == "reverification-error"

    def test_a_custom_requirement_is_named_by_level_and_minutes(self) -> None:
        required = {"level": "multi_factor", "afterMinutes": 30}
        answer = http_answer(_refusal(Requirements.of(reverification=required), None))
        assert json.loads(answer.body_bytes) == {
            "clerk_error": {
                "type": "forbidden",
                "reason": "reverification-error",
                "metadata": {"reverification": {"level": "multi_factor", "afterMinutes": 30}},
            }
        }

    def test_fresh_enough_runs_the_route(self) -> None:
        assert _refusal(Requirements.of(reverification="strict"), [0, 9]) is None

    def test_a_missing_role_is_answered_first(self) -> None:
        # Reverifying would not give the user the role: insufficient-scope wins.
        both = Requirements.of(role="org:admin", reverification="strict")
        error = _refusal(both, [99, 99], org_id="org_1", org_role="org:member")
        assert type(error) is AuthorizationError
        assert error.reason == "insufficient-scope"
        error = _refusal(both, [99, 99], org_id="org_1", org_role="org:admin")
        assert isinstance(error, ReverificationError)

    def test_other_answers_keep_their_bytes(self) -> None:
        answer = http_answer(AuthorizationError())
        assert answer.body_bytes == (
            b'{"error":"forbidden","reason":"insufficient-scope",'
            b'"message":"The session lacks a required role or permission."}'
        )
        assert answer.reason == "insufficient-scope"

    def test_the_error_pickles_with_its_requirement(self) -> None:
        error = ReverificationError(Reverification.of("moderate"))
        again = pickle.loads(pickle.dumps(error))
        assert type(again) is ReverificationError
        assert again.reverification == error.reverification
        assert (again.reason, again.message, again.status) == (
            error.reason,
            error.message,
            403,
        )


ODD_FVA: tuple[Any, ...] = (
    None, [7, -1], [0, 0], [9, 10], [-1, 0], [-2, 0], [0, -2], [1], [1, 2, 3],
    [1.0, 2], [True, 0], [0, False], ["1", "2"], {"a": 1}, "1,2", [2**70, 0],
)  # fmt: skip


class TestHotPath:
    """``session_reverified`` (what Requirements.check runs) repeats the lazy ``fva``
    field's shape rule inline; it must answer exactly as the field plus the rule."""

    @pytest.mark.parametrize("fva", ODD_FVA, ids=repr)
    @pytest.mark.parametrize("level", ["first_factor", "second_factor", "multi_factor"])
    @pytest.mark.parametrize("minutes", [1, 10])
    def test_equal_to_the_field_and_the_rule(self, fva: Any, level: str, minutes: int) -> None:
        from clerk_auth_core._claims import session_reverified
        from clerk_auth_core._reverification import reverified

        lazy = claims(fva)  # fva not decoded yet: the inline copy runs
        answer = session_reverified(lazy, level, minutes)
        assert "factor_verification_age" not in lazy.__dict__
        assert answer is reverified(lazy.factor_verification_age, level, minutes)
        # Decoded (the field's value is used), and built by hand (no raw at all).
        assert session_reverified(lazy, level, minutes) is answer
        built = SessionClaims(
            user_id="u",
            session_id="s",
            issuer=None,
            authorized_party=None,
            expires_at=60,
            issued_at=0,
            factor_verification_age=lazy.factor_verification_age,
        )
        assert session_reverified(built, level, minutes) is answer


def test_the_answer_reads_reason_and_message_for_either_body() -> None:
    step_up = http_answer(ReverificationError(Reverification.of("lax")))
    assert "message" not in step_up.body
    assert (step_up.reason, step_up.message) == (
        "reverification-error",
        "The session must be reverified to use this route.",
    )
    plain = http_answer(AuthorizationError(message="Not yours."))
    assert (plain.reason, plain.message) == ("insufficient-scope", "Not yours.")
