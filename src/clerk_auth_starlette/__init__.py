"""clerk_auth_starlette: Clerk session tokens for Starlette and FastAPI.

A pure ASGI middleware (``http`` and ``websocket``) that sets ``request.user`` /
``request.auth`` (so Starlette's ``@requires("authenticated")`` works) and answers
401/403/503 as the core decides::

    from clerk_auth_starlette import ClerkAuthMiddleware, require_auth, require_claims

    app.add_middleware(ClerkAuthMiddleware)       # CLERK_* from the environment

    async def me(request):
        return JSONResponse({"user_id": require_claims(request).user_id})

    @require_auth(role="org:admin")                # the core's 401/403/503 per route
    async def admin(request): ...

    @require_auth(accepts="api_key")               # machine tokens: get_machine_auth()
    async def orders(request): ...

FastAPI dependencies live in :mod:`clerk_auth_starlette.fastapi` (FastAPI is optional:
importing this package does not import it).
"""

from ._auth import (
    STATE_KEY,
    ClerkMachine,
    ClerkUser,
    answer_response,
    get_auth,
    get_machine_auth,
    get_request_state,
    get_verified,
    require_claims,
)
from ._decorator import require_auth
from ._middleware import ClerkAuthMiddleware
from ._webhooks import WebhookRefused, verify_webhook_request, webhook_refused_handler

__all__ = (
    "STATE_KEY",
    "ClerkAuthMiddleware",
    "ClerkMachine",
    "ClerkUser",
    "WebhookRefused",
    "answer_response",
    "get_auth",
    "get_machine_auth",
    "get_request_state",
    "get_verified",
    "require_auth",
    "require_claims",
    "verify_webhook_request",
    "webhook_refused_handler",
)
