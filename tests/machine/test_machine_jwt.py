"""JWT machine tokens verified locally (machine-tokens.md §4, §7 "JWT verification"):
Clerk's vectors, then each claim rule refused with its reason."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest

from clerk_auth_core import (
    ClerkConfig,
    KeyResolutionError,
    KeySet,
    MachineClaims,
    TokenVerificationError,
    verify_machine_jwt,
    verify_token,
)
from clerk_auth_core._machine_verify import finish_machine_jwt, prepare_machine_jwt
from clerk_auth_core.testing import b64url, generate_key, mint_token, public_jwk

from .conftest import CLERK_KID, CLERK_NOW, P0, PM, PO, Signer

OAUTH = {"typ": "at+jwt"}


def refused(token: str, keys: KeySet | None, config: ClerkConfig, **kw: Any) -> str:
    with pytest.raises(TokenVerificationError) as info:
        verify_machine_jwt(token, keys, config, now=kw.pop("now", CLERK_NOW), **kw)
    assert info.value.status == 401
    return info.value.reason


class TestClerkVectors:
    @pytest.mark.parametrize("typ", ["at+jwt", "application/at+jwt"])
    def test_oauth_jwt(self, sign: Signer, keys: KeySet, config: ClerkConfig, typ: str) -> None:
        claims = verify_machine_jwt(sign(PO, typ=typ), keys, config, now=CLERK_NOW)
        assert claims.token_type == "oauth_token"
        assert claims.id == "oat_2xKa9Bgv7NxMRDFyQw8LpZ3cTmU1vHjE"
        assert claims.client_id == "client_2VTWUzvGC5UhdJCNx6xG1D98edc"
        assert claims.subject == claims.user_id == "user_2vYVtestTESTtestTESTtestTESTtest"
        assert claims.scopes == ("read:foo", "write:bar")
        assert claims.expires_at == 1666648550
        assert claims.created_at == claims.updated_at == 1666648250
        assert claims.source == "jwt"
        assert not claims.revoked
        assert claims.revocation_reason is None

    def test_oauth_payload_signed_as_jwt_is_no_machine_token(
        self, sign: Signer, keys: KeySet, config: ClerkConfig
    ) -> None:
        assert refused(sign(PO, typ="JWT"), keys, config) == "token-type-mismatch"

    def test_invalid_jwt(self, keys: KeySet, config: ClerkConfig) -> None:
        # Clerk: a JWT-shaped token that will not decode is token-invalid.
        assert refused("invalid.jwt.token", keys, config) == "token-invalid"

    def test_oauth_alg_none(self, keys: KeySet, config: ClerkConfig) -> None:
        head = b64url(b'{"alg":"none","kid":"%s","typ":"at+jwt"}' % CLERK_KID.encode())
        body = b64url(json.dumps(PO, separators=(",", ":")).encode())  # unsigned
        assert refused(f"{head}.{body}.AAAA", keys, config) == "token-invalid-algorithm"

    @pytest.mark.parametrize(("payload", "header"), [(PO, OAUTH), (PM, {})])
    def test_expired(
        self, sign: Signer, keys: KeySet, config: ClerkConfig, payload: Any, header: Any
    ) -> None:
        token = sign({**payload, "exp": payload["iat"] - 100}, **header)
        assert refused(token, keys, config) == "token-expired"

    @pytest.mark.parametrize("sub", [None, 123, {}])
    def test_oauth_without_string_sub(
        self, sign: Signer, keys: KeySet, config: ClerkConfig, sub: Any
    ) -> None:
        payload = {k: v for k, v in PO.items() if k != "sub"}
        if sub is not None:
            payload["sub"] = sub
        # Classified oauth_token, refused without a crash.
        assert refused(sign(payload, **OAUTH), keys, config) == "token-verification-failed"

    @pytest.mark.parametrize("cat", ["cl_B7d4PD333AAA", None])
    def test_m2m_jwt(self, sign: Signer, keys: KeySet, config: ClerkConfig, cat: Any) -> None:
        claims = verify_machine_jwt(sign(PM, cat=cat), keys, config, now=CLERK_NOW)
        assert claims.token_type == "m2m_token"
        assert claims.id == "mt_2xKa9Bgv7NxMRDFyQw8LpZ3cTmU1vHjE"
        assert claims.subject == claims.machine_id == "mch_2vYVtestTESTtestTESTtestTESTtest"
        assert claims.scopes == ("mch_1xxxxx", "mch_2xxxxx")
        assert claims.user_id is None
        # The session's authorized_parties are not applied: PM has no azp.
        assert config.authorized_parties
        assert "azp" not in PM

    @pytest.mark.parametrize(
        "cat",
        ["cl_B7d4PD111AAA", "cl_B7d4PD222AAA", "cl_some_future_unknown_cat", "cl_I7d4PD111III"],
    )
    def test_m2m_foreign_category_before_any_key(
        self, sign: Signer, config: ClerkConfig, cat: str
    ) -> None:
        # keys=None: any key lookup would raise jwk-failed-to-resolve instead.
        assert refused(sign(PM, cat=cat), None, config) == "token-invalid"

    def test_m2m_alg_none(self, keys: KeySet, config: ClerkConfig) -> None:
        token = mint_token(generate_key(), {"alg": "none", "kid": CLERK_KID}, PM)
        assert refused(token, keys, config) == "token-invalid-algorithm"

    def test_m2m_custom_claims(self, sign: Signer, keys: KeySet, config: ClerkConfig) -> None:
        extra = {"permissions": ["read:users", "read:orders"], "role": "service"}
        claims = verify_machine_jwt(sign({**PM, **extra}), keys, config, now=CLERK_NOW)
        assert claims.claims == {"aud": PM["aud"], "scopes": PM["scopes"], **extra}

    def test_empty_jwks_and_no_key_source(self, sign: Signer, config: ClerkConfig) -> None:
        with pytest.raises(KeyResolutionError):
            KeySet.from_jwks({"keys": []})
        with pytest.raises(KeyResolutionError) as info:
            verify_machine_jwt(sign(PM), None, config, now=CLERK_NOW)
        assert info.value.reason == "jwk-failed-to-resolve"
        assert info.value.status == 500

    def test_session_side_refuses_machine_jwts(
        self, sign: Signer, keys: KeySet, config: ClerkConfig
    ) -> None:
        for token in (sign(PM), sign(PO, **OAUTH)):
            with pytest.raises(TokenVerificationError) as info:
                verify_token(token, keys, config, now=CLERK_NOW)
            assert info.value.reason == "token-type-mismatch"

    def test_session_category_m2m_refused_as_session(
        self, sign: Signer, keys: KeySet, config: ClerkConfig
    ) -> None:
        # verifyToken on cat …333AAA with sub user_…: refused before any key (keys=None).
        with pytest.raises(TokenVerificationError) as info:
            verify_token(sign(P0, cat="cl_B7d4PD333AAA"), None, config, now=CLERK_NOW)
        assert info.value.reason in ("token-invalid", "token-type-mismatch")


class TestFromJwtPayload:
    @pytest.mark.parametrize(("kind", "payload"), [("m2m_token", PM), ("oauth_token", PO)])
    def test_fast_construction_equals_attrs(self, kind: str, payload: dict[str, Any]) -> None:
        fast = MachineClaims.from_jwt_payload(kind, payload)
        built = MachineClaims(**{f: getattr(fast, f) for f in attrs.fields_dict(MachineClaims)})
        assert fast == built
        assert repr(fast) == repr(built)
        assert set(vars(fast)) == set(attrs.fields_dict(MachineClaims))
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            fast.subject = "mch_other"  # type: ignore[misc]

    def test_scopes_claim_beats_aud(self) -> None:
        claims = MachineClaims.from_jwt_payload("m2m_token", {**PM, "scopes": "a b"})
        assert claims.scopes == ("a", "b")

    def test_only_aud(self) -> None:
        payload = {k: v for k, v in PM.items() if k != "scopes"}
        claims = MachineClaims.from_jwt_payload("m2m_token", payload)
        assert claims.scopes == ("mch_1xxxxx", "mch_2xxxxx")
        assert claims.claims == {"aud": PM["aud"]}
        assert not claims.revoked
        assert claims.revocation_reason is None

    def test_neither_and_no_jti(self) -> None:
        payload = {k: v for k, v in PM.items() if k not in ("scopes", "aud", "jti")}
        claims = MachineClaims.from_jwt_payload("m2m_token", payload)
        assert claims.scopes == ()
        assert claims.id == ""
        assert claims.claims is None

    def test_doubled_spaces_make_no_empty_scope(self) -> None:
        claims = MachineClaims.from_jwt_payload("oauth_token", {**PO, "scope": "a  b"})
        assert claims.scopes == ("a", "b")

    def test_oauth_scp_list_wins(self) -> None:
        claims = MachineClaims.from_jwt_payload("oauth_token", {**PO, "scp": ["x"]})
        assert claims.scopes == ("x",)
        assert claims.claims is None


class TestClaimRules:
    @pytest.mark.parametrize(
        ("change", "reason"),
        [
            ({"sub": ""}, "token-verification-failed"),
            ({"exp": None}, "token-verification-failed"),
            ({"exp": "soon"}, "token-verification-failed"),
            ({"exp": True}, "token-verification-failed"),
            ({"exp": CLERK_NOW - 5}, "token-expired"),
            ({"nbf": CLERK_NOW + 6}, "token-not-active-yet"),
            ({"nbf": "x"}, "token-verification-failed"),
            ({"nbf": "null"}, "token-verification-failed"),
            ({"iat": 1.5e300}, "token-verification-failed"),
            ({"exp": 2**60}, "token-verification-failed"),
            ({"iat": CLERK_NOW + 6}, "token-iat-in-the-future"),
        ],
    )
    @pytest.mark.parametrize(("base", "header"), [(PM, {}), (PO, OAUTH)])
    def test_refused(
        self,
        sign: Signer,
        keys: KeySet,
        config: ClerkConfig,
        change: dict[str, Any],
        reason: str,
        base: dict[str, Any],
        header: dict[str, Any],
    ) -> None:
        payload = {**base, **change}
        payload = {k: v for k, v in payload.items() if v is not None}
        payload = {k: None if v == "null" else v for k, v in payload.items()}
        if base is PM and payload.get("sub") == "":
            header = OAUTH  # an empty sub is no mch_ sub: send it as an OAuth JWT
        assert refused(sign(payload, **header), keys, config) == reason

    @pytest.mark.parametrize(("base", "header"), [(PM, {}), (PO, OAUTH)])
    def test_skew_edges_pass(
        self, sign: Signer, keys: KeySet, config: ClerkConfig, base: Any, header: Any
    ) -> None:
        payload = {**base, "exp": CLERK_NOW - 4, "nbf": CLERK_NOW + 5, "iat": CLERK_NOW + 5}
        assert verify_machine_jwt(sign(payload, **header), keys, config, now=CLERK_NOW)

    def test_nbf_and_iat_optional(self, sign: Signer, keys: KeySet, config: ClerkConfig) -> None:
        payload = {k: v for k, v in PM.items() if k not in ("nbf", "iat")}
        claims = verify_machine_jwt(sign(payload), keys, config, now=CLERK_NOW)
        assert claims.created_at is None

    def test_audience_only_when_asked(
        self, sign: Signer, keys: KeySet, config: ClerkConfig
    ) -> None:
        token = sign(PM)
        assert verify_machine_jwt(token, keys, config, now=CLERK_NOW, audience="mch_2xxxxx")
        assert refused(token, keys, config, audience=["mch_other"]) == "token-verification-failed"

    def test_wrong_typ_for_m2m(self, sign: Signer, keys: KeySet, config: ClerkConfig) -> None:
        assert refused(sign(PM, typ="JOSE"), keys, config) == "token-invalid"

    def test_forbidden_header_member(self, sign: Signer, keys: KeySet, config: ClerkConfig) -> None:
        token = sign(PO, typ="at+jwt", jku="https://evil.example/jwks")
        assert refused(token, keys, config) == "token-invalid"

    def test_opaque_tokens_are_not_jwts(self, keys: KeySet, config: ClerkConfig) -> None:
        for token in ("ak_x", "mt_x", "oat_x", "mt_a.b.c"):
            assert refused(token, keys, config) == "token-type-mismatch"
        assert refused("", keys, config) == "token-invalid"

    def test_a_session_token_is_no_machine_jwt(
        self, sign: Signer, keys: KeySet, config: ClerkConfig
    ) -> None:
        assert refused(sign(P0), keys, config) == "token-type-mismatch"


class TestTwoHalves:
    def test_kid_before_keys(self, sign: Signer, keys: KeySet, config: ClerkConfig) -> None:
        # The request path's order: the gate and kind, then the key source for the kid.
        pending = prepare_machine_jwt(sign(PM), config)
        assert (pending.kind, pending.kid) == ("m2m_token", CLERK_KID)
        claims = finish_machine_jwt(pending, keys, config, now=CLERK_NOW)
        assert claims.subject == PM["sub"]

    def test_refused_before_keys(self, sign: Signer, config: ClerkConfig) -> None:
        with pytest.raises(TokenVerificationError) as info:
            prepare_machine_jwt(sign(PM, cat="cl_B7d4PD111AAA"), config)
        assert info.value.reason == "token-invalid"


class TestWrongInstance:
    def test_other_instance_key_same_kid(self, keys: KeySet, config: ClerkConfig) -> None:
        token = mint_token(generate_key(), {"alg": "RS256", "kid": CLERK_KID}, PM)
        assert refused(token, keys, config) == "token-invalid-signature"

    def test_other_instance_kid(self, config: ClerkConfig) -> None:
        other = generate_key()
        token = mint_token(other, {"alg": "RS256", "kid": "ins_other"}, PM)
        mine = KeySet.from_jwks({"keys": [public_jwk(generate_key(), CLERK_KID)]})
        assert refused(token, mine, config) == "jwk-kid-mismatch"

    def test_tampered_payload(self, sign: Signer, keys: KeySet, config: ClerkConfig) -> None:
        head, _, sig = sign(PM).split(".")
        body = b64url(json.dumps({**PM, "sub": "mch_evil"}).encode())
        assert refused(f"{head}.{body}.{sig}", keys, config) == "token-invalid-signature"
