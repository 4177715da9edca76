"""The error tree and the stable reason codes.

Every way a request can fail to authenticate has a *reason*: a short, stable string
(Clerk's own where Clerk has one, see the spec §5) that callers can switch on, log and
document. Each reason knows the HTTP status a server should answer with and the
RFC 6750 ``error`` code for the ``WWW-Authenticate`` header, so no adapter ever has
to decide HTTP semantics itself (compare h11's ``error_status_hint``)::

    ClerkAuthError                    base: .reason, .message, .status, .bearer_error
    ├── ConfigurationError            bad configuration, raised at construction (500)
    ├── TokenVerificationError        the request's token is not acceptable (401)
    ├── KeyResolutionError            the instance's keys cannot be had (503 / 500)
    │   └── MachineVerificationUnavailable  the Backend API cannot verify now (503)
    ├── AuthorizationError            signed in, but lacks a role/permission (403)
    │   └── ReverificationError       …or a recent enough factor verification (403)
    └── WebhookVerificationError      a webhook delivery is not genuine (400/401/413/500)

Messages are written for the client: they never contain the token, a secret key or
the list of key ids, so they are safe to put into a response body or a log line.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = [
    "AuthorizationError",
    "ClerkAuthError",
    "ConfigurationError",
    "KeyResolutionError",
    "MachineVerificationUnavailable",
    "REASONS",
    "Reason",
    "ReasonInfo",
    "ReverificationError",
    "TokenVerificationError",
    "WebhookVerificationError",
    "refusal",
]


class Reason:
    """The stable reason strings (spec §5). Compare with ``==``; they are plain ``str``."""

    # Token reasons (Clerk's strings, plus token-invalid-issuer which is ours).
    TOKEN_INVALID: Final = "token-invalid"
    TOKEN_INVALID_ALGORITHM: Final = "token-invalid-algorithm"
    TOKEN_INVALID_SIGNATURE: Final = "token-invalid-signature"
    TOKEN_VERIFICATION_FAILED: Final = "token-verification-failed"
    TOKEN_EXPIRED: Final = "token-expired"
    TOKEN_NOT_ACTIVE_YET: Final = "token-not-active-yet"
    TOKEN_IAT_IN_THE_FUTURE: Final = "token-iat-in-the-future"
    TOKEN_INVALID_AUTHORIZED_PARTIES: Final = "token-invalid-authorized-parties"
    TOKEN_INVALID_ISSUER: Final = "token-invalid-issuer"
    TOKEN_TYPE_MISMATCH: Final = "token-type-mismatch"
    # Key reasons.
    JWK_FAILED_TO_RESOLVE: Final = "jwk-failed-to-resolve"
    JWK_KID_MISMATCH: Final = "jwk-kid-mismatch"
    JWK_REMOTE_FAILED_TO_LOAD: Final = "jwk-remote-failed-to-load"
    JWK_REMOTE_INVALID: Final = "jwk-remote-invalid"
    SECRET_KEY_INVALID: Final = "secret-key-invalid"
    # Request reasons.
    SESSION_TOKEN_AND_UAT_MISSING: Final = "session-token-and-uat-missing"
    SESSION_TOKEN_BUT_NO_CLIENT_UAT: Final = "session-token-but-no-client-uat"
    CLIENT_UAT_BUT_NO_SESSION_TOKEN: Final = "client-uat-but-no-session-token"
    SESSION_TOKEN_IAT_BEFORE_CLIENT_UAT: Final = "session-token-iat-before-client-uat"
    SESSION_PENDING: Final = "session-pending"
    # Authorization (ours): signed in, but a required role/permission/feature/plan is
    # missing.
    INSUFFICIENT_SCOPE: Final = "insufficient-scope"
    # Reverification (Clerk's string): signed in, but the factor verification is older
    # than the route allows (step-up needed).
    REVERIFICATION_ERROR: Final = "reverification-error"
    # Configuration (ours).
    CONFIGURATION_INVALID: Final = "configuration-invalid"
    # Webhooks (ours; the Svix scheme, see _webhooks.py).
    WEBHOOK_HEADERS_MISSING: Final = "webhook-headers-missing"
    WEBHOOK_HEADERS_INVALID: Final = "webhook-headers-invalid"
    WEBHOOK_TIMESTAMP_INVALID: Final = "webhook-timestamp-invalid"
    WEBHOOK_TIMESTAMP_TOO_OLD: Final = "webhook-timestamp-too-old"
    WEBHOOK_TIMESTAMP_TOO_NEW: Final = "webhook-timestamp-too-new"
    WEBHOOK_SIGNATURE_INVALID: Final = "webhook-signature-invalid"
    WEBHOOK_BODY_TOO_LARGE: Final = "webhook-body-too-large"
    WEBHOOK_PAYLOAD_INVALID: Final = "webhook-payload-invalid"
    WEBHOOK_SECRET_INVALID: Final = "webhook-secret-invalid"
    # Machine tokens (issue 14): Clerk's code for a Backend API that could not answer,
    # and ours for a Backend API answer that says the token was revoked.
    UNEXPECTED_ERROR: Final = "unexpected-error"
    TOKEN_REVOKED: Final = "token-revoked"
    #: A route that accepts machine tokens only got no Authorization token (ours for
    #: Clerk's "No token in header", which is no kebab-case code; spec §8).
    MACHINE_TOKEN_MISSING: Final = "machine-token-missing"


class ReasonInfo:
    """What a reason means over HTTP: status, RFC 6750 error code, a safe message."""

    __slots__ = ("bearer_error", "message", "status")

    def __init__(self, status: int, bearer_error: str | None, message: str) -> None:
        self.status = status
        self.bearer_error = bearer_error
        self.message = message

    def __repr__(self) -> str:
        return f"ReasonInfo({self.status}, {self.bearer_error!r}, {self.message!r})"


_R = Reason
_INVALID = "invalid_token"

#: reason -> (HTTP status, RFC 6750 ``error`` code, default message).
#: 401 for anything wrong with the presented token (RFC 6750 §3.1 ``invalid_token``);
#: 401 without an error code when no token was sent at all (RFC 6750 §3.1: "the
#: resource server SHOULD NOT include an error code"); 403 ``insufficient_scope``;
#: 503 when the keys cannot be had, because the client's token may be perfectly good;
#: 500 for a server misconfiguration the client cannot fix.
REASONS: Final[dict[str, ReasonInfo]] = {
    _R.TOKEN_INVALID: ReasonInfo(401, _INVALID, "The session token is malformed."),
    _R.TOKEN_INVALID_ALGORITHM: ReasonInfo(
        401, _INVALID, "The session token uses an algorithm that is not allowed."
    ),
    _R.TOKEN_INVALID_SIGNATURE: ReasonInfo(
        401, _INVALID, "The session token signature is invalid."
    ),
    _R.TOKEN_VERIFICATION_FAILED: ReasonInfo(
        401, _INVALID, "The session token could not be verified."
    ),
    _R.TOKEN_EXPIRED: ReasonInfo(401, _INVALID, "The session token has expired."),
    _R.TOKEN_NOT_ACTIVE_YET: ReasonInfo(401, _INVALID, "The session token is not active yet."),
    _R.TOKEN_IAT_IN_THE_FUTURE: ReasonInfo(
        401, _INVALID, "The session token was issued in the future (check the server clock)."
    ),
    _R.TOKEN_INVALID_AUTHORIZED_PARTIES: ReasonInfo(
        401, _INVALID, "The session token was issued for another origin (azp)."
    ),
    _R.TOKEN_INVALID_ISSUER: ReasonInfo(
        401, _INVALID, "The session token was issued by another Clerk instance."
    ),
    _R.TOKEN_TYPE_MISMATCH: ReasonInfo(401, _INVALID, "The token is not a session token."),
    _R.JWK_FAILED_TO_RESOLVE: ReasonInfo(
        500, None, "No key source is configured to verify session tokens."
    ),
    _R.JWK_KID_MISMATCH: ReasonInfo(
        401, _INVALID, "The session token was signed by a key this instance does not have."
    ),
    _R.JWK_REMOTE_FAILED_TO_LOAD: ReasonInfo(
        503, None, "The signing keys could not be loaded; try again shortly."
    ),
    _R.JWK_REMOTE_INVALID: ReasonInfo(
        503, None, "The signing keys could not be loaded; try again shortly."
    ),
    _R.SECRET_KEY_INVALID: ReasonInfo(
        500, None, "The server's Clerk secret key was refused by Clerk."
    ),
    _R.SESSION_TOKEN_AND_UAT_MISSING: ReasonInfo(401, None, "No session token was sent."),
    _R.SESSION_TOKEN_BUT_NO_CLIENT_UAT: ReasonInfo(
        401, _INVALID, "The session cookie came without a __client_uat cookie."
    ),
    _R.CLIENT_UAT_BUT_NO_SESSION_TOKEN: ReasonInfo(
        401, None, "The __client_uat cookie came without a session cookie."
    ),
    _R.SESSION_TOKEN_IAT_BEFORE_CLIENT_UAT: ReasonInfo(
        401, _INVALID, "The session cookie is older than the client's last sign-in."
    ),
    _R.SESSION_PENDING: ReasonInfo(401, _INVALID, "The session is pending (tasks remain)."),
    _R.INSUFFICIENT_SCOPE: ReasonInfo(
        403, "insufficient_scope", "The session lacks a required role or permission."
    ),
    _R.REVERIFICATION_ERROR: ReasonInfo(
        403, "insufficient_scope", "The session must be reverified to use this route."
    ),
    _R.CONFIGURATION_INVALID: ReasonInfo(500, None, "The server is misconfigured."),
    # Webhooks: 400 for a delivery that is malformed, 401 for one that is not signed by
    # the secret (or not now), 413 over the size cap, 500 for our own bad secret. No
    # RFC 6750 code: a webhook sender presents no Bearer token.
    _R.WEBHOOK_HEADERS_MISSING: ReasonInfo(
        400, None, "The webhook lacks a svix-id, svix-timestamp or svix-signature header."
    ),
    _R.WEBHOOK_HEADERS_INVALID: ReasonInfo(
        400, None, "A webhook header is repeated or holds characters it may not."
    ),
    _R.WEBHOOK_TIMESTAMP_INVALID: ReasonInfo(
        400, None, "The svix-timestamp header is not a time in unix seconds."
    ),
    _R.WEBHOOK_TIMESTAMP_TOO_OLD: ReasonInfo(
        401, None, "The webhook timestamp is too old (a replay, or check the server clock)."
    ),
    _R.WEBHOOK_TIMESTAMP_TOO_NEW: ReasonInfo(
        401, None, "The webhook timestamp is in the future (check the server clock)."
    ),
    _R.WEBHOOK_SIGNATURE_INVALID: ReasonInfo(
        401, None, "No webhook signature matches the signing secret."
    ),
    _R.WEBHOOK_BODY_TOO_LARGE: ReasonInfo(413, None, "The webhook body is too large."),
    _R.WEBHOOK_PAYLOAD_INVALID: ReasonInfo(
        400, None, "The webhook body is not a JSON event with a type and data."
    ),
    _R.WEBHOOK_SECRET_INVALID: ReasonInfo(
        500, None, "The server's webhook signing secret is not a whsec_ secret."
    ),
    # Machine tokens: 503, not Clerk's 401, when the Backend API is down or answers
    # garbage (spec machine-tokens.md §8: the client's token may be perfectly good).
    _R.UNEXPECTED_ERROR: ReasonInfo(
        503, None, "The machine token could not be verified now; try again shortly."
    ),
    _R.TOKEN_REVOKED: ReasonInfo(401, _INVALID, "The machine token has been revoked."),
    # No token was sent where one is needed: no error code (RFC 6750 §3.1), as for
    # session-token-and-uat-missing. Cookies never carry machine tokens.
    _R.MACHINE_TOKEN_MISSING: ReasonInfo(
        401, None, "No machine token was sent in the Authorization header."
    ),
}


class ClerkAuthError(Exception):
    """Base class of every error clerk-auth raises.

    :ivar reason: the stable reason code (see :class:`Reason`).
    :ivar message: a human-readable message, safe to show a client.
    :ivar status: the HTTP status a server should answer with.
    :ivar bearer_error: the RFC 6750 ``error`` code for ``WWW-Authenticate``, or ``None``.
    """

    # Slots, not the instance dict: an exception refused at a high rate (garbage
    # tokens) is built and freed faster without one (about 0.2 µs a refusal).
    # Subclasses may still keep other attributes in the dict every exception has.
    __slots__ = ("bearer_error", "message", "reason", "status")

    reason: str
    message: str
    status: int
    bearer_error: str | None
    default_reason: str = Reason.CONFIGURATION_INVALID

    def __init__(self, reason: str | None = None, message: str | None = None) -> None:
        reason = reason or self.default_reason
        info = REASONS.get(reason) or REASONS[self.default_reason]
        self.reason = reason
        self.message = message or info.message
        self.status = info.status
        self.bearer_error = info.bearer_error
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(reason={self.reason!r}, message={self.message!r})"

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}"

    def __reduce__(self) -> tuple[type[ClerkAuthError], tuple[str, str]]:
        return (type(self), (self.reason, self.message))


class ConfigurationError(ClerkAuthError, ValueError):
    """The configuration is invalid; raised when a :class:`ClerkConfig` is built.

    The message names the offending setting (``CLERK_PUBLISHABLE_KEY`` …) and never
    echoes a secret.
    """

    def __init__(self, message: str) -> None:
        super().__init__(Reason.CONFIGURATION_INVALID, message)

    def __reduce__(self) -> tuple[type[ConfigurationError], tuple[str]]:  # type: ignore[override]
        return (type(self), (self.message,))


class TokenVerificationError(ClerkAuthError):
    """The presented session token (or its cookies) is not acceptable: HTTP 401."""

    default_reason = Reason.TOKEN_INVALID


class KeyResolutionError(ClerkAuthError):
    """The instance's signing keys could not be had: HTTP 503 (or 500 for a bad
    secret key / no key source), because the client's token may be perfectly good."""

    default_reason = Reason.JWK_REMOTE_FAILED_TO_LOAD

    def __init__(
        self, reason: str | None = None, message: str | None = None, retry_after: int = 5
    ) -> None:
        super().__init__(reason, message)
        #: Seconds a client should wait before retrying (the ``Retry-After`` header).
        self.retry_after = retry_after

    def __reduce__(self) -> tuple[type[KeyResolutionError], tuple[str, str, int]]:  # type: ignore[override]
        return (type(self), (self.reason, self.message, self.retry_after))


class MachineVerificationUnavailable(KeyResolutionError):
    """The Backend API could not verify an opaque machine token now (outage, 5xx,
    429, a body that is not Clerk's): HTTP 503 with ``Retry-After``, never 401, since
    the client's token may be perfectly good. A :class:`KeyResolutionError`, so every
    place that answers 503 for missing keys answers it for this too."""

    default_reason = Reason.UNEXPECTED_ERROR
    #: A short, safe explanation for logs ("HTTP 502", "not Clerk's answer …"); never
    #: the body, the token or a secret.
    detail: str = ""


class AuthorizationError(ClerkAuthError):
    """Signed in, but the session lacks a required role, permission, feature or plan:
    HTTP 403 with ``error="insufficient_scope"``."""

    default_reason = Reason.INSUFFICIENT_SCOPE

    def __init__(
        self,
        reason: str | None = None,
        message: str | None = None,
        *,
        required: dict[str, list[str]] | None = None,
    ) -> None:
        super().__init__(reason, message)
        #: What the route required (``{"roles": [...], "permissions": [...], …}``, the
        #: non-empty kinds), named in the 403 body; ``None`` when not known.
        self.required = required

    def __reduce__(self) -> Any:
        return (_authorization_error, (type(self), self.reason, self.message, self.required))


def _authorization_error(
    cls: type[AuthorizationError], reason: str, message: str, required: Any
) -> AuthorizationError:
    return cls(reason, message, required=required)


class ReverificationError(AuthorizationError):
    """Signed in, but the session's factor verification (``fva``) is older than the
    route allows: HTTP 403 ``reverification-error``. Its answer's body is Clerk's
    ``{"clerk_error": {…, "metadata": {"reverification": …}}}``, which clerk-js's
    ``useReverification()`` reads to open the step-up dialog and retry.

    :ivar reverification: what the route requires (a ``Reverification``).
    """

    default_reason = Reason.REVERIFICATION_ERROR

    def __init__(self, reverification: Any, message: str | None = None) -> None:
        super().__init__(Reason.REVERIFICATION_ERROR, message)
        self.reverification = reverification

    def __reduce__(self) -> Any:
        return (type(self), (self.reverification, self.message))


class WebhookVerificationError(ClerkAuthError):
    """A webhook delivery is refused: malformed (400), not signed by the secret or not
    recent (401), over the size cap (413), or our signing secret is unusable (500).

    The message never contains the secret, a signature or the body.
    """

    default_reason = Reason.WEBHOOK_SIGNATURE_INVALID


# Everything TokenVerificationError(reason) stores, by reason: refusal() builds the same
# exception without running __init__ (a Python call, four attribute stores and a
# super() call), for the paths that refuse garbage at a high rate.
_REFUSALS: Final = {
    reason: (reason, info.message, info.status, info.bearer_error)
    for reason, info in REASONS.items()
}
_new_error = TokenVerificationError.__new__


def refusal(reason: str) -> TokenVerificationError:
    """``TokenVerificationError(reason)``, built faster: the same type, attributes and
    ``args`` (a test holds the two equal for every reason)."""
    what = _REFUSALS.get(reason)
    if what is None:
        return TokenVerificationError(reason)
    error = _new_error(TokenVerificationError, what[1])
    error.reason, error.message, error.status, error.bearer_error = what
    return error
