"""``verify_webhook`` on a 10 KiB body beside the ``svix`` package's verifier.

Both verify the same genuine delivery. Ours also parses the event; Svix's
``Webhook.verify`` (2.x) only verifies, so it is timed alone and with the
``json.loads`` a user then needs for the event. Each decodes its secret once, outside
the timing (Svix in its constructor, ours in a per-secret cache). Each is checked
first: the delivery must pass and a one-byte change of the body must fail.
"""

from __future__ import annotations

import json
import time
from typing import Any

from clerk_auth_core import WebhookVerificationError, verify_webhook
from clerk_auth_core.testing import WebhookSender

from ._timing import Candidate
from ._verifiers import BenchmarkError

__all__ = ["OURS_WEBHOOK", "SVIX_PARSED", "SVIX_WEBHOOK", "webhook_candidates"]

OURS_WEBHOOK = "clerk-auth verify_webhook (10 KiB)"
SVIX_WEBHOOK = "svix Webhook.verify (10 KiB)"
SVIX_PARSED = "svix Webhook.verify + json.loads (10 KiB)"


def _delivery() -> tuple[str, dict[str, str], bytes]:
    sender = WebhookSender()
    data = {"id": "user_2abc", "public_metadata": {"notes": "x" * 10_000}}
    delivery = sender.sign("user.updated", data)
    pad = 10 * 1024 - len(delivery.body)
    delivery = sender.sign("user.updated", {**data, "pad": "y" * max(0, pad)})
    return sender.secret, delivery.headers, delivery.body


def webhook_candidates(calls: int, notes: list[str]) -> list[Candidate]:
    """Ours and, when installed, Svix's; each checked before it is timed."""
    secret, headers, body = _delivery()
    tampered = body[:-2] + b"z" + body[-1:]
    now = time.time()
    if verify_webhook(headers, body, secret, now=now).type != "user.updated":
        raise BenchmarkError("verify_webhook: wrong event")
    try:
        verify_webhook(headers, tampered, secret, now=now)
    except WebhookVerificationError:
        pass
    else:
        raise BenchmarkError("verify_webhook accepted a tampered body")

    def ours() -> Any:
        def batch() -> None:
            for _ in range(calls):
                verify_webhook(headers, body, secret, now=time.time())

        return batch

    out = [Candidate(OURS_WEBHOOK, ours, calls, note=f"{len(body)} bytes")]
    try:
        from svix.webhooks import Webhook
        from svix.webhooks import WebhookVerificationError as SvixError
    except ImportError:
        notes.append("svix not installed: its webhook verifier is not compared")
        return out
    svix = Webhook(secret)
    svix.verify(body, headers)  # raises when it does not hold
    try:
        svix.verify(tampered, headers)
    except SvixError:
        pass
    else:
        raise BenchmarkError("svix accepted a tampered body")

    def theirs() -> Any:
        def batch() -> None:
            for _ in range(calls):
                svix.verify(body, headers)

        return batch

    def theirs_parsed() -> Any:
        def batch() -> None:
            for _ in range(calls):
                svix.verify(body, headers)
                json.loads(body)

        return batch

    out.append(Candidate(SVIX_WEBHOOK, theirs, calls))
    out.append(Candidate(SVIX_PARSED, theirs_parsed, calls))
    return out
