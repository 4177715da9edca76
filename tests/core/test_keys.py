"""Key sets (spec §4; key-rotation.md "Which keys are accepted")."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from clerk_auth_core import (
    ConfigurationError,
    KeyResolutionError,
    KeySet,
    Reason,
    TokenVerificationError,
)
from clerk_auth_core._keys import normalize_pem

from .conftest import DELETE, KID, Signer

GOOD_KID = "ins_good"


def uint_b64(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def modulus(bits: int) -> str:
    """An odd modulus of exactly ``bits`` bits (no private key needed for the size rule)."""
    return uint_b64((1 << (bits - 1)) | (0xC0FFEE << 8) | 1)


def public_pem(public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> str:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def fake_rsa_pem(bits: int, e: int = 65537) -> str:
    n = int.from_bytes(base64.urlsafe_b64decode(modulus(bits) + "=="), "big")
    return public_pem(rsa.RSAPublicNumbers(e, n).public_key())


def _bare(pem: str) -> str:
    """The base64 body of a PEM block, without its BEGIN/END lines."""
    return "".join(pem.strip().splitlines()[1:-1])


def with_good_key(signer: Signer, *jwks: dict[str, Any]) -> dict[str, Any]:
    """A JWKS of the given keys plus one good key, so the set itself stays usable."""
    return {"keys": [*jwks, signer.public_jwk(GOOD_KID)]}


def remote_invalid(document: Any, **kwargs: Any) -> KeyResolutionError:
    with pytest.raises(KeyResolutionError) as info:
        KeySet.from_jwks(document, **kwargs)
    assert info.value.reason == Reason.JWK_REMOTE_INVALID
    assert info.value.status == 503
    return info.value


class TestKeySetFromJwks:
    @pytest.mark.parametrize("form", ["dict", "str", "bytes"])
    def test_valid_set(self, signer: Signer, form: str) -> None:
        document: Any = signer.jwks()
        if form != "dict":
            document = json.dumps(document)
            document = document.encode() if form == "bytes" else document
        keys = KeySet.from_jwks(document)
        assert len(keys) == 1
        assert keys.kids == frozenset({KID})
        assert KID in keys
        assert "ins_other" not in keys
        assert not keys.is_static
        key = keys.get(KID)
        assert key.kid == KID
        assert key.bits == 2048
        assert key.signature_length == 256
        assert keys.find("ins_other") is None
        assert keys.dropped == ()

    def test_thumbprint_identifies_key_material(self, signer: Signer, other_signer: Signer) -> None:
        a = KeySet.from_jwks(signer.jwks()).get(KID)
        b = KeySet.from_jwks({"keys": [signer.public_jwk("ins_renamed")]}).get("ins_renamed")
        c = KeySet.from_jwks(other_signer.jwks()).get(KID)
        assert a.thumbprint == b.thumbprint != c.thumbprint

    @pytest.mark.parametrize(
        ("overrides", "reason"),
        [
            pytest.param({"kty": DELETE}, "unsupported-kty", id="kty-missing"),
            pytest.param({"kty": "EC"}, "unsupported-kty", id="kty-EC"),
            pytest.param({"kty": "oct"}, "unsupported-kty", id="kty-oct"),
            pytest.param({"kty": "rsa"}, "unsupported-kty", id="kty-lowercase"),
            pytest.param({"n": modulus(1024)}, "bad-modulus", id="n-1024"),
            pytest.param({"n": modulus(2047)}, "bad-modulus", id="n-2047"),
            pytest.param({"n": modulus(8193)}, "bad-modulus", id="n-8193"),
            pytest.param({"n": modulus(8200)}, "bad-modulus", id="n-8200"),
            pytest.param({"n": DELETE}, "bad-modulus", id="n-missing"),
            pytest.param({"n": ""}, "bad-modulus", id="n-empty"),
            pytest.param({"n": modulus(2048) + "="}, "bad-modulus", id="n-padded"),
            pytest.param({"n": "a+b/"}, "bad-modulus", id="n-standard-alphabet"),
            pytest.param({"n": 12345}, "bad-modulus", id="n-number"),
            pytest.param({"e": "Aw"}, "bad-exponent", id="e-3"),
            pytest.param({"e": "AQAA"}, "bad-exponent", id="e-65536"),
            pytest.param({"e": DELETE}, "bad-exponent", id="e-missing"),
            pytest.param({"e": 65537}, "bad-exponent", id="e-number"),
            pytest.param({"alg": "RS384"}, "unsupported-alg", id="alg-RS384"),
            pytest.param({"alg": "HS256"}, "unsupported-alg", id="alg-HS256"),
            pytest.param({"alg": "none"}, "unsupported-alg", id="alg-none"),
            pytest.param({"alg": None}, "unsupported-alg", id="alg-null"),
            pytest.param({"use": "enc"}, "wrong-use", id="use-enc"),
            pytest.param({"use": None}, "wrong-use", id="use-null"),
            pytest.param({"key_ops": ["sign"]}, "wrong-key-ops", id="key-ops-sign"),
            pytest.param({"key_ops": []}, "wrong-key-ops", id="key-ops-empty"),
            pytest.param({"key_ops": "verify"}, "wrong-key-ops", id="key-ops-string"),
            pytest.param({"d": "AQAB"}, "private-members", id="private-d"),
            pytest.param({"p": "AQAB"}, "private-members", id="private-p"),
            pytest.param({"q": "AQAB"}, "private-members", id="private-q"),
            pytest.param({"dp": "AQAB"}, "private-members", id="private-dp"),
            pytest.param({"dq": "AQAB"}, "private-members", id="private-dq"),
            pytest.param({"qi": "AQAB"}, "private-members", id="private-qi"),
            pytest.param({"oth": []}, "private-members", id="private-oth"),
            pytest.param({"kid": ""}, "bad-kid", id="kid-empty"),
            pytest.param({"kid": "k" * 129}, "bad-kid", id="kid-129-bytes"),
            pytest.param({"kid": "é" * 65}, "bad-kid", id="kid-130-utf8-bytes"),
            pytest.param({"kid": 7}, "bad-kid", id="kid-number"),
            pytest.param({"kid": None}, "bad-kid", id="kid-null"),
            pytest.param({"kid": DELETE}, "bad-kid", id="kid-missing"),
        ],
    )
    def test_key_rule_drops_key(
        self, signer: Signer, overrides: dict[str, Any], reason: str
    ) -> None:
        bad = signer.public_jwk(kid="ins_bad") | {}
        for name, value in overrides.items():
            if value is DELETE:
                bad.pop(name, None)
            else:
                bad[name] = value
        keys = KeySet.from_jwks(with_good_key(signer, bad))
        assert [(d.index, d.reason) for d in keys.dropped] == [(0, reason)]
        assert keys.kids == frozenset({GOOD_KID})
        if isinstance(bad.get("kid"), str):
            # Spec §5: a kid whose key was dropped by the key rules → jwk-kid-mismatch.
            with pytest.raises(TokenVerificationError) as info:
                keys.get(bad["kid"])
            assert info.value.reason == Reason.JWK_KID_MISMATCH

    @pytest.mark.parametrize(
        "overrides",
        [
            pytest.param({}, id="as-clerk-serves-it"),
            pytest.param({"alg": DELETE}, id="alg-absent"),
            pytest.param({"use": DELETE}, id="use-absent"),
            pytest.param({"key_ops": ["verify"]}, id="key-ops-verify"),
            pytest.param({"key_ops": ["sign", "verify"]}, id="key-ops-with-verify"),
            pytest.param({"kid": "k" * 128}, id="kid-128-bytes"),
            pytest.param({"kid": "é" * 64}, id="kid-128-utf8-bytes"),
            pytest.param({"x5t": "ignored", "ext": True}, id="unknown-members"),
        ],
    )
    def test_key_rule_accepts(self, signer: Signer, overrides: dict[str, Any]) -> None:
        jwk = signer.public_jwk()
        for name, value in overrides.items():
            if value is DELETE:
                jwk.pop(name)
            else:
                jwk[name] = value
        keys = KeySet.from_jwks({"keys": [jwk]})
        assert keys.get(jwk["kid"]).bits == 2048

    @pytest.mark.parametrize("bits", [2048, 3072, 4096, 8192])
    def test_modulus_sizes_accepted(self, signer: Signer, bits: int) -> None:
        keys = KeySet.from_jwks({"keys": [signer.public_jwk("ins_big", n=modulus(bits))]})
        assert keys.get("ins_big").bits == bits

    @pytest.mark.parametrize("entry", [[], "key", 1, None], ids=["list", "str", "int", "null"])
    def test_entry_not_an_object(self, signer: Signer, entry: Any) -> None:
        keys = KeySet.from_jwks(with_good_key(signer, entry))
        assert [d.reason for d in keys.dropped] == ["not-an-object"]

    def test_import_failure_drops_key(
        self, signer: Signer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import clerk_auth_core._keys as keys_module

        real = keys_module.RSAKey.import_key

        def flaky(value: Any) -> Any:
            if value["n"] == signer.public_jwk()["n"]:
                raise ValueError("boom")
            return real(value)

        monkeypatch.setattr(keys_module.RSAKey, "import_key", flaky)
        jwks = {"keys": [signer.public_jwk("ins_a"), signer.public_jwk("ins_b", n=modulus(2048))]}
        keys = KeySet.from_jwks(jwks)
        assert [(d.index, d.reason) for d in keys.dropped] == [(0, "import-failed")]
        assert keys.kids == frozenset({"ins_b"})

    # -- duplicates ----------------------------------------------------------------------

    def test_duplicate_kid_is_ambiguous(self, signer: Signer, other_signer: Signer) -> None:
        keys = KeySet.from_jwks(
            {
                "keys": [
                    signer.public_jwk("ins_dup"),
                    other_signer.public_jwk("ins_dup"),
                    signer.public_jwk(GOOD_KID),
                ]
            }
        )
        assert keys.ambiguous == frozenset({"ins_dup"})
        assert keys.kids == frozenset({GOOD_KID})
        assert [(d.index, d.reason) for d in keys.dropped] == [
            (0, "duplicate-kid"),
            (1, "duplicate-kid"),
        ]
        assert keys.find("ins_dup") is None
        with pytest.raises(TokenVerificationError) as info:
            keys.get("ins_dup")
        assert info.value.reason == Reason.JWK_KID_MISMATCH

    def test_duplicate_kid_three_times(self, signer: Signer) -> None:
        dup = [signer.public_jwk("ins_dup") for _ in range(3)]
        keys = KeySet.from_jwks(with_good_key(signer, *dup))
        assert [d.reason for d in keys.dropped] == ["duplicate-kid"] * 3
        assert "ins_dup" not in keys

    def test_duplicate_kid_of_a_refused_key_is_still_ambiguous(
        self, signer: Signer, other_signer: Signer
    ) -> None:
        # One copy breaks a rule; the kid still names two keys, so neither is used.
        bad = other_signer.public_jwk("ins_dup", use="enc")
        keys = KeySet.from_jwks(with_good_key(signer, bad, signer.public_jwk("ins_dup")))
        assert [(d.index, d.reason) for d in keys.dropped] == [
            (0, "wrong-use"),
            (1, "duplicate-kid"),
        ]
        with pytest.raises(TokenVerificationError) as info:
            keys.get("ins_dup")
        assert info.value.reason == Reason.JWK_KID_MISMATCH

    def test_only_duplicates_is_no_usable_key(self, signer: Signer, other_signer: Signer) -> None:
        remote_invalid({"keys": [signer.public_jwk("k"), other_signer.public_jwk("k")]})

    # -- the set as a whole ----------------------------------------------------------------

    @pytest.mark.parametrize(
        "document",
        [
            pytest.param("not json", id="not-json"),
            pytest.param(b"\xff\xfe", id="not-utf8"),
            pytest.param('{"keys":[],"keys":[]}', id="duplicate-member"),
            pytest.param("[]", id="json-array"),
            pytest.param({}, id="no-keys-member"),
            pytest.param({"keys": {}}, id="keys-not-a-list"),
            pytest.param({"keys": None}, id="keys-null"),
            pytest.param({"keys": []}, id="no-keys"),
            pytest.param({"keys": [{"kty": "EC", "kid": "k"}]}, id="no-usable-key"),
            pytest.param([{"keys": []}], id="list-document"),
        ],
    )
    def test_not_a_usable_jwks(self, document: Any) -> None:
        remote_invalid(document)

    def test_too_many_keys(self, signer: Signer) -> None:
        many = [signer.public_jwk(f"ins_{i}") for i in range(65)]
        remote_invalid({"keys": many})
        assert len(KeySet.from_jwks({"keys": many[:64]})) == 64
        remote_invalid({"keys": many[:4]}, max_keys=3)
        assert len(KeySet.from_jwks({"keys": many[:3]}, max_keys=3)) == 3

    def test_dropped_key_reports_no_material(self, signer: Signer) -> None:
        bad = signer.public_jwk("ins_bad", d="UFJJVkFURQ")
        keys = KeySet.from_jwks(with_good_key(signer, bad))
        text = repr(keys) + repr(keys.dropped)
        assert "UFJJVkFURQ" not in text
        assert bad["n"] not in text

    def test_jwks_set_has_no_key_for_missing_kid(self, keys: KeySet) -> None:
        assert None not in keys
        with pytest.raises(TokenVerificationError) as info:
            keys.get(None)
        assert info.value.reason == Reason.JWK_KID_MISMATCH
        assert keys.find(None) is None

    def test_error_message_lists_no_kids(self, keys: KeySet) -> None:
        with pytest.raises(TokenVerificationError) as info:
            keys.get("ins_unknown")
        assert KID not in str(info.value)
        assert "ins_unknown" not in str(info.value)


class TestKeySetFromPem:
    @staticmethod
    def forms(pem: str) -> dict[str, str | bytes]:
        body = "".join(pem.strip().splitlines()[1:-1])
        return {
            "multi-line": pem,
            "bytes": pem.encode(),
            "one-line-spaces": pem.replace("\n", " "),
            "one-line-no-separator": f"-----BEGIN PUBLIC KEY-----{body}-----END PUBLIC KEY-----",
            "literal-backslash-n": pem.replace("\n", "\\n"),
            "double-quoted": '"' + pem.replace("\n", "\\n") + '"',
            "single-quoted": "'" + pem + "'",
            "crlf": pem.replace("\n", "\r\n"),
            "surrounding-whitespace": "\n\n  " + pem + "  \n",
            "one-line-body-unwrapped": (
                f"-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----"
            ),
            # What people copy from between the BEGIN/END lines (Clerk's SDKs take it).
            "bare-body": body,
            "bare-body-wrapped": "\n".join(pem.strip().splitlines()[1:-1]),
            "bare-body-literal-backslash-n": "\\n".join(pem.strip().splitlines()[1:-1]),
            "bare-body-quoted": f'"{body}"',
        }

    @pytest.mark.parametrize(
        "form",
        [
            "multi-line",
            "bytes",
            "one-line-spaces",
            "one-line-no-separator",
            "literal-backslash-n",
            "double-quoted",
            "single-quoted",
            "crlf",
            "surrounding-whitespace",
            "one-line-body-unwrapped",
            "bare-body",
            "bare-body-wrapped",
            "bare-body-literal-backslash-n",
            "bare-body-quoted",
        ],
    )
    def test_pasted_forms(self, signer: Signer, form: str) -> None:
        keys = KeySet.from_pem(self.forms(signer.pem)[form])
        reference = KeySet.from_jwks(signer.jwks()).get(KID)
        assert keys.get(None).thumbprint == reference.thumbprint

    def test_pem_set_answers_any_kid(self, pem_keys: KeySet) -> None:
        assert pem_keys.is_static
        key = pem_keys.get(None)
        assert key.kid is None
        assert pem_keys.get("ins_anything") is key
        assert pem_keys.find("whatever") is key
        assert "ins_anything" in pem_keys
        assert len(pem_keys) == 1

    def test_8192_bit_key(self) -> None:
        assert KeySet.from_pem(fake_rsa_pem(8192)).get(None).bits == 8192

    @pytest.mark.parametrize(
        "make",
        [
            pytest.param(
                lambda: (
                    rsa.generate_private_key(65537, 2048)
                    .private_bytes(
                        serialization.Encoding.PEM,
                        serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption(),
                    )
                    .decode()
                ),
                id="private-pkcs8",
            ),
            pytest.param(
                lambda: (
                    rsa.generate_private_key(65537, 2048)
                    .private_bytes(
                        serialization.Encoding.PEM,
                        serialization.PrivateFormat.TraditionalOpenSSL,
                        serialization.NoEncryption(),
                    )
                    .decode()
                ),
                id="private-rsa",
            ),
            pytest.param(
                lambda: public_pem(ec.generate_private_key(ec.SECP256R1()).public_key()),
                id="ec-key",
            ),
            pytest.param(
                lambda: public_pem(rsa.generate_private_key(65537, 1024).public_key()),
                id="rsa-1024",
            ),
            pytest.param(lambda: fake_rsa_pem(2047), id="rsa-2047"),
            pytest.param(lambda: fake_rsa_pem(8200), id="rsa-8200"),
            pytest.param(lambda: fake_rsa_pem(2048, e=3), id="exponent-3"),
            pytest.param(lambda: "", id="empty"),
            pytest.param(lambda: "not a key", id="garbage"),
            pytest.param(lambda: "AAAAAAAA", id="bare-base64-garbage"),
            pytest.param(lambda: "MIIB", id="bare-truncated"),
            pytest.param(
                lambda: _bare(public_pem(rsa.generate_private_key(65537, 1024).public_key())),
                id="bare-rsa-1024",
            ),
            pytest.param(lambda: _bare(fake_rsa_pem(2048, e=3)), id="bare-exponent-3"),
            pytest.param(
                lambda: _bare(public_pem(ec.generate_private_key(ec.SECP256R1()).public_key())),
                id="bare-ec-key",
            ),
            pytest.param(
                lambda: _bare(
                    rsa.generate_private_key(65537, 2048)
                    .private_bytes(
                        serialization.Encoding.PEM,
                        serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption(),
                    )
                    .decode()
                ),
                id="bare-private-pkcs8",
            ),
            pytest.param(
                lambda: "-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----", id="bad-body"
            ),
            pytest.param(
                lambda: "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----", id="truncated"
            ),
            pytest.param(lambda: b"\xff\xfe-----BEGIN PUBLIC KEY-----", id="not-ascii-bytes"),
        ],
    )
    # joserfc warns about small RSA keys (its warning class moved between releases).
    @pytest.mark.filterwarnings("ignore:Key size should be")
    def test_refused_with_configuration_error(self, make: Any) -> None:
        pem = make()
        with pytest.raises(ConfigurationError) as info:
            KeySet.from_pem(pem)
        message = str(info.value) + repr(info.value)
        assert "CLERK_JWT_KEY" in message
        body = pem if isinstance(pem, str) else ""
        for line in body.splitlines():
            if len(line) > 20 and not line.startswith("-----"):
                assert line not in message


class TestNormalizePem:
    def test_rewraps_body_at_64(self, signer: Signer) -> None:
        one_line = signer.pem.replace("\n", " ")
        lines = normalize_pem(one_line).decode().splitlines()
        assert lines[0] == "-----BEGIN PUBLIC KEY-----"
        assert lines[-1] == "-----END PUBLIC KEY-----"
        assert all(len(line) == 64 for line in lines[1:-2])
        assert normalize_pem(one_line) == normalize_pem(signer.pem)

    def test_private_label_refused_before_parsing(self) -> None:
        with pytest.raises(ConfigurationError):
            normalize_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")
