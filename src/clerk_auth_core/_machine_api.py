"""Opaque machine tokens, without I/O: the Backend API verification request and the
judgement of its answer (machine-tokens.md §3), as :mod:`._jwks_exchange` does for the JWKS.

:func:`machine_verify_request` says what to send; :func:`judge_machine_response` turns
(status, body) into :class:`MachineClaims` or raises a typed refusal. The shells in
:mod:`clerk_auth_core.io` only move bytes.

How answers map (ours where Clerk's is coarse, spec §8):

=================  ====================================================================
200 (Clerk's body)  claims; ``revoked: true`` → ``token-revoked`` (401), ``expired: true``
                    or an ``expiration`` in the past → ``token-expired`` (401)
401, 403            our own secret was refused: ``secret-key-invalid`` (500), as for the JWKS
400, 404, 422       the token is unknown or malformed: ``token-invalid`` (401, Clerk's
                    "API key not found" …)
anything else       5xx, 429, a redirect, a 200 that is not strict JSON or not Clerk's
                    shape, an oversized body: ``unexpected-error`` (503 + Retry-After)
=================  ====================================================================
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, Final

import attrs

from ._config import DEFAULT_API_URL, ClerkConfig
from ._errors import (
    ConfigurationError,
    KeyResolutionError,
    MachineVerificationUnavailable,
    Reason,
    TokenVerificationError,
)
from ._json import StrictJSONError, loads_strict
from ._jwks_exchange import USER_AGENT, is_secure_url
from ._machine_claims import MachineClaims
from ._token_kinds import API_KEY, M2M_TOKEN, MACHINE_KINDS, OAUTH_TOKEN

__all__ = [
    "CLERK_API_VERSION",
    "MACHINE_VERIFY_PATHS",
    "MachineConfig",
    "MachineRequest",
    "judge_machine_response",
    "machine_verify_request",
]

#: The ``Clerk-API-Version`` header Clerk's SDK sends (spec §3.1).
CLERK_API_VERSION: Final = "2026-05-12"
#: kind → (path on the Backend API, *without* ``/v1``; the JSON body's member name).
MACHINE_VERIFY_PATHS: Final = {
    API_KEY: ("/api_keys/verify", "secret"),
    M2M_TOKEN: ("/m2m_tokens/verify", "token"),
    OAUTH_TOKEN: ("/oauth_applications/access_tokens/verify", "access_token"),
}
#: Clerk's "not found" messages (spec §7).
_NOT_FOUND: Final = {
    API_KEY: "API key not found.",
    M2M_TOKEN: "Machine token not found.",
    OAUTH_TOKEN: "OAuth token not found.",
}
#: What a Backend API answer's ``object`` must be, by kind (spec §3.2).
_OBJECTS: Final = {
    API_KEY: ("api_key",),
    M2M_TOKEN: ("machine_to_machine_token",),
    OAUTH_TOKEN: ("clerk_idp_oauth_access_token",),
}


def _empty_to_none(value: str | None) -> str | None:
    return value or None


def _non_negative(_inst: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if isinstance(value, bool) or not math.isfinite(value) or value < 0:
        raise ConfigurationError(f"MachineConfig.{attribute.name} must be a number >= 0.")


def _positive(_inst: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if isinstance(value, bool) or not math.isfinite(value) or value <= 0:
        raise ConfigurationError(f"MachineConfig.{attribute.name} must be a number > 0.")


@attrs.frozen(kw_only=True)
class MachineConfig:
    """How opaque machine tokens are verified and remembered.

    The adapters build one from their :class:`ClerkConfig` (:meth:`for_instance`);
    build one yourself for the rest of the cache policy.

    :param secret_key: the instance secret key (``CLERK_SECRET_KEY``): required for API
        keys and OAuth tokens.
    :param machine_secret_key: a machine secret key (``CLERK_MACHINE_SECRET_KEY``):
        used for M2M tokens instead of the secret key when set (Clerk: it wins).
    :param cache_ttl: seconds a verified token is reused without asking again (never
        past its own expiration; ``0`` disables): the window in which a revoked key
        still works, as a revoked session works until its 60 s token expires.
    :param refused_ttl: seconds a refused token is answered from memory.
    :param max_entries: at most this many remembered tokens (least recently used go).
    """

    secret_key: str | None = attrs.field(default=None, converter=_empty_to_none, repr=False)
    machine_secret_key: str | None = attrs.field(default=None, converter=_empty_to_none, repr=False)
    api_url: str = attrs.field(default=DEFAULT_API_URL)
    cache_ttl: float = attrs.field(default=60.0, validator=_non_negative)
    refused_ttl: float = attrs.field(default=10.0, validator=_non_negative)
    max_entries: int = attrs.field(default=10_000, validator=_positive)
    #: Seconds to answer 503 after a failed call before calling again; doubles to
    #: ``max_backoff`` while calls keep failing.
    backoff: float = attrs.field(default=1.0, validator=_non_negative)
    max_backoff: float = attrs.field(default=30.0, validator=_non_negative)
    timeout: float = attrs.field(default=5.0, validator=_positive)
    connect_timeout: float = attrs.field(default=2.0, validator=_positive)
    max_body_bytes: int = attrs.field(default=64 * 1024, validator=_positive)

    def __attrs_post_init__(self) -> None:
        url = self.api_url.rstrip("/")
        if not is_secure_url(url):
            raise ConfigurationError(
                "CLERK_API_URL must be https:// (plain http only for loopback hosts)."
            )
        object.__setattr__(self, "api_url", url)
        if self.secret_key is None and self.machine_secret_key is None:
            # Clerk §2.2: machine tokens need one of the two keys.
            raise ConfigurationError(
                "Machine token authentication requires CLERK_SECRET_KEY or "
                "CLERK_MACHINE_SECRET_KEY."
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **overrides: Any) -> MachineConfig:
        """From ``CLERK_SECRET_KEY``, ``CLERK_MACHINE_SECRET_KEY`` and ``CLERK_API_URL``
        (pass ``os.environ``); ``overrides`` win."""
        settings: dict[str, Any] = {
            "secret_key": environ.get("CLERK_SECRET_KEY"),
            "machine_secret_key": environ.get("CLERK_MACHINE_SECRET_KEY"),
        }
        if environ.get("CLERK_API_URL"):
            settings["api_url"] = environ["CLERK_API_URL"]
        return cls(**{**settings, **overrides})

    @classmethod
    def for_instance(cls, config: ClerkConfig, **overrides: Any) -> MachineConfig:
        """For the instance a :class:`ClerkConfig` names: its secret key, machine
        secret key, Backend API URL and ``machine_cache_ttl``; ``overrides`` win (the
        rest of the cache policy …)."""
        settings: dict[str, Any] = {
            "secret_key": config.secret_key,
            "machine_secret_key": config.machine_secret_key,
            "api_url": config.api_url,
            "cache_ttl": config.machine_cache_ttl,
        }
        return cls(**{**settings, **overrides})

    def credential_for(self, kind: str) -> str:
        """The bearer credential for verifying a ``kind`` token (spec §3.1).

        :raises ConfigurationError: when the key that kind needs is not set.
        """
        if kind == M2M_TOKEN and self.machine_secret_key is not None:
            return self.machine_secret_key
        if self.secret_key is None:
            raise ConfigurationError(
                f"Verifying {kind} tokens requires CLERK_SECRET_KEY "
                "(a machine secret key verifies M2M tokens only)."
            )
        return self.secret_key


def _redact(headers: tuple[tuple[str, str], ...]) -> str:
    return repr(tuple((n, "<redacted>" if n.lower() == "authorization" else v) for n, v in headers))


@attrs.frozen(kw_only=True)
class MachineRequest:
    """What a shell must send: ``POST url`` with ``headers`` and ``body``, no
    redirects, no retries. Its ``repr`` hides the token and the credential."""

    kind: str
    method: str = "POST"
    url: str
    headers: tuple[tuple[str, str], ...] = attrs.field(repr=_redact)
    body: bytes = attrs.field(repr=False)
    timeout: float
    connect_timeout: float
    max_body_bytes: int

    def __str__(self) -> str:
        return repr(self)


def machine_verify_request(token: str, kind: str, config: MachineConfig) -> MachineRequest:
    """The Backend API request that verifies opaque ``token`` of ``kind``.

    :raises ConfigurationError: when ``kind`` is no machine kind, or its key is unset.
    """
    if kind not in MACHINE_KINDS:
        raise ConfigurationError(f"{kind!r} is not a machine token kind.")
    path, member = MACHINE_VERIFY_PATHS[kind]
    headers = (
        ("Authorization", f"Bearer {config.credential_for(kind)}"),
        ("Clerk-API-Version", CLERK_API_VERSION),
        ("Content-Type", "application/json"),
        ("Accept", "application/json"),
        # Uncompressed, so the body cap bounds what we decompress too.
        ("Accept-Encoding", "identity"),
        ("User-Agent", USER_AGENT),
    )
    return MachineRequest(
        kind=kind,
        url=config.api_url + path,
        headers=headers,
        body=json.dumps({member: token}, separators=(",", ":")).encode(),
        timeout=config.timeout,
        connect_timeout=min(config.connect_timeout, config.timeout),
        max_body_bytes=config.max_body_bytes,
    )


def _unavailable(detail: str, retry_after: int) -> MachineVerificationUnavailable:
    error = MachineVerificationUnavailable(retry_after=retry_after)
    error.detail = detail
    return error


def judge_machine_response(
    kind: str,
    status: int,
    body: bytes,
    *,
    now: float,
    max_body_bytes: int = 64 * 1024,
    retry_after: int = 5,
) -> MachineClaims:
    """Judge the Backend API's answer to :func:`machine_verify_request` at ``now``
    (unix seconds), per the table in the module docstring.

    :raises TokenVerificationError: ``token-invalid``, ``token-revoked``,
        ``token-expired`` (401: the token's fault).
    :raises KeyResolutionError: ``secret-key-invalid`` (500: ours).
    :raises MachineVerificationUnavailable: ``unexpected-error`` (503: Clerk's).
    """
    if status in (401, 403):
        raise KeyResolutionError(Reason.SECRET_KEY_INVALID, retry_after=retry_after)
    if status in (400, 404, 422):
        raise TokenVerificationError(Reason.TOKEN_INVALID, _NOT_FOUND.get(kind))
    if status != 200:
        raise _unavailable(f"HTTP {status}", retry_after)
    if len(body) > max_body_bytes:
        raise _unavailable(f"over {max_body_bytes} B", retry_after)
    try:
        document = loads_strict(body)
        # An absent object is accepted (Clerk's own test bodies have none); a wrong one
        # means the answer is not about this kind of token.
        if "object" in document and document["object"] not in _OBJECTS.get(kind, ()):
            raise ValueError(f"object {str(document['object'])[:40]!r} for {kind}")
        claims = MachineClaims.from_backend(kind, document)
    except (StrictJSONError, ValueError) as exc:
        raise _unavailable(f"not Clerk's answer: {exc}", retry_after) from None
    # Spec §8: Clerk's SDK ignores these; a defensive library refuses them.
    if claims.revoked:
        raise TokenVerificationError(Reason.TOKEN_REVOKED)
    if claims.expired or (claims.expires_at is not None and claims.expires_at <= now):
        raise TokenVerificationError(Reason.TOKEN_EXPIRED, "The machine token has expired.")
    return claims
