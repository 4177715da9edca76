"""Webhook deliveries signed like Clerk's (the Svix scheme), for tests.

:class:`WebhookSender` plays Clerk's side of a webhook endpoint: it has a signing
secret of its own (``whsec_…``, made per instance), builds events shaped like Clerk's,
signs them and POSTs them to a URL, so a test sends the app under test a real signed
``user.created``::

    sender = WebhookSender()
    app.config["CLERK_WEBHOOK_SIGNING_SECRET"] = sender.secret
    response = sender.deliver(url + "/webhooks/clerk", "user.created", {"id": "user_1"})

:func:`sign_webhook` signs any body with any secrets (several: a rotation).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import httpx

from ._mint import random_id

__all__ = ["WebhookDelivery", "WebhookSender", "generate_webhook_secret", "sign_webhook"]


def generate_webhook_secret() -> str:
    """A fresh signing secret, ``whsec_`` + base64 of 24 random bytes (as Clerk's)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _signature(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    # The published scheme, written out here again on purpose: the kit must not share
    # the verifier's code, or a bug in one would hide in the other.
    key = base64.b64decode(secret.removeprefix("whsec_"))
    content = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    return "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()


def sign_webhook(
    secret: str | Sequence[str],
    body: bytes,
    *,
    msg_id: str | None = None,
    timestamp: int | None = None,
) -> dict[str, str]:
    """The ``svix-id``, ``svix-timestamp`` and ``svix-signature`` headers for ``body``.

    :param secret: a ``whsec_…`` secret, or several (one ``v1`` entry each, in order,
        as Svix sends while a secret is rotated).
    :param msg_id: the message id (default: a new ``msg_…``).
    :param timestamp: unix seconds (default: now).
    """
    msg_id = msg_id or random_id("msg_")
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    keys = [secret] if isinstance(secret, str) else list(secret)
    return {
        "svix-id": msg_id,
        "svix-timestamp": stamp,
        "svix-signature": " ".join(_signature(key, msg_id, stamp, body) for key in keys),
    }


@attrs.frozen(kw_only=True)
class WebhookDelivery:
    """One signed delivery: the headers and the exact body to POST."""

    headers: dict[str, str]
    body: bytes

    @property
    def all_headers(self) -> dict[str, str]:
        """:attr:`headers` plus the ``Content-Type`` and ``User-Agent`` Svix sends."""
        return {
            "content-type": "application/json",
            "user-agent": "Svix-Webhooks/1.0",
            **self.headers,
        }


class WebhookSender:
    """Clerk's webhook sender, for tests: a secret, a signer and a POST.

    :param secret: the signing secret (default: a new one, :func:`generate_webhook_secret`).
    :param instance_id: the ``instance_id`` put into every event.
    """

    def __init__(self, *, secret: str | None = None, instance_id: str | None = None) -> None:
        #: The endpoint's signing secret: configure the app under test with it.
        self.secret = secret or generate_webhook_secret()
        self.instance_id = instance_id or random_id("ins_")

    def __repr__(self) -> str:
        return f"WebhookSender(instance_id={self.instance_id!r})"  # never the secret

    def event(self, type: str, data: Mapping[str, Any], *, now: float | None = None) -> bytes:
        """The body Clerk sends for an event: ``data``, ``object``, ``type``,
        ``instance_id``, ``timestamp`` (milliseconds) and ``event_attributes``."""
        payload = {
            "data": dict(data),
            "event_attributes": {"http_request": {"client_ip": "127.0.0.1", "user_agent": ""}},
            "instance_id": self.instance_id,
            "object": "event",
            "timestamp": int((time.time() if now is None else now) * 1000),
            "type": type,
        }
        return json.dumps(payload, separators=(",", ":")).encode()

    def sign(
        self,
        type: str,
        data: Mapping[str, Any],
        *,
        msg_id: str | None = None,
        timestamp: int | None = None,
    ) -> WebhookDelivery:
        """A signed delivery of the event ``type`` with ``data``."""
        body = self.event(type, data, now=timestamp)
        headers = sign_webhook(self.secret, body, msg_id=msg_id, timestamp=timestamp)
        return WebhookDelivery(headers=headers, body=body)

    def deliver(
        self,
        url: str,
        type_or_delivery: str | WebhookDelivery,
        data: Mapping[str, Any] | None = None,
        *,
        client: httpx.Client | None = None,
        timeout: float = 10.0,
    ) -> httpx.Response:
        """POST a signed delivery to ``url`` (an event signed now, or one from
        :meth:`sign`, maybe tampered with) and return the response."""
        delivery = (
            self.sign(type_or_delivery, data or {})
            if isinstance(type_or_delivery, str)
            else type_or_delivery
        )
        if client is not None:
            return client.post(url, content=delivery.body, headers=delivery.all_headers)
        with httpx.Client(timeout=timeout) as http:
            return http.post(url, content=delivery.body, headers=delivery.all_headers)
