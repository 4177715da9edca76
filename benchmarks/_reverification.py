"""What reverification (step-up, issue 17) costs a route, per request.

A route's requirement check runs after verification, over the request's fresh
:class:`SessionClaims` (``fva`` is decoded lazily, on first read, so a route that asks
pays the decoding and one that does not never does). Three candidates, each a batch of
requests (fresh claims, as after verification) through ``RequestState.refusal``:

- *role, as it was*: a copy of ``Requirements`` before reverification existed
  (four fields, the old ``__bool__`` and ``check``);
- *role, today*: ``Requirements.of(role=…)``: a route without reverification;
- *role + reverification*: ``Requirements.of(role=…, reverification="strict")``, a
  session that meets it (the whole check runs).

"today − as it was" is what reverification adds to a route without it; "with − today"
is what it adds to a route with it; both as fractions of a raw RSA verify.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

import attrs

from clerk_auth_core import (
    AuthorizationError,
    RequestState,
    Requirements,
    SessionClaims,
    verify_token,
)

from ._fixtures import Fixtures
from ._timing import Candidate

__all__ = ["ROLE_BEFORE", "ROLE_TODAY", "WITH_STEP_UP", "reverification_candidates"]

ROLE_BEFORE = "route with a role: Requirements as it was"
ROLE_TODAY = "route with a role: Requirements today"
WITH_STEP_UP = 'route with a role + reverification="strict"'


@attrs.frozen(kw_only=True)
class _RequirementsBefore:
    """``Requirements`` as it was before reverification (for the comparison only)."""

    roles: tuple[str, ...] = ()
    permissions: tuple[str, ...] = ()
    features: tuple[str, ...] = ()
    plans: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.roles or self.permissions or self.features or self.plans)

    def check(self, claims: SessionClaims) -> None:
        if not claims.has(
            role=self.roles or None,
            permission=self.permissions or None,
            feature=self.features or None,
            plan=self.plans or None,
        ):
            raise AuthorizationError()


def reverification_candidates(fx: Fixtures, calls: int) -> list[Candidate]:
    """The three candidates (module docstring), over the fixtures' tokens."""
    config = fx.pem_config
    payloads: list[Mapping[str, Any]] = [
        dict(verify_token(t, config.static_keys, config, now=fx.now).raw) for t in fx.tokens[:calls]
    ]
    before = cast(Requirements, _RequirementsBefore(roles=("org:admin",)))
    today = Requirements.of(role="org:admin")
    step_up = Requirements.of(role="org:admin", reverification="strict")
    for payload in payloads:  # checked: every session meets all three, as timed
        state = RequestState(
            status="signed-in", claims=SessionClaims.from_payload(payload), token="t"
        )
        for requirements in (before, today, step_up):
            assert state.refusal(requirements) is None

    def make(name: str, requirements: Requirements) -> Candidate:
        def prepare() -> Callable[[], object]:
            # Fresh claims per batch: fva not decoded yet, as on a new request.
            states = [
                RequestState(status="signed-in", claims=SessionClaims.from_payload(p), token="t")
                for p in payloads
            ]

            def batch() -> None:
                for state in states:
                    state.refusal(requirements)

            return batch

        return Candidate(name, prepare, len(payloads))

    return [make(ROLE_BEFORE, before), make(ROLE_TODAY, today), make(WITH_STEP_UP, step_up)]
