"""Who the signed-in user is: :class:`ClerkUser` (no database), or a local ``User``;
:class:`ClerkMachineUser` for a machine token."""

from __future__ import annotations

from typing import Any

from clerk_auth_core import MachineClaims, SessionClaims

__all__ = ["ClerkMachineUser", "ClerkUser", "get_or_create_user"]


class ClerkUser:
    """The signed-in Clerk user as ``request.user`` (DRF): not a database user.

    ``is_authenticated`` is true; ``id`` / ``pk`` / ``username`` are the Clerk user id;
    ``session_id``, ``org_id`` and the whole ``claims`` are at hand. Map to a local
    ``User`` model with ``CLERK_USER_MAPPER`` (see :func:`get_or_create_user`).
    """

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False

    __slots__ = ("claims",)

    def __init__(self, claims: SessionClaims) -> None:
        self.claims = claims

    @property
    def id(self) -> str:
        """The Clerk user id (``sub``)."""
        return self.claims.user_id

    pk = username = user_id = id

    @property
    def session_id(self) -> str | None:
        """The Clerk session id (``sid``)."""
        return self.claims.session_id

    @property
    def org_id(self) -> str | None:
        """The active organisation's id (``org_id``), if any."""
        return self.claims.org_id

    def get_username(self) -> str:
        """As Django's users: the user id."""
        return self.claims.user_id

    def __str__(self) -> str:
        return self.claims.user_id

    def __repr__(self) -> str:
        return f"ClerkUser({self.claims.user_id!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ClerkUser) and other.claims.user_id == self.claims.user_id

    def __hash__(self) -> int:
        return hash(self.claims.user_id)


class ClerkMachineUser:
    """A verified machine token (API key, M2M or OAuth token) as ``request.user``
    (DRF): not a database user, and not a person.

    ``is_authenticated`` is true; ``id`` / ``pk`` / ``username`` are the token's
    ``subject`` (``user_…``, ``org_…`` or ``mch_…``); ``token_type`` and the whole
    ``claims`` (:class:`~clerk_auth_core.MachineClaims`, with ``has(scope=…)``) are at
    hand.
    """

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False

    __slots__ = ("claims",)

    def __init__(self, claims: MachineClaims) -> None:
        self.claims = claims

    @property
    def id(self) -> str:
        """The token's subject."""
        return self.claims.subject

    pk = username = id

    @property
    def token_type(self) -> str:
        """``api_key``, ``m2m_token`` or ``oauth_token``."""
        return self.claims.token_type

    @property
    def user_id(self) -> str | None:
        """The user the token acts for, if any."""
        return self.claims.user_id

    def get_username(self) -> str:
        """As Django's users: the subject."""
        return self.claims.subject

    def __str__(self) -> str:
        return self.claims.subject

    def __repr__(self) -> str:
        return f"ClerkMachineUser({self.claims.token_type}, {self.claims.subject!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ClerkMachineUser) and other.claims.id == self.claims.id

    def __hash__(self) -> int:
        return hash(self.claims.id)


def get_or_create_user(claims: SessionClaims) -> Any:
    """The local ``User`` (``get_user_model()``) whose ``CLERK_USER_ID_FIELD`` (default
    ``username``) is the Clerk user id, created on first sight (unusable password).

    Use as ``CLERK_USER_MAPPER = "clerk_auth_django.get_or_create_user"``, or call it
    from a mapper of your own that also copies fields you keep locally.
    """
    from django.conf import settings
    from django.contrib.auth import get_user_model

    model: Any = get_user_model()
    field = getattr(settings, "CLERK_USER_ID_FIELD", None) or "username"
    user, created = model.objects.get_or_create(**{field: claims.user_id})
    if created and hasattr(user, "set_unusable_password"):
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user
