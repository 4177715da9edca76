"""FastAPI support (``pip install clerk-auth[fastapi]``)::

    from fastapi import Depends, FastAPI
    from clerk_auth_starlette.fastapi import require_auth, install_exception_handler

    app = FastAPI()
    install_exception_handler(app)      # the core's JSON body, not {"detail": ...},
                                        # and the 401/403/503 in /openapi.json

    @app.get("/me")
    async def me(claims: SessionClaims = Depends(require_auth)):
        return {"user_id": claims.user_id}

With an explicit configuration, one :class:`ClerkAuth` per app:
``auth = ClerkAuth(config)``, then ``Depends(auth.required)``, ``Depends(auth.optional)``,
``Security(auth.require(role="org:admin"))``; machine tokens with
``Depends(auth.machine("api_key"))`` (MachineClaims) or
``Depends(auth.accepting(["session_token", "api_key"]))`` (either).
"""

from ._auth import get_machine_auth, get_verified, require_claims
from ._fastapi import (
    ClerkAuth,
    ClerkDependency,
    ClerkHTTPException,
    ClerkMachineDependency,
    ClerkTokenDependency,
    accepting,
    check_scopes,
    clerk_auth,
    clerk_exception_handler,
    install_exception_handler,
    optional_auth,
    require_auth,
    requires_auth,
    requires_machine,
)
from ._fastapi_webhooks import clerk_webhook, webhook_dependency

__all__ = (
    "ClerkAuth",
    "ClerkDependency",
    "ClerkHTTPException",
    "ClerkMachineDependency",
    "ClerkTokenDependency",
    "accepting",
    "check_scopes",
    "clerk_auth",
    "clerk_exception_handler",
    "clerk_webhook",
    "get_machine_auth",
    "get_verified",
    "install_exception_handler",
    "optional_auth",
    "require_auth",
    "require_claims",
    "requires_auth",
    "requires_machine",
    "webhook_dependency",
)
