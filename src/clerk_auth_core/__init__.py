"""clerk_auth_core: verify Clerk session tokens, without I/O.

The sans-I/O heart of clerk-auth. It is given a request's headers, the time and the
instance's keys, and answers whether the session token is genuine. It never opens a
socket, starts a thread or reads the clock; the adapters (``clerk_auth_flask``,
``clerk_auth_starlette``) and the key providers in :mod:`clerk_auth_core.io` do that.

Verify one token from anywhere (a worker, another framework)::

    from clerk_auth_core import ClerkConfig, verify_token
    config = ClerkConfig.from_env()             # CLERK_JWT_KEY, CLERK_AUTHORIZED_PARTIES …
    claims = verify_token(token, config.static_keys, config, now=time.time())

(``config.static_keys`` exists when ``CLERK_JWT_KEY`` is set; with a remote JWKS, get
the key set from a provider in :mod:`clerk_auth_core.io`.)
"""

from ._claims import Actor, SessionClaims, validate_claims
from ._config import ClerkConfig, JwksPolicy, settings_from_mapping
from ._errors import (
    REASONS,
    AuthorizationError,
    ClerkAuthError,
    ConfigurationError,
    KeyResolutionError,
    MachineVerificationUnavailable,
    Reason,
    ReverificationError,
    TokenVerificationError,
    WebhookVerificationError,
)
from ._extract import ExtractedToken, extract_token, parse_cookies
from ._flow import (
    AsyncKeySource,
    AsyncMachineSource,
    KeySource,
    MachineSource,
    authenticate_with,
    authenticate_with_async,
)
from ._jwks import (
    Decision,
    FetchTicket,
    JwksCache,
    JwksStats,
    Reject,
    StartFetch,
    UseKeys,
    UseKeysAndRefresh,
    WaitForFetch,
)
from ._jwks_exchange import FetchFailure, FetchRequest
from ._keys import DroppedKey, KeySet, VerificationKey
from ._machine_api import (
    MachineConfig,
    MachineRequest,
    judge_machine_response,
    machine_verify_request,
)
from ._machine_cache import MachineCache
from ._machine_claims import AuthenticatedToken, MachineClaims
from ._machine_verify import verify_machine_jwt
from ._request import (
    HttpAnswer,
    PendingRequest,
    RequestState,
    authenticate_request,
    http_answer,
    is_preflight,
    prepare_request,
)
from ._requirements import Requirements, session_scopes
from ._reverification import Reverification, ReverificationConfig
from ._token_kinds import AcceptsToken, accepts, token_kind
from ._tokens import UnverifiedToken, parse_token
from ._verify import verify_token
from ._version import __version__
from ._webhooks import WebhookEvent, verify_webhook, webhook_answer

__all__ = (
    "AcceptsToken",
    "Actor",
    "AsyncKeySource",
    "AsyncMachineSource",
    "AuthenticatedToken",
    "AuthorizationError",
    "ClerkAuthError",
    "ClerkConfig",
    "ConfigurationError",
    "Decision",
    "DroppedKey",
    "ExtractedToken",
    "FetchFailure",
    "FetchRequest",
    "FetchTicket",
    "HttpAnswer",
    "JwksCache",
    "JwksPolicy",
    "JwksStats",
    "KeyResolutionError",
    "KeySet",
    "KeySource",
    "MachineSource",
    "MachineCache",
    "MachineClaims",
    "MachineConfig",
    "MachineRequest",
    "MachineVerificationUnavailable",
    "PendingRequest",
    "REASONS",
    "Reason",
    "Reject",
    "RequestState",
    "Requirements",
    "Reverification",
    "ReverificationConfig",
    "ReverificationError",
    "SessionClaims",
    "StartFetch",
    "TokenVerificationError",
    "UnverifiedToken",
    "UseKeys",
    "UseKeysAndRefresh",
    "VerificationKey",
    "WaitForFetch",
    "WebhookEvent",
    "WebhookVerificationError",
    "accepts",
    "authenticate_request",
    "authenticate_with",
    "authenticate_with_async",
    "extract_token",
    "http_answer",
    "is_preflight",
    "judge_machine_response",
    "machine_verify_request",
    "parse_cookies",
    "parse_token",
    "prepare_request",
    "session_scopes",
    "settings_from_mapping",
    "token_kind",
    "validate_claims",
    "verify_machine_jwt",
    "verify_token",
    "verify_webhook",
    "webhook_answer",
    "__version__",
)
