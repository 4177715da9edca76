"""One scope vocabulary (issue 13): ``session_scopes`` lists exactly the scopes whose
``Requirements.from_scope`` a session meets, for every scope string of the vocabulary.

This is what makes Starlette's ``@requires("role:admin")`` (membership in
``session_scopes``) and FastAPI's ``Security(..., scopes=["role:admin"])``
(``Requirements.from_scope``) the same decision.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clerk_auth_core import (
    AuthorizationError,
    ConfigurationError,
    Requirements,
    SessionClaims,
    session_scopes,
)

NAMES = st.sampled_from(["admin", "member", "reports", "billing", "pro", "x"])
SCOPED = st.builds(lambda s, n: f"{s}:{n}", st.sampled_from(["org", "user"]), NAMES)
AGE = st.sampled_from([-1, 0, 1, 9, 10, 11, 59, 60, 61, 1439, 1440, 1441])


@st.composite
def payloads(draw: st.DrawFn) -> dict[str, Any]:
    payload: dict[str, Any] = {"sub": "user_1", "sid": "sess_1", "iat": 0, "exp": 60}
    if draw(st.booleans()):
        payload["fva"] = [draw(AGE), draw(AGE)]
    if draw(st.booleans()):
        permissions = draw(
            st.lists(st.builds(lambda f, p: f"org:{f}:{p}", NAMES, NAMES), max_size=3)
        )
        payload["org_id"] = "org_1"
        payload["org_role"] = f"org:{draw(NAMES)}"
        payload["org_permissions"] = permissions
    if draw(st.booleans()):
        # v2: features and plans ("fea"/"pla", scoped with o:/u:).
        prefix = st.sampled_from(["o", "u"])
        feats = draw(st.lists(st.builds(lambda p, n: f"{p}:{n}", prefix, NAMES), max_size=3))
        plans = draw(st.lists(st.builds(lambda p, n: f"{p}:{n}", prefix, NAMES), max_size=2))
        payload.update(v=2, fea=",".join(feats))
        if plans:
            payload["pla"] = ",".join(plans)
    return payload


SCOPES = st.one_of(
    st.just("authenticated"),
    st.builds(lambda n: f"role:{n}", NAMES),
    st.builds(lambda n: f"role:org:{n}", NAMES),
    st.builds(lambda f, p: f"permission:org:{f}:{p}", NAMES, NAMES),
    st.builds(lambda k, n: f"{k}:{n}", st.sampled_from(["feature", "plan"]), NAMES),
    st.builds(lambda k, n: f"{k}:{n}", st.sampled_from(["feature", "plan"]), SCOPED),
    st.builds(
        lambda p: f"reverification:{p}",
        st.sampled_from(["strict_mfa", "strict", "moderate", "lax"]),
    ),
)


def holds(claims: SessionClaims, scope: str) -> bool:
    try:
        Requirements.from_scope(scope).check(claims)
    except AuthorizationError:
        return False
    return True


@settings(max_examples=400, deadline=None)
@given(payload=payloads(), scope=SCOPES)
def test_listed_exactly_when_required_scope_holds(payload: dict[str, Any], scope: str) -> None:
    claims = SessionClaims.from_payload(payload)
    assert (scope in session_scopes(claims)) == holds(claims, scope), (
        scope,
        session_scopes(claims),
    )


def test_a_session_lists_every_spelling() -> None:
    claims = SessionClaims.from_payload(
        {
            "sub": "user_1",
            "sid": "sess_1",
            "iat": 0,
            "exp": 60,
            "fva": [3, 5],
            "v": 2,
            "o": {"id": "org_1", "rol": "admin", "per": "read", "fpm": "1"},
            "fea": "o:reports,u:beta",
            "pla": "u:pro",
        }
    )
    scopes = session_scopes(claims)
    assert scopes[0] == "authenticated"
    for scope in (
        "role:org:admin",
        "role:admin",
        "feature:org:reports",
        "feature:reports",
        "feature:user:beta",
        "feature:beta",
        "plan:user:pro",
        "plan:pro",
        "reverification:strict",
        "reverification:strict_mfa",
        "reverification:lax",
    ):
        assert scope in scopes
        assert holds(claims, scope)
    assert len(scopes) == len(set(scopes))


def test_a_signed_in_session_without_an_organisation() -> None:
    claims = SessionClaims.from_payload({"sub": "u", "sid": "s", "iat": 0, "exp": 60})
    assert session_scopes(claims) == ("authenticated",)  # no fva: no reverification


@pytest.mark.parametrize(
    "scope", ["admin", "role", "role:", "feature:a b", "nope:x", "permission:x"]
)
def test_a_scope_outside_the_vocabulary_is_refused(scope: str) -> None:
    with pytest.raises(ConfigurationError):
        Requirements.from_scope(scope)
