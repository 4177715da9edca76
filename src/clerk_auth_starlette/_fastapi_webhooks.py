"""FastAPI: ``event: WebhookEvent = Depends(clerk_webhook)`` verifies a Clerk webhook."""

# No ``from __future__ import annotations``: FastAPI reads the dependency's annotations
# at runtime.

from collections.abc import Awaitable, Callable

from starlette.requests import Request

from clerk_auth_core import WebhookEvent
from clerk_auth_core._webhooks import DEFAULT_MAX_WEBHOOK_BODY, DEFAULT_WEBHOOK_TOLERANCE

from ._fastapi import ClerkHTTPException
from ._webhooks import WebhookRefused, verify_webhook_request

__all__ = ["clerk_webhook", "webhook_dependency"]


def webhook_dependency(
    secret: str | None = None,
    *,
    tolerance: float = DEFAULT_WEBHOOK_TOLERANCE,
    max_body: int = DEFAULT_MAX_WEBHOOK_BODY,
) -> Callable[[Request], Awaitable[WebhookEvent]]:
    """A dependency answering the verified :class:`~clerk_auth_core.WebhookEvent`;
    a refusal raises :class:`ClerkHTTPException` with the core's answer (its body at
    the top level after ``install_exception_handler(app)``).

    :param secret: the signing secret; by default ``$CLERK_WEBHOOK_SIGNING_SECRET``.
    """

    async def clerk_webhook(request: Request) -> WebhookEvent:
        try:
            return await verify_webhook_request(
                request, secret, tolerance=tolerance, max_body=max_body
            )
        except WebhookRefused as refused:
            raise ClerkHTTPException(refused.answer, refused.error) from None

    return clerk_webhook


#: ``Depends(clerk_webhook)``: the secret from ``$CLERK_WEBHOOK_SIGNING_SECRET``.
clerk_webhook = webhook_dependency()
