"""What every benchmark shares: one mock Clerk instance (its key, JWKS and issuer),
Clerk-shaped session tokens, garbage, and the raw-RSA baseline."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from clerk_auth_core import ClerkConfig, KeySet, Reason
from clerk_auth_core.testing import CAT_SESSION, MockClerk, b64url, generate_key, mint_token

from ._timing import Candidate

__all__ = ["AZP", "Fixtures", "Garbage", "copies", "rsa_baseline"]

#: The front end's origin: the authorized party every token names.
AZP = "https://app.example.com"
#: Tokens must stay valid for a whole run (Clerk's live 60 s; the cost is the same).
LIFETIME = 3000
#: A realistic v2 session: an organisation member with permissions, features, plans.
ORG = {
    "id": "org_2abcDEFghiJKLmnoPQRstuVWX",
    "slug": "acme",
    "role": "admin",
    "permissions": ["org:reports:read", "org:reports:write", "org:billing:manage"],
}
FEATURES = "o:reports,o:billing,u:dashboard"
PLANS = "u:free,o:pro"


@dataclass
class Garbage:
    """A value no verifier may accept, and the reason ours must give."""

    name: str
    token: str
    reason: str
    #: A different value of the same kind per call (``None``: the same value repeated).
    unique: list[str] | None = field(default=None, repr=False)


def copies(values: list[str]) -> list[str]:
    """Fresh ``str`` objects equal to ``values``: a server decodes each request's header
    into a new string, whose hash is not computed yet. Timing the same object again
    would hide that cost."""
    return [v.encode("utf-8").decode("utf-8") for v in values]


class Fixtures:
    """The mock instance and everything minted from it (make once per run)."""

    def __init__(self, tokens: int) -> None:
        logging.getLogger("clerk_auth").setLevel(logging.ERROR)
        self.clerk = MockClerk(origin=AZP).start()
        self.issuer = self.clerk.issuer
        self.pem = self.clerk.public_pem
        self.kid = self.clerk.kid
        self.public_key: RSAPublicKey = self.clerk.private_key.public_key()
        self.now = time.time()
        #: One token per user: distinct subjects and sessions, the same organisation.
        self.tokens = [self.mint(i) for i in range(tokens)]
        self.subs = [f"user_bench{i:05d}" for i in range(tokens)]
        #: Our configurations: a PEM key (networkless, as in production) and a JWKS.
        self.pem_config = ClerkConfig(
            jwt_key=self.pem, issuer=self.issuer, authorized_parties=[AZP]
        )
        self.jwks_config = ClerkConfig(
            jwks_url=self.clerk.jwks_url, issuer=self.issuer, authorized_parties=[AZP]
        )
        self.jwks_keys = KeySet.from_jwks(self.clerk.jwks())
        self.garbage = self._garbage()
        #: With a PEM key the kid is ignored: an unknown kid is a bad signature there.
        self.garbage_for_pem = [g for g in self.garbage if g.reason != Reason.JWK_KID_MISMATCH]

    def close(self) -> None:
        self.clerk.stop()

    def mint(self, i: int, **overrides: Any) -> str:
        values: dict[str, Any] = dict(
            sub=f"user_bench{i:05d}",
            sid=f"sess_bench{i:05d}",
            azp=AZP,
            iat=int(self.now) - 5,
            lifetime=LIFETIME,
            version=2,
            org=ORG,
            features=FEATURES,
            plans=PLANS,
            fva=[7, -1],
            cat=CAT_SESSION,
        )
        values.update(overrides)
        return self.clerk.mint(**values)

    def _garbage(self) -> list[Garbage]:
        valid = self.tokens[0]
        _head, body, _sig = valid.split(".")
        # The classic confusion attack: HS256 "signed" with the public key as the secret.
        hs_header = b64url(
            json.dumps({"alg": "HS256", "kid": self.kid, "typ": "JWT", "cat": CAT_SESSION}).encode()
        )

        def hs256(body_segment: str) -> str:
            signing_input = f"{hs_header}.{body_segment}"
            mac = hmac.new(self.pem.encode(), signing_input.encode(), hashlib.sha256).digest()
            return f"{signing_input}.{b64url(mac)}"

        other_key = generate_key()

        def unknown_kid(n: int) -> str:
            return mint_token(
                other_key,
                {"alg": "RS256", "kid": f"ins_unknown{n:06d}", "typ": "JWT", "cat": CAT_SESSION},
                json.loads(base64.urlsafe_b64decode(body + "==")),
            )

        def oversized() -> str:
            # 16 KiB shaped like a token (a session padded with a 12 KB claim, a forged
            # signature), so a verifier without a size cap decodes all of it first.
            claims = json.loads(base64.urlsafe_b64decode(body + "=="))
            claims["pad"] = secrets.token_urlsafe(9000)[:11500]
            token = (
                f"{_head}.{b64url(json.dumps(claims).encode())}.{b64url(secrets.token_bytes(256))}"
            )
            return token

        def truncated(token: str) -> str:
            return token[:-1]  # a 341-character signature: 1 mod 4, never base64url

        return [
            Garbage(
                "16 KiB bearer",
                oversized(),
                Reason.TOKEN_INVALID,
                unique=[oversized() for _ in range(64)],
            ),
            Garbage(
                "malformed",
                truncated(valid),
                Reason.TOKEN_INVALID,
                unique=[truncated(t) for t in self.tokens[:64]],
            ),
            Garbage(
                "wrong alg (HS256)",
                hs256(body),
                Reason.TOKEN_INVALID_ALGORITHM,
                unique=[hs256(t.split(".")[1]) for t in self.tokens[:64]],
            ),
            Garbage(
                "unknown kid",
                unknown_kid(0),
                Reason.JWK_KID_MISMATCH,
                unique=[unknown_kid(n) for n in range(1, 65)],
            ),
        ]

    @property
    def head(self) -> str:
        return self.tokens[0].split(".")[0]


def rsa_baseline(fx: Fixtures, calls: int) -> Candidate:
    """One raw RSA-2048 PKCS#1 v1.5 SHA-256 verify, key object preloaded: the unit."""
    token = fx.tokens[0]
    signing_input, _, signature = token.rpartition(".")
    data = signing_input.encode()
    sig = base64.urlsafe_b64decode(signature + "==")
    key, pad, sha = fx.public_key, padding.PKCS1v15(), hashes.SHA256()
    key.verify(sig, data, pad, sha)  # checked: it holds

    def prepare() -> Any:
        def batch() -> None:
            for _ in range(calls):
                key.verify(sig, data, pad, sha)

        return batch

    return Candidate("raw RSA verify", prepare, calls)
