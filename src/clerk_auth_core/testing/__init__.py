"""clerk_auth_core.testing: a mock Clerk issuer for tests, no Clerk account needed.

:class:`MockClerk` serves the JWKS endpoints a real instance has (Backend API
``/v1/jwks`` behind the secret key, Frontend API ``/.well-known/jwks.json``) on a
loopback port, mints session tokens shaped like Clerk's (v1 and v2 claims), rotates
keys and injects faults. :func:`mint_token` signs any header and payload.
``MockClerk.machine`` (:class:`MockMachineTokens`) mints API keys, M2M and OAuth tokens
(opaque and JWT) and serves the Backend API endpoints that verify the opaque ones.
:class:`WebhookSender` signs webhook deliveries as Clerk does and POSTs them to an app.

This package does I/O (a real HTTP server in a thread); the verification modules never
import it. For pytest, opt in to the fixtures with::

    pytest_plugins = ["clerk_auth_core.testing.pytest_plugin"]
"""

from __future__ import annotations

from ._endpoints import (
    BACKEND_JWKS_PATH,
    FAULTS,
    PUBLIC_JWKS_PATH,
    REDIRECT_TARGET_PATH,
    TOKEN_PATH,
    Fault,
)
from ._issuer import MockClerk
from ._machine import (
    API_KEYS_VERIFY_PATH,
    M2M_TOKENS_VERIFY_PATH,
    MACHINE_FAULTS,
    OAUTH_TOKENS_VERIFY_PATH,
    MockMachineTokens,
)
from ._mint import (
    CAT_JWT_TEMPLATE,
    CAT_M2M,
    CAT_SESSION,
    CAT_UNTAGGED,
    REMOVE,
    Remove,
    apply_overrides,
    b64url,
    generate_key,
    mint_token,
    public_jwk,
    public_pem,
    session_claims,
)
from ._webhooks import WebhookDelivery, WebhookSender, generate_webhook_secret, sign_webhook

__all__ = (
    "API_KEYS_VERIFY_PATH",
    "BACKEND_JWKS_PATH",
    "CAT_JWT_TEMPLATE",
    "CAT_M2M",
    "CAT_SESSION",
    "CAT_UNTAGGED",
    "FAULTS",
    "Fault",
    "M2M_TOKENS_VERIFY_PATH",
    "MACHINE_FAULTS",
    "MockClerk",
    "MockMachineTokens",
    "OAUTH_TOKENS_VERIFY_PATH",
    "PUBLIC_JWKS_PATH",
    "REDIRECT_TARGET_PATH",
    "REMOVE",
    "Remove",
    "TOKEN_PATH",
    "WebhookDelivery",
    "WebhookSender",
    "apply_overrides",
    "b64url",
    "generate_key",
    "generate_webhook_secret",
    "mint_token",
    "public_jwk",
    "public_pem",
    "session_claims",
    "sign_webhook",
)
