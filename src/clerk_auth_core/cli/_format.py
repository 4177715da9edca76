"""What every ``clerk-auth`` command shares: exit codes, reading a token, times, output.

Results go to stdout (one JSON document with ``--json``), progress and errors to
stderr, so ``TOKEN=$(clerk-auth mint)`` and ``clerk-auth verify - --json | jq`` work.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import json
import logging
import math
import re
import sys
from collections.abc import Iterator
from typing import Any, Final, TextIO

__all__ = [
    "EXIT_INVALID",
    "EXIT_KEYS",
    "EXIT_OK",
    "EXIT_USAGE",
    "UsageError",
    "decode_segments",
    "emit_json",
    "format_duration",
    "format_time",
    "info",
    "iso",
    "parse_time",
    "quiet_library_warnings",
    "read_token",
    "relative",
]

#: The token verified (or the command did what it was asked).
EXIT_OK: Final = 0
#: The token is not acceptable (verify), or not a JWT at all (decode).
EXIT_INVALID: Final = 1
#: Bad command line or configuration (argparse uses 2 as well).
EXIT_USAGE: Final = 2
#: The instance's keys could not be had: the token may be perfectly good.
EXIT_KEYS: Final = 3


class UsageError(Exception):
    """A mistake on the command line or in the configuration: exit 2, message on stderr."""


def info(message: str, *, stream: TextIO | None = None) -> None:
    """A progress or diagnostic line on stderr, prefixed with the program name."""
    print(f"clerk-auth: {message}", file=stream or sys.stderr)


def emit_json(document: Any) -> None:
    """The one JSON result document on stdout."""
    print(json.dumps(document, indent=2, sort_keys=False, ensure_ascii=False))


@contextlib.contextmanager
def quiet_library_warnings() -> Iterator[None]:
    """Silence the library's own start-up warnings (the CLI says it better, in context).

    :class:`~clerk_auth_core.ClerkConfig` warns through logging when no authorized
    parties are set; for a one-off command line that would be noise before the result.
    """
    logger = logging.getLogger("clerk_auth")
    previous = logger.disabled
    logger.disabled = True
    try:
        yield
    finally:
        logger.disabled = previous


_BEARER = re.compile(r"^(?:authorization\s*:\s*)?bearer\s+", re.IGNORECASE)


def read_token(value: str, *, stdin: TextIO | None = None) -> str:
    """The token from the argument, or from stdin for ``-``.

    People paste what they copied: a whole ``Authorization: Bearer …`` header line,
    quotes, a trailing newline. Those wrappers are removed; nothing else is changed.

    :raises UsageError: when there is no token.
    """
    text = (stdin or sys.stdin).read() if value == "-" else value
    text = text.strip().strip("'\"").strip()
    text = _BEARER.sub("", text).strip()
    if not text:
        raise UsageError("no token given (pass it as an argument, or '-' to read stdin)")
    return text


def parse_time(value: str) -> float:
    """``--now``: unix seconds (``1714564800``) or ISO 8601 (``2024-05-01T12:00:00Z``;
    a time without an offset is UTC).

    :raises UsageError: for anything else.
    """
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(number):
            raise UsageError(f"--now must be a finite time, not {value!r}")
        return number
    try:
        # Python 3.10's fromisoformat does not read "Z".
        moment = dt.datetime.fromisoformat(re.sub(r"[zZ]$", "+00:00", text))
    except ValueError:
        raise UsageError(
            f"--now must be unix seconds or ISO 8601 (2024-05-01T12:00:00Z), not {value!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.timestamp()


def format_duration(seconds: float) -> str:
    """``192`` → ``3m12s``; ``3725`` → ``1h2m5s``; ``0.4`` → ``<1s`` (sign dropped)."""
    total = round(abs(seconds))
    if total == 0:
        return "<1s" if seconds else "0s"
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    shown = [f"{n}{unit}" for n, unit in parts if n]
    return "".join(shown[:3])


def relative(moment: float, now: float) -> str:
    """``in 48s`` / ``3m12s ago`` / ``now``."""
    delta = moment - now
    if abs(delta) < 0.5:
        return "now"
    return f"in {format_duration(delta)}" if delta > 0 else f"{format_duration(delta)} ago"


def iso(moment: float) -> str:
    """``2024-05-01T12:00:00Z`` (UTC, whole seconds)."""
    stamp = dt.datetime.fromtimestamp(moment, dt.timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def format_time(moment: Any, now: float) -> str:
    """A time claim for people: ``2024-05-01T12:00:00Z (3m12s ago)``; odd values as is."""
    if isinstance(moment, bool) or not isinstance(moment, int | float):
        return f"{moment!r} (not a number)"
    if not math.isfinite(moment) or abs(moment) > 2**53:
        return f"{moment!r} (out of range)"
    try:
        shown = iso(moment)
    except (OverflowError, OSError, ValueError):
        return f"{moment!r} (out of range)"
    return f"{shown} ({relative(moment, now)})"


def _b64url(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def decode_segments(token: str) -> tuple[dict[str, Any], dict[str, Any], int]:
    """Decode a JWT's header and payload *without any check* (for display and hints).

    Lenient on purpose: ``decode`` must show odd tokens that the verifier's strict
    gate refuses. Answers ``(header, payload, signature bytes)``.

    :raises ValueError: with a short explanation when it is not a JWT at all.
    """
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError(
            f"not a JWT: expected three base64url parts separated by dots, got {len(parts)}"
        )
    decoded: list[dict[str, Any]] = []
    for name, segment in zip(("header", "payload"), parts[:2], strict=False):
        try:
            value = json.loads(_b64url(segment))
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise ValueError(f"not a JWT: the {name} is not base64url-encoded JSON") from None
        if not isinstance(value, dict):
            raise ValueError(f"not a JWT: the {name} is not a JSON object")
        decoded.append(value)
    try:
        signature = len(_b64url(parts[2]))
    except (binascii.Error, ValueError):
        signature = 0
    return decoded[0], decoded[1], signature
