"""Why a token was refused, for the person debugging it: a hint per reason.

The verifier answers with a stable reason and a message that is safe to send a client
(:mod:`._errors`). On a developer's own terminal we can say more: how far off the clock
is, which ``azp`` the token carries against which parties are allowed, which ``kid``
it names against the JWKS. The claims read here are *unverified* (a refused token's
claims prove nothing); they only explain the refusal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from clerk_auth_core._errors import ClerkAuthError, Reason
from clerk_auth_core._keys import KeySet
from clerk_auth_core._token_kinds import API_KEY, M2M_TOKEN, OAUTH_TOKEN, SESSION_TOKEN
from clerk_auth_core._tokens import MACHINE_TOKEN_PREFIXES

from ._format import decode_segments, format_duration, iso
from ._jwks import Setup

__all__ = [
    "KIND_NAMES",
    "Explained",
    "explain",
    "explain_machine_jwt",
    "explain_mismatch",
    "explain_opaque",
]


@attrs.frozen(kw_only=True)
class Explained:
    """A hint for people, and the facts behind it for ``--json``."""

    hint: str | None
    details: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class _Context:
    error: ClerkAuthError
    token: str
    header: Mapping[str, Any]
    payload: Mapping[str, Any]
    setup: Setup
    now: float
    keys: KeySet | None

    def number(self, name: str) -> float | None:
        value = self.payload.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value)


#: Header ``cat`` values of the tokens that are not session tokens (spec §2).
CAT_JWT_TEMPLATE = "cl_B7d4PD222AAA"
CAT_M2M = "cl_B7d4PD333AAA"


def _iso(moment: float) -> str:
    try:
        return iso(moment)
    except (OverflowError, OSError, ValueError):
        return repr(moment)


_CLOCK = "check the server clock (NTP)"


def _expired(c: _Context) -> Explained:
    exp = c.number("exp")
    if exp is None:
        return Explained(hint=None)
    ago = c.now - exp
    iat = c.number("iat")
    lived = f"; it lived {format_duration(exp - iat)}" if iat is not None else ""
    return Explained(
        hint=(
            f"expired {format_duration(ago)} ago (exp {_iso(exp)}, now {_iso(c.now)} by this "
            f"machine's clock){lived}. "
            "Session tokens live about a minute: send a fresh one from getToken() on "
            f"every request; if it was fresh, {_CLOCK}"
        ),
        details={"exp": exp, "now": c.now, "seconds_ago": round(ago, 3)},
    )


def _ahead(c: _Context, claim: str, said: str, whose: str) -> Explained:
    """A hint for a time claim that lies ahead of this machine's clock (nbf, iat)."""
    when = c.number(claim)
    if when is None:
        return Explained(hint=None)
    ahead = when - c.now
    return Explained(
        hint=(
            f"{said} {format_duration(ahead)}{' in the future' if claim == 'iat' else ''} "
            f"({claim} {_iso(when)}, "
            f"clock skew allowed {format_duration(c.setup.config.clock_skew)}): this "
            f"machine's clock is {whose}; {_CLOCK}"
        ),
        details={claim: when, "now": c.now, "seconds_ahead": round(ahead, 3)},
    )


def _not_active(c: _Context) -> Explained:
    return _ahead(c, "nbf", "not valid for another", "probably behind")


def _iat_future(c: _Context) -> Explained:
    return _ahead(c, "iat", "issued", "behind Clerk's")


def _azp(c: _Context) -> Explained:
    azp = c.payload.get("azp")
    allowed = list(c.setup.config.authorized_parties)
    where = c.setup.parties_from or "CLERK_AUTHORIZED_PARTIES"
    shown = "no azp" if azp is None else f"azp {azp!r}"
    return Explained(
        hint=(
            f"the token has {shown}, but only {allowed} are allowed (from {where}). "
            "It was minted for another origin; if that origin is your front end, add it "
            "to CLERK_AUTHORIZED_PARTIES (exactly: scheme, host and port)"
        ),
        details={"azp": azp, "authorized_parties": allowed},
    )


def _issuer(c: _Context) -> Explained:
    iss = c.payload.get("iss")
    expected = c.setup.config.expected_issuer
    return Explained(
        hint=(
            f"the token's iss is {iss!r} but {expected!r} is expected (from "
            f"{c.setup.issuer_from}): a token of another Clerk instance (development "
            "vs production?)"
        ),
        details={"iss": iss, "expected_issuer": expected},
    )


def _signature(c: _Context) -> Explained:
    return Explained(
        hint=(
            f"the signature does not match the key ({c.setup.key_source}): the token was "
            "signed by another instance's key, or changed after signing"
        )
    )


def _kid(c: _Context) -> Explained:
    kid = c.header.get("kid")
    kids = sorted(c.keys.kids) if c.keys is not None else []
    return Explained(
        hint=(
            f"the token names key {kid!r}, which the JWKS does not hold (it has {kids}): "
            "a token of another Clerk instance, or a key rotated in the last few minutes"
        ),
        details={"kid": kid, "jwks_kids": kids},
    )


def _algorithm(c: _Context) -> Explained:
    alg = c.header.get("alg")
    return Explained(
        hint=f"alg is {alg!r}: Clerk session tokens are RS256, and nothing else is accepted",
        details={"alg": alg},
    )


def _type(c: _Context) -> Explained:
    cat, typ, sub = c.header.get("cat"), c.header.get("typ"), c.payload.get("sub")
    if c.token.startswith(MACHINE_TOKEN_PREFIXES):
        what = "an opaque machine token (M2M, OAuth or API key)"
    elif cat == CAT_JWT_TEMPLATE:
        what = "a JWT-template token (getToken({ template }))"
    elif cat == CAT_M2M or (isinstance(sub, str) and sub.startswith("mch_")):
        what = "a machine-to-machine token"
    elif isinstance(typ, str) and typ.lower() in ("at+jwt", "application/at+jwt"):
        what = "an OAuth access token"
    else:
        what = f"not a session token (cat {cat!r})"
    return Explained(
        hint=f"this is {what}; send the session token: getToken() without a template",
        details={"cat": cat, "typ": typ},
    )


def _failed(c: _Context) -> Explained:
    exp, iat = c.number("exp"), c.number("iat")
    cap = c.setup.config.max_token_lifetime
    if exp is not None and iat is not None and exp - iat > cap:
        return Explained(
            hint=(
                f"it lives {format_duration(exp - iat)} (exp - iat), longer than the "
                f"{format_duration(cap)} a session token may: a JWT-template token? "
                "(CLERK_MAX_TOKEN_LIFETIME raises the cap)"
            ),
            details={"lifetime": exp - iat, "max_token_lifetime": cap},
        )
    if "sid" not in c.payload:
        return Explained(hint="it has no sid: not a session token (a JWT-template token?)")
    return Explained(hint=c.error.message)


def _malformed(c: _Context) -> Explained:
    try:
        decode_segments(c.token)
    except ValueError as exc:
        return Explained(hint=f"{exc}; copy the whole token (it starts with 'eyJ')")
    size = len(c.token)
    if size > c.setup.config.max_token_size:
        return Explained(hint=f"it is {size} bytes, over the {c.setup.config.max_token_size} cap")
    if "kid" not in c.header and c.setup.config.static_keys is None:
        return Explained(hint="the header has no kid, which a JWKS needs to pick the key")
    return Explained(
        hint=(
            "the header or payload breaks the token rules (strict JSON, canonical "
            "base64url, no key-naming header members); run `clerk-auth decode` to look"
        )
    )


def _pending(c: _Context) -> Explained:
    return Explained(
        hint=(
            "the session has pending tasks (sts: pending): refused unless allow_pending "
            "(CLERK_ALLOW_PENDING=true, or --allow-pending here)"
        )
    )


_HINTS: dict[str, Callable[[_Context], Explained]] = {
    Reason.TOKEN_EXPIRED: _expired,
    Reason.TOKEN_NOT_ACTIVE_YET: _not_active,
    Reason.TOKEN_IAT_IN_THE_FUTURE: _iat_future,
    Reason.TOKEN_INVALID_AUTHORIZED_PARTIES: _azp,
    Reason.TOKEN_INVALID_ISSUER: _issuer,
    Reason.TOKEN_INVALID_SIGNATURE: _signature,
    Reason.JWK_KID_MISMATCH: _kid,
    Reason.TOKEN_INVALID_ALGORITHM: _algorithm,
    Reason.TOKEN_TYPE_MISMATCH: _type,
    Reason.TOKEN_VERIFICATION_FAILED: _failed,
    Reason.TOKEN_INVALID: _malformed,
    Reason.SESSION_PENDING: _pending,
}


def explain(
    error: ClerkAuthError, *, token: str, setup: Setup, now: float, keys: KeySet | None
) -> Explained:
    """The hint for a refused token (``hint`` is ``None`` when there is nothing to add)."""
    try:
        header, payload, _ = decode_segments(token)
    except ValueError:
        header, payload = {}, {}
    handler = _HINTS.get(error.reason)
    if handler is None:
        return Explained(hint=None)
    context = _Context(
        error=error, token=token, header=header, payload=payload, setup=setup, now=now, keys=keys
    )
    return handler(context)


# -- machine tokens ---------------------------------------------------------------------

#: Each token kind as people say it.
KIND_NAMES = {
    SESSION_TOKEN: "a Clerk session token",
    API_KEY: "an API key",
    M2M_TOKEN: "an M2M token",
    OAUTH_TOKEN: "an OAuth access token",
}


def _machine_expired(c: _Context) -> Explained:
    exp = c.number("exp")
    if exp is None:
        return Explained(hint=None)
    ago = c.now - exp
    iat = c.number("iat")
    lived = f"; it lived {format_duration(exp - iat)}" if iat is not None else ""
    return Explained(
        hint=(
            f"expired {format_duration(ago)} ago (exp {_iso(exp)}, now {_iso(c.now)} by this "
            f"machine's clock){lived}. A machine JWT keeps the lifetime it was created "
            f"with: create a new one; if it was fresh, {_CLOCK}"
        ),
        details={"exp": exp, "now": c.now, "seconds_ago": round(ago, 3)},
    )


def _machine_algorithm(c: _Context) -> Explained:
    alg = c.header.get("alg")
    return Explained(
        hint=f"alg is {alg!r}: Clerk signs machine JWTs with RS256, and nothing else is accepted",
        details={"alg": alg},
    )


def _machine_invalid(c: _Context) -> Explained:
    cat, typ = c.header.get("cat"), c.header.get("typ")
    if "category" in c.error.message:
        return Explained(
            hint=(
                f"its sub is a machine id (mch_...) but the header cat is {cat!r}: an M2M JWT "
                f"carries {CAT_M2M} or no cat, so this is a session or JWT-template token "
                "dressed as one (refused before any key lookup)"
            ),
            details={"cat": cat},
        )
    if "JWT type" in c.error.message:
        return Explained(
            hint=f"an M2M JWT's header typ is JWT or absent, not {typ!r}", details={"typ": typ}
        )
    return _malformed(c)


_MACHINE_JWT_HINTS: dict[str, Callable[[_Context], Explained]] = {
    Reason.TOKEN_EXPIRED: _machine_expired,
    Reason.TOKEN_NOT_ACTIVE_YET: _not_active,
    Reason.TOKEN_IAT_IN_THE_FUTURE: _iat_future,
    Reason.TOKEN_INVALID_SIGNATURE: _signature,
    Reason.JWK_KID_MISMATCH: _kid,
    Reason.TOKEN_INVALID_ALGORITHM: _machine_algorithm,
    Reason.TOKEN_INVALID: _machine_invalid,
}


def explain_machine_jwt(
    error: ClerkAuthError, *, token: str, setup: Setup, now: float, keys: KeySet | None
) -> Explained:
    """The hint for a refused M2M or OAuth JWT (the same facts as for sessions, in a
    machine token's words; ``hint`` is ``None`` when the message says it all)."""
    handler = _MACHINE_JWT_HINTS.get(error.reason)
    if handler is None:
        return Explained(hint=None)
    try:
        header, payload, _ = decode_segments(token)
    except ValueError:
        header, payload = {}, {}
    context = _Context(
        error=error, token=token, header=header, payload=payload, setup=setup, now=now, keys=keys
    )
    return handler(context)


def explain_opaque(error: ClerkAuthError, *, kind: str, credential: str, api_url: str) -> Explained:
    """The hint for an opaque token (``ak_``, ``mt_``, ``oat_``) the Backend API refused,
    or could not judge. Nothing of the token is known here but what Clerk answered."""
    what = KIND_NAMES.get(kind, kind)
    reason = error.reason
    if reason == Reason.TOKEN_INVALID:
        hint = (
            f"Clerk's Backend API does not know this token as {what}: mistyped or cut "
            "short, deleted, revoked or expired (Clerk answers all of these alike), or "
            f"issued by another instance ({credential} picks the instance)"
        )
    elif reason == Reason.TOKEN_REVOKED:
        hint = (
            "Clerk says it was revoked. A server that verified it shortly before may still "
            "take it from its cache for up to machine_cache_ttl (default 60 s)"
        )
    elif reason == Reason.TOKEN_EXPIRED:
        hint = f"Clerk says its expiration has passed: create a new {kind}"
    elif reason == Reason.SECRET_KEY_INVALID:
        hint = (
            f"Clerk's Backend API at {api_url} refused {credential}: check it is this "
            "instance's key and was not rolled. The token may be fine"
        )
    elif reason == Reason.UNEXPECTED_ERROR:
        detail = getattr(error, "detail", "") or "no answer"
        return Explained(
            hint=(
                f"Clerk's Backend API at {api_url} gave no usable answer ({detail}); the "
                "token may be fine. A server answers 503 with Retry-After here, never 401: "
                "check CLERK_API_URL and the network, then try again"
            ),
            details={"detail": detail},
        )
    else:
        return Explained(hint=None)
    return Explained(hint=hint)


def explain_mismatch(kind: str, accepted: str) -> Explained:
    """The hint for a token of a kind ``--accepts`` does not name."""
    return Explained(
        hint=(
            f"this is {KIND_NAMES.get(kind, kind)}; a route whose accepts_token is "
            f"{accepted!r} refuses it before any key lookup or Backend API call"
        ),
        details={"token_type": kind, "accepts": accepted},
    )
