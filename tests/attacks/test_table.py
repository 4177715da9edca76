"""The table itself: complete, well-formed, and every attack is a *real* attack (the
forged signatures verify under the key the attacker hoped the verifier would use)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections import Counter

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from clerk_auth_core import REASONS, KeySet, Reason

from .conftest import params
from .corpus import CASES, CLASSES, Case
from .kit import WEAK_KIDS, Kit, RawRSA

#: Reasons the gate can give: nothing about keys or claims is known there.
GATE_REASONS = {Reason.TOKEN_INVALID, Reason.TOKEN_INVALID_ALGORITHM, Reason.TOKEN_TYPE_MISMATCH}


def _split(token: str) -> tuple[bytes, bytes]:
    head, body, sig = token.split(".")
    return f"{head}.{body}".encode(), base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))


def _real_signature(kit: Kit, token: str) -> bool:
    signing_input, sig = _split(token)
    try:
        kit.key.public_key().verify(sig, signing_input, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def test_ids_are_unique() -> None:
    assert [i for i, n in Counter(c.id for c in CASES).items() if n > 1] == []


def test_every_class_is_covered() -> None:
    counts = Counter(c.cls for c in CASES)
    assert {cls: counts[cls] for cls in CLASSES if counts[cls] == 0} == {}


@params()
def test_reasons_are_documented(case: Case) -> None:
    for reason in (case.reason, case.pem_reason):
        assert reason is None or reason in REASONS
    if case.gate:
        assert case.reason in GATE_REASONS
        # (a PEM key needs no kid: a genuine token without one is accepted there)
        assert case.pem_reason in GATE_REASONS or case.id == "kid-missing"
        assert not case.unknown_kid


def test_the_weak_keys_are_dropped_for_the_right_reasons(kit: Kit) -> None:
    jwks = kit.jwks()
    keys = KeySet.from_jwks(jwks)
    assert keys.kids == {kit.kid}
    dropped = {jwks["keys"][d.index]["kid"] + f"#{d.index}": d.reason for d in keys.dropped}
    assert sorted({k.partition("#")[0]: r for k, r in dropped.items()}.items()) == sorted(
        WEAK_KIDS.items()
    )
    assert len(dropped) == len(jwks["keys"]) - 1


_SIGNED_BY_REAL_KEY = ("json", "claim-types", "other-alg")


@params(
    [
        c
        for c in CASES
        if (c.cls in _SIGNED_BY_REAL_KEY and not c.id.startswith(("alg-", "payload-trunc")))
        or c.id.endswith(("-real-signed", "-real-sig"))
        or (c.cls == "kid" and c.gate)
        or c.cls == "control"
    ]
)
def test_only_the_named_flaw_is_wrong(case: Case, kit: Kit) -> None:
    """These carry a genuine RS256 signature by the real key: the header or payload
    flaw alone is what must be refused."""
    assert _real_signature(kit, case.build(kit))


@params([c for c in CASES if c.cls == "weak-jwks-key" and "oct" not in c.id])
def test_weak_key_forgeries_verify_under_the_weak_key(case: Case, kit: Kit) -> None:
    """Had the verifier kept the weak key, the token would pass: a real threat."""
    token = case.build(kit)
    signing_input, sig = _split(token)
    kid = case.id
    weak = kit.weak
    raw = {
        "weak-rsa-512": weak.rsa512,
        "weak-rsa-1024": weak.rsa1024,
        "weak-e-3": weak.e3,
        "weak-e-1-forgery": weak.e1,
        "weak-private-members": RawRSA.of(weak.private),
        "weak-duplicate-kid-other-copy": RawRSA.of(weak.dup_b),
    }.get(kid, RawRSA.of(weak.dup_a))
    assert pow(int.from_bytes(sig, "big"), raw.e, raw.n) == raw.encoded_message(signing_input)


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_hmac_confusion_tokens_verify_with_the_public_pem(alg: str, kit: Kit) -> None:
    """A verifier that fed the PEM to HMAC (CVE-2015-9235) would accept these."""
    case = next(c for c in CASES if c.id == f"{alg.lower()}-public-pem")
    signing_input, sig = _split(case.build(kit))
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    assert hmac.compare_digest(sig, hmac.new(kit.pem, signing_input, digest).digest())


def test_corpus_size() -> None:
    assert len(CASES) >= 150
