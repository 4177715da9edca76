"""Minting: token shapes (v1, v2), overrides, raw tokens, and that signatures hold
against the JWKS the mock serves. No server needed except where said."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers
from mock_helpers import b64d, decode, signature_holds

from clerk_auth_core import (
    ClerkConfig,
    KeySet,
    SessionClaims,
    TokenVerificationError,
    verify_token,
)
from clerk_auth_core._config import frontend_api_from_publishable_key
from clerk_auth_core.testing import (
    CAT_SESSION,
    REMOVE,
    MockClerk,
    generate_key,
    mint_token,
    public_jwk,
)

NOW = 1_700_000_000


def verify(clerk: MockClerk, token: str) -> SessionClaims:
    """Verify with the core, networkless (the mock's PEM config), at ``NOW``."""
    config = clerk.pem_config()
    assert config.static_keys is not None
    return verify_token(token, config.static_keys, config, now=NOW)


class TestIdentity:
    def test_kid_and_secret_key_look_like_clerks(self, idle_clerk: MockClerk) -> None:
        assert idle_clerk.kid.startswith("ins_")
        assert idle_clerk.secret_key.startswith("sk_test_")
        assert idle_clerk.publishable_key.startswith("pk_test_")
        assert "=" not in idle_clerk.publishable_key

    def test_publishable_key_is_valid_per_spec(self, idle_clerk: MockClerk) -> None:
        assert frontend_api_from_publishable_key(idle_clerk.publishable_key) == "clerk.mock.test"

    def test_url_needs_a_started_server(self) -> None:
        clerk = MockClerk(private_key=generate_key())
        with pytest.raises(RuntimeError, match="issuer="):
            clerk.mint()

    def test_served_keys_pass_the_key_rules(self, idle_clerk: MockClerk) -> None:
        keys = KeySet.from_jwks(idle_clerk.jwks())
        assert keys.kids == {idle_clerk.kid}
        assert not keys.dropped

    def test_jwk_shape(self, idle_clerk: MockClerk) -> None:
        (jwk,) = idle_clerk.jwks()["keys"]
        assert jwk.keys() == {"use", "kty", "kid", "alg", "n", "e"}
        assert (jwk["use"], jwk["kty"], jwk["alg"], jwk["e"]) == ("sig", "RSA", "RS256", "AQAB")
        assert len(b64d(jwk["n"])) == 256

    def test_public_pem_is_accepted_as_clerk_jwt_key(self, idle_clerk: MockClerk) -> None:
        assert idle_clerk.public_pem.startswith("-----BEGIN PUBLIC KEY-----")
        assert KeySet.from_pem(idle_clerk.public_pem).is_static


class TestMintDefaults:
    def test_header(self, idle_clerk: MockClerk) -> None:
        header, _ = decode(idle_clerk.mint())
        assert header == {"alg": "RS256", "kid": idle_clerk.kid, "typ": "JWT"}

    def test_claims(self, idle_clerk: MockClerk) -> None:
        _, claims = decode(idle_clerk.mint(iat=NOW))
        assert claims.pop("jti")
        assert claims == {
            "azp": "http://localhost:3000",
            "exp": NOW + 60,
            "iat": NOW,
            "iss": "https://clerk.mock.test",
            "nbf": NOW - 10,
            "sid": "sess_test",
            "sub": "user_test",
        }

    def test_iat_defaults_to_now(self, idle_clerk: MockClerk) -> None:
        import time

        _, claims = decode(idle_clerk.mint(lifetime=120))
        assert abs(claims["iat"] - time.time()) < 5
        assert claims["exp"] - claims["iat"] == 120

    def test_signature_holds_against_the_jwks(self, idle_clerk: MockClerk) -> None:
        assert signature_holds(idle_clerk.mint(), idle_clerk.jwks())

    def test_verifies_with_the_core(self, idle_clerk: MockClerk) -> None:
        claims = verify(idle_clerk, idle_clerk.mint(iat=NOW))
        assert (claims.user_id, claims.session_id) == ("user_test", "sess_test")


class TestMintOptions:
    def test_explicit_claims(self, idle_clerk: MockClerk) -> None:
        token = idle_clerk.mint(
            sub="user_1",
            sid="sess_1",
            azp="https://app.example",
            iss="https://other.example",
            iat=NOW,
            nbf=NOW,
            lifetime=5,
            sts="pending",
            act={"sub": "user_admin", "iss": "https://dashboard.clerk.com"},
            fva=[3, -1],
        )
        _, claims = decode(token)
        assert claims["sub"] == "user_1"
        assert claims["sid"] == "sess_1"
        assert claims["azp"] == "https://app.example"
        assert claims["iss"] == "https://other.example"
        assert (claims["nbf"], claims["exp"]) == (NOW, NOW + 5)
        assert claims["sts"] == "pending"
        assert claims["act"] == {"sub": "user_admin", "iss": "https://dashboard.clerk.com"}
        assert claims["fva"] == [3, -1]

    @pytest.mark.parametrize("name", ["sub", "sid", "azp", "iss", "nbf"])
    def test_remove_as_argument(self, idle_clerk: MockClerk, name: str) -> None:
        removed: dict[str, Any] = {name: REMOVE}
        _, claims = decode(idle_clerk.mint(**removed))
        assert name not in claims

    def test_claims_override_and_remove(self, idle_clerk: MockClerk) -> None:
        token = idle_clerk.mint(claims={"exp": "soon", "iat": REMOVE, "custom": {"a": [1]}})
        _, claims = decode(token)
        assert claims["exp"] == "soon"
        assert "iat" not in claims
        assert claims["custom"] == {"a": [1]}

    def test_header_override_and_remove(self, idle_clerk: MockClerk) -> None:
        token = idle_clerk.mint(header={"alg": "none", "typ": REMOVE, "crit": ["exp"]})
        header, _ = decode(token)
        assert header == {"alg": "none", "kid": idle_clerk.kid, "crit": ["exp"]}

    def test_typ_and_cat(self, idle_clerk: MockClerk) -> None:
        header, _ = decode(idle_clerk.mint(typ=None, cat=CAT_SESSION))
        assert header == {"alg": "RS256", "cat": CAT_SESSION, "kid": idle_clerk.kid}

    def test_kid_remove(self, idle_clerk: MockClerk) -> None:
        header, _ = decode(idle_clerk.mint(kid=REMOVE))
        assert "kid" not in header

    def test_unknown_kid_is_signed_by_the_current_key(self, idle_clerk: MockClerk) -> None:
        token = idle_clerk.mint(kid="ins_unknown")
        assert decode(token)[0]["kid"] == "ins_unknown"
        jwks = {"keys": [{**idle_clerk.jwks()["keys"][0], "kid": "ins_unknown"}]}
        assert signature_holds(token, jwks)

    def test_foreign_key(self, idle_clerk: MockClerk) -> None:
        foreign = idle_clerk.add_foreign_key("ins_other")
        token = idle_clerk.mint(kid="ins_other")
        assert not signature_holds(token, idle_clerk.jwks())
        assert signature_holds(token, {"keys": [public_jwk(foreign, "ins_other")]})
        assert "ins_other" not in KeySet.from_jwks(idle_clerk.jwks())

    def test_other_key_under_the_instance_kid(self, idle_clerk: MockClerk) -> None:
        token = idle_clerk.mint(key=generate_key())
        assert decode(token)[0]["kid"] == idle_clerk.kid
        assert not signature_holds(token, idle_clerk.jwks())
        with pytest.raises(TokenVerificationError) as info:
            verify(idle_clerk, token)
        assert info.value.reason == "token-invalid-signature"

    def test_bad_version(self, idle_clerk: MockClerk) -> None:
        with pytest.raises(ValueError, match="version"):
            idle_clerk.mint(version=3)


ORG = {
    "id": "org_1",
    "slug": "acme",
    "role": "org:admin",
    "permissions": ["org:billing:read", "org:billing:manage", "org:team:read"],
}


class TestOrganisationClaims:
    def test_v1(self, idle_clerk: MockClerk) -> None:
        _, claims = decode(idle_clerk.mint(org=ORG))
        assert claims["org_id"] == "org_1"
        assert claims["org_slug"] == "acme"
        assert claims["org_role"] == "org:admin"
        assert claims["org_permissions"] == ORG["permissions"]
        assert "v" not in claims
        assert "o" not in claims

    def test_v1_role_gets_the_org_prefix(self, idle_clerk: MockClerk) -> None:
        _, claims = decode(idle_clerk.mint(org={"id": "org_1", "role": "member"}))
        assert claims["org_role"] == "org:member"
        assert claims["org_permissions"] == []

    def test_v2(self, idle_clerk: MockClerk) -> None:
        token = idle_clerk.mint(version=2, org=ORG, features=["u:dash"], plans=["u:free", "o:pro"])
        _, claims = decode(token)
        assert claims["v"] == 2
        assert "org_id" not in claims
        # per lists distinct names; fpm[k] is the mask of the k-th org-scoped feature.
        assert claims["o"] == {
            "id": "org_1",
            "slg": "acme",
            "rol": "admin",
            "per": "read,manage",
            "fpm": "3,1",
        }
        assert claims["fea"] == "u:dash,o:billing,o:team"
        assert claims["pla"] == "u:free,o:pro"

    def test_v2_masks_follow_the_order_of_given_features(self, idle_clerk: MockClerk) -> None:
        features = "o:team,u:dash,uo:billing,o:empty"
        _, claims = decode(idle_clerk.mint(version=2, org=ORG, features=features))
        assert claims["fea"] == features
        assert claims["o"]["fpm"] == "1,3,0"

    def test_v2_decodes_back_to_the_permissions(self, idle_clerk: MockClerk) -> None:
        claims = verify(idle_clerk, idle_clerk.mint(version=2, org=ORG, iat=NOW))
        assert claims.version == 2
        assert claims.org_role == "org:admin"
        assert sorted(claims.org_permissions) == sorted(ORG["permissions"])

    def test_v2_without_org(self, idle_clerk: MockClerk) -> None:
        _, claims = decode(idle_clerk.mint(version=2, features="u:dash"))
        assert claims["v"] == 2
        assert "o" not in claims
        assert claims["fea"] == "u:dash"

    def test_v2_refuses_permissions_it_cannot_encode(self, idle_clerk: MockClerk) -> None:
        with pytest.raises(ValueError, match="org:<feature>:<permission>"):
            idle_clerk.mint(version=2, org={"id": "org_1", "permissions": ["billing"]})


class TestRawTokens:
    def test_mint_token(self) -> None:
        key = generate_key()
        token = mint_token(key, {"alg": "RS256", "kid": "k1"}, {"sub": "x"})
        assert decode(token) == ({"alg": "RS256", "kid": "k1"}, {"sub": "x"})
        assert "=" not in token
        assert signature_holds(token, {"keys": [public_jwk(key, "k1")]})

    def test_mint_raw_bytes_and_signature(self, idle_clerk: MockClerk) -> None:
        token = idle_clerk.mint_raw(b'{"alg":"RS256","alg":"none"}', b"\xef\xbb\xbf{}", b"sig")
        header, payload, signature = token.split(".")
        assert b64d(header) == b'{"alg":"RS256","alg":"none"}'
        assert b64d(payload) == b"\xef\xbb\xbf{}"
        assert b64d(signature) == b"sig"

    def test_mint_raw_signs_by_default(self, idle_clerk: MockClerk) -> None:
        token = idle_clerk.mint_raw({"alg": "RS256", "kid": idle_clerk.kid}, {"sub": "x"})
        assert signature_holds(token, idle_clerk.jwks())

    def test_mint_raw_unsigned(self, idle_clerk: MockClerk) -> None:
        token = idle_clerk.mint_raw({"alg": "none"}, {"sub": "x"}, sign=False)
        assert token.endswith(".")
        assert token.count(".") == 2

    def test_mint_raw_keeps_lone_surrogates(self, idle_clerk: MockClerk) -> None:
        token = idle_clerk.mint_raw('{"alg":"RS256"}', '{"sub":"\ud800"}', sign=False)
        assert b64d(token.split(".")[1]) == b'{"sub":"\xed\xa0\x80"}'

    def test_sign_helper(self, idle_clerk: MockClerk) -> None:
        signing_input = "e30.e30"  # {} . {}
        token = f"{signing_input}.{idle_clerk.sign(signing_input)}"
        jwks = idle_clerk.jwks()
        n = int.from_bytes(b64d(jwks["keys"][0]["n"]), "big")
        key = RSAPublicNumbers(65537, n).public_key()
        key.verify(b64d(token.split(".")[2]), b"e30.e30", padding.PKCS1v15(), hashes.SHA256())


class TestConfigs:
    def test_pem_config(self, idle_clerk: MockClerk) -> None:
        config = idle_clerk.pem_config()
        assert config.jwt_key == idle_clerk.public_pem.strip()
        assert config.expected_issuer == "https://clerk.mock.test"
        assert config.authorized_parties == ("http://localhost:3000",)
        assert config.jwks_request_url is None

    def test_config_uses_the_backend_api(self, shared_mock_clerk: MockClerk) -> None:
        config = shared_mock_clerk.config()
        assert config.jwks_request_url == f"{shared_mock_clerk.url}/v1/jwks"
        assert config.jwks_uses_secret_key
        assert config.expected_issuer == shared_mock_clerk.url
        assert config.publishable_key is None

    def test_overrides_win(self, shared_mock_clerk: MockClerk) -> None:
        config = shared_mock_clerk.config(authorized_parties=("https://a.example",), clock_skew=0)
        assert config.authorized_parties == ("https://a.example",)
        assert config.clock_skew == 0
        assert isinstance(config, ClerkConfig)
