"""Token verifiers side by side: ours (first sight, seen before, garbage) and the peers.

Each factory checks its verifier before handing it out: the valid tokens must verify
with the right ``sub``, every garbage value must be refused with the expected error
(ours: the exact reason). A peer that cannot be imported, or fails its check, is
skipped with a note; ours failing is an error (``BenchmarkError``).
"""

from __future__ import annotations

import base64
import json
import time
import warnings
from collections.abc import Callable
from typing import Any

from clerk_auth_core import (
    ClerkConfig,
    KeyResolutionError,
    KeySet,
    Reason,
    TokenVerificationError,
    authenticate_with,
    verify_token,
)

from ._fixtures import AZP, Fixtures, Garbage, copies
from ._timing import Candidate

__all__ = ["BenchmarkError", "Skip", "garbage_candidates", "ours_first_sight", "ours_seen", "peers"]

Verify = Callable[[str], str]  # token -> sub, raising on refusal


class BenchmarkError(AssertionError):
    """Our own verifier did not behave: the benchmark would time the wrong thing."""


class Skip(Exception):
    """A peer that cannot take part (not installed, or failed its check)."""


# -- ours -------------------------------------------------------------------------------


def _ours(config: ClerkConfig, keys: KeySet | None) -> Verify:
    def verify(token: str) -> str:
        return verify_token(token, keys, config, now=time.time()).user_id

    return verify


def _check_ours(fx: Fixtures, verify: Verify, garbage: list[Garbage]) -> None:
    for token, sub in zip(fx.tokens, fx.subs, strict=True):
        got = verify(token)
        if got != sub:
            raise BenchmarkError(f"ours answered sub {got!r} for {sub!r}")
    for g in garbage:
        for value in [g.token, *(g.unique or [])]:
            try:
                verify(value)
            except (TokenVerificationError, KeyResolutionError) as exc:
                if exc.reason != g.reason:
                    raise BenchmarkError(f"{g.name}: reason {exc.reason}, not {g.reason}") from None
            else:
                raise BenchmarkError(f"{g.name}: accepted")


def _prepared(
    tokens: list[str], before: Callable[[], None] | None, run: Callable[[list[str]], None]
) -> Any:
    """A candidate's ``prepare``: untimed, ``before()`` and fresh copies of the tokens;
    timed, ``run`` over them."""

    def prepare() -> Callable[[], object]:
        if before is not None:
            before()
        fresh = copies(tokens)
        return lambda: run(fresh)

    return prepare


def _batch(verify: Verify, tokens: list[str], before: Callable[[], None] | None = None) -> Any:
    def run(fresh: list[str]) -> None:
        for token in fresh:
            verify(token)

    return _prepared(tokens, before, run)


def _ours_batch(
    config: ClerkConfig,
    keys: KeySet | None,
    tokens: list[str],
    before: Callable[[], None] | None = None,
) -> Any:
    """``verify_token`` called straight from the timed loop, as the baseline calls
    ``key.verify``: no function of the benchmark's own is timed around it. (The peers
    go through a small function each, which arranges their arguments.) It reads
    ``user_id`` as a caller would: claims are decoded lazily, and that is timed too."""

    def run(fresh: list[str]) -> None:
        for token in fresh:
            verify_token(token, keys, config, now=time.time()).user_id  # noqa: B018

    return _prepared(tokens, before, run)


def ours_first_sight(fx: Fixtures) -> list[Candidate]:
    """``verify_token`` on tokens it has not seen: the cache emptied before each batch
    (so every call checks a signature, and pays the insert), and with the cache off."""
    config = fx.pem_config
    verify = _ours(config, config.static_keys)
    _check_ours(fx, verify, fx.garbage_for_pem)
    off = ClerkConfig(
        jwt_key=fx.pem, issuer=fx.issuer, authorized_parties=[AZP], token_cache_size=0
    )
    verify_off = _ours(off, off.static_keys)
    _check_ours(fx, verify_off, fx.garbage_for_pem)
    verified = config.token_cache.verified

    def forget() -> None:
        # Untimed: take this batch's tokens out again. Popping (not clearing) keeps the
        # table at its working size, as in a server where entries come and go.
        for token in fx.tokens:
            verified.pop(token, None)

    return [
        Candidate(
            "clerk-auth verify_token",
            _ours_batch(config, config.static_keys, fx.tokens, forget),
            len(fx.tokens),
        ),
        Candidate(
            "clerk-auth, token cache off",
            _ours_batch(off, off.static_keys, fx.tokens),
            len(fx.tokens),
            note="token_cache_size=0",
        ),
    ]


def ours_seen(fx: Fixtures) -> list[Candidate]:
    """``verify_token`` on tokens it verified before (each request a new ``str``)."""
    config = fx.pem_config
    verify = _ours(config, config.static_keys)
    _check_ours(fx, verify, fx.garbage_for_pem)
    for token in fx.tokens:  # seen once
        verify(token)
    if len(config.token_cache.verified) != len(fx.tokens):
        raise BenchmarkError("the token cache does not hold the tokens just verified")
    batch = _ours_batch(config, config.static_keys, fx.tokens)
    return [Candidate("clerk-auth, token seen before", batch, len(fx.tokens))]


def garbage_candidates(fx: Fixtures, repeat: int) -> list[Candidate]:
    """Ours refusing each kind of garbage before any signature check: the same value
    again and again (a client bug, a naive flood), and a new value every time
    (informational: a flood that varies its garbage)."""
    out: list[Candidate] = []
    config, keys = fx.jwks_config, fx.jwks_keys  # JWKS: an unknown kid is possible
    verify = _ours(config, keys)
    _check_ours(fx, verify, fx.garbage)

    cache = config.token_cache

    def refuse(values: list[str], *, forget: bool = False) -> Any:
        def prepare() -> Callable[[], object]:
            if forget:
                # Untimed: nothing of these values is remembered, so every call is a
                # first sight of a new value (header verdicts included).
                cache.refused.clear()
                cache.headers.clear()
            else:
                # Untimed: the value seen once already, as in a flood of it. Another
                # candidate's prepare() may have cleared the tables since this one
                # last ran, and a batch that started cold would time one first sight
                # (up to 20 µs for an unknown kid) among its repeats.
                for value in set(values):
                    try:  # noqa: SIM105
                        verify(value)
                    except (TokenVerificationError, KeyResolutionError):
                        pass
            fresh = copies(values)

            def batch() -> None:
                for value in fresh:
                    # Not contextlib.suppress: a context manager per call would be timed.
                    # verify_token straight from the loop, as in _ours_batch.
                    try:  # noqa: SIM105
                        verify_token(value, keys, config, now=time.time())
                    except (TokenVerificationError, KeyResolutionError):
                        pass

            return batch

        return prepare

    for g in fx.garbage:
        out.append(Candidate(f"clerk-auth: {g.name}", refuse([g.token] * repeat), repeat))
    out.extend(_request_path(fx, repeat))
    for g in fx.garbage:
        unique = g.unique or []
        out.append(
            Candidate(
                f"clerk-auth: {g.name}, each different",
                refuse(unique, forget=True),
                len(unique),
                note="informational",
            )
        )
    return out


class _Keys:
    """A key source that is never to be asked (the header is refused before)."""

    def __init__(self, keys: KeySet) -> None:
        self.keys = keys

    def get_keys(self, kid: str | None) -> KeySet:
        raise AssertionError("an oversized header reached the key source")


def _request_path(fx: Fixtures, repeat: int) -> list[Candidate]:
    """A 16 KiB ``Authorization`` header through the request path (``authenticate_with``),
    refused by its raw size before it is decoded, stripped, split or scanned (issue
    12); beside it, informational, the floor of that path: a request with no token."""
    config, source = fx.jwks_config, _Keys(fx.jwks_keys)
    oversized = next(g.token for g in fx.garbage if g.name == "16 KiB bearer")

    def candidate(
        name: str, request: list[tuple[bytes, bytes]], reason: str, note: str
    ) -> Candidate:
        batch_of = [list(request) for _ in range(repeat)]
        state = authenticate_with(source, batch_of[0], config=config, now=time.time())
        assert state.reason == reason, state.reason

        def prepare() -> Callable[[], object]:
            def batch() -> None:
                for headers in batch_of:
                    authenticate_with(source, headers, config=config, now=time.time())

            return batch

        return Candidate(name, prepare, repeat, note=note)

    host = (b"host", b"api.example")
    return [
        candidate(
            "clerk-auth: 16 KiB Authorization header (request path)",
            [host, (b"authorization", f"Bearer {oversized}".encode())],
            Reason.TOKEN_INVALID,
            "",
        ),
        candidate(
            "clerk-auth: no token at all (request path, informational)",
            [host],
            Reason.SESSION_TOKEN_AND_UAT_MISSING,
            "informational: the floor of the request path",
        ),
    ]


# -- peers ------------------------------------------------------------------------------


def _minimal(fx: Fixtures) -> tuple[Verify, type[BaseException]]:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    key, pad, sha = fx.public_key, padding.PKCS1v15(), hashes.SHA256()

    def b64(segment: str) -> bytes:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))

    def verify(token: str) -> str:
        head, body, sig = token.split(".")
        if json.loads(b64(head))["alg"] != "RS256":
            raise ValueError("alg")
        key.verify(b64(sig), f"{head}.{body}".encode(), pad, sha)
        claims = json.loads(b64(body))
        if claims["exp"] < time.time():
            raise ValueError("expired")
        return str(claims["sub"])

    return verify, Exception


def _pyjwt(fx: Fixtures) -> tuple[Verify, type[BaseException]]:
    import jwt

    key = fx.public_key

    def verify(token: str) -> str:
        claims = jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            issuer=fx.issuer,
            leeway=5,
            options={"require": ["exp", "iat", "sub"]},
        )
        return str(claims["sub"])

    return verify, jwt.PyJWTError


def _joserfc(fx: Fixtures) -> tuple[Verify, type[BaseException]]:
    from joserfc import jwt
    from joserfc.errors import JoseError
    from joserfc.jwk import RSAKey
    from joserfc.jws import JWSRegistry
    from joserfc.registry import HeaderParameter, is_str

    key = RSAKey.import_key(fx.pem)
    # Clerk's header carries "cat", which joserfc refuses unless registered.
    jws = JWSRegistry(header_registry={"cat": HeaderParameter("Token category", is_str)})
    registry = jwt.JWTClaimsRegistry(
        leeway=5, iss={"essential": True, "value": fx.issuer}, sub={"essential": True}
    )

    def verify(token: str) -> str:
        decoded = jwt.decode(token, key, algorithms=["RS256"], registry=jws)
        registry.validate(decoded.claims)
        return str(decoded.claims["sub"])

    return verify, (JoseError, ValueError)  # type: ignore[return-value]


def _authlib(fx: Fixtures) -> tuple[Verify, type[BaseException]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from authlib.jose import JsonWebKey, JsonWebToken
        from authlib.jose.errors import JoseError

    key = JsonWebKey.import_key(fx.pem, {"kty": "RSA"})
    jwt = JsonWebToken(["RS256"])
    options = {"iss": {"essential": True, "value": fx.issuer}, "sub": {"essential": True}}

    def verify(token: str) -> str:
        claims = jwt.decode(token, key, claims_options=options)
        claims.validate(leeway=5)
        return str(claims["sub"])

    return verify, (JoseError, ValueError)  # type: ignore[return-value]


class _Request:
    def __init__(self, token: str) -> None:
        self.headers = {"Authorization": f"Bearer {token}"}


class _SignedOut(Exception):
    pass


def _clerk_sdk(fx: Fixtures) -> tuple[Verify, type[BaseException]]:
    from clerk_backend_api.security import authenticate_request
    from clerk_backend_api.security.types import AuthenticateRequestOptions

    options = AuthenticateRequestOptions(jwt_key=fx.pem, authorized_parties=[AZP])

    def verify(token: str) -> str:
        state = authenticate_request(_Request(token), options)
        if not state.is_signed_in:
            raise _SignedOut(state.reason)
        return str(state.payload["sub"])  # type: ignore[index]

    return verify, _SignedOut


PEERS: dict[str, tuple[Callable[[Fixtures], tuple[Verify, type[BaseException]]], str]] = {
    "minimal pure-Python verifier": (_minimal, "informational: no strictness, no claims"),
    "PyJWT": (_pyjwt, "jwt.decode, issuer + leeway"),
    "joserfc": (_joserfc, "jwt.decode + JWTClaimsRegistry, cat registered"),
    "authlib": (_authlib, "JsonWebToken.decode + validate"),
    "clerk-backend-api": (_clerk_sdk, "authenticate_request(jwt_key=PEM)"),
}


def peers(fx: Fixtures, notes: list[str]) -> dict[str, tuple[Verify, str]]:
    """The peers that import and pass their check: name → (verify, note)."""
    out: dict[str, tuple[Verify, str]] = {}
    for name, (factory, note) in PEERS.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                verify, error = factory(fx)
                _check_peer(fx, name, verify, error)
        except ImportError as exc:
            notes.append(f"{name}: skipped, not installed ({exc.name})")
            continue
        except Skip as exc:
            notes.append(f"{name}: skipped, {exc}")
            continue
        out[name] = (verify, note)
    return out


def _check_peer(fx: Fixtures, name: str, verify: Verify, error: Any) -> None:
    for token, sub in zip(fx.tokens[:8], fx.subs, strict=False):
        try:
            got = verify(token)
        except Exception as exc:
            raise Skip(f"it refused a valid token ({type(exc).__name__}: {exc})") from None
        if got != sub:
            raise Skip(f"it answered sub {got!r} for {sub!r}")
    if name.startswith("minimal"):
        return  # checks nothing but the signature and exp: not comparable on garbage
    for g in fx.garbage:
        if g.reason == "jwk-kid-mismatch":
            continue  # peers here hold one PEM key and ignore kid
        try:
            verify(g.token)
        except error:
            continue
        except Exception as exc:
            raise Skip(f"{g.name}: unexpected {type(exc).__name__}: {exc}") from None
        raise Skip(f"{g.name}: accepted")


def peer_candidates(fx: Fixtures, found: dict[str, tuple[Verify, str]]) -> list[Candidate]:
    return [
        Candidate(name, _batch(verify, fx.tokens), len(fx.tokens), note=note)
        for name, (verify, note) in found.items()
    ]


def peer_garbage(
    fx: Fixtures, found: dict[str, tuple[Verify, str]], repeat: int
) -> list[Candidate]:
    """Each peer refusing the 16 KiB bearer (informational)."""
    big = fx.garbage[0].token

    def refuse(verify: Verify) -> Any:
        def prepare() -> Callable[[], object]:
            fresh = copies([big] * repeat)

            def batch() -> None:
                for value in fresh:
                    try:  # noqa: SIM105 - as above: nothing but the call is timed
                        verify(value)
                    except Exception:  # noqa: S110 - refusing is the point
                        pass

            return batch

        return prepare

    return [
        Candidate(f"{name}: 16 KiB bearer", refuse(verify), repeat, note="informational")
        for name, (verify, _) in found.items()
        if not name.startswith("minimal")
    ]
