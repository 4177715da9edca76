"""Where ``clerk-auth`` gets keys: the configuration from flags and ``CLERK_*``, one
JWKS fetch, and the ``jwks`` command.

A command line verifies one token, so there is no cache: the JWKS is fetched once,
with the same request (:func:`build_request`: the secret key only for the Backend API,
no redirects, a 64 KiB cap) and judged by the same rules (:func:`judge_response`) as
the key providers of :mod:`clerk_auth_core.io`. The secret key is never printed.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import httpx

from clerk_auth_core._config import ClerkConfig, settings_from_mapping
from clerk_auth_core._errors import ConfigurationError, KeyResolutionError, Reason
from clerk_auth_core._jwks_exchange import FetchFailure, Outcome, build_request, judge_response
from clerk_auth_core._keys import KeySet, _judge_jwk
from clerk_auth_core.io import describe_failure, send_fetch

from ._format import EXIT_KEYS, EXIT_OK, UsageError, emit_json, info, quiet_library_warnings

__all__ = [
    "Fetched",
    "Setup",
    "describe_keys",
    "fetch_jwks",
    "jwks_setup",
    "keys_from",
    "run_jwks",
    "verify_setup",
]

#: The settings that choose a key source (the rest of ``CLERK_*`` is kept).
_KEY_SETTINGS = ("jwt_key", "jwks_url", "secret_key")


@attrs.frozen(kw_only=True)
class Setup:
    """A configuration and, for messages, where each part of it came from."""

    config: ClerkConfig
    #: Where the keys come from, for people (never a secret).
    key_source: str
    #: Which flag or variable set the expected issuer (``None``: not checked).
    issuer_from: str | None
    #: Which flag or variable set the authorized parties (``None``: not checked).
    parties_from: str | None


def _describe_remote(config: ClerkConfig, *, explicit: bool) -> str:
    url = config.jwks_request_url
    if explicit:
        return f"JWKS {url} (--jwks-url)"
    if config.jwks_url is not None:
        return f"JWKS {url} (CLERK_JWKS_URL)"
    if config.jwks_uses_secret_key:
        return f"Backend API JWKS {url} (secret key from CLERK_SECRET_KEY)"
    return f"Frontend API JWKS {url} (from CLERK_PUBLISHABLE_KEY)"


def _build(settings: dict[str, Any]) -> ClerkConfig:
    with quiet_library_warnings():
        try:
            return ClerkConfig(**settings)
        except ConfigurationError as exc:
            raise UsageError(exc.message) from None


def verify_setup(args: argparse.Namespace, env: Mapping[str, str]) -> Setup:
    """The configuration ``verify`` checks against: ``CLERK_*`` from ``env``, with the
    flags winning. An explicit key source (``--pem``, ``--jwt-key``, ``--jwks-url``)
    replaces every key source of the environment.

    :raises UsageError: for an unreadable ``--pem`` file or an invalid configuration.
    """
    settings = settings_from_mapping(env)
    source: str | None = None
    if args.pem is not None or args.jwt_key or args.jwks_url is not None:
        for name in _KEY_SETTINGS:
            settings.pop(name, None)
    if args.pem is not None:
        try:
            settings["jwt_key"] = Path(args.pem).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(
                f"--pem {args.pem}: cannot read it ({exc.__class__.__name__})"
            ) from None
        source = f"PEM public key from {args.pem} (--pem)"
    elif args.jwt_key:
        if not env.get("CLERK_JWT_KEY"):
            raise UsageError("--jwt-key: CLERK_JWT_KEY is not set")
        settings["jwt_key"] = env["CLERK_JWT_KEY"]
        source = "PEM public key from CLERK_JWT_KEY (--jwt-key)"
    elif args.jwks_url is not None:
        settings["jwks_url"] = args.jwks_url
    issuer_from = "CLERK_ISSUER" if "issuer" in settings else None
    if args.issuer is not None:
        settings["issuer"], issuer_from = args.issuer, "--issuer"
    parties_from = "CLERK_AUTHORIZED_PARTIES" if settings.get("authorized_parties") else None
    if args.authorized_party:
        settings["authorized_parties"] = args.authorized_party
        parties_from = "--authorized-party"
    if args.skew is not None:
        settings["clock_skew"] = args.skew
    if args.allow_pending:
        settings["allow_pending"] = True
    if not any(name in settings for name in (*_KEY_SETTINGS, "publishable_key")):
        raise UsageError(
            "no keys to verify with: pass --pem FILE, --jwt-key or --jwks-url URL, or set "
            "CLERK_JWT_KEY, CLERK_JWKS_URL, CLERK_SECRET_KEY or CLERK_PUBLISHABLE_KEY"
        )
    config = _build(settings)
    if issuer_from is None and config.expected_issuer is not None:
        issuer_from = "CLERK_PUBLISHABLE_KEY"
    if source is None:
        if config.jwt_key is not None:
            source = "PEM public key from CLERK_JWT_KEY"
        else:
            source = _describe_remote(config, explicit=args.jwks_url is not None)
    return Setup(
        config=config, key_source=source, issuer_from=issuer_from, parties_from=parties_from
    )


def jwks_setup(jwks_url: str | None, env: Mapping[str, str]) -> Setup:
    """The configuration ``jwks`` fetches with: ``--jwks-url``, else ``CLERK_JWKS_URL``,
    ``CLERK_SECRET_KEY`` (Backend API) or ``CLERK_PUBLISHABLE_KEY`` (Frontend API).

    :raises UsageError: when there is no remote key source.
    """
    settings = settings_from_mapping(env)
    settings.pop("jwt_key", None)  # a PEM is no JWKS: `verify --jwt-key` uses it
    if jwks_url is not None:
        settings.pop("secret_key", None)
        settings["jwks_url"] = jwks_url
    if not any(name in settings for name in ("jwks_url", "secret_key", "publishable_key")):
        raise UsageError(
            "no JWKS to fetch: pass --jwks-url URL, or set CLERK_SECRET_KEY (Backend API), "
            "CLERK_JWKS_URL or CLERK_PUBLISHABLE_KEY"
        )
    config = _build(settings)
    return Setup(
        config=config,
        key_source=_describe_remote(config, explicit=jwks_url is not None),
        issuer_from=None,
        parties_from=None,
    )


@attrs.frozen(kw_only=True)
class Fetched:
    """One JWKS response and its judgement."""

    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes = attrs.field(repr=False)
    outcome: Outcome


_FAILURE_TEXT = {
    FetchFailure.REDIRECT: "it answered a redirect, which is never followed",
    FetchFailure.HTTP_STATUS: "it answered an error status",
    FetchFailure.INVALID: "the answer is not a usable JWKS",
    FetchFailure.OVERSIZED: "the answer is larger than the 64 KiB cap",
}


def fetch_jwks(config: ClerkConfig, *, client: httpx.Client | None = None) -> Fetched:
    """GET the configuration's JWKS once.

    :raises KeyResolutionError: ``jwk-remote-failed-to-load`` when no answer came (the
        message names the URL and the kind of failure, never a header).
    """
    request = build_request(config, etag=None)
    try:
        status, received, body = send_fetch(request, client)
    except Exception as exc:
        failure, detail = describe_failure(exc)
        raise KeyResolutionError(
            Reason.JWK_REMOTE_FAILED_TO_LOAD,
            f"could not fetch the keys from {request.url}: {failure} ({detail})",
        ) from None
    headers = dict(received)
    outcome = judge_response(config, status, headers, body, sent_etag=None)
    return Fetched(url=request.url, status=status, headers=headers, body=body, outcome=outcome)


def keys_from(fetched: Fetched) -> KeySet:
    """The usable key set of a fetch.

    :raises KeyResolutionError: ``secret-key-invalid``, ``jwk-remote-invalid`` or
        ``jwk-remote-failed-to-load``, with a message saying what came back.
    """
    outcome = fetched.outcome
    if outcome.kind == "ok" and outcome.keys is not None:
        return outcome.keys
    where = f"{fetched.url} (HTTP {fetched.status})"
    if outcome.failure == FetchFailure.SECRET_KEY_INVALID:
        raise KeyResolutionError(
            Reason.SECRET_KEY_INVALID,
            f"Clerk's Backend API refused the secret key at {where}: check CLERK_SECRET_KEY "
            "(right instance, not rolled)",
        )
    text = _FAILURE_TEXT.get(outcome.failure or "", outcome.failure or "failed")
    shown = outcome.detail and outcome.detail != f"HTTP {fetched.status}"
    detail = f": {outcome.detail}" if shown else ""
    reason = (
        Reason.JWK_REMOTE_INVALID
        if outcome.failure == FetchFailure.INVALID
        else Reason.JWK_REMOTE_FAILED_TO_LOAD
    )
    raise KeyResolutionError(reason, f"no keys from {where}: {text}{detail}")


# -- the jwks command -------------------------------------------------------------------


def _bits(n: Any) -> int | None:
    if not isinstance(n, str):
        return None
    try:
        return int.from_bytes(base64.urlsafe_b64decode(n + "=" * (-len(n) % 4)), "big").bit_length()
    except (binascii.Error, ValueError):
        return None


def describe_keys(document: Any) -> list[dict[str, Any]]:
    """Each key of a JWKS document: kid, kty, alg, use, bits and whether the key rules
    accept it (``status`` is ``ok`` or the reason it is dropped). Never private parts."""
    raw = document.get("keys") if isinstance(document, Mapping) else None
    if not isinstance(raw, list):
        return []
    counts = Counter(k.get("kid") for k in raw if isinstance(k, dict))
    rows: list[dict[str, Any]] = []
    for jwk in raw:
        if not isinstance(jwk, dict):
            rows.append({"kid": None, "status": "not-an-object"})
            continue
        why = _judge_jwk(jwk)
        if why is None and counts[jwk.get("kid")] > 1:
            why = "duplicate-kid"
        rows.append(
            {
                "kid": jwk.get("kid"),
                "kty": jwk.get("kty"),
                "alg": jwk.get("alg"),
                "use": jwk.get("use"),
                "bits": _bits(jwk.get("n")),
                "status": why or "ok",
            }
        )
    return rows


def _document(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def run_jwks(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """``clerk-auth jwks``: fetch the instance's keys and show them."""
    setup = jwks_setup(args.jwks_url, env)
    info(f"fetching {setup.key_source}")
    fetched: Fetched | None = None
    error: KeyResolutionError | None = None
    try:
        fetched = fetch_jwks(setup.config)
        keys_from(fetched)
    except KeyResolutionError as exc:
        error = exc
    rows = describe_keys(_document(fetched.body)) if fetched is not None else []
    outcome = fetched.outcome if fetched is not None else None
    fresh = outcome.fresh_for if outcome is not None and outcome.kind == "ok" else None
    if args.json:
        emit_json(
            {
                "url": setup.config.jwks_request_url,
                "source": setup.key_source,
                "status": None if fetched is None else fetched.status,
                "ok": error is None,
                "reason": None if error is None else error.reason,
                "message": None if error is None else error.message,
                "fresh_for": fresh,
                "etag": None if outcome is None else outcome.etag,
                "keys": rows,
            }
        )
    elif rows or error is None:
        _print_rows(rows)
    if error is not None:
        info(f"{error.reason}: {error.message}")
        return EXIT_KEYS
    usable = sum(1 for row in rows if row["status"] == "ok")
    info(f"{usable} usable key(s) of {len(rows)}; fresh for {fresh or 0:.0f}s by the cache rules")
    return EXIT_OK


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return '""' if value == "" else str(value)


def _print_rows(rows: list[dict[str, Any]]) -> None:
    if not rows:
        print("(no keys)")
        return
    header = ("kid", "alg", "bits", "use", "status")
    table = [tuple(_cell(row.get(name)) for name in header) for row in rows]
    widths = [max(len(header[i]), *(len(r[i]) for r in table)) for i in range(len(header))]
    for line in (header, *table):
        cells = (cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        print("  ".join(cells).rstrip())
