"""The test kit's webhook signer, held to the scheme computed independently here."""

from __future__ import annotations

import json

from webhook_helpers import NOW, SECRET, sign

from clerk_auth_core import verify_webhook
from clerk_auth_core.testing import WebhookSender, generate_webhook_secret, sign_webhook


def test_sign_webhook_is_the_published_scheme() -> None:
    headers = sign_webhook(SECRET, b'{"a":1}', msg_id="msg_1", timestamp=NOW)
    assert headers == {
        "svix-id": "msg_1",
        "svix-timestamp": str(NOW),
        "svix-signature": "v1," + sign(SECRET, "msg_1", str(NOW), b'{"a":1}'),
    }


def test_several_secrets_give_one_entry_each() -> None:
    other = generate_webhook_secret()
    headers = sign_webhook([other, SECRET], b"x", msg_id="msg_1", timestamp=NOW)
    entries = headers["svix-signature"].split(" ")
    assert entries == ["v1," + sign(s, "msg_1", str(NOW), b"x") for s in (other, SECRET)]


def test_secrets_are_fresh_and_well_formed() -> None:
    a, b = WebhookSender().secret, WebhookSender().secret
    assert a != b
    assert a.startswith("whsec_")
    assert len(a) == 6 + 32


def test_event_shape_and_signature() -> None:
    sender = WebhookSender(secret=SECRET, instance_id="ins_1")
    delivery = sender.sign("organization.updated", {"id": "org_1"}, msg_id="msg_9", timestamp=NOW)
    payload = json.loads(delivery.body)
    assert payload["type"] == "organization.updated"
    assert payload["object"] == "event"
    assert payload["instance_id"] == "ins_1"
    assert payload["timestamp"] == NOW * 1000
    event = verify_webhook(delivery.headers, delivery.body, SECRET, now=NOW)
    assert (event.id, event.data) == ("msg_9", {"id": "org_1"})
    assert delivery.all_headers["content-type"] == "application/json"
