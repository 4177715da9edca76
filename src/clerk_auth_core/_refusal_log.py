"""What a server logs when it refuses a request, and how often: sans-I/O.

Each adapter turns a refusal into a response at one point; there it asks a
:class:`RefusalLog` for the line to write (or ``None``) and writes it on the
``clerk_auth`` logger: INFO for a 401/403 (the client's doing), WARNING for a 500/503
(the server's). The log is rate-limited per reason: a flood of garbage tokens writes
one line per reason per interval, and the next line says how many were left out. This
module reads no clock (``now`` is passed in) and writes nothing.

Never in a line: the token, a secret, the key list. Three reasons get a hint, as
``clerk-auth verify`` gives one: the token's ``azp`` against the allowed parties, its
``iss`` against the expected issuer, its ``kid``. Those are read from the *unverified*
token, so they are the client's input: quoted with ``repr`` (no newline can forge a
line) and cut short. The token is found and parsed only when a hinted line is due, so
the refusal path that skips (rate-limited) costs one dict lookup and one compare.

Concurrency, without a lock (the core never imports ``threading``; see
:mod:`._cache`): the state is one dict of ``[last line, left out]`` lists. Two threads
may both find a reason due and both write (one line too many), and ``+= 1`` may lose a
count under a race: the count is a hint for people, not a metric.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs

from ._config import ClerkConfig
from ._errors import ClerkAuthError, Reason
from ._extract import HeadersInput, find_token
from ._jwks_decisions import JwksStats
from ._jwks_exchange import FetchFailure
from ._tokens import parse_token

__all__ = ["LogLine", "RefusalLog", "warm_up_failure"]

#: Seconds between two lines for the same reason.
INTERVAL: Final = 10.0
#: Reasons (and set-up keys) tracked at once; a full table starts afresh. Reasons are a
#: small fixed set, so this only bounds a caller that invents its own.
MAX_KEYS: Final = 64
#: How much of a value read from a token a line shows.
_SHOWN = 80


@attrs.frozen(kw_only=True)
class LogLine:
    """A line to write: ``logger.log(line.level, line.message)``."""

    level: int
    message: str


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def _unverified(
    headers: HeadersInput, config: ClerkConfig
) -> tuple[Mapping[str, Any], Mapping[str, Any]] | None:
    """The refused token's header and payload, unverified (``None`` if unreadable)."""
    try:
        found = find_token(headers, config.session_cookie_suffix)
        if found is None:
            return None
        token = parse_token(
            found[0],
            max_size=config.max_token_size,
            algorithms=config.algorithms,
            kid_required=False,
        )
    except (ClerkAuthError, ValueError, TypeError):
        return None
    return token.header, token.payload


def _hint(reason: str, headers: HeadersInput, config: ClerkConfig) -> str | None:
    parts = _unverified(headers, config)
    if parts is None:
        return None
    header, payload = parts
    if reason == Reason.TOKEN_INVALID_AUTHORIZED_PARTIES:
        azp = payload.get("azp")
        shown = "no azp" if azp is None else f"azp {_shown(azp)}"
        return (
            f"the token has {shown}, but only {list(config.authorized_parties)} are "
            "allowed: if that origin is your front end, add it to "
            "CLERK_AUTHORIZED_PARTIES (exactly: scheme, host and port)"
        )
    if reason == Reason.TOKEN_INVALID_ISSUER:
        return (
            f"the token's iss is {_shown(payload.get('iss'))} but "
            f"{config.expected_issuer!r} is expected: a token of another Clerk instance "
            "(development vs production?)"
        )
    return (  # JWK_KID_MISMATCH
        f"the token names key {_shown(header.get('kid'))}, which this instance's key set "
        "does not hold: a token of another Clerk instance, or a key rotated minutes ago"
    )


_HINTED: Final = frozenset(
    {
        Reason.TOKEN_INVALID_AUTHORIZED_PARTIES,
        Reason.TOKEN_INVALID_ISSUER,
        Reason.JWK_KID_MISMATCH,
    }
)


class RefusalLog:
    """Which refusals to log, and the line for each: one per reason per ``interval``.

    One per adapter object (an app's extension, a middleware, a FastAPI ``ClerkAuth``)::

        line = refusals.line(error, now=time.monotonic(), config=config, headers=headers)
        if line is not None:
            logger.log(line.level, line.message)

    :param interval: seconds between two lines for the same reason (or set-up key).
    """

    __slots__ = ("_seen", "interval")

    def __init__(self, interval: float = INTERVAL) -> None:
        self.interval = interval
        self._seen: dict[str, list[float]] = {}

    def due(self, key: str, now: float) -> int | None:
        """Whether a line for ``key`` may be written at ``now``: ``None`` if not (the
        line is counted as left out), else how many were left out since the last."""
        seen = self._seen.get(key)
        if seen is not None and now - seen[0] < self.interval:
            seen[1] += 1
            return None
        if seen is None and len(self._seen) >= MAX_KEYS:
            self._seen.clear()
        self._seen[key] = [now, 0]
        return 0 if seen is None else int(seen[1])

    def line(
        self,
        error: ClerkAuthError,
        *,
        now: float,
        config: ClerkConfig | None = None,
        headers: HeadersInput | Callable[[], HeadersInput] | None = None,
    ) -> LogLine | None:
        """The line for refusing a request with ``error`` at ``now``, or ``None`` when
        one for the same reason was written less than ``interval`` ago.

        :param config: with ``headers`` (the refused request's, or a function
            answering them), gives the hint for ``token-invalid-authorized-parties``,
            ``token-invalid-issuer`` and ``jwk-kid-mismatch``; the headers are read
            and the token parsed only then.
        """
        reason = error.reason
        left_out = self.due(reason, now)
        if left_out is None:
            return None
        message = f"clerk-auth: refused {error.status} {reason}: {error.message}"
        if reason in _HINTED and config is not None and headers is not None:
            hint = _hint(reason, headers() if callable(headers) else headers, config)
            if hint is not None:
                message += f" Hint: {hint}."
        if left_out:
            message += f" ({left_out} more {reason} since the last such line.)"
        level = logging.INFO if error.status < 500 else logging.WARNING
        return LogLine(level=level, message=message)

    def setup_error(self, key: str, message: str, *, now: float) -> LogLine | None:
        """An ERROR line for a set-up mistake (``message`` says the fix), rate-limited
        like refusals under its own ``key``."""
        left_out = self.due(key, now)
        if left_out is None:
            return None
        suffix = f" ({left_out} more since the last such line.)" if left_out else ""
        return LogLine(level=logging.ERROR, message=f"clerk-auth: {message}{suffix}")


def warm_up_failure(config: ClerkConfig, stats: JwksStats | None) -> str:
    """The ERROR line for a failed key warm-up at start-up, saying what to fix.

    ``stats`` is the key provider's (``None`` when it has none): a refused secret key
    (the Backend API answered 401/403) reads differently from an unreachable JWKS.
    """
    failures = stats.failures_by_reason if stats is not None else {}
    if failures.get(FetchFailure.SECRET_KEY_INVALID):
        return (
            "clerk-auth: key warm-up failed: CLERK_SECRET_KEY was refused by Clerk's "
            "Backend API (401/403) at start-up: check the key (Clerk Dashboard, API "
            "keys; sk_test_… for a development instance, sk_live_… for production). "
            "Until it is fixed every request with a token is answered 500 "
            "secret-key-invalid."
        )
    where = config.jwks_url or f"{config.api_url} (CLERK_API_URL)"
    why = ", ".join(sorted(failures)) or "no usable key set"
    return (
        f"clerk-auth: key warm-up failed: the signing keys could not be fetched from {where} "
        f"({why}): check the network and CLERK_JWKS_URL / CLERK_API_URL. The server "
        "runs on; keys are fetched on first use (503 jwk-remote-failed-to-load until then)."
    )
