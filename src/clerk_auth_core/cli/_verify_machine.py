"""``clerk-auth verify`` for machine tokens (machine-tokens.md §1, §3, §4).

The kind comes from the string (:func:`~clerk_auth_core.token_kind`), as on a server:

- an M2M JWT (``sub`` ``mch_…``) or an OAuth JWT (``typ`` ``at+jwt``) passes the gate
  and its kind's header rules first (:func:`prepare_machine_jwt`: a malformed or
  miscategorised token costs no fetch), then the instance's keys are had exactly as for
  a session token (``--pem``, ``--jwt-key``, ``--jwks-url`` or ``CLERK_*``) and the
  signature and machine claim rules are checked (:func:`finish_machine_jwt`);
- an opaque token (``ak_``, ``mt_``, ``oat_``) costs one Backend API call through the
  library's own verifier (:class:`~clerk_auth_core.io.SyncMachineVerifier`), with
  ``CLERK_SECRET_KEY`` (or, for ``mt_``, ``CLERK_MACHINE_SECRET_KEY``) and
  ``CLERK_API_URL``. The key is named, never printed.

Neither prints the token. The result document has one shape for every machine kind
(:func:`machine_document`).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping
from typing import Any

import attrs

from clerk_auth_core._accepts import _MISMATCH
from clerk_auth_core._config import settings_from_mapping
from clerk_auth_core._errors import (
    ClerkAuthError,
    KeyResolutionError,
    Reason,
    TokenVerificationError,
)
from clerk_auth_core._keys import KeySet
from clerk_auth_core._machine_api import MachineConfig
from clerk_auth_core._machine_claims import MachineClaims
from clerk_auth_core._machine_verify import finish_machine_jwt, prepare_machine_jwt
from clerk_auth_core._token_kinds import M2M_TOKEN, SESSION_TOKEN, AcceptsToken, opaque_kind
from clerk_auth_core.io import SyncMachineVerifier

from ._format import (
    EXIT_INVALID,
    EXIT_KEYS,
    EXIT_OK,
    UsageError,
    emit_json,
    format_time,
    info,
    parse_time,
)
from ._hints import KIND_NAMES, Explained, explain_machine_jwt, explain_mismatch, explain_opaque
from ._jwks import _build, fetch_jwks, keys_from, verify_setup

__all__ = [
    "machine_claims_document",
    "machine_document",
    "print_machine_claims",
    "print_refusal",
    "refuse_kind",
    "verify_machine",
]

#: The ``ClerkConfig`` settings an opaque token's verification reads.
_BACKEND_SETTINGS = ("secret_key", "machine_secret_key", "api_url")


def machine_claims_document(claims: MachineClaims) -> dict[str, Any]:
    """Verified machine claims as JSON-ready data: the typed fields, who the token
    acts for, and for a JWT its verified ``payload``. A Backend API answer is not
    copied whole: only its typed fields are shown."""
    fields = attrs.asdict(claims, filter=lambda attribute, _value: attribute.name != "raw")
    document = {
        **fields,
        "user_id": claims.user_id,
        "org_id": claims.org_id,
        "machine_id": claims.machine_id,
    }
    if claims.source == "jwt":
        document["payload"] = dict(claims.raw)
    return document


def machine_document(
    *,
    kind: str,
    form: str | None,
    claims: MachineClaims | None,
    error: ClerkAuthError | None,
    explained: Explained | None,
    checks: Mapping[str, Any],
) -> dict[str, Any]:
    """The ``--json`` document of a machine token (or of a kind ``--accepts`` refused):
    the same keys whatever the outcome."""
    return {
        "valid": error is None,
        "token_type": kind,
        "form": form,
        "reason": None if error is None else error.reason,
        "message": None if error is None else error.message,
        "status": None if error is None else error.status,
        "hint": None if explained is None else explained.hint,
        "details": {} if explained is None else dict(explained.details),
        "claims": None if claims is None else machine_claims_document(claims),
        "checks": dict(checks),
    }


def verify_machine(
    args: argparse.Namespace,
    env: Mapping[str, str],
    token: str,
    kind: str,
    accepted: AcceptsToken | None,
) -> int:
    """Verify a machine token of ``kind``: 0 valid, 1 refused, 3 keys or Backend API
    unavailable (a missing secret key is a :class:`ConfigurationError`: exit 2)."""
    if _form(token) == "opaque":
        return _verify_opaque(args, env, token, kind, accepted)
    return _verify_jwt(args, env, token, kind, accepted)


def refuse_kind(args: argparse.Namespace, token: str, kind: str, accepted: AcceptsToken) -> int:
    """A token of a kind ``--accepts`` does not name: ``token-type-mismatch`` (exit 1)
    before any key lookup or Backend API call, as a server's route refuses it."""
    error = TokenVerificationError(
        Reason.TOKEN_TYPE_MISMATCH, _MISMATCH.format(kind=kind, accepted=accepted.label)
    )
    explained = explain_mismatch(kind, accepted.label)
    form = None if kind == SESSION_TOKEN else _form(token)
    if args.json:
        emit_json(
            machine_document(
                kind=kind,
                form=form,
                claims=None,
                error=error,
                explained=explained,
                checks={"accepts": accepted.label},
            )
        )
    else:
        print_refusal(error, explained)
    return EXIT_INVALID


def _form(token: str) -> str:
    return "opaque" if opaque_kind(token) is not None else "jwt"


def _accepts_label(accepted: AcceptsToken | None) -> str | None:
    return None if accepted is None else accepted.label


def _verify_jwt(
    args: argparse.Namespace,
    env: Mapping[str, str],
    token: str,
    kind: str,
    accepted: AcceptsToken | None,
) -> int:
    now = time.time() if args.now is None else parse_time(args.now)
    setup = verify_setup(args, env)
    info(f"keys: {setup.key_source}")
    config = setup.config
    if config.expected_issuer is not None or config.authorized_parties:
        # As the request path (spec §8): machine JWTs carry their own issuer and no
        # browser origin, so a server checks neither.
        info("iss and azp are not checked for machine JWTs (a server checks neither)")
    claims: MachineClaims | None = None
    keys: KeySet | None = None
    error: ClerkAuthError | None = None
    try:
        pending = prepare_machine_jwt(token, config)  # the gate first: no fetch for garbage
        keys = config.static_keys or keys_from(fetch_jwks(config))
        claims = finish_machine_jwt(pending, keys, config, now=now)
    except (TokenVerificationError, KeyResolutionError) as exc:
        error = exc
    checks = {
        "keys": setup.key_source,
        "clock_skew": config.clock_skew,
        "now": now,
        "accepts": _accepts_label(accepted),
    }
    explained = (
        None
        if error is None
        else explain_machine_jwt(error, token=token, setup=setup, now=now, keys=keys)
    )
    return _report(args, kind, "jwt", claims, error, explained, checks, now)


def _machine_config(env: Mapping[str, str], kind: str) -> MachineConfig:
    settings = settings_from_mapping(env)
    backend = {name: settings[name] for name in _BACKEND_SETTINGS if name in settings}
    if "secret_key" in backend:
        # Through ClerkConfig, so the secret key's form and the API URL are checked as
        # a server checks them (the message names the variable, never its value).
        return MachineConfig.for_instance(_build(backend))
    if "machine_secret_key" not in backend:
        needed = "CLERK_SECRET_KEY"
        if kind == M2M_TOKEN:
            needed += " or CLERK_MACHINE_SECRET_KEY"
        raise UsageError(
            f"this is {KIND_NAMES[kind]} (opaque): Clerk's Backend API verifies it, which "
            f"needs {needed} in the environment (and CLERK_API_URL for another API)"
        )
    # A machine secret key alone verifies mt_ tokens (for the others credential_for
    # says that it does not).
    return MachineConfig(**backend)


def _verify_opaque(
    args: argparse.Namespace,
    env: Mapping[str, str],
    token: str,
    kind: str,
    accepted: AcceptsToken | None,
) -> int:
    machine = _machine_config(env, kind)
    machine.credential_for(kind)  # ConfigurationError (exit 2) naming the missing key
    uses_machine_key = kind == M2M_TOKEN and machine.machine_secret_key is not None
    credential = "CLERK_MACHINE_SECRET_KEY" if uses_machine_key else "CLERK_SECRET_KEY"
    info(f"verifier: Clerk's Backend API {machine.api_url} (with {credential})")
    if args.now is not None:
        info("--now does not apply to opaque tokens: Clerk answers for the present")
    if args.pem is not None or args.jwt_key or args.jwks_url is not None:
        info("--pem/--jwt-key/--jwks-url are not used: Clerk's Backend API verifies opaque tokens")
    claims: MachineClaims | None = None
    error: ClerkAuthError | None = None
    verifier = SyncMachineVerifier(machine)
    try:
        claims = verifier.verify(token)
    except (TokenVerificationError, KeyResolutionError) as exc:
        error = exc
    finally:
        verifier.close()
    now = time.time()
    checks = {
        "verifier": "backend-api",
        "api_url": machine.api_url,
        "credential": credential,
        "now": now,
        "accepts": _accepts_label(accepted),
    }
    explained = (
        None
        if error is None
        else explain_opaque(error, kind=kind, credential=credential, api_url=machine.api_url)
    )
    return _report(args, kind, "opaque", claims, error, explained, checks, now)


def _report(
    args: argparse.Namespace,
    kind: str,
    form: str,
    claims: MachineClaims | None,
    error: ClerkAuthError | None,
    explained: Explained | None,
    checks: Mapping[str, Any],
    now: float,
) -> int:
    if args.json:
        emit_json(
            machine_document(
                kind=kind,
                form=form,
                claims=claims,
                error=error,
                explained=explained,
                checks=checks,
            )
        )
    elif error is None:
        assert claims is not None
        how = "verified with the instance's keys" if form == "jwt" else "verified by Clerk"
        shown = "JWT" if form == "jwt" else "opaque"
        print(f"VALID: {KIND_NAMES[kind]} ({shown}), {how}")
        print_machine_claims(claims, now)
    else:
        print_refusal(error, explained)
    if error is None:
        if checks.get("accepts") is None:
            info(
                f"note: a server takes {kind} tokens only where accepts_token names them "
                "(the default: session tokens only); --accepts checks a setting"
            )
        return EXIT_OK
    return EXIT_KEYS if isinstance(error, KeyResolutionError) else EXIT_INVALID


def print_refusal(error: ClerkAuthError, explained: Explained | None) -> None:
    """A refusal for people, as the session path prints one: a verdict on stdout, or,
    when the token could not be judged (keys, Backend API), the reason on stderr."""
    hint = None if explained is None else explained.hint
    if isinstance(error, KeyResolutionError):
        # Not a verdict on the token: an error, so stderr (stdout stays empty).
        info(f"cannot verify: {error.reason}: {error.message}")
        info(hint or "the token may be fine; check the key source and the network")
        return
    print(f"INVALID: {error.reason}")
    print(f"  {error.message}")
    if hint:
        print(f"  hint: {hint}")


def print_machine_claims(claims: MachineClaims, now: float) -> None:
    """The claims that matter, one a line."""
    rows: list[tuple[str, str]] = [
        ("token_type", claims.token_type),
        ("subject", claims.subject),
    ]
    if claims.name is not None:
        rows.append(("name", claims.name))
    if claims.client_id is not None:
        rows.append(("client_id", claims.client_id or '""'))
    rows.append(("scopes", ", ".join(claims.scopes) or "-"))
    if claims.id:
        rows.append(("id", claims.id))
    expires = "never" if claims.expires_at is None else format_time(claims.expires_at, now)
    rows.append(("expires_at", expires))
    if claims.created_at is not None:
        rows.append(("created_at", format_time(claims.created_at, now)))
    if claims.claims:
        rows.append(("claims", ", ".join(sorted(claims.claims))))
    for name, value in rows:
        print(f"  {name:<13} {value}")
