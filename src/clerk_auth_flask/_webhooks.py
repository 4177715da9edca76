"""``verify_webhook_request()``: a Clerk webhook delivery in a Flask view, verified."""

from __future__ import annotations

import os
import time

from flask import current_app, request

from clerk_auth_core import (
    WebhookEvent,
    WebhookVerificationError,
    verify_webhook,
    webhook_answer,
)
from clerk_auth_core._webhooks import (
    DEFAULT_MAX_WEBHOOK_BODY,
    DEFAULT_WEBHOOK_TOLERANCE,
    WEBHOOK_SECRET_ENV,
)

from ._errors import ClerkAuthFailed

__all__ = ["verify_webhook_request"]


def verify_webhook_request(
    secret: str | None = None,
    *,
    tolerance: float = DEFAULT_WEBHOOK_TOLERANCE,
    max_body: int = DEFAULT_MAX_WEBHOOK_BODY,
) -> WebhookEvent:
    """Verify the current request as a Clerk webhook delivery; answer its event.

    :param secret: the signing secret (``whsec_…``); by default
        ``app.config["CLERK_WEBHOOK_SIGNING_SECRET"]``, else that environment variable.
    :raises ClerkAuthFailed: with the core's answer (400, 401, 413, or 500 when the
        secret is missing or unusable); Flask sends it as the response.
    """
    if secret is None:
        secret = current_app.config.get(WEBHOOK_SECRET_ENV) or os.environ.get(WEBHOOK_SECRET_ENV)
    # get_data(): the raw bytes as sent (cached, so a later request.get_json() works);
    # never request.json, whose re-serialisation would not be what was signed.
    body = request.get_data(cache=True)
    try:
        return verify_webhook(
            request.headers, body, secret or "", now=time.time(), tolerance=tolerance,
            max_body=max_body,
        )  # fmt: skip
    except WebhookVerificationError as error:
        raise ClerkAuthFailed(webhook_answer(error), error) from None
