"""The whole check, in the spec's order (§3): gate, header, key, signature, claims."""

from __future__ import annotations

from typing import Any

import pytest

from clerk_auth_core import (
    ClerkConfig,
    KeyResolutionError,
    KeySet,
    Reason,
    TokenVerificationError,
    VerificationKey,
    verify_token,
)

from .conftest import (
    AZP,
    CAT_M2M,
    DELETE,
    KID,
    NOW,
    Signer,
    b64u,
    encode_part,
    make_claims,
    make_config,
    make_header,
)


def reason_of(token: str, keys: KeySet | None, config: ClerkConfig) -> str:
    with pytest.raises(TokenVerificationError) as info:
        verify_token(token, keys, config, now=NOW)
    assert token not in str(info.value)
    assert token not in repr(info.value)
    return info.value.reason


def swap_payload(token: str, claims: dict[str, Any]) -> str:
    """The same header and signature over a different payload (a forgery)."""
    head, _body, sig = token.split(".")
    return f"{head}.{encode_part(claims)}.{sig}"


class _ExplodingKey:
    """A public key whose signature check fails in a way other than a false signature."""

    key_size = 2048

    def recover_data_from_signature(self, *_args: Any) -> bytes:
        raise RuntimeError("backend failure")


class TestVerifyToken:
    def test_valid_jwks(self, signer: Signer, keys: KeySet, config: ClerkConfig) -> None:
        claims = verify_token(signer.mint(), keys, config, now=NOW)
        assert claims.user_id == make_claims()["sub"]
        assert claims.session_id == make_claims()["sid"]
        assert claims.authorized_party == AZP

    def test_valid_pem_without_kid(
        self, signer: Signer, pem_keys: KeySet, pem_config: ClerkConfig
    ) -> None:
        token = signer.mint(header=make_header(kid=DELETE))
        assert verify_token(token, pem_keys, pem_config, now=NOW).user_id == "user_2abc"

    def test_pem_ignores_the_kid(
        self, signer: Signer, pem_keys: KeySet, pem_config: ClerkConfig
    ) -> None:
        token = signer.mint(header=make_header(kid="ins_someone_else"))
        assert verify_token(token, pem_keys, pem_config, now=NOW).user_id == "user_2abc"

    def test_jwks_config_requires_kid(
        self, signer: Signer, keys: KeySet, config: ClerkConfig
    ) -> None:
        token = signer.mint(header=make_header(kid=DELETE))
        assert reason_of(token, keys, config) == Reason.TOKEN_INVALID

    def test_v2_token(self, signer: Signer, keys: KeySet, config: ClerkConfig) -> None:
        claims = make_claims(
            v=2,
            o={"id": "org_1", "slg": "acme", "rol": "admin", "per": "read,manage", "fpm": "2"},
            fea="o:reports",
            pla="o:pro",
            sts="active",
        )
        verified = verify_token(signer.mint(claims), keys, config, now=NOW)
        assert verified.org_role == "org:admin"
        assert verified.org_permissions == ("org:reports:manage",)
        assert verified.has(role="admin", permission="org:reports:manage", plan="pro")

    def test_pending_session_verifies(
        self, signer: Signer, keys: KeySet, config: ClerkConfig
    ) -> None:
        # Whether it counts as signed in is the request's business (session-pending).
        assert verify_token(
            signer.mint(make_claims(sts="pending")), keys, config, now=NOW
        ).is_pending

    # -- key -----------------------------------------------------------------------------

    def test_unknown_kid(self, signer: Signer, keys: KeySet, config: ClerkConfig) -> None:
        token = signer.mint(header=make_header(kid="ins_unknown"))
        assert reason_of(token, keys, config) == Reason.JWK_KID_MISMATCH

    def test_ambiguous_kid(self, signer: Signer, other_signer: Signer, config: ClerkConfig) -> None:
        keys = KeySet.from_jwks(
            {"keys": [signer.public_jwk(), other_signer.public_jwk(), signer.public_jwk("ins_x")]}
        )
        assert reason_of(signer.mint(), keys, config) == Reason.JWK_KID_MISMATCH

    def test_no_key_source(self, signer: Signer, config: ClerkConfig) -> None:
        with pytest.raises(KeyResolutionError) as info:
            verify_token(signer.mint(), config.static_keys, config, now=NOW)
        assert info.value.reason == Reason.JWK_FAILED_TO_RESOLVE
        assert info.value.status == 500

    def test_no_key_source_after_the_gate(self, config: ClerkConfig) -> None:
        assert reason_of("garbage", None, config) == Reason.TOKEN_INVALID

    # -- signature ---------------------------------------------------------------------------

    @pytest.mark.parametrize(
        "signature",
        [
            pytest.param(lambda s: s[:-1], id="one-byte-short"),
            pytest.param(lambda s: s + b"\0", id="one-byte-long"),
            pytest.param(lambda s: b"\0" + s, id="leading-zero-byte"),
            pytest.param(lambda s: s[:1], id="one-byte"),
            pytest.param(lambda s: s * 2, id="double-length"),
            pytest.param(lambda s: b"\0" * len(s), id="zeros"),
            pytest.param(lambda s: bytes([s[0] ^ 1]) + s[1:], id="first-bit-flipped"),
            pytest.param(lambda s: s[:-1] + bytes([s[-1] ^ 0x80]), id="last-byte-flipped"),
            pytest.param(lambda s: b"\xff" * len(s), id="above-modulus"),
        ],
    )
    def test_bad_signature(
        self, signer: Signer, keys: KeySet, config: ClerkConfig, signature: Any
    ) -> None:
        token = signer.mint(signature=signature)
        assert reason_of(token, keys, config) == Reason.TOKEN_INVALID_SIGNATURE

    def test_signed_by_another_key(
        self, other_signer: Signer, keys: KeySet, config: ClerkConfig
    ) -> None:
        assert reason_of(other_signer.mint(), keys, config) == Reason.TOKEN_INVALID_SIGNATURE

    def test_signed_by_a_longer_key(self, keys: KeySet, config: ClerkConfig) -> None:
        # A 3072-bit signature has the wrong length for the 2048-bit key.
        assert reason_of(Signer(3072).mint(), keys, config) == Reason.TOKEN_INVALID_SIGNATURE

    def test_forged_payload(self, signer: Signer, keys: KeySet, config: ClerkConfig) -> None:
        token = swap_payload(signer.mint(), make_claims(sub="user_admin"))
        assert reason_of(token, keys, config) == Reason.TOKEN_INVALID_SIGNATURE

    def test_forged_header(self, signer: Signer, keys: KeySet, config: ClerkConfig) -> None:
        _head, body, sig = signer.mint().split(".")
        token = f"{encode_part(make_header(typ='jwt'))}.{body}.{sig}"
        assert reason_of(token, keys, config) == Reason.TOKEN_INVALID_SIGNATURE

    def test_hmac_with_public_key_as_secret(
        self, signer: Signer, keys: KeySet, config: ClerkConfig
    ) -> None:
        # The classic confusion: HS256 keyed with the PEM. Refused on alg alone.
        import hashlib
        import hmac

        head = encode_part(make_header(alg="HS256"))
        body = encode_part(make_claims())
        mac = hmac.new(signer.pem.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
        token = f"{head}.{body}.{b64u(mac)}"
        assert reason_of(token, keys, config) == Reason.TOKEN_INVALID_ALGORITHM

    def test_other_verification_failure(self, signer: Signer, config: ClerkConfig) -> None:
        key = VerificationKey(kid=KID, public_key=_ExplodingKey(), bits=2048, thumbprint="t")  # type: ignore[arg-type]
        keys = KeySet({KID: key})
        assert reason_of(signer.mint(), keys, config) == Reason.TOKEN_VERIFICATION_FAILED

    # -- order: first failure wins -------------------------------------------------------------

    @pytest.mark.parametrize(
        ("claims", "header", "signature", "expected"),
        [
            pytest.param(
                b"not json",
                make_header(kid="ins_unknown"),
                None,
                Reason.TOKEN_INVALID,
                id="payload-shape-before-key",
            ),
            pytest.param(
                None,
                make_header(kid="ins_unknown", alg="HS256"),
                None,
                Reason.TOKEN_INVALID_ALGORITHM,
                id="header-before-key",
            ),
            pytest.param(
                None,
                make_header(kid="ins_unknown", cat=CAT_M2M),
                None,
                Reason.TOKEN_TYPE_MISMATCH,
                id="type-before-key",
            ),
            pytest.param(
                None,
                make_header(kid="ins_unknown"),
                b"\0" * 256,
                Reason.JWK_KID_MISMATCH,
                id="key-before-signature",
            ),
            pytest.param(
                make_claims(exp=NOW - 100),
                None,
                b"\0" * 256,
                Reason.TOKEN_INVALID_SIGNATURE,
                id="signature-before-exp",
            ),
            pytest.param(
                make_claims(sub="mch_1"),
                None,
                b"\0" * 256,
                Reason.TOKEN_INVALID_SIGNATURE,
                id="signature-before-machine-sub",
            ),
            pytest.param(
                make_claims(v=2, fea="broken"),
                None,
                b"\0" * 256,
                Reason.TOKEN_INVALID_SIGNATURE,
                id="signature-before-fea",
            ),
            pytest.param(
                make_claims(v=2, fea="broken", exp=NOW - 100),
                None,
                None,
                Reason.TOKEN_EXPIRED,
                id="claim-rules-before-fea",
            ),
            pytest.param(
                make_claims(azp="https://evil.example", iss="https://evil.example"),
                None,
                None,
                Reason.TOKEN_INVALID_AUTHORIZED_PARTIES,
                id="azp-before-iss",
            ),
        ],
    )
    def test_order(
        self,
        signer: Signer,
        keys: KeySet,
        config: ClerkConfig,
        claims: Any,
        header: Any,
        signature: bytes | None,
        expected: str,
    ) -> None:
        token = signer.mint(claims, header, signature=signature)
        assert reason_of(token, keys, config) == expected

    # -- claims through the whole path -------------------------------------------------------

    @pytest.mark.parametrize(
        ("overrides", "expected"),
        [
            pytest.param({"sub": "mch_2abc"}, Reason.TOKEN_TYPE_MISMATCH, id="machine-sub"),
            pytest.param({"exp": NOW - 5}, Reason.TOKEN_EXPIRED, id="expired"),
            pytest.param({"nbf": NOW + 6}, Reason.TOKEN_NOT_ACTIVE_YET, id="not-active"),
            pytest.param({"iat": NOW + 6}, Reason.TOKEN_IAT_IN_THE_FUTURE, id="iat-future"),
            pytest.param({"sid": DELETE}, Reason.TOKEN_VERIFICATION_FAILED, id="no-sid"),
            pytest.param({"azp": "https://x"}, Reason.TOKEN_INVALID_AUTHORIZED_PARTIES, id="azp"),
            pytest.param({"iss": "https://x"}, Reason.TOKEN_INVALID_ISSUER, id="iss"),
            pytest.param({"v": 2, "fea": "o:a,b"}, Reason.TOKEN_INVALID, id="fea-without-colon"),
            pytest.param({"exp": 1e30}, Reason.TOKEN_VERIFICATION_FAILED, id="exp-absurd"),
        ],
    )
    def test_claim_rules(
        self,
        signer: Signer,
        keys: KeySet,
        config: ClerkConfig,
        overrides: dict[str, Any],
        expected: str,
    ) -> None:
        assert reason_of(signer.mint(make_claims(**overrides)), keys, config) == expected

    def test_configured_size_cap(self, signer: Signer, keys: KeySet) -> None:
        token = signer.mint()
        config = make_config(max_token_size=len(token) - 1)
        assert reason_of(token, keys, config) == Reason.TOKEN_INVALID
        assert verify_token(token, keys, make_config(max_token_size=len(token)), now=NOW)

    def test_skew_from_config(self, signer: Signer, keys: KeySet) -> None:
        token = signer.mint(make_claims(exp=NOW - 10, iat=NOW - 70))
        assert reason_of(token, keys, make_config()) == Reason.TOKEN_EXPIRED
        assert verify_token(token, keys, make_config(clock_skew=11), now=NOW)
