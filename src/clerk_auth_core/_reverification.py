"""Reverification (step-up): how recently the session's user verified a factor.

Clerk's session token carries ``fva``: ``[minutes since the first factor, minutes since
the second factor]``, ``-1`` meaning "never" (the factor group is not enabled for the
user). A route asks for a *preset* or for ``{"level": …, "afterMinutes": N}``; the
rules below are those of Clerk's JS ``has({reverification})``
(``@clerk/shared``: ``checkReverificationAuthorization`` in
``packages/shared/src/authorization.ts``), in the fail-closed form current releases
use:

- a missing or malformed ``fva`` refuses (older releases answered "not applicable",
  which let a role check alone decide; current ones fail closed, and so do we);
- ``fva[0] == -1`` refuses: a session without a first factor is not a valid state;
- an age is fresh when strictly below ``afterMinutes`` (Clerk: ``afterMinutes > age``),
  so ``strict`` (10) passes at minute 9 and refuses at minute 10;
- ``first_factor``: the first factor is fresh;
- ``second_factor``: the second factor is fresh, or, for a user without one
  (``fva[1] == -1``), the first factor is (Clerk: "when no 2FA is enrolled, fall back
  to first-factor freshness");
- ``multi_factor``: both are fresh, and a user without a second factor can never
  satisfy it (Clerk: "If no second factor is enrolled we cannot satisfy the
  requirement; fail closed"; releases before that fell back to the first factor).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal, TypeAlias

import attrs

from ._errors import ConfigurationError

__all__ = [
    "LEVELS",
    "PRESETS",
    "Reverification",
    "ReverificationConfig",
    "ages_fresh",
    "reverified",
]

Level: TypeAlias = Literal["first_factor", "second_factor", "multi_factor"]
#: The levels Clerk knows.
LEVELS: Final[frozenset[str]] = frozenset({"first_factor", "second_factor", "multi_factor"})
#: Clerk's presets: name → (level, afterMinutes).
PRESETS: Final[dict[str, tuple[Level, int]]] = {
    "strict_mfa": ("multi_factor", 10),
    "strict": ("second_factor", 10),
    "moderate": ("second_factor", 60),
    "lax": ("second_factor", 1440),
}


@attrs.frozen(kw_only=True)
class Reverification:
    """A reverification requirement: ``level`` within ``after_minutes``.

    ``preset`` is the preset's name when built from one: the 403 answer then names the
    preset, as Clerk's ``reverificationError("strict")`` does. Build with :meth:`of`,
    which validates.
    """

    level: Level
    after_minutes: int
    preset: str | None = None

    @classmethod
    def of(cls, value: str | Mapping[str, Any] | Reverification) -> Reverification:
        """Validate a preset name or ``{"level": …, "afterMinutes": N}``.

        :raises ConfigurationError: (a ``ValueError``) for an unknown preset or level,
            or an ``afterMinutes`` that is not a positive integer.
        """
        if isinstance(value, Reverification):
            return value
        if isinstance(value, str):
            preset = PRESETS.get(value)
            if preset is None:
                raise ConfigurationError(
                    f"reverification={value!r} is not a Clerk preset; use one of "
                    f"{', '.join(PRESETS)}, or {{'level': …, 'afterMinutes': N}}."
                )
            return cls(level=preset[0], after_minutes=preset[1], preset=value)
        if isinstance(value, Mapping):
            level = value.get("level")
            minutes = value.get("afterMinutes")
            extra = set(value) - {"level", "afterMinutes"}
            if extra:
                raise ConfigurationError(
                    f"reverification: unknown keys {sorted(map(str, extra))}; "
                    "only 'level' and 'afterMinutes'."
                )
            if level not in LEVELS:
                raise ConfigurationError(
                    f"reverification: level {level!r} is not one of "
                    "first_factor, second_factor, multi_factor."
                )
            # Clerk accepts any positive number; minutes in the token are integers,
            # and a fractional bound is a typo more often than a wish.
            if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes <= 0:
                raise ConfigurationError(
                    f"reverification: afterMinutes {minutes!r} is not a positive integer."
                )
            return cls(level=level, after_minutes=minutes)
        raise ConfigurationError(
            f"reverification={value!r}: give a preset name or {{'level': …, 'afterMinutes': N}}."
        )

    @property
    def metadata(self) -> str | dict[str, Any]:
        """What the 403 body's ``metadata.reverification`` says: the preset's name, or
        ``{"level": …, "afterMinutes": N}`` (what clerk-js's ``useReverification()``
        reads to open the step-up dialog)."""
        if self.preset is not None:
            return self.preset
        return {"level": self.level, "afterMinutes": self.after_minutes}

    def holds(self, fva: tuple[int, int] | None) -> bool:
        """Whether a session with ``factor_verification_age`` ``fva`` meets it."""
        return reverified(fva, self.level, self.after_minutes)


#: What a route may ask for: a preset name, ``{"level": …, "afterMinutes": N}``, or a
#: :class:`Reverification` already built.
ReverificationConfig: TypeAlias = str | Mapping[str, Any] | Reverification


def reverified(fva: tuple[int, int] | None, level: str, after_minutes: int) -> bool:
    """Clerk's rule (see the module docstring): is ``fva`` fresh enough for ``level``?"""
    if fva is None:
        return False  # no (or a malformed) fva claim: fail closed
    return ages_fresh(fva[0], fva[1], level, after_minutes)


def ages_fresh(first: int, second: int, level: str, after_minutes: int) -> bool:
    """:func:`reverified` over the two ages (the hot path calls this one directly)."""
    # Clerk: an age is -1 or >= 0; anything else fails closed, and so does first == -1
    # (no first factor is not a valid state).
    if first < 0 or second < -1:
        return False
    if level == "second_factor":  # the presets' level first: strict, moderate, lax
        return first < after_minutes if second == -1 else second < after_minutes
    if level == "first_factor":
        return first < after_minutes
    return second != -1 and first < after_minutes and second < after_minutes
