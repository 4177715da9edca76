"""What a route demands beyond a valid session, and the one scope vocabulary.

A route's requirements come in two spellings that mean the same: keyword arguments
(``@require_auth(role="org:admin", reverification="strict")``) and scope strings
(FastAPI's ``Security(dep, scopes=["role:admin"])``, Starlette's
``@requires("role:admin")``). Both are defined here, once:

- :class:`Requirements` holds what a route demands, validated when it is declared
  (:func:`check_name`), and :meth:`Requirements.from_scope` reads one scope string;
- :func:`session_scopes` lists the scopes a session holds, for Starlette's
  ``request.auth.scopes``, so that for every scope ``s`` of the vocabulary
  ``s in session_scopes(claims)`` exactly when ``Requirements.from_scope(s)`` holds
  (a test binds the two over generated sessions and scopes);
- :func:`machine_scopes` lists a machine token's: ``authenticated`` and its own
  scopes, none of which may pass for a session's.

The vocabulary: ``authenticated``; ``role:<role>`` (``role:org:admin`` or the short
``role:admin``); ``permission:org:<feature>:<permission>``; ``feature:<name>`` and
``plan:<name>``, scoped (``feature:org:reports``) or not (``feature:reports``, either
scope); ``reverification:<preset>`` (``strict_mfa``, ``strict``, ``moderate``,
``lax``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

import attrs

from ._claims import SessionClaims, session_reverified
from ._errors import AuthorizationError, ConfigurationError, ReverificationError
from ._machine_claims import MachineClaims
from ._reverification import PRESETS, Reverification, ReverificationConfig

__all__ = ["SCOPE_KINDS", "Requirements", "check_name", "machine_scopes", "session_scopes"]


def _reverification(value: ReverificationConfig | None) -> Reverification | None:
    return None if value is None else Reverification.of(value)


#: What a scope of each kind names (FastAPI ``Security(..., scopes=["role:admin"])``).
SCOPE_KINDS = ("role", "permission", "feature", "plan", "reverification")
_SHAPES = {
    "role": "org:<key> (or <key>), e.g. org:admin",
    "permission": "org:<feature>:<permission>, e.g. org:reports:read",
    "feature": "<name>, user:<name> or org:<name>, e.g. org:reports",
    "plan": "<name>, user:<name> or org:<name>, e.g. user:pro",
}


def check_name(kind: str, name: object) -> None:
    """Refuse a ``kind`` (role, permission, feature, plan) value that cannot be a Clerk
    name, so a typo fails where the route is declared, not as a 403 for everyone.

    Clerk's keys: roles ``org:<key>`` (the short ``<key>`` is accepted, as
    :meth:`SessionClaims.has` does), permissions ``org:<feature>:<permission>``,
    features and plans ``<name>`` in either scope or ``user:<name>`` / ``org:<name>``.
    None has whitespace or a comma (v2 claims are comma lists).

    :raises ConfigurationError: naming the value and the shape it must have.
    """
    if not isinstance(name, str):
        raise ConfigurationError(f"{kind}={name!r}: a {kind} is a string ({_SHAPES[kind]}).")
    parts = name.split(":")
    if kind == "role":
        ok = len(parts) == 1 or (len(parts) == 2 and parts[0] == "org")
    elif kind == "permission":
        ok = len(parts) == 3 and parts[0] == "org"
    else:
        ok = len(parts) == 1 or (len(parts) == 2 and parts[0] in ("user", "org"))
    if ok and all(parts) and not any(c.isspace() or c == "," for c in name):
        return
    raise ConfigurationError(
        f"{kind}={name!r} cannot be a Clerk {kind} name: {kind}s read {_SHAPES[kind]}."
    )


def _names(kind: str) -> Any:
    def validate(instance: object, attribute: object, names: tuple[str, ...]) -> None:
        for name in names:
            check_name(kind, name)

    return validate


@attrs.frozen(kw_only=True)
class Requirements:
    """What a route demands beyond a valid session; each field is any-of.

    Every value is validated when the requirements are built (:func:`check_name`;
    ``reverification``, a Clerk preset or ``{"level": …, "afterMinutes": N}``, by
    :class:`Reverification`), so a typo fails at declaration, not on a request.
    """

    roles: tuple[str, ...] = attrs.field(default=(), validator=_names("role"))
    permissions: tuple[str, ...] = attrs.field(default=(), validator=_names("permission"))
    features: tuple[str, ...] = attrs.field(default=(), validator=_names("feature"))
    plans: tuple[str, ...] = attrs.field(default=(), validator=_names("plan"))
    reverification: Reverification | None = attrs.field(default=None, converter=_reverification)

    @classmethod
    def of(
        cls,
        *,
        role: str | Iterable[str] | None = None,
        permission: str | Iterable[str] | None = None,
        feature: str | Iterable[str] | None = None,
        plan: str | Iterable[str] | None = None,
        reverification: ReverificationConfig | None = None,
    ) -> Requirements:
        """Build from the keyword style of ``@require_auth(role=…, permission=…)``.

        :raises ConfigurationError: for a value that cannot be a Clerk name, an empty
            list (it would require nothing), or an invalid ``reverification``.
        """

        return cls(
            roles=_tuple("role", role),
            permissions=_tuple("permission", permission),
            features=_tuple("feature", feature),
            plans=_tuple("plan", plan),
            reverification=reverification,
        )

    @classmethod
    def from_scope(cls, scope: str) -> Requirements:
        """What one scope requires: ``authenticated`` (nothing more), or ``role:``,
        ``permission:``, ``feature:``, ``plan:`` or ``reverification:`` followed by a
        value (``role:admin``, ``reverification:strict``).

        :raises ConfigurationError: for a scope of no known kind or an invalid value.
        """
        if scope == "authenticated":
            return cls()
        kind, sep, value = scope.partition(":")
        if not sep or kind not in SCOPE_KINDS:
            raise ConfigurationError(
                f"unknown security scope {scope!r}; use authenticated, or one of "
                f"{', '.join(k + ':…' for k in SCOPE_KINDS)}."
            )
        return cls.of(**{kind: value})

    @property
    def named(self) -> dict[str, list[str]]:
        """What a 403 says was required: the non-empty kinds, as declared."""
        required = {
            "roles": list(self.roles),
            "permissions": list(self.permissions),
            "features": list(self.features),
            "plans": list(self.plans),
        }
        return {kind: names for kind, names in required.items() if names}

    def __bool__(self) -> bool:
        return bool(
            self.roles
            or self.permissions
            or self.features
            or self.plans
            or self.reverification is not None
        )

    def check(self, claims: SessionClaims) -> None:
        """:raises AuthorizationError: (403) when the session lacks what is required:
        ``insufficient-scope`` first (reverifying would not help), then
        :class:`ReverificationError` when the factor verification is too old."""
        if not claims.has(
            role=self.roles or None,
            permission=self.permissions or None,
            feature=self.features or None,
            plan=self.plans or None,
        ):
            raise AuthorizationError(required=self.named)
        step_up = self.reverification
        if step_up is not None and not session_reverified(
            claims, step_up.level, step_up.after_minutes
        ):
            raise ReverificationError(step_up)


def _tuple(kind: str, value: str | Iterable[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    names = (value,) if isinstance(value, str) else tuple(value)
    if not names:
        raise ConfigurationError(f"{kind}=[] requires nothing; leave it out or name one.")
    return names


def session_scopes(claims: SessionClaims) -> tuple[str, ...]:
    """The scopes ``claims`` holds, in the vocabulary of :meth:`Requirements.from_scope`.

    ``authenticated``, the role in both spellings, each permission, each feature and
    plan scoped and bare (``feature:org:reports``, ``feature:reports``), and each
    reverification preset the session meets. Sessions of one organisation role share
    most of this, so the answer is remembered per distinct input (bounded).
    """
    fva = claims.factor_verification_age
    key = (claims.org_role, claims.org_permissions, claims.features, claims.plans, fva)
    scopes = _scopes_memo.get(key)
    if scopes is None:
        scopes = _build_scopes(claims)
        if len(_scopes_memo) < _SCOPES_ENTRIES:
            _scopes_memo[key] = scopes
    return scopes


def _build_scopes(claims: SessionClaims) -> tuple[str, ...]:
    # Each kind mirrors what SessionClaims.has accepts for it (the binding test).
    built = ["authenticated"]
    role = claims.org_role
    if role is not None and role.startswith("org:"):
        built += [f"role:{role}", f"role:{role[4:]}"]
    built += [f"permission:{p}" for p in claims.org_permissions]
    for kind, held in (("feature", claims.features), ("plan", claims.plans)):
        for name in held:
            if ":" in name:
                built += [f"{kind}:{name}", f"{kind}:{name.partition(':')[2]}"]
    built += [
        f"reverification:{preset}"
        for preset, (level, minutes) in PRESETS.items()
        if session_reverified(claims, level, minutes)
    ]
    return tuple(dict.fromkeys(built))  # in order, once each


#: Bounded: once full, further sets are built each time (no lock needed, see _cache
#: for why a dict is safe here).
_SCOPES_ENTRIES: Final = 256
_scopes_memo: dict[tuple[Any, ...], tuple[str, ...]] = {}


def machine_scopes(machine: MachineClaims) -> tuple[str, ...]:
    """``request.auth.scopes`` for a machine token: ``authenticated`` and the token's
    own scopes, except any spelled like the session vocabulary (``role:…``,
    ``permission:…``, …, docs/scopes.md): a machine token never holds a session's
    role or permission (the core refuses it such routes with 403), so an API key
    minted with the scope ``role:org:admin`` must not pass ``@requires("role:admin")``.
    """
    own = [
        s for s in machine.scopes if s != "authenticated" and s.partition(":")[0] not in SCOPE_KINDS
    ]
    return tuple(dict.fromkeys(["authenticated", *own]))
