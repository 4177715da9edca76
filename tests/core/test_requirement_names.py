"""Issue 16, "Requirement typos go uncaught": a role, permission, feature or plan that
cannot be a Clerk name is refused when the requirement is built (decoration time), a
scope of no known kind or with such a value too, and a 403 names what was required."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

import pytest

from clerk_auth_core import (
    AuthorizationError,
    ConfigurationError,
    Requirements,
    SessionClaims,
    http_answer,
)

#: Every form SessionClaims.has can match today stays valid.
VALID = [
    ("role", "admin"),
    ("role", "org:admin"),
    ("role", "org:billing_manager"),
    ("permission", "org:reports:read"),
    ("permission", "org:sys_memberships:manage"),
    ("feature", "reports"),
    ("feature", "user:reports"),
    ("feature", "org:reports"),
    ("plan", "pro"),
    ("plan", "user:pro"),
    ("plan", "org:team-plan"),
]
INVALID = [
    ("permission", "reports:read", "org:<feature>:<permission>"),
    ("permission", "admin", "org:<feature>:<permission>"),
    ("permission", "org:reports", "org:<feature>:<permission>"),
    ("permission", "org:a:b:c", "org:<feature>:<permission>"),
    ("permission", "org::read", "org:<feature>:<permission>"),
    ("permission", "user:reports:read", "org:<feature>:<permission>"),
    ("role", "reports:read", "org:<key> (or <key>)"),
    ("role", "org:", "org:<key> (or <key>)"),
    ("role", "", "org:<key> (or <key>)"),
    ("role", " admin", "org:<key> (or <key>)"),
    ("role", "admin,member", "org:<key> (or <key>)"),
    ("feature", "o:reports", "user:<name> or org:<name>"),
    ("feature", "user:", "user:<name> or org:<name>"),
    ("feature", "org:reports:read", "user:<name> or org:<name>"),
    ("plan", "pro plan", "user:<name> or org:<name>"),
]


class TestNames:
    @pytest.mark.parametrize(("kind", "name"), VALID)
    def test_clerk_names_are_accepted(self, kind: str, name: str) -> None:
        arguments: dict[str, Any] = {kind: name}
        assert getattr(Requirements.of(**arguments), kind + "s") == (name,)

    @pytest.mark.parametrize(("kind", "name", "shape"), INVALID)
    def test_impossible_names_are_refused_when_declared(
        self, kind: str, name: str, shape: str
    ) -> None:
        ok = "org:ok:ok" if kind == "permission" else "ok"
        one: dict[str, Any] = {kind: name}
        among: dict[str, Any] = {kind: [ok, name]}
        direct: dict[str, Any] = {kind + "s": (name,)}
        attempts: list[tuple[Callable[..., Requirements], dict[str, Any]]] = [
            (Requirements.of, one),
            (Requirements.of, among),
            (Requirements, direct),
        ]
        for build, arguments in attempts:
            with pytest.raises(ConfigurationError) as info:
                build(**arguments)
            assert f"{kind}={name!r} cannot be a Clerk {kind} name" in info.value.message
            assert shape in info.value.message

    @pytest.mark.parametrize("kind", ["role", "permission", "feature", "plan"])
    def test_non_strings_and_empty_lists_are_refused(self, kind: str) -> None:
        bad: dict[str, Any] = {kind: [5]}
        with pytest.raises(ConfigurationError, match="is a string"):
            Requirements.of(**bad)
        empty: dict[str, Any] = {kind: []}
        with pytest.raises(ConfigurationError, match="requires nothing"):
            Requirements.of(**empty)

    def test_has_stays_lenient(self) -> None:
        # A runtime question, not a declaration: has() answers False, never raises.
        claims = SessionClaims.from_payload({"sub": "u", "sid": "s", "iat": 0, "exp": 9})
        assert claims.has(permission="reports:read") is False


class TestScopes:
    @pytest.mark.parametrize(
        ("scope", "expected"),
        [
            ("authenticated", Requirements()),
            ("role:admin", Requirements.of(role="admin")),
            ("permission:org:reports:read", Requirements.of(permission="org:reports:read")),
            ("feature:org:reports", Requirements.of(feature="org:reports")),
            ("plan:pro", Requirements.of(plan="pro")),
            ("reverification:strict", Requirements.of(reverification="strict")),
        ],
    )
    def test_a_scope_is_one_requirement(self, scope: str, expected: Requirements) -> None:
        assert Requirements.from_scope(scope) == expected

    @pytest.mark.parametrize(
        ("scope", "says"),
        [
            ("admin", "unknown security scope 'admin'"),
            ("roles:admin", "unknown security scope"),
            ("role:", "cannot be a Clerk role name"),
            ("permission:reports:read", "cannot be a Clerk permission name"),
            ("reverification:Strict", "not a Clerk preset"),
        ],
    )
    def test_invalid_scopes_are_refused(self, scope: str, says: str) -> None:
        with pytest.raises(ConfigurationError) as info:
            Requirements.from_scope(scope)
        assert says in info.value.message


class TestTheAnswerNamesWhatWasRequired:
    def test_the_403_body(self) -> None:
        claims = SessionClaims.from_payload({"sub": "u", "sid": "s", "iat": 0, "exp": 9})
        required = Requirements.of(role=["admin", "org:owner"], plan="pro")
        with pytest.raises(AuthorizationError) as info:
            required.check(claims)
        assert info.value.required == {"roles": ["admin", "org:owner"], "plans": ["pro"]}
        assert http_answer(info.value).body_bytes == (
            b'{"error":"forbidden","reason":"insufficient-scope",'
            b'"message":"The session lacks a required role or permission.",'
            b'"required":{"roles":["admin","org:owner"],"plans":["pro"]}}'
        )

    def test_an_error_without_requirements_keeps_its_bytes(self) -> None:
        assert set(http_answer(AuthorizationError()).body) == {"error", "reason", "message"}

    def test_it_pickles_with_what_was_required(self) -> None:
        error: Any = AuthorizationError(required={"permissions": ["org:a:read"]})
        again = pickle.loads(pickle.dumps(error))
        assert type(again) is AuthorizationError
        assert (again.reason, again.required) == ("insufficient-scope", error.required)
