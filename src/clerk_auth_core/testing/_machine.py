"""The mock issuer's machine tokens: API keys, M2M and OAuth tokens in both forms,
and the Backend API verify endpoints that answer for the opaque ones with Clerk's
shapes (machine-tokens.md §3). Reached as ``MockClerk.machine``.
"""

from __future__ import annotations

import collections
import json
import threading
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final, Protocol

import attrs

from clerk_auth_core._machine_api import MachineConfig

from ._endpoints import Fault, _authorized, _clerk_error
from ._mint import CAT_M2M, REMOVE, apply_overrides, mint_token, random_id
from ._server import Request, Response

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey


class _Issuer(Protocol):
    # What the machine tokens need of their MockClerk (typed so, this module imports
    # no _issuer: _issuer imports it).
    @property
    def issuer(self) -> str: ...
    @property
    def kid(self) -> str: ...
    @property
    def private_key(self) -> RSAPrivateKey: ...
    @property
    def secret_key(self) -> str: ...
    @property
    def url(self) -> str: ...


__all__ = [
    "API_KEYS_VERIFY_PATH",
    "M2M_TOKENS_VERIFY_PATH",
    "MACHINE_FAULTS",
    "MACHINE_PATHS",
    "MockMachineToken",
    "MockMachineTokens",
    "OAUTH_TOKENS_VERIFY_PATH",
]

API_KEYS_VERIFY_PATH: Final = "/api_keys/verify"
M2M_TOKENS_VERIFY_PATH: Final = "/m2m_tokens/verify"
OAUTH_TOKENS_VERIFY_PATH: Final = "/oauth_applications/access_tokens/verify"
#: path → (kind, the JSON body member carrying the token).
MACHINE_PATHS: Final = {
    API_KEYS_VERIFY_PATH: ("api_key", "secret"),
    M2M_TOKENS_VERIFY_PATH: ("m2m_token", "token"),
    OAUTH_TOKENS_VERIFY_PATH: ("oauth_token", "access_token"),
}
#: The faults the verify endpoints honour (see :meth:`MockMachineTokens.set_fault`).
MACHINE_FAULTS: Final[tuple[Fault, ...]] = ("down", "500", "slow", "garbage", "oversized")
_PREFIXES: Final = {"api_key": "ak_", "m2m_token": "mt_", "oauth_token": "oat_"}
_NOT_FOUND: Final = {
    "api_key": "API key not found",
    "m2m_token": "Machine token not found",
    "oauth_token": "OAuth token not found",
}


@attrs.define
class MockMachineToken:
    """One opaque token the mock knows (times in unix milliseconds, as Clerk's)."""

    kind: str
    id: str
    subject: str
    scopes: list[str]
    claims: dict[str, Any] | None
    name: str | None
    client_id: str | None
    created_at: int
    expiration: int | None
    revoked: bool = False
    revocation_reason: str | None = None

    def expired(self, now_ms: int) -> bool:
        """Whether its expiration has passed."""
        return self.expiration is not None and self.expiration <= now_ms

    def document(self, now_ms: int) -> dict[str, Any]:
        """The Backend API's answer for it (spec §3.2)."""
        common: dict[str, Any] = {
            "id": self.id,
            "subject": self.subject,
            "scopes": list(self.scopes),
            "revoked": self.revoked,
            "revocation_reason": self.revocation_reason,
            "expired": self.expired(now_ms),
            "expiration": self.expiration,
            "created_at": self.created_at,
            "updated_at": self.created_at,
        }
        if self.kind == "api_key":
            return {
                "object": "api_key",
                "type": "api_key",
                "name": self.name,
                "claims": self.claims,
                "created_by": None,
                "description": None,
                "last_used_at": None,
                **common,
            }
        if self.kind == "m2m_token":
            return {"object": "machine_to_machine_token", "claims": self.claims, **common}
        return {
            "object": "clerk_idp_oauth_access_token",
            "type": "oauth_token",
            "client_id": self.client_id,
            **common,
        }


class MockMachineTokens:
    """Machine tokens of a :class:`MockClerk` (``clerk.machine``)::

        key = clerk.machine.mint_api_key(subject="user_123", scopes=["read"])
        verifier = SyncMachineVerifier(clerk.machine.config())
        clerk.machine.revoke(key)

    Revoked and expired tokens are answered 404, as the real Backend API refuses
    them itself; set :attr:`flags_in_body` to answer 200 with ``revoked``/``expired``
    set instead (to test a client's own check).
    """

    def __init__(self, clerk: _Issuer) -> None:
        self._clerk = clerk
        self._lock = threading.Lock()
        self._tokens: dict[str, MockMachineToken] = {}
        self._calls: collections.Counter[str] = collections.Counter()
        self._fault: Fault | None = None
        self._delay = 10.0
        #: A machine secret key (``CLERK_MACHINE_SECRET_KEY``): accepted for M2M only.
        self.machine_secret_key = random_id("ak_", 40)
        #: Answer revoked/expired tokens 200 with the flags set, instead of 404.
        self.flags_in_body = False

    # -- minting ------------------------------------------------------------------------

    def _add(
        self,
        kind: str,
        *,
        subject: str,
        scopes: Iterable[str],
        claims: Mapping[str, Any] | None,
        name: str | None,
        client_id: str | None,
        lifetime: float | None,
    ) -> str:
        now_ms = int(time.time() * 1000)
        prefix = _PREFIXES[kind]
        token = random_id(prefix, 40)
        entry = MockMachineToken(
            kind=kind,
            id=random_id(prefix),
            subject=subject,
            scopes=list(scopes),
            claims=dict(claims) if claims is not None else None,
            name=name,
            client_id=client_id,
            created_at=now_ms,
            expiration=None if lifetime is None else now_ms + int(lifetime * 1000),
        )
        with self._lock:
            self._tokens[token] = entry
        return token

    def mint_api_key(
        self,
        *,
        subject: str = "user_test",
        name: str = "test-api-key",
        scopes: Iterable[str] = (),
        claims: Mapping[str, Any] | None = None,
        lifetime: float | None = None,
    ) -> str:
        """A new API key secret (``ak_…``); ``lifetime`` in seconds, ``None``: never
        expires."""
        return self._add(
            "api_key",
            subject=subject,
            scopes=scopes,
            claims=claims,
            name=name,
            client_id=None,
            lifetime=lifetime,
        )

    def mint_m2m_token(
        self,
        *,
        subject: str = "mch_test",
        scopes: Iterable[str] = (),
        claims: Mapping[str, Any] | None = None,
        lifetime: float | None = 3600,
    ) -> str:
        """A new opaque M2M token (``mt_…``)."""
        return self._add(
            "m2m_token",
            subject=subject,
            scopes=scopes,
            claims=claims,
            name=None,
            client_id=None,
            lifetime=lifetime,
        )

    def mint_oauth_token(
        self,
        *,
        subject: str = "user_test",
        client_id: str = "client_test",
        scopes: Iterable[str] = (),
        lifetime: float | None = 3600,
    ) -> str:
        """A new opaque OAuth access token (``oat_…``)."""
        return self._add(
            "oauth_token",
            subject=subject,
            scopes=scopes,
            claims=None,
            name=None,
            client_id=client_id,
            lifetime=lifetime,
        )

    def mint_m2m_jwt(
        self,
        *,
        subject: str = "mch_test",
        scopes: Iterable[str] | None = None,
        aud: Iterable[str] | None = None,
        iat: float | None = None,
        lifetime: float = 3600,
        cat: str | None = CAT_M2M,
        claims: Mapping[str, Any] | None = None,
        header: Mapping[str, Any] | None = None,
    ) -> str:
        """An M2M JWT signed by the mock's current key (``sub`` ``mch_…``, header
        ``cat`` :data:`CAT_M2M`); ``claims``/``header`` override last (``REMOVE``
        deletes)."""
        now = int(time.time()) if iat is None else iat
        payload: dict[str, Any] = {
            "iss": self._clerk.issuer,
            "sub": subject,
            "exp": now + lifetime,
            "iat": now,
            "nbf": now - 10,
            "jti": random_id("mt_"),
        }
        if aud is not None:
            payload["aud"] = list(aud)
        if scopes is not None:
            payload["scopes"] = " ".join(scopes)
        head: dict[str, Any] = {"alg": "RS256", "kid": self._clerk.kid, "typ": "JWT"}
        if cat is not None:
            head["cat"] = cat
        return self._sign(head, payload, claims, header)

    def mint_oauth_jwt(
        self,
        *,
        subject: str = "user_test",
        client_id: str = "client_test",
        scopes: Iterable[str] = (),
        iat: float | None = None,
        lifetime: float = 3600,
        typ: str = "at+jwt",
        claims: Mapping[str, Any] | None = None,
        header: Mapping[str, Any] | None = None,
    ) -> str:
        """An OAuth access-token JWT (RFC 9068: header ``typ`` ``at+jwt``) signed by
        the mock's current key."""
        now = int(time.time()) if iat is None else iat
        payload: dict[str, Any] = {
            "iss": self._clerk.issuer,
            "sub": subject,
            "client_id": client_id,
            "scope": " ".join(scopes),
            "exp": now + lifetime,
            "iat": now,
            "nbf": now - 10,
            "jti": random_id("oat_"),
        }
        head: dict[str, Any] = {"alg": "RS256", "kid": self._clerk.kid, "typ": typ}
        return self._sign(head, payload, claims, header)

    def _sign(
        self,
        head: dict[str, Any],
        payload: dict[str, Any],
        claims: Mapping[str, Any] | None,
        header: Mapping[str, Any] | None,
    ) -> str:
        apply_overrides(payload, claims)
        apply_overrides(head, header)
        head = {k: v for k, v in head.items() if v is not REMOVE}
        return mint_token(self._clerk.private_key, head, payload)

    # -- changing tokens ----------------------------------------------------------------

    def revoke(self, token: str, reason: str | None = "revoked by test") -> None:
        """Revoke an opaque token (the next verify call refuses it)."""
        with self._lock:
            entry = self._tokens[token]
            entry.revoked, entry.revocation_reason = True, reason

    def expire(self, token: str) -> None:
        """Make an opaque token's expiration now."""
        with self._lock:
            self._tokens[token].expiration = int(time.time() * 1000) - 1

    def forget(self, token: str) -> None:
        """Forget an opaque token (the next verify call answers 404)."""
        with self._lock:
            self._tokens.pop(token, None)

    def set_fault(self, fault: Fault | None, *, delay: float = 10.0) -> None:
        """Make the verify endpoints misbehave: ``down`` (drop the connection
        unanswered, a reset), ``500``, ``slow`` (wait ``delay`` seconds first),
        ``garbage`` (a 200 HTML page), ``oversized`` (a 200 body over 64 KiB);
        ``None`` heals."""
        if fault is not None and fault not in MACHINE_FAULTS:
            raise ValueError(f"unknown machine fault {fault!r}; expected one of {MACHINE_FAULTS}")
        with self._lock:
            self._fault, self._delay = fault, delay

    def reset(self) -> None:
        """No fault, no calls counted (minted tokens are kept)."""
        with self._lock:
            self._fault, self._delay = None, 10.0
            self._calls.clear()
            self.flags_in_body = False

    # -- observing ----------------------------------------------------------------------

    @property
    def calls(self) -> dict[str, int]:
        """Verify calls received, by kind."""
        with self._lock:
            return dict(self._calls)

    @property
    def total_calls(self) -> int:
        """Verify calls received, all kinds."""
        with self._lock:
            return sum(self._calls.values())

    def config(self, **overrides: Any) -> MachineConfig:
        """A :class:`MachineConfig` verifying against this mock (secret key, url)."""
        settings: dict[str, Any] = {
            "secret_key": self._clerk.secret_key,
            "api_url": self._clerk.url,
        }
        return MachineConfig(**{**settings, **overrides})

    # -- serving ------------------------------------------------------------------------

    def serve(self, request: Request, stopping: threading.Event) -> Response | None:
        """Answer a Backend API verify request (the path is in :data:`MACHINE_PATHS`)."""
        kind, member = MACHINE_PATHS[request.path]
        with self._lock:
            self._calls[kind] += 1
            fault, delay = self._fault, self._delay
        if request.method != "POST":
            return _clerk_error(405, "method_not_allowed", "Use POST.")
        if fault == "down":
            return None
        if fault == "slow" and stopping.wait(delay):
            return None
        if fault == "500":
            return _clerk_error(500, "internal_clerk_error", "Something went wrong (mock fault).")
        if fault == "garbage":
            return Response(status=200, body=b"<!doctype html><title>502 Bad Gateway</title>\n")
        if fault == "oversized":
            body = b'{"object":"api_key","padding":"' + b"x" * (70 * 1024) + b'"}'
            return Response(status=200, headers=(("Content-Type", "application/json"),), body=body)
        secret = self._clerk.secret_key
        if not _authorized(request, secret) and not (
            kind == "m2m_token" and _authorized(request, self.machine_secret_key)
        ):
            return _clerk_error(401, "authentication_invalid", "The secret key is invalid.")
        try:
            document = json.loads(request.body)
            token = document[member]
        except (ValueError, KeyError, TypeError):
            return _clerk_error(422, "form_param_missing", f"{member} is required.")
        now_ms = int(time.time() * 1000)
        with self._lock:
            entry = self._tokens.get(token) if isinstance(token, str) else None
            if entry is not None and entry.kind != kind:
                entry = None
            answer = None if entry is None else entry.document(now_ms)
            flags = self.flags_in_body
        if answer is None or (not flags and (answer["revoked"] or answer["expired"])):
            return _clerk_error(404, "resource_not_found", _NOT_FOUND[kind])
        return Response.json(200, answer)
