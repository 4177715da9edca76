"""``clerk-auth mint``: session tokens and machine JWTs for local testing, signed by
a key of your own.

Starts nothing. The key comes from ``--key-file`` (an RSA private key in PEM, created
with mode 0600 when missing) or is a throwaway; tokens are shaped like Clerk's
(:func:`clerk_auth_core.testing.session_claims` and, for ``--kind m2m`` / ``oauth``,
:class:`~clerk_auth_core.testing.MockMachineTokens`: the mock issuer's minters). To
make a local app accept them, give it the public half::

    clerk-auth mint --key-file dev.pem --print-pem > dev.pub.pem    # CLERK_JWT_KEY
    clerk-auth mint --key-file dev.pem --print-jwks > jwks.json     # or serve a JWKS

The private key is never printed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import attrs
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from ._format import (
    EXIT_OK,
    UsageError,
    decode_segments,
    emit_json,
    format_duration,
    info,
    parse_time,
)

__all__ = ["DEFAULT_AZP", "DEFAULT_ISSUER", "kid_for", "load_or_create_key", "run_mint"]

#: The token kinds ``--kind`` names, as ``token_type`` says them.
_KINDS = {"session": "session_token", "m2m": "m2m_token", "oauth": "oauth_token"}
#: Options that shape session claims only (attribute, flag).
_SESSION_ONLY = (
    ("sid", "--sid"),
    ("azp", "--azp"),
    ("no_azp", "--no-azp"),
    ("org_id", "--org-id"),
    ("org_slug", "--org-slug"),
    ("org_role", "--org-role"),
    ("org_permission", "--org-permission"),
    ("feature", "--feature"),
    ("plan", "--plan"),
    ("claims_version", "--claims-version"),
    ("sts", "--sts"),
)

#: The issuer minted by default: the mock issuer's Frontend API host.
DEFAULT_ISSUER = "https://clerk.mock.test"
#: The front end a local app usually runs on.
DEFAULT_AZP = "http://localhost:3000"


def kid_for(key: RSAPrivateKey) -> str:
    """A stable ``ins_…`` key id derived from the public key, so tokens and the JWKS
    printed from the same key file always agree."""
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "ins_" + hashlib.sha256(der).hexdigest()[:27]


def load_or_create_key(path: Path) -> tuple[RSAPrivateKey, bool]:
    """The RSA private key in ``path``, made (RSA-2048, mode 0600) when the file is
    missing. Answers ``(key, created)``.

    :raises UsageError: when the file is not an unencrypted RSA private key of at
        least 2048 bits.
    """
    from clerk_auth_core.testing import generate_key

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        key = generate_key()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise UsageError(f"--key-file {path}: cannot create it ({exc.strerror})") from None
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        return key, True
    except OSError as exc:
        raise UsageError(f"--key-file {path}: cannot read it ({exc.strerror})") from None
    try:
        loaded = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise UsageError(
            f"--key-file {path}: not an unencrypted PEM private key (delete it to make a new one)"
        ) from None
    if not isinstance(loaded, RSAPrivateKey) or loaded.key_size < 2048:
        raise UsageError(f"--key-file {path}: must be an RSA key of at least 2048 bits")
    return loaded, False


def _claim(text: str) -> tuple[str, Any]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise UsageError(f"--claim must read NAME=VALUE, not {text!r}")
    try:
        return name, json.loads(value)
    except ValueError:
        return name, value  # a bare string


def _org(args: argparse.Namespace) -> dict[str, Any] | None:
    if args.org_id is None:
        if args.org_role or args.org_slug or args.org_permission:
            raise UsageError("--org-role, --org-slug and --org-permission need --org-id")
        return None
    return {
        "id": args.org_id,
        "slug": args.org_slug,
        "role": args.org_role,
        "permissions": list(args.org_permission or ()),
    }


#: The lifetime of the token ``--lifetime`` <= 0 makes (it is expired either way).
_EXPIRED_LIFETIME = 60


def _skew(env: Mapping[str, str]) -> int:
    """The clock skew a verifier allows: ``CLERK_CLOCK_SKEW`` when it is a number,
    else :class:`ClerkConfig`'s default, rounded up."""
    from clerk_auth_core._config import ClerkConfig

    default = cast(float, attrs.fields(ClerkConfig).clock_skew.default)
    try:
        skew = float(env.get("CLERK_CLOCK_SKEW", default))
    except ValueError:
        skew = default
    return math.ceil(skew) if math.isfinite(skew) and skew > 0 else math.ceil(default)


def _times(args: argparse.Namespace, env: Mapping[str, str], default: int) -> tuple[int, int]:
    """``(iat, lifetime)`` from ``--now`` and ``--lifetime``."""
    now = int(parse_time(args.now)) if args.now is not None else int(time.time())
    lifetime = default if args.lifetime is None else args.lifetime
    if lifetime <= 0:
        # docs/cli.md: "zero or less makes an expired token". exp = now would still
        # verify (the verifier allows clock skew), so the token is a 60 s one that ran
        # out |lifetime| seconds beyond the skew ago: refused as token-expired.
        return now + lifetime - _skew(env) - 1 - _EXPIRED_LIFETIME, _EXPIRED_LIFETIME
    return now, lifetime


def _payload(args: argparse.Namespace, env: Mapping[str, str]) -> dict[str, Any]:
    from clerk_auth_core.testing import apply_overrides, session_claims

    iat, lifetime = _times(args, env, 60)
    try:
        payload = session_claims(
            sub=args.sub or "user_local",
            sid=args.sid or "sess_local",
            azp=args.azp or DEFAULT_AZP,
            iss=args.iss,
            iat=iat,
            lifetime=lifetime,
            nbf=iat - 10,
            version=args.claims_version or 1,
            org=_org(args),
            sts=args.sts,
            features=args.feature or None,
            plans=args.plan or None,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.no_azp:
        payload.pop("azp", None)
    return apply_overrides(payload, dict(_claim(c) for c in args.claim or ()))


@attrs.frozen
class _LocalIssuer:
    """What :class:`MockMachineTokens` needs of an issuer to sign JWTs: the local key,
    its kid and the ``--iss``. No server: it never serves or verifies opaque tokens."""

    issuer: str
    kid: str
    private_key: RSAPrivateKey = attrs.field(repr=False)
    secret_key: str = ""
    url: str = ""


def _scopes(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    return [scope for value in values for scope in value.replace(",", " ").split()]


def _machine_jwt(
    args: argparse.Namespace, env: Mapping[str, str], key: RSAPrivateKey, kid: str
) -> str:
    """An M2M or OAuth JWT shaped as the mock issuer shapes Clerk's."""
    from clerk_auth_core.testing import MockMachineTokens

    iat, lifetime = _times(args, env, 3600)
    minter = MockMachineTokens(_LocalIssuer(issuer=args.iss, kid=kid, private_key=key))
    claims = dict(_claim(c) for c in args.claim or ())
    scopes = _scopes(args.scopes)
    if args.kind == "m2m":
        return minter.mint_m2m_jwt(
            subject=args.sub or "mch_local",
            scopes=scopes,
            iat=iat,
            lifetime=lifetime,
            claims=claims,
        )
    return minter.mint_oauth_jwt(
        subject=args.sub or "user_local",
        client_id=args.client_id or "client_local",
        scopes=scopes or (),
        iat=iat,
        lifetime=lifetime,
        claims=claims,
    )


def _check_kind_options(args: argparse.Namespace) -> None:
    """Refuse options that do not shape the ``--kind`` asked for (before any key is made)."""
    if args.kind == "session":
        if args.scopes is not None or args.client_id is not None:
            raise UsageError("--scopes and --client-id shape machine JWTs: pass --kind m2m|oauth")
        return
    given = [flag for name, flag in _SESSION_ONLY if getattr(args, name) not in (None, False)]
    if given:
        raise UsageError(f"{given[0]} shapes session tokens only, not --kind {args.kind}")
    if args.kind == "m2m" and args.client_id is not None:
        raise UsageError("--client-id names an OAuth application: --kind oauth only")


def run_mint(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """``clerk-auth mint``: print a token (or, with ``--print-pem`` / ``--print-jwks``,
    the public key to configure an app with)."""
    from clerk_auth_core.testing import generate_key, mint_token, public_jwk, public_pem

    _check_kind_options(args)

    printing_key = args.print_pem or args.print_jwks
    if args.key_file is None:
        if printing_key:
            raise UsageError(
                "--print-pem/--print-jwks need --key-file: a throwaway key verifies nothing"
            )
        key = generate_key()
        info("throwaway key (not saved): pass --key-file FILE to verify tokens later")
    else:
        key, created = load_or_create_key(Path(args.key_file))
        if created:
            info(f"created {args.key_file} (RSA-2048 private key; keep it out of git)")
    kid = args.kid or kid_for(key)
    if args.print_pem:
        pem = public_pem(key)
        if args.json:
            emit_json({"kid": kid, "pem": pem})
        else:
            print(pem, end="")
        return EXIT_OK
    if args.print_jwks:
        emit_json({"keys": [public_jwk(key, kid)]})
        return EXIT_OK
    if args.kind == "session":
        payload = _payload(args, env)
        header = {"alg": "RS256", "kid": kid, "typ": "JWT"}
        token = mint_token(key, header, payload)
    else:
        token = _machine_jwt(args, env, key, kid)
        header, payload, _ = decode_segments(token)
    if args.json:
        emit_json(
            {"token": token, "token_type": _KINDS[args.kind], "header": header, "claims": payload}
        )
    else:
        print(token)
    lifetime = format_duration(payload["exp"] - payload["iat"])
    if args.lifetime is not None and args.lifetime <= 0:
        lifetime += " (already expired, beyond the clock skew)"
    if args.kind == "session":
        shown = f"sub={payload.get('sub')} azp={payload.get('azp')}"
    else:
        shown = f"{_KINDS[args.kind]} sub={payload.get('sub')}"
    info(f"minted for {shown} iss={payload.get('iss')}, lifetime {lifetime}, kid {kid}")
    return EXIT_OK
