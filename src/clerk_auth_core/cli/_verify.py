"""``clerk-auth verify`` and ``clerk-auth decode``: look at one token.

``verify`` tells the token's kind from the string first (:func:`token_kind`), as a
server routes it. A session token takes the library's own session verification
(:func:`parse_for`, then the keys, then :func:`verify_parsed`), in the same order as a
server: a token that fails the gate costs no fetch. Machine tokens go to
:mod:`._verify_machine`. ``decode`` shows a token without checking anything, and says
so loudly. Neither ever prints the token itself.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Mapping
from typing import Any

import attrs

from clerk_auth_core._claims import SessionClaims
from clerk_auth_core._errors import (
    ClerkAuthError,
    KeyResolutionError,
    Reason,
    TokenVerificationError,
)
from clerk_auth_core._keys import KeySet
from clerk_auth_core._token_kinds import ANY, SESSION_TOKEN, AcceptsToken, opaque_kind, token_kind
from clerk_auth_core._verify import parse_for, verify_parsed

from ._format import (
    EXIT_INVALID,
    EXIT_KEYS,
    EXIT_OK,
    decode_segments,
    emit_json,
    format_time,
    info,
    parse_time,
    read_token,
)
from ._hints import Explained, explain
from ._jwks import Setup, fetch_jwks, keys_from, verify_setup

__all__ = ["claims_document", "run_decode", "run_verify"]

UNVERIFIED = (
    "UNVERIFIED: nothing about this token was checked (signature, expiry, issuer); "
    "anyone can write these claims. Use `clerk-auth verify` to trust them."
)
_TIME_CLAIMS = ("iat", "nbf", "exp")


def claims_document(claims: SessionClaims) -> dict[str, Any]:
    """The verified claims as JSON-ready data: the typed fields, then the raw payload."""
    fields = attrs.asdict(claims, filter=lambda attribute, _value: attribute.name != "raw")
    return {**fields, "payload": dict(claims.raw)}


def _now(args: argparse.Namespace) -> float:
    return parse_time(args.now) if args.now is not None else time.time()


def _notes(setup: Setup) -> list[str]:
    config = setup.config
    notes = []
    if config.expected_issuer is None:
        notes.append("iss not checked: no --issuer, CLERK_ISSUER or CLERK_PUBLISHABLE_KEY")
    if not config.authorized_parties:
        notes.append(
            "azp not checked: no --authorized-party or CLERK_AUTHORIZED_PARTIES "
            "(a server should always set them)"
        )
    return notes


def run_verify(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """``clerk-auth verify TOKEN|-``: 0 valid, 1 refused, 3 keys (or Clerk's Backend
    API) unavailable. The kind first, from the string, as a server routes it."""
    token = read_token(args.token)
    accepted = _accepted(args.accepts)
    kind = token_kind(token)
    if accepted is not None and not accepted.accepts(kind):
        from ._verify_machine import refuse_kind

        return refuse_kind(args, token, kind, accepted)
    if kind != SESSION_TOKEN:
        from ._verify_machine import verify_machine

        return verify_machine(args, env, token, kind, accepted)
    return _verify_session(args, env, token)


def _accepted(values: list[str] | None) -> AcceptsToken | None:
    """``--accepts`` (repeatable, or comma-separated) as a route's ``accepts_token``.

    :raises ConfigurationError: for a kind that does not exist (exit 2).
    """
    if not values:
        return None
    kinds = [kind.strip() for value in values for kind in value.split(",") if kind.strip()]
    return AcceptsToken(ANY if kinds == [ANY] else kinds)


def _verify_session(args: argparse.Namespace, env: Mapping[str, str], token: str) -> int:
    now = _now(args)
    setup = verify_setup(args, env)
    info(f"keys: {setup.key_source}")
    for note in _notes(setup):
        info(note)
    claims: SessionClaims | None = None
    keys: KeySet | None = None
    error: ClerkAuthError | None = None
    config = setup.config
    try:
        unverified = parse_for(token, config)  # the gate first: no fetch for garbage
        keys = config.static_keys or keys_from(fetch_jwks(config))
        claims = verify_parsed(unverified, keys, config, now)
        # As a server would: a pending session is signed out unless allowed.
        if claims.is_pending and not config.allow_pending:
            error = TokenVerificationError(Reason.SESSION_PENDING)
    except (TokenVerificationError, KeyResolutionError) as exc:
        error = exc
    if error is None:
        assert claims is not None
        _report_valid(args, setup, claims, now)
        return EXIT_OK
    explained = explain(error, token=token, setup=setup, now=now, keys=keys)
    _report_refused(args, setup, error, explained, claims, now)
    return EXIT_KEYS if isinstance(error, KeyResolutionError) else EXIT_INVALID


def _checks(setup: Setup, now: float) -> dict[str, Any]:
    config = setup.config
    return {
        "keys": setup.key_source,
        "issuer": config.expected_issuer,
        "authorized_parties": list(config.authorized_parties),
        "clock_skew": config.clock_skew,
        "now": now,
    }


def _report_valid(
    args: argparse.Namespace, setup: Setup, claims: SessionClaims, now: float
) -> None:
    if args.json:
        emit_json(
            {
                "valid": True,
                "reason": None,
                "message": None,
                "hint": None,
                "claims": claims_document(claims),
                "checks": _checks(setup, now),
            }
        )
        return
    print("VALID: a Clerk session token, verified")
    _print_claims(claims, now)


def _print_claims(claims: SessionClaims, now: float) -> None:
    rows: list[tuple[str, str]] = [
        ("user_id", claims.user_id),
        ("session_id", claims.session_id),
        ("issuer", str(claims.issuer)),
        ("azp", str(claims.authorized_party)),
        ("issued_at", format_time(claims.issued_at, now)),
        ("expires_at", format_time(claims.expires_at, now)),
    ]
    if claims.session_status is not None:
        rows.append(("status", claims.session_status))
    if claims.actor is not None:
        rows.append(("actor", claims.actor.subject))
    if claims.org_id is not None:
        rows.append(("org", f"{claims.org_id} ({claims.org_slug or '-'})"))
        rows.append(("org_role", str(claims.org_role)))
        rows.append(("permissions", ", ".join(claims.org_permissions) or "-"))
    if claims.features:
        rows.append(("features", ", ".join(claims.features)))
    if claims.plans:
        rows.append(("plans", ", ".join(claims.plans)))
    standard = {
        *("azp", "exp", "iat", "iss", "jti", "nbf", "sid", "sub", "sts", "v", "fva", "act"),
        *("org_id", "org_slug", "org_role", "org_permissions", "o", "fea", "pla"),
    }
    custom = sorted(set(claims.raw) - standard)
    if custom:
        rows.append(("other claims", ", ".join(custom)))
    for name, value in rows:
        print(f"  {name:<13} {value}")


def _report_refused(
    args: argparse.Namespace,
    setup: Setup,
    error: ClerkAuthError,
    explained: Explained,
    claims: SessionClaims | None,
    now: float,
) -> None:
    keys_down = isinstance(error, KeyResolutionError)
    if args.json:
        emit_json(
            {
                "valid": False,
                "reason": error.reason,
                "message": error.message,
                "hint": explained.hint,
                "details": dict(explained.details),
                "claims": None if claims is None else claims_document(claims),
                "checks": _checks(setup, now),
            }
        )
        return
    if keys_down:
        # Not a verdict on the token: an error, so stderr (stdout stays empty).
        info(f"cannot verify: {error.reason}: {error.message}")
        info("the token may be fine; check the key source and the network")
        return
    print(f"INVALID: {error.reason}")
    print(f"  {error.message}")
    if explained.hint:
        print(f"  hint: {explained.hint}")


def run_decode(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """``clerk-auth decode TOKEN|-``: header and claims, UNVERIFIED; 1 if not a JWT."""
    token = read_token(args.token)
    now = _now(args)
    info(UNVERIFIED)
    kind = token_kind(token)
    if opaque_kind(token) is not None:
        info(
            f"an opaque {kind} token: nothing to decode (only Clerk's Backend API knows "
            "what it stands for; `clerk-auth verify` asks it)"
        )
        return EXIT_INVALID
    try:
        header, payload, signature = decode_segments(token)
    except ValueError as exc:
        info(str(exc))
        return EXIT_INVALID
    times = {name: format_time(payload[name], now) for name in _TIME_CLAIMS if name in payload}
    if args.json:
        emit_json(
            {
                "verified": False,
                "warning": UNVERIFIED,
                "token_type": kind,
                "header": header,
                "payload": payload,
                "signature_bytes": signature,
                "times": times,
            }
        )
        return EXIT_OK
    print("header (UNVERIFIED):")
    print(_indent(json.dumps(header, indent=2, ensure_ascii=False)))
    print("payload (UNVERIFIED):")
    print(_indent(json.dumps(payload, indent=2, ensure_ascii=False)))
    for name, shown in times.items():
        print(f"  {name}: {shown}")
    print(f"signature: {signature} bytes (not checked)")
    if kind != SESSION_TOKEN:
        # Machine JWTs are told apart by their claims (sub mch_..., typ at+jwt), which
        # decode has not checked: the kind is as unverified as they are.
        print(f"kind: {kind} (from the UNVERIFIED claims)")
    return EXIT_OK


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.splitlines())
