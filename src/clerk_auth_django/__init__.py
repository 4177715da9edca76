"""clerk_auth_django: verify Clerk session tokens (and machine tokens) in Django (and DRF).

A thin adapter over :mod:`clerk_auth_core`: it reads the request, asks the core, and
turns the core's answer into a Django response::

    INSTALLED_APPS = [..., "clerk_auth_django"]           # system checks
    MIDDLEWARE = [..., "clerk_auth_django.ClerkAuthMiddleware"]
    CLERK_SECRET_KEY = ...; CLERK_AUTHORIZED_PARTIES = ["https://app.example.com"]

    @require_auth(role="org:admin")
    def admin(request):
        return JsonResponse({"user_id": request.clerk_auth.user_id})

Django REST framework classes live in :mod:`clerk_auth_django.drf` (importing this
package does not import DRF).
"""

from ._auth import (
    ClerkAuth,
    answer_response,
    default_auth,
    get_auth,
    get_machine_auth,
    get_request_state,
    get_verified,
    require_claims,
)
from ._decorator import ClerkAuthRequiredMixin, Guard, require_auth
from ._middleware import ClerkAuthMiddleware
from ._users import ClerkMachineUser, ClerkUser, get_or_create_user
from ._webhooks import WebhookRefused, verify_webhook_request

__all__ = (
    "ClerkAuth",
    "ClerkAuthMiddleware",
    "ClerkAuthRequiredMixin",
    "ClerkMachineUser",
    "ClerkUser",
    "Guard",
    "WebhookRefused",
    "answer_response",
    "default_auth",
    "get_auth",
    "get_machine_auth",
    "get_or_create_user",
    "get_request_state",
    "get_verified",
    "require_auth",
    "require_claims",
    "verify_webhook_request",
)
