"""``verify_webhook_request(request)``: a Clerk webhook delivery in a Django view, verified."""

from __future__ import annotations

import os
import time

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from clerk_auth_core import (
    ClerkAuthError,
    HttpAnswer,
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

from ._auth import answer_response

__all__ = ["WebhookRefused", "verify_webhook_request"]


class WebhookRefused(Exception):
    """A delivery that is not genuine: :attr:`response` is the core's answer for it
    (400, 401, 413, or 500 when the signing secret is missing or unusable)."""

    def __init__(self, answer: HttpAnswer, error: ClerkAuthError) -> None:
        super().__init__(error.reason)
        self.answer = answer
        self.error = error

    @property
    def response(self) -> HttpResponse:
        """The core's answer as a Django response."""
        return answer_response(self.answer)


def verify_webhook_request(
    request: HttpRequest,
    secret: str | None = None,
    *,
    tolerance: float = DEFAULT_WEBHOOK_TOLERANCE,
    max_body: int = DEFAULT_MAX_WEBHOOK_BODY,
) -> WebhookEvent:
    """Verify ``request`` as a Clerk webhook delivery; answer its event. The view must
    be ``@csrf_exempt`` (the sender has no CSRF token; the signature is the check)::

        @csrf_exempt
        def clerk_webhook(request):
            try:
                event = verify_webhook_request(request)
            except WebhookRefused as refused:
                return refused.response
            ...

    :param secret: the signing secret (``whsec_…``); by default
        ``settings.CLERK_WEBHOOK_SIGNING_SECRET``, else that environment variable.
    :raises WebhookRefused: with the core's answer.
    """
    if secret is None:
        secret = getattr(settings, WEBHOOK_SECRET_ENV, None) or os.environ.get(WEBHOOK_SECRET_ENV)
    # request.body: the raw bytes as sent (never a re-serialised request.POST).
    try:
        return verify_webhook(
            request.headers, request.body, secret or "", now=time.time(), tolerance=tolerance,
            max_body=max_body,
        )  # fmt: skip
    except WebhookVerificationError as error:
        raise WebhookRefused(webhook_answer(error), error) from None
