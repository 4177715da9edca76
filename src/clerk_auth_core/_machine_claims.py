""":class:`MachineClaims`, a verified machine token (machine-tokens.md §3.2, §4, §5),
and :class:`AuthenticatedToken`, what it shares with :class:`SessionClaims`.

One class for the three machine kinds, whichever form (a Backend API answer, or a
verified JWT payload) it came from, so an adapter reads ``claims.subject`` and
``claims.token_type`` on any result without ``isinstance`` chains. Times are unix
**seconds** here, as on :class:`SessionClaims` (the Backend API sends milliseconds).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, Final, Protocol, runtime_checkable

import attrs

from ._token_kinds import API_KEY, M2M_TOKEN, OAUTH_TOKEN

__all__ = ["AuthenticatedToken", "MachineClaims"]

#: Payload members that are no custom claims of an M2M JWT (Clerk's fromJwtPayload).
_M2M_STANDARD: Final = frozenset({"iss", "sub", "exp", "nbf", "iat", "jti"})


@runtime_checkable
class AuthenticatedToken(Protocol):
    """What every verified token offers, session or machine: an adapter needs no more
    to put "who is calling" on a request."""

    @property
    def subject(self) -> str:
        """``user_…`` for a session, ``user_…``/``org_…``/``mch_…`` for a machine."""
        ...

    @property
    def token_type(self) -> str:
        """``session_token``, ``api_key``, ``m2m_token`` or ``oauth_token``."""
        ...

    @property
    def user_id(self) -> str | None:
        """The user the token acts for, if it acts for one."""
        ...


def _seconds(value: Any) -> float | None:
    """Unix milliseconds (a number) as seconds; anything else ``None``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value):
        return None
    return value / 1000


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(v for v in value if isinstance(v, str))
    return ()


def _split(value: str) -> tuple[str, ...]:
    # Clerk splits on single spaces, which yields "" for doubled spaces (spec §8: a
    # quirk not to copy): split on runs of whitespace.
    return tuple(value.split())


# slots=False: from_jwt_payload (every request of a JWT machine token) fills the
# instance dict in one step (_build) instead of 16 frozen slot assignments, as
# SessionClaims does; a test holds the two constructions equal.
@attrs.frozen(kw_only=True, slots=False)
class MachineClaims:
    """A verified API key, M2M token or OAuth access token.

    Build one with :func:`~clerk_auth_core.judge_machine_response` (opaque tokens) or
    :func:`~clerk_auth_core.verify_machine_jwt` (JWT forms), not by hand.
    """

    #: ``api_key``, ``m2m_token`` or ``oauth_token``.
    token_type: str
    #: The token's id (``ak_…``, ``mt_…``, ``oat_…``; a JWT's ``jti``, or ``""``).
    id: str
    #: Who the token stands for: ``user_…``/``org_…`` (API key), ``mch_…`` (M2M),
    #: ``user_…`` (OAuth).
    subject: str
    #: The API key's name (API keys only).
    name: str | None = None
    scopes: tuple[str, ...] = ()
    #: Custom claims (API keys, M2M tokens), ``None`` when there are none.
    claims: Mapping[str, Any] | None = None
    #: The OAuth application's client id (OAuth tokens only).
    client_id: str | None = None
    revoked: bool = False
    revocation_reason: str | None = None
    expired: bool = False
    #: Unix seconds; ``None``: never expires.
    expires_at: float | None = None
    created_at: float | None = None
    updated_at: float | None = None
    #: ``"backend-api"`` (opaque, asked Clerk) or ``"jwt"`` (verified locally).
    source: str = "backend-api"
    #: The Backend API's object, or the JWT payload, as received.
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    @property
    def user_id(self) -> str | None:
        """The user the token acts for: an OAuth token's subject, an API key's when it
        is a ``user_…`` (Clerk's ``userId``); else ``None``."""
        if self.token_type == OAUTH_TOKEN or (
            self.token_type == API_KEY and self.subject.startswith("user_")
        ):
            return self.subject
        return None

    @property
    def org_id(self) -> str | None:
        """An API key's subject when it is an ``org_…`` (Clerk's ``orgId``)."""
        if self.token_type == API_KEY and self.subject.startswith("org_"):
            return self.subject
        return None

    @property
    def machine_id(self) -> str | None:
        """An M2M token's subject (``mch_…``; Clerk's ``machineId``)."""
        return self.subject if self.token_type == M2M_TOKEN else None

    @property
    def is_machine(self) -> bool:
        """Always true (``SessionClaims`` has no such attribute to be false on)."""
        return True

    def has(self, *, scope: str | Iterable[str]) -> bool:
        """Whether the token holds ``scope`` (any-of for a list, as
        :meth:`SessionClaims.has`). Clerk's ``has()`` is always false for machine
        tokens and offers no scope check (spec §5, §8); this is ours."""
        wanted = [scope] if isinstance(scope, str) else list(scope)
        return any(s in self.scopes for s in wanted)

    @classmethod
    def from_backend(cls, kind: str, document: Mapping[str, Any]) -> MachineClaims:
        """Decode a Backend API verify answer (spec §3.2; times in milliseconds).

        :raises ValueError: when ``id`` or ``subject`` is missing or not a string (the
            answer is not Clerk's).
        """
        ident, subject = document.get("id"), document.get("subject")
        if not isinstance(ident, str) or not isinstance(subject, str) or not subject:
            raise ValueError("the answer lacks a string id and subject")
        claims = document.get("claims")
        name, client_id = document.get("name"), document.get("client_id")
        reason = document.get("revocation_reason")
        return cls(
            token_type=kind,
            id=ident,
            subject=subject,
            name=name if isinstance(name, str) else None,
            scopes=_strings(document.get("scopes")),
            claims=claims if isinstance(claims, dict) else None,
            client_id=client_id if isinstance(client_id, str) else None,
            revoked=document.get("revoked") is True,
            revocation_reason=reason if isinstance(reason, str) else None,
            expired=document.get("expired") is True,
            expires_at=_seconds(document.get("expiration")),
            created_at=_seconds(document.get("created_at")),
            updated_at=_seconds(document.get("updated_at")),
            source="backend-api",
            raw=dict(document),
        )

    @classmethod
    def from_jwt_payload(cls, kind: str, payload: Mapping[str, Any]) -> MachineClaims:
        """Decode a verified M2M or OAuth JWT payload (Clerk's ``fromJwtPayload``,
        spec §4): ``exp``/``iat`` are already checked numbers (seconds)."""
        jti = payload.get("jti")
        if kind == M2M_TOKEN:
            scopes_claim, aud = payload.get("scopes"), payload.get("aud")
            if isinstance(scopes_claim, str):
                scopes = _split(scopes_claim)
            else:
                scopes = _strings(aud) if isinstance(aud, list) else ()
            custom = {k: v for k, v in payload.items() if k not in _M2M_STANDARD}
            claims: dict[str, Any] | None = custom or None
            client_id = None
        else:
            scp, scope = payload.get("scp"), payload.get("scope")
            if isinstance(scp, list):
                scopes = _strings(scp)
            else:
                scopes = _split(scope) if isinstance(scope, str) else ()
            claims = None
            cid = payload.get("client_id")
            client_id = cid if isinstance(cid, str) else ""
        iat = payload.get("iat")
        issued = float(iat) if isinstance(iat, int | float) else None
        values = {
            "token_type": kind,
            "id": jti if isinstance(jti, str) else "",
            "subject": payload["sub"],
            "name": None,
            "scopes": scopes,
            "claims": claims,
            "client_id": client_id,
            "revoked": False,
            "revocation_reason": None,
            "expired": False,
            "expires_at": float(payload["exp"]),
            "created_at": issued,
            "updated_at": issued,
            "source": "jwt",
            # The gate parsed this payload for this call alone: no copy needed.
            "raw": payload,
        }
        if cls is not MachineClaims:
            return cls(**values)
        claims_object = _new(cls)
        claims_object.__dict__.update(values)
        return claims_object


_new = object.__new__
