"""The JWKS request and the judgement of its response, without I/O.

:func:`build_request` says what to send (URL, headers, timeouts, body cap);
:func:`judge_response` turns what came back (status, headers, body) into an
:class:`Outcome`: a new key set, "not modified", or a failure with its reason. The
state machine in :mod:`._jwks` decides what an outcome does to the cache; the shells in
:mod:`clerk_auth_core.io` only move bytes.

Rules implemented here (spec: key-rotation.md, "Numbers" and "Which keys are accepted"):

- transport: https only, plain http for loopback hosts; redirects are failures;
  status 200 only, 304 with a known ETag extends freshness;
- body ≤ 64 KiB, ≤ 64 keys, strict JSON, bad keys dropped one by one, no usable key =
  a failed fetch;
- ``Cache-Control: max-age`` honoured, clamped to 60–3600 s; ``no-store`` /
  ``no-cache`` → the minimum (60 s); absent → ``fresh_for`` (300 s).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, TypeGuard
from urllib.parse import urlsplit

import attrs

from ._config import ClerkConfig, JwksPolicy, is_loopback_host
from ._errors import ConfigurationError, KeyResolutionError
from ._json import StrictJSONError, loads_strict
from ._keys import KeySet
from ._version import __version__

__all__ = [
    "USER_AGENT",
    "FetchFailure",
    "FetchRequest",
    "Outcome",
    "build_request",
    "freshness_from_headers",
    "is_secure_url",
    "judge_response",
    "parse_state",
    "Snapshot",
]

#: The ``User-Agent`` every JWKS request carries.
USER_AGENT = f"clerk-auth/{__version__}"

# RFC 9110 §8.8.3: an entity-tag is an optionally weak quoted string of visible ASCII.
# We keep it only when it looks like one, so it can never inject a header line.
_ETAG = re.compile(r'(W/)?"[\x21\x23-\x7e\x80-\xff]{0,200}"')
_MAX_AGE = re.compile(r"\s*max-age\s*=\s*\"?(\d+)\"?\s*", re.IGNORECASE)


class FetchFailure:
    """Why a JWKS fetch failed (the strings the shells pass to ``fetch_failed``)."""

    TIMEOUT = "timeout"  # no complete answer within the fetch deadline
    NETWORK = "network"  # DNS, connect, TLS, reset …
    OVERSIZED = "oversized"  # body over max_body_bytes (the shell stopped reading)
    CANCELLED = "cancelled"  # the fetching task/thread was cancelled or crashed
    ABANDONED = "abandoned"  # nobody reported back before the ticket expired
    REDIRECT = "redirect"  # 3xx: redirects are never followed
    HTTP_STATUS = "http-status"  # any other status than 200 / 304
    NOT_MODIFIED_UNEXPECTED = "unexpected-304"  # 304 without a validator we sent
    INVALID = "invalid"  # not strict JSON, not a JWKS, too many / no usable keys
    SECRET_KEY_INVALID = "secret-key-invalid"  # Backend API answered 401/403
    INSECURE_URL = "insecure-url"  # not https (and not loopback http)
    ERROR = "error"  # anything else the shell caught


def _redact_headers(headers: tuple[tuple[str, str], ...]) -> str:
    shown = tuple(
        (name, "<redacted>" if name.lower() == "authorization" else value)
        for name, value in headers
    )
    return repr(shown)


@attrs.frozen(kw_only=True)
class FetchRequest:
    """What a shell must send: ``GET url`` with ``headers``, no redirects.

    Its ``repr`` hides the ``Authorization`` header (the secret key).
    """

    #: The JWKS URL (https, or http on a loopback host).
    url: str
    #: Header pairs to send, in order.
    headers: tuple[tuple[str, str], ...] = attrs.field(repr=_redact_headers)
    #: The whole fetch must finish within this many seconds.
    timeout: float
    #: Connecting must finish within this many seconds.
    connect_timeout: float
    #: Stop reading (and report :attr:`FetchFailure.OVERSIZED`) past this many bytes.
    max_body_bytes: int

    def __str__(self) -> str:
        return repr(self)


@attrs.frozen(kw_only=True)
class Outcome:
    """The judgement of one JWKS response.

    ``kind`` is ``"ok"`` (``keys`` and ``document`` set), ``"not-modified"`` or
    ``"failed"`` (``failure`` set to a :class:`FetchFailure` string).
    """

    kind: str
    #: Seconds the answer stays fresh (``ok`` and ``not-modified``).
    fresh_for: float = 0.0
    keys: KeySet | None = None
    document: Mapping[str, Any] | None = attrs.field(default=None, repr=False)
    etag: str | None = None
    failure: str | None = None
    #: A short, safe explanation for logs (never the body, never a secret).
    detail: str = ""


def is_secure_url(url: str) -> bool:
    """True for ``https://host…``, and for ``http://`` on a loopback host (tests)."""
    parts = urlsplit(url)
    if not parts.hostname:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and is_loopback_host(parts.hostname))


def build_request(config: ClerkConfig, etag: str | None) -> FetchRequest:
    """The request for ``config``'s JWKS, revalidating ``etag`` when one is known.

    :raises ConfigurationError: when there is no JWKS URL or it is not secure (the
        configuration already refuses both; this is the second check the spec's
        "https only" deserves).
    """
    url = config.jwks_request_url
    if url is None or not is_secure_url(url):
        raise ConfigurationError(
            "The JWKS URL must be https:// (plain http only for loopback hosts)."
        )
    headers: list[tuple[str, str]] = []
    if config.jwks_uses_secret_key and config.secret_key:
        # Spec §4: the Backend API JWKS needs the secret key; the public Frontend API
        # JWKS must not receive it.
        headers.append(("Authorization", f"Bearer {config.secret_key}"))
    headers.append(("Accept", "application/json"))
    # A JWKS is ~1 KB: ask for it uncompressed, so the 64 KiB cap bounds what we
    # decompress as well as what we read.
    headers.append(("Accept-Encoding", "identity"))
    headers.append(("User-Agent", USER_AGENT))
    if etag is not None:
        headers.append(("If-None-Match", etag))
    policy = config.jwks
    return FetchRequest(
        url=url,
        headers=tuple(headers),
        timeout=policy.timeout,
        connect_timeout=min(policy.connect_timeout, policy.timeout),
        max_body_bytes=policy.max_body_bytes,
    )


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        # Repeated fields combine with a comma (RFC 9110 §5.3).
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


def freshness_from_headers(headers: Mapping[str, str], policy: JwksPolicy) -> float:
    """Seconds a response stays fresh, from its (lower-cased) headers.

    Spec: ``Cache-Control: max-age`` honoured, clamped to ``min_max_age`` –
    ``max_max_age`` (60–3600 s); ``no-store`` / ``no-cache`` → ``min_max_age``; no
    usable directive → ``fresh_for``. ``Age`` is ignored: a JWKS is not served by
    shared caches, and the clamp bounds the error anyway.
    """
    value = headers.get("cache-control")
    if not value:
        return policy.fresh_for
    directives = [d.strip() for d in value.split(",")]
    lowered = [d.lower() for d in directives]
    if "no-store" in lowered or "no-cache" in lowered:
        return policy.min_max_age
    for directive in directives:
        match = _MAX_AGE.fullmatch(directive)
        if match:
            digits = match.group(1)
            # More digits than any sane age (and than int() accepts on 3.11+): the max.
            seconds = float(digits) if len(digits) <= 15 else math.inf
            return min(max(seconds, policy.min_max_age), policy.max_max_age)
    return policy.fresh_for


def _etag_of(headers: Mapping[str, str]) -> str | None:
    value = headers.get("etag", "").strip()
    return value if _ETAG.fullmatch(value) else None


def judge_response(
    config: ClerkConfig,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    sent_etag: str | None,
) -> Outcome:
    """Judge one JWKS response (``headers`` in any case; they are normalised here)."""
    policy = config.jwks
    lowered = _lower(headers)
    if status == 304:
        # RFC 9110 §15.4.5: only meaningful as the answer to our If-None-Match.
        if sent_etag is None:
            return Outcome(kind="failed", failure=FetchFailure.NOT_MODIFIED_UNEXPECTED)
        return Outcome(
            kind="not-modified",
            fresh_for=freshness_from_headers(lowered, policy),
            etag=_etag_of(lowered) or sent_etag,
        )
    if 300 <= status < 400:
        # Spec: redirects are not followed (a redirect could lead keys off-site).
        return Outcome(kind="failed", failure=FetchFailure.REDIRECT, detail=f"HTTP {status}")
    if status in (401, 403) and config.jwks_uses_secret_key:
        return Outcome(
            kind="failed", failure=FetchFailure.SECRET_KEY_INVALID, detail=f"HTTP {status}"
        )
    if status != 200:
        return Outcome(kind="failed", failure=FetchFailure.HTTP_STATUS, detail=f"HTTP {status}")
    if len(body) > policy.max_body_bytes:
        # The shells stop reading at the cap; this guards a shell that did not.
        return Outcome(
            kind="failed", failure=FetchFailure.OVERSIZED, detail=f"over {policy.max_body_bytes} B"
        )
    try:
        document = loads_strict(body)
    except StrictJSONError as exc:
        detail = f"not strict JSON: {exc}"
        return Outcome(kind="failed", failure=FetchFailure.INVALID, detail=detail)
    try:
        keys = KeySet.from_jwks(document, max_keys=policy.max_keys)
    except KeyResolutionError as exc:
        # Spec: a set with no usable key counts as a failed fetch (the old set is kept).
        return Outcome(kind="failed", failure=FetchFailure.INVALID, detail=exc.message)
    return Outcome(
        kind="ok",
        fresh_for=freshness_from_headers(lowered, policy),
        keys=keys,
        document=document,
        etag=_etag_of(lowered),
    )


@attrs.frozen(kw_only=True)
class Snapshot:
    """A persisted key-cache snapshot, checked (see :func:`parse_state`)."""

    keys: KeySet
    document: Mapping[str, Any] = attrs.field(repr=False)
    etag: str | None
    #: Seconds since it was fetched (>= 0).
    age: float
    fresh_for: float


def _number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def parse_state(
    state: Mapping[str, Any], policy: JwksPolicy, *, wall_now: float | None = None
) -> Snapshot | None:
    """Check a state exported by ``JwksCache.export_state``; ``None`` when it holds no
    snapshot. The document passes the same key rules as a fetched one.

    :raises ValueError: when ``state`` is malformed.
    """
    document = state.get("jwks")
    if document is None:
        return None
    if isinstance(document, str | bytes):
        try:
            document = loads_strict(document)
        except StrictJSONError:
            raise ValueError("state: 'jwks' is not a JWKS document") from None
    if not isinstance(document, Mapping):
        raise ValueError("state: 'jwks' is not a JWKS document")
    try:
        keys = KeySet.from_jwks(document, max_keys=policy.max_keys)
    except KeyResolutionError:
        raise ValueError("state: 'jwks' holds no usable key") from None
    fetched_at, age = state.get("fetched_at"), state.get("age")
    if _number(fetched_at) and wall_now is not None:
        age = wall_now - fetched_at
    if not _number(age):
        raise ValueError("state: 'age' (or 'fetched_at' with wall_now) is required")
    fresh_for = state.get("fresh_for", policy.fresh_for)
    if not _number(fresh_for) or fresh_for < 0:
        raise ValueError("state: 'fresh_for' must be a number >= 0")
    etag = state.get("etag")
    if etag is not None and not (isinstance(etag, str) and _ETAG.fullmatch(etag)):
        raise ValueError("state: 'etag' must be an entity-tag")
    return Snapshot(
        keys=keys,
        document=document,
        etag=etag,
        # A clock that went backwards counts as "just fetched".
        age=max(float(age), 0.0),
        # A persisted snapshot may not claim more freshness than a response could.
        fresh_for=min(float(fresh_for), max(policy.max_max_age, policy.fresh_for)),
    )
