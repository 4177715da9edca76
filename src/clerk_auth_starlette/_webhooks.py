"""``await verify_webhook_request(request)``: a Clerk webhook delivery, verified, for
Starlette (and FastAPI, whose dependency lives in :mod:`clerk_auth_starlette.fastapi`)."""

from __future__ import annotations

import os
import time

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from clerk_auth_core import (
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

__all__ = ["WebhookRefused", "verify_webhook_request", "webhook_refused_handler"]


class WebhookRefused(HTTPException):
    """A refused webhook delivery: ``answer`` is the core's answer (400, 401, 413, 500).

    Unhandled, Starlette answers its status and headers with the message as plain text;
    with :func:`webhook_refused_handler` installed, the core's JSON body.
    """

    def __init__(self, answer: HttpAnswer, error: WebhookVerificationError) -> None:
        super().__init__(answer.status, detail=answer.body["message"], headers=dict(answer.headers))
        self.answer = answer
        self.error = error


async def webhook_refused_handler(request: Request, exc: Exception) -> Response:
    """The exception handler answering :class:`WebhookRefused` exactly as the core says:
    ``Starlette(exception_handlers={WebhookRefused: webhook_refused_handler})``."""
    assert isinstance(exc, WebhookRefused)
    return Response(exc.answer.body_bytes, exc.answer.status, dict(exc.answer.headers))


async def verify_webhook_request(
    request: Request,
    secret: str | None = None,
    *,
    tolerance: float = DEFAULT_WEBHOOK_TOLERANCE,
    max_body: int = DEFAULT_MAX_WEBHOOK_BODY,
) -> WebhookEvent:
    """Verify ``request`` as a Clerk webhook delivery; answer its event.

    :param secret: the signing secret (``whsec_…``); by default the environment
        variable ``CLERK_WEBHOOK_SIGNING_SECRET``.
    :raises WebhookRefused: with the core's answer.
    """
    secret = secret if secret is not None else os.environ.get(WEBHOOK_SECRET_ENV)
    # request.body(): the raw bytes as sent (cached on the request), never the parsed
    # and re-serialised JSON, which is not what was signed.
    body = await request.body()
    try:
        return verify_webhook(
            request.headers.raw, body, secret or "", now=time.time(), tolerance=tolerance,
            max_body=max_body,
        )  # fmt: skip
    except WebhookVerificationError as error:
        raise WebhookRefused(webhook_answer(error), error) from None
