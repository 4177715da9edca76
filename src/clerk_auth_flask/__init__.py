"""clerk_auth_flask: verify Clerk session tokens (and machine tokens) in Flask.

A thin adapter over :mod:`clerk_auth_core`: it reads the request, asks the core, and
turns the core's answer into a Flask response::

    from clerk_auth_flask import ClerkAuth, require_auth, require_claims

    app = Flask(__name__)
    ClerkAuth(app)            # CLERK_SECRET_KEY or CLERK_JWT_KEY, CLERK_AUTHORIZED_PARTIES

    @app.get("/api/me")
    @require_auth
    def me():
        return {"user_id": require_claims().user_id}
"""

from ._decorator import require_auth
from ._errors import ClerkAuthFailed
from ._extension import (
    ClerkAuth,
    get_auth,
    get_machine_auth,
    get_request_state,
    get_verified,
    require_claims,
)
from ._webhooks import verify_webhook_request

__all__ = (
    "ClerkAuth",
    "ClerkAuthFailed",
    "get_auth",
    "get_machine_auth",
    "get_request_state",
    "get_verified",
    "require_auth",
    "require_claims",
    "verify_webhook_request",
)
