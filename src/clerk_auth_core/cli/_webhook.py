"""``clerk-auth webhook sign|verify``: Clerk webhook deliveries from a terminal.

``sign`` makes a delivery signed like Clerk's (the test kit's
:class:`~clerk_auth_core.testing.WebhookSender`), printed as headers and body, as JSON,
or as a ready ``curl`` command; ``verify`` checks one with :func:`verify_webhook`, as a
server would. The signing secret comes from ``--secret``, else
``$CLERK_WEBHOOK_SIGNING_SECRET``, else ``--secret -`` (stdin); it is never printed.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._format import EXIT_INVALID, EXIT_OK, UsageError, emit_json, info, parse_time

__all__ = ["add_webhook_parser", "run_webhook"]

_ENV = "CLERK_WEBHOOK_SIGNING_SECRET"


def add_webhook_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Register ``webhook sign`` and ``webhook verify``."""
    w = sub.add_parser(
        "webhook",
        help="sign or verify a Clerk webhook delivery (Svix scheme)",
        description=f"Sign or verify a Clerk webhook delivery. The secret: --secret "
        f"whsec_..., else ${_ENV}, else --secret - (read from stdin). Never printed.",
    )
    verbs = w.add_subparsers(dest="webhook_command", metavar="VERB", required=True)
    s = verbs.add_parser("sign", parents=[common], help="a signed delivery, for curl")
    s.add_argument("--type", default="user.created", help="event type (default user.created)")
    s.add_argument("--data", default="{}", metavar="JSON", help="the event's data object")
    s.add_argument("--id", metavar="MSG_ID", help="svix-id (default: a new msg_...)")
    s.add_argument("--timestamp", metavar="TIME", help="unix seconds or ISO 8601 (default now)")
    s.add_argument("--curl", metavar="URL", help="print a curl command POSTing to URL")
    v = verbs.add_parser("verify", parents=[common], help="verify a delivery like a server")
    v.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="a request header (repeat for svix-id, svix-timestamp, svix-signature)",
    )
    v.add_argument("--body", required=True, metavar="FILE", help="the raw body, or '-' (stdin)")
    v.add_argument("--tolerance", type=float, default=300.0, help="seconds (default 300)")
    v.add_argument("--now", metavar="TIME", help="verify at this time (default now)")
    for p in (s, v):
        p.add_argument("--secret", metavar="SECRET", help=f"whsec_... or '-' (default ${_ENV})")
        p.set_defaults(run="webhook")


def _secret(args: argparse.Namespace, env: Mapping[str, str]) -> str:
    if args.secret == "-":
        return sys.stdin.readline().strip()
    secret = args.secret or env.get(_ENV)
    if not secret:
        raise UsageError(f"no signing secret: pass --secret whsec_... or set {_ENV}")
    return secret


def _sign(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from clerk_auth_core import Reason, WebhookVerificationError, verify_webhook
    from clerk_auth_core.testing import WebhookSender

    try:
        data = json.loads(args.data)
    except ValueError:
        raise UsageError("--data: not JSON") from None
    if not isinstance(data, dict):
        raise UsageError("--data: must be a JSON object")
    stamp = int(parse_time(args.timestamp)) if args.timestamp else int(time.time())
    secret = _secret(args, env)
    try:  # refuse to sign with a secret no server would accept (the secret comes first)
        verify_webhook({}, b"", secret, now=stamp)
    except WebhookVerificationError as error:
        if error.reason == Reason.WEBHOOK_SECRET_INVALID:
            raise UsageError(f"{error.reason}: {error.message}") from None
    sender = WebhookSender(secret=secret)
    delivery = sender.sign(args.type, data, msg_id=args.id, timestamp=stamp)
    if args.json:
        emit_json({"headers": delivery.all_headers, "body": delivery.body.decode()})
    elif args.curl:
        parts = ["curl", "-sS", "-X", "POST", args.curl]
        for name, value in delivery.all_headers.items():
            parts += ["-H", f"{name}: {value}"]
        print(shlex.join([*parts, "--data-binary", delivery.body.decode()]))
    else:
        for name, value in delivery.headers.items():
            print(f"{name}: {value}")
        print()
        print(delivery.body.decode())
    return EXIT_OK


def _stdin_bytes() -> bytes:
    # The raw bytes: a text read would turn \r\n into \n, and the signature with it.
    stream = getattr(sys.stdin, "buffer", None)
    return stream.read() if stream is not None else sys.stdin.read().encode()


def _verify(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    from clerk_auth_core import WebhookVerificationError, verify_webhook

    if args.secret == "-" and args.body == "-":
        raise UsageError("--secret - and --body - cannot both read stdin")
    headers: list[tuple[str, str]] = []
    for text in args.header:
        name, sep, value = text.partition(":")
        if not sep or not name.strip():
            raise UsageError(f"--header {text!r}: expected 'NAME: VALUE'")
        headers.append((name.strip(), value.strip()))
    secret = _secret(args, env)
    try:
        body = _stdin_bytes() if args.body == "-" else Path(args.body).read_bytes()
    except OSError as exc:
        raise UsageError(f"--body {args.body}: cannot read it ({exc.__class__.__name__})") from None
    now = parse_time(args.now) if args.now else time.time()
    result: dict[str, Any]
    try:
        event = verify_webhook(headers, body, secret, now=now, tolerance=args.tolerance)
    except WebhookVerificationError as error:
        result = {"valid": False, "reason": error.reason, "message": error.message}
        if args.json:
            emit_json(result)
        info(f"{error.reason}: {error.message}")
        return EXIT_INVALID
    result = {"valid": True, "type": event.type, "id": event.id, "timestamp": event.timestamp}
    if args.json:
        emit_json({**result, "data": event.data})
    else:
        print(f"valid: {event.type} (svix-id {event.id}, signed at {event.timestamp})")
    return EXIT_OK


def run_webhook(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """``clerk-auth webhook sign|verify``."""
    return _sign(args, env) if args.webhook_command == "sign" else _verify(args, env)
