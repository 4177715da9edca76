"""``clerk-auth``: debug Clerk tokens from a terminal.

::

    clerk-auth verify TOKEN|-     verify like a server would (session or machine token)
    clerk-auth decode TOKEN|-     header and claims, UNVERIFIED
    clerk-auth jwks               the instance's keys: kid, alg, bits
    clerk-auth mint               a session or machine JWT signed by a local key
    clerk-auth webhook sign|verify  a Clerk webhook delivery, signed or checked
    clerk-auth mock               a mock Clerk instance until Ctrl-C, for curl
    clerk-auth demo               how to run the demo

Exit codes: 0 valid / done, 1 invalid token, 2 usage or configuration, 3 keys
(or Clerk's Backend API) unavailable. Results on stdout (``--json``: one JSON
document), everything else on stderr. Only ``mint`` prints tokens; nothing prints a
secret key. Core dependencies only (httpx for the JWKS and the Backend API): no web
framework is imported.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping, Sequence

from clerk_auth_core._errors import ConfigurationError
from clerk_auth_core._version import __version__

from ._format import EXIT_OK, EXIT_USAGE, UsageError, emit_json, info
from ._mock import add_mock_parser, run_mock

__all__ = ["build_parser", "main"]

Command = Callable[[argparse.Namespace, Mapping[str, str]], int]

_EPILOG = """\
exit codes: 0 valid (or done), 1 invalid token, 2 usage or configuration error,
3 keys or Clerk's Backend API unavailable (the token may be fine).
Keys come from --pem / --jwt-key / --jwks-url, else from the environment like a
server: CLERK_JWT_KEY, CLERK_JWKS_URL, CLERK_SECRET_KEY (Backend API; never
printed), CLERK_PUBLISHABLE_KEY. CLERK_ISSUER, CLERK_AUTHORIZED_PARTIES,
CLERK_CLOCK_SKEW and CLERK_MAX_TOKEN_LIFETIME apply too.
Machine tokens: M2M and OAuth JWTs are verified with the same keys; opaque ak_, mt_
and oat_ tokens by Clerk's Backend API with CLERK_SECRET_KEY (mt_: or
CLERK_MACHINE_SECRET_KEY) at CLERK_API_URL.
"""

DEMO_TEXT = """\
The demo runs a mock Clerk instance, the same small API on Flask and on Starlette,
and a front end on another origin, all on 127.0.0.1, with no Clerk account. It lives
in the clerk-auth repository (it needs Flask, Starlette and uvicorn):

    python run.py demo            # creates .venv, installs, runs the demo
    python -m demo                # from the repository root, in an environment with
                                  # clerk-auth[flask,starlette] and uvicorn
    python -m demo --serve        # keep it running; open the printed URL in a browser
"""


def _token_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "token",
        metavar="TOKEN",
        help="'-' to read the token from stdin (keeps it out of ps and the shell history), "
        "or the token itself",
    )


def _now_arg(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--now",
        metavar="TIME",
        help=f"{what} at this time: unix seconds or ISO 8601 (2024-05-01T12:00:00Z)",
    )


def _verify_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    p = sub.add_parser(
        "verify",
        parents=[common],
        help="verify a session or machine token like a server would",
        description=(
            "Verify a Clerk token of any kind (session token, API key, M2M token, OAuth "
            "access token): print its kind and claims, or why it is refused."
        ),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _token_arg(p)
    keys = p.add_mutually_exclusive_group()
    keys.add_argument("--pem", metavar="FILE", help="the instance's PEM public key, from a file")
    keys.add_argument(
        "--jwt-key", action="store_true", help="use the PEM public key in $CLERK_JWT_KEY"
    )
    keys.add_argument("--jwks-url", metavar="URL", help="fetch the keys from this JWKS URL")
    p.add_argument("--issuer", metavar="URL", help="the expected iss (default: from env)")
    p.add_argument(
        "--authorized-party",
        metavar="ORIGIN",
        action="append",
        help="an allowed azp origin (repeatable; default: $CLERK_AUTHORIZED_PARTIES)",
    )
    p.add_argument("--skew", metavar="SECONDS", type=float, help="clock skew (default 5)")
    p.add_argument(
        "--allow-pending", action="store_true", help="accept sessions with pending tasks"
    )
    p.add_argument(
        "--accepts",
        metavar="KINDS",
        action="append",
        help="check the token against a route's accepts_token: session_token, api_key, "
        "m2m_token, oauth_token (repeatable or comma-separated) or any; another kind is "
        "refused with token-type-mismatch (default: verify any kind)",
    )
    _now_arg(p, "verify")
    p.set_defaults(run="verify")


def _mint_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    from ._mint import DEFAULT_AZP, DEFAULT_ISSUER

    p = sub.add_parser(
        "mint",
        parents=[common],
        help="mint a session token or machine JWT with a local key, for testing",
        description=(
            "Mint a Clerk-shaped session token (or, with --kind, an M2M or OAuth JWT) "
            "signed by a local RSA key. Configure the app under test with --print-pem "
            "(CLERK_JWT_KEY) or --print-jwks, the same "
            f"--iss (default {DEFAULT_ISSUER}) as CLERK_ISSUER and the --azp as "
            "CLERK_AUTHORIZED_PARTIES."
        ),
    )
    p.add_argument(
        "--kind",
        choices=("session", "m2m", "oauth"),
        default="session",
        help="session token (default), M2M JWT (sub mch_...) or OAuth JWT (typ at+jwt)",
    )
    p.add_argument("--key-file", metavar="FILE", help="RSA private key (PEM); made if missing")
    p.add_argument("--kid", help="the key id (default: derived from the key)")
    shown = p.add_mutually_exclusive_group()
    shown.add_argument("--print-pem", action="store_true", help="print the public key (PEM)")
    shown.add_argument("--print-jwks", action="store_true", help="print the public JWKS")
    p.add_argument(
        "--sub", help="subject (default user_local; --kind m2m: mch_local, a machine id)"
    )
    p.add_argument("--sid", help="session id (default sess_local)")
    p.add_argument("--azp", help=f"origin (default {DEFAULT_AZP})")
    p.add_argument("--no-azp", action="store_true", help="leave azp out")
    p.add_argument("--iss", default=DEFAULT_ISSUER, help=f"issuer (default {DEFAULT_ISSUER})")
    p.add_argument(
        "--lifetime",
        type=int,
        help="seconds until exp (default 60, machine JWTs 3600; <= 0: expired)",
    )
    p.add_argument(
        "--scopes",
        action="append",
        metavar="SCOPES",
        help="machine JWTs: scopes, space- or comma-separated (repeatable)",
    )
    p.add_argument("--client-id", help="--kind oauth: the OAuth application (default client_local)")
    _now_arg(p, "mint as if")
    p.add_argument("--org-id", help="organisation id (org_...)")
    p.add_argument("--org-slug")
    p.add_argument("--org-role", help="role, e.g. org:admin")
    p.add_argument(
        "--org-permission", action="append", metavar="PERM", help="repeatable: org:feature:perm"
    )
    p.add_argument("--feature", action="append", help="repeatable (v2): o:reports, u:beta")
    p.add_argument("--plan", action="append", help="repeatable (v2): u:free, o:pro")
    p.add_argument("--claims-version", type=int, choices=(1, 2), help="claim set (default 1)")
    p.add_argument("--sts", choices=("active", "pending"), help="session status claim")
    p.add_argument(
        "--claim", action="append", metavar="NAME=VALUE", help="extra claim (JSON or string)"
    )
    p.set_defaults(run="mint")


def build_parser() -> argparse.ArgumentParser:
    """The ``clerk-auth`` argument parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser = argparse.ArgumentParser(
        prog="clerk-auth",
        description="Debug Clerk tokens: verify, decode, fetch keys, mint test tokens.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"clerk-auth {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _verify_parser(sub, common)
    d = sub.add_parser(
        "decode",
        parents=[common],
        help="show a token's header and claims, UNVERIFIED",
        description="Decode a token without checking anything (marked UNVERIFIED).",
    )
    _token_arg(d)
    _now_arg(d, "show relative times")
    d.set_defaults(run="decode")
    j = sub.add_parser(
        "jwks",
        parents=[common],
        help="fetch and show the instance's keys",
        description="Fetch the JWKS (--jwks-url, or from CLERK_* like a server) and show it.",
    )
    j.add_argument("--jwks-url", metavar="URL", help="the JWKS URL (default: from env)")
    j.set_defaults(run="jwks")
    _mint_parser(sub, common)
    from ._webhook import add_webhook_parser

    add_webhook_parser(sub, common)
    add_mock_parser(sub, common)
    m = sub.add_parser("demo", parents=[common], help="how to run the demo")
    m.set_defaults(run="demo")
    return parser


def _run_demo(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    if args.json:
        emit_json({"commands": ["python run.py demo", "python -m demo", "python -m demo --serve"]})
    else:
        print(DEMO_TEXT, end="")
    return EXIT_OK


def _command(name: str) -> Command:
    # Imported on use: `clerk-auth --help` stays fast, and `mint` alone loads the kit.
    if name == "verify":
        from ._verify import run_verify

        return run_verify
    if name == "decode":
        from ._verify import run_decode

        return run_decode
    if name == "jwks":
        from ._jwks import run_jwks

        return run_jwks
    if name == "mint":
        from ._mint import run_mint

        return run_mint
    if name == "webhook":
        from ._webhook import run_webhook

        return run_webhook
    if name == "mock":
        return run_mock
    return _run_demo


def main(argv: Sequence[str] | None = None, *, env: Mapping[str, str] | None = None) -> int:
    """Run ``clerk-auth`` with ``argv`` (default ``sys.argv[1:]``); answer the exit code.

    :param env: the ``CLERK_*`` variables (default ``os.environ``).
    """
    args = build_parser().parse_args(argv)
    try:
        return _command(args.run)(args, os.environ if env is None else env)
    except (UsageError, ConfigurationError) as exc:
        # ConfigurationError's text names the setting and never echoes a secret.
        info(f"error: {exc.message if isinstance(exc, ConfigurationError) else exc}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `clerk-auth decode x | head`: the reader left, which is not an error. Point
        # stdout at /dev/null so the interpreter's final flush does not complain.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
