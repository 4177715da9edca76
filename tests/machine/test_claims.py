"""One result an adapter can treat like a session: MachineClaims and SessionClaims
share subject, token_type and user_id (the AuthenticatedToken protocol)."""

from __future__ import annotations

import pickle

import pytest

from clerk_auth_core import (
    AuthenticatedToken,
    ClerkConfig,
    KeySet,
    MachineClaims,
    SessionClaims,
    verify_token,
)

from .conftest import CLERK_NOW, P0, Signer


def who(claims: AuthenticatedToken) -> tuple[str, str, str | None]:
    # What an adapter would put on the request, without isinstance chains.
    return claims.token_type, claims.subject, claims.user_id


class TestShared:
    def test_session(self, sign: Signer, keys: KeySet, config: ClerkConfig) -> None:
        claims = verify_token(sign(P0), keys, config, now=CLERK_NOW)
        assert isinstance(claims, AuthenticatedToken)
        assert who(claims) == ("session_token", P0["sub"], P0["sub"])
        # Properties, not fields: equality, repr and attrs fields are unchanged.
        assert "subject" not in repr(claims)
        assert "token_type" not in {a.name for a in SessionClaims.__attrs_attrs__}

    @pytest.mark.parametrize(
        ("kind", "subject", "user_id"),
        [
            ("api_key", "user_1", "user_1"),
            ("api_key", "org_1", None),
            ("m2m_token", "mch_1", None),
            ("oauth_token", "user_2", "user_2"),
        ],
    )
    def test_machine(self, kind: str, subject: str, user_id: str | None) -> None:
        claims = MachineClaims(token_type=kind, id="x", subject=subject)
        assert isinstance(claims, AuthenticatedToken)
        assert who(claims) == (kind, subject, user_id)
        assert claims.is_machine


class TestMachineClaims:
    def test_frozen_and_picklable(self) -> None:
        claims = MachineClaims(token_type="api_key", id="ak_1", subject="user_1", scopes=("a",))
        with pytest.raises(AttributeError):
            claims.subject = "user_2"  # type: ignore[misc]
        assert pickle.loads(pickle.dumps(claims)) == claims

    def test_has_scope(self) -> None:
        claims = MachineClaims(token_type="m2m_token", id="", subject="mch_1", scopes=("a", "b"))
        assert claims.has(scope="a")
        assert claims.has(scope=("z", "b"))
        assert not claims.has(scope="c")
        assert not claims.has(scope=[])

    def test_from_backend_ignores_wrong_types(self) -> None:
        claims = MachineClaims.from_backend(
            "api_key",
            {
                "id": "ak_1",
                "subject": "user_1",
                "scopes": ["a", 1, None],
                "claims": ["not", "an", "object"],
                "revoked": "yes",
                "expiration": True,
                "name": 5,
            },
        )
        assert claims.scopes == ("a",)
        assert claims.claims is None
        assert claims.revoked is False
        assert claims.expires_at is None
        assert claims.name is None

    def test_secret_is_never_in_repr(self) -> None:
        claims = MachineClaims.from_backend(
            "api_key", {"id": "ak_1", "subject": "user_1", "secret": "ak_SECRETVALUE"}
        )
        assert "ak_SECRETVALUE" not in repr(claims)
