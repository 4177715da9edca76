"""clerk_auth_core: verify Clerk session tokens, without I/O.

The sans-I/O heart of clerk-auth. It is given a request's headers, the time and the
instance's keys, and answers whether the session token is genuine. It never opens a
socket, starts a thread or reads the clock; the adapters (``clerk_auth_flask``,
``clerk_auth_starlette``) and the key providers in :mod:`clerk_auth_core.io` do that.
"""

from ._config import ClerkConfig, JwksPolicy
from ._errors import (
    AuthorizationError,
    ClerkAuthError,
    ConfigurationError,
    KeyResolutionError,
    Reason,
    TokenVerificationError,
)
from ._keys import DroppedKey, KeySet, VerificationKey
from ._version import __version__

__all__ = (
    "AuthorizationError",
    "ClerkAuthError",
    "ClerkConfig",
    "ConfigurationError",
    "DroppedKey",
    "JwksPolicy",
    "KeyResolutionError",
    "KeySet",
    "Reason",
    "TokenVerificationError",
    "VerificationKey",
    "__version__",
)
