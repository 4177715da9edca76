"""``clerk-auth mock``: a standing mock Clerk instance for curl and a browser.

Starts :class:`~clerk_auth_core.testing.MockClerk` on ``127.0.0.1``, prints the
``CLERK_*`` lines that point an app at it and a ready ``curl`` command that mints a
token, and serves until Ctrl-C (SIGINT) or SIGTERM, which stop it cleanly (exit 0)::

    clerk-auth mock --port 8787 --origin http://localhost:5173

The app reads the keys from the mock's public JWKS (``CLERK_JWKS_URL``), so no
secret key is printed. The lines go to stdout (``--json``: one JSON document), the
rest to stderr.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import time
from collections.abc import Mapping

from ._format import EXIT_OK, UsageError, emit_json, info

__all__ = ["add_mock_parser", "run_mock"]

#: The front end a local app usually runs on (``mint``'s default azp too).
_DEFAULT_ORIGIN = "http://localhost:3000"
#: Variables that would take precedence over the printed JWKS URL in the app.
_SHADOWING = ("CLERK_JWT_KEY", "CLERK_SECRET_KEY", "CLERK_PUBLISHABLE_KEY")


def add_mock_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Register ``clerk-auth mock``."""
    p = sub.add_parser(
        "mock",
        parents=[common],
        help="run a mock Clerk instance until Ctrl-C, for curl and a browser",
        description=(
            "Serve a mock Clerk instance (JWKS and a token endpoint) on 127.0.0.1 until "
            "Ctrl-C. Prints the CLERK_* lines to export in the app's shell and a curl "
            "command that mints a session token."
        ),
    )
    p.add_argument(
        "--port", type=int, default=0, help="the port on 127.0.0.1 (default: a free one)"
    )
    p.add_argument(
        "--issuer",
        "--instance",
        metavar="URL",
        help="the iss to mint and expect (default: the mock's own URL)",
    )
    p.add_argument(
        "--origin",
        action="append",
        metavar="ORIGIN",
        help=f"an authorized party; the first is the default azp (repeatable; default "
        f"{_DEFAULT_ORIGIN})",
    )
    p.set_defaults(run="mock")


def _environment(clerk_url: str, issuer: str, origins: list[str]) -> dict[str, str]:
    return {
        "CLERK_JWKS_URL": clerk_url + "/.well-known/jwks.json",
        "CLERK_ISSUER": issuer,
        "CLERK_AUTHORIZED_PARTIES": ",".join(origins),
    }


def run_mock(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """``clerk-auth mock``: serve until interrupted; answers the exit code."""
    from clerk_auth_core._config import ClerkConfig
    from clerk_auth_core.testing import MockClerk

    origins = args.origin or [_DEFAULT_ORIGIN]
    if not 0 <= args.port < 65536:
        raise UsageError(f"--port must be 0-65535, not {args.port}")
    # The app will build this very configuration: refuse now what it would refuse.
    probe = f"http://127.0.0.1:{args.port or 1}"
    ClerkConfig.from_env(_environment(probe, args.issuer or probe, origins))
    clerk = MockClerk(issuer=args.issuer, origin=origins[0], port=args.port)
    try:
        clerk.start()
    except OSError as exc:
        raise UsageError(f"--port {args.port}: cannot listen there ({exc.strerror})") from None
    # SIGTERM (a process manager, `kill`) stops it like Ctrl-C does.
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        _announce(clerk.url, clerk.issuer, clerk.token_url, origins, env, as_json=args.json)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        info("mock stopped")
        return EXIT_OK
    finally:
        signal.signal(signal.SIGTERM, previous)
        clerk.stop()


def _announce(
    url: str,
    issuer: str,
    token_url: str,
    origins: list[str],
    env: Mapping[str, str],
    *,
    as_json: bool,
) -> None:
    variables = _environment(url, issuer, origins)
    curl = f"curl -s '{token_url}?sub=user_mock'"
    if as_json:
        emit_json({"url": url, "token_url": token_url, "env": variables, "curl": curl})
    else:
        print("# a mock Clerk instance; in the app's shell:", flush=True)
        print(f"unset {' '.join(_SHADOWING)}")
        for name, value in variables.items():
            print(f"export {name}={shlex.quote(value)}")
        print("# a session token (add &azp=…, &org_id=…&org_role=admin, &lifetime=…):")
        print(
            f"TOKEN=$({curl} | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"jwt\"])')",
            flush=True,
        )
    shadowing = [name for name in _SHADOWING if env.get(name)]
    if shadowing:
        info(f"note: {', '.join(shadowing)} is set here; unset it where the app runs")
    info(f"mock Clerk serving {url} (Ctrl-C stops it)")
