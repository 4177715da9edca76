"""The conformance table: what every adapter must answer, scenario by scenario.

Each :class:`Scenario` names a request (how the token is sent), a token kind (built
from the mock issuer right before sending: time claims are relative to the real
clock), an issuer state (how the mock and the app got where they are) and the
expected answer. The table is data; ``test_conformance.py`` runs it through every
driver in ``drivers/``, so all adapters give the same answer to the same request.

Time margins: the clock skew is 5 s; a token meant to pass sits 2 s inside the skew,
one meant to fail 3 s or more outside it (and an expired one only gets more expired).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from clerk_auth_core import JwksPolicy
from clerk_auth_core.testing import CAT_M2M, REMOVE, MockClerk

__all__ = ["SCENARIOS", "STATES", "TOKENS", "Expect", "IssuerState", "Scenario", "World"]

#: ``WWW-Authenticate`` patterns (``re.fullmatch``); ``None`` means "must be absent".
NO_TOKEN = "Bearer"
INVALID = r'Bearer error="invalid_token", error_description="[^"]+"'
SCOPE = r'Bearer error="insufficient_scope", error_description="[^"]+"'

USER = "user_test"


@dataclass
class World:
    """A running mock issuer and an app (served by one driver) trusting it."""

    clerk: MockClerk
    url: str
    http: httpx.Client
    #: What a state's setup remembers for the token builders (e.g. the rotated-out kid).
    notes: dict[str, str] = field(default_factory=dict)

    def get(self, path: str, token: str) -> httpx.Response:
        """A plain bearer request (for setup steps)."""
        return self.http.get(self.url + path, headers={"Authorization": f"Bearer {token}"})


# -- tokens ------------------------------------------------------------------------------

TokenBuilder = Callable[[World], str]


def _mint(**kwargs: Any) -> TokenBuilder:
    return lambda w: w.clerk.mint(**kwargs)


def _at(**offsets: int) -> TokenBuilder:
    """A token whose ``iat``/``exp``/``nbf`` are offsets from the real clock, now."""

    def build(w: World) -> str:
        now = int(time.time())
        iat = now + offsets.get("iat", 0)
        return w.clerk.mint(
            iat=iat,
            lifetime=now + offsets["exp"] - iat if "exp" in offsets else 60,
            nbf=now + offsets["nbf"] if "nbf" in offsets else None,
        )

    return build


def _foreign_key(w: World) -> Any:
    """A key the issuer does not serve (made once per issuer)."""
    try:
        return w.clerk.private_key_for("ins_foreign")
    except KeyError:
        return w.clerk.add_foreign_key("ins_foreign")


ADMIN = {"id": "org_1", "slug": "acme", "role": "org:admin", "permissions": ["org:reports:read"]}
MEMBER = {"id": "org_1", "slug": "acme", "role": "org:member", "permissions": ["org:billing:read"]}

TOKENS: dict[str, TokenBuilder] = {
    "valid": _mint(),
    "garbage": lambda w: "not-a-jwt",
    "expired": _at(iat=-67, exp=-7),
    "expired-inside-skew": _at(iat=-62, exp=-2),
    "not-yet-valid": _at(nbf=9),
    "nbf-inside-skew": _at(nbf=2),
    "iat-future": _at(iat=9),
    "iat-inside-skew": _at(iat=2),
    "too-long-lived": _mint(lifetime=7200),
    "bad-signature": lambda w: w.clerk.mint(key=_foreign_key(w)),
    "unknown-kid": lambda w: w.clerk.mint(kid="ins_foreign", key=_foreign_key(w)),
    "alg-none": lambda w: w.clerk.mint(header={"alg": "none"}),
    "old-key": lambda w: w.clerk.mint(kid=w.notes["old_kid"]),
    "wrong-azp": _mint(azp="https://evil.example"),
    "missing-azp": _mint(azp=REMOVE),
    "wrong-iss": _mint(iss="https://other.clerk.accounts.dev"),
    "pending": _mint(sts="pending"),
    "v1-admin": _mint(org=ADMIN),
    "v1-member": _mint(org=MEMBER),
    "v2-admin": _mint(version=2, org=ADMIN),
    "v2-member": _mint(version=2, org=MEMBER),
    "opaque-machine": lambda w: "mt_" + "a" * 32,
    "m2m-sub": _mint(sub="mch_2abc"),
    "oauth-typ": _mint(typ="at+jwt"),
    "m2m-cat": _mint(cat=CAT_M2M),
    # fva: [minutes since the first factor, since the second], -1 = never.
    "fva-fresh": _mint(fva=[30, 9]),
    "fva-stale": _mint(fva=[0, 10]),
    "fva-no-second-factor": _mint(fva=[9, -1]),
    "fva-no-second-factor-stale": _mint(fva=[10, -1]),
    "fva-never": _mint(fva=[-1, -1]),
    "fva-missing": _mint(),
    "fva-stale-v2": _mint(version=2, fva=[0, 10]),
    "fva-fresh-member": _mint(org=MEMBER, fva=[0, 0]),
    # Machine tokens (issue 14), minted by the mock's Backend API and key.
    "api-key": lambda w: w.clerk.machine.mint_api_key(scopes=["orders:read"]),
    "m2m-opaque": lambda w: w.clerk.machine.mint_m2m_token(),
    "oauth-opaque": lambda w: w.clerk.machine.mint_oauth_token(),
    "m2m-jwt": lambda w: w.clerk.machine.mint_m2m_jwt(scopes=["mch_orders"]),
    "oauth-jwt": lambda w: w.clerk.machine.mint_oauth_jwt(scopes=["read:orders"]),
    "api-key-revoked": lambda w: _revoked(w, w.clerk.machine.mint_api_key()),
    "api-key-expired": lambda w: _expired(w, w.clerk.machine.mint_api_key()),
    "m2m-opaque-revoked": lambda w: _revoked(w, w.clerk.machine.mint_m2m_token()),
    "api-key-unknown": lambda w: "ak_" + secrets.token_urlsafe(24),
    "m2m-jwt-expired": lambda w: w.clerk.machine.mint_m2m_jwt(iat=time.time() - 67, lifetime=60),
    "m2m-jwt-session-cat": lambda w: w.clerk.machine.mint_m2m_jwt(cat="cl_B7d4PD222AAA"),
    "m2m-jwt-bad-signature": lambda w: _tampered(w.clerk.machine.mint_m2m_jwt()),
    "m2m-jwt-other-instance": lambda w: _foreign_m2m(w),
    "oauth-jwt-alg-none": lambda w: w.clerk.machine.mint_oauth_jwt(header={"alg": "none"}),
}


def _revoked(w: World, token: str) -> str:
    w.clerk.machine.revoke(token)
    return token


def _expired(w: World, token: str) -> str:
    w.clerk.machine.expire(token)
    return token


def _tampered(token: str) -> str:
    # Another next-to-last signature character (every bit of it is signature; the
    # last one carries padding bits too), never the one it was.
    head, _, last = token.rpartition(".")
    swap = "A" if last[-2] != "A" else "B"
    return f"{head}.{last[:-2]}{swap}{last[-1]}"


def _foreign_m2m(w: World) -> str:
    """An M2M JWT of another instance: its own key and kid, which this one lacks."""
    key = _foreign_key(w)
    token = w.clerk.machine.mint_m2m_jwt(header={"kid": "ins_foreign"})
    signing_input = token.rpartition(".")[0]
    return f"{signing_input}.{w.clerk.sign(signing_input, key=key)}"


# -- issuer states -------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuerState:
    """How the mock issuer and the app got to where the scenario's request finds them.

    ``normal`` scenarios share one issuer and app per driver; every other state gets a
    fresh pair, built with ``policy`` and brought into shape by ``setup``.
    """

    name: str
    policy: JwksPolicy
    setup: Callable[[World], None] = lambda w: None


def _warm(w: World) -> None:
    response = w.get("/protected", w.clerk.mint())
    assert response.status_code == 200, response.text


def _rotate(w: World) -> None:
    _warm(w)
    w.clerk.rotate(keep_old=True)  # the next token carries a kid the app has not seen


def _remove_key(w: World) -> None:
    _warm(w)
    w.notes["old_kid"] = w.clerk.kid
    w.clerk.rotate(keep_old=False)
    # A token with the new kid makes the app refetch; the new set replaces the old one.
    response = w.get("/protected", w.clerk.mint())
    assert response.status_code == 200, response.text


def _machine_down(w: World) -> None:
    _warm(w)
    w.clerk.machine.set_fault("down")


def _down_cold(w: World) -> None:
    w.clerk.set_fault("down")


def _down_warm(w: World) -> None:
    _warm(w)
    w.clerk.set_fault("down")


def _policy(fresh_for: float = 300.0) -> JwksPolicy:
    # Rotation must not wait out the 30 s unknown-kid cooldown, nor an outage 5 s.
    return JwksPolicy(
        fresh_for=fresh_for, unknown_kid_cooldown=0.0, connect_timeout=1.0, timeout=2.0
    )


STATES: dict[str, IssuerState] = {
    state.name: state
    for state in (
        # Warm, so that what a scenario fetches does not depend on which ran first.
        IssuerState("normal", _policy(), _warm),
        IssuerState("rotated", _policy(), _rotate),
        IssuerState("key-removed", _policy(), _remove_key),
        IssuerState("down-cold", _policy(), _down_cold),
        # Stale at once, so the request after the outage began needs a refresh that fails.
        IssuerState("down-warm", _policy(fresh_for=0.0), _down_warm),
        # The Backend API (opaque machine tokens) is down; the JWKS is not.
        IssuerState("machine-down", _policy(), _machine_down),
    )
}


# -- the table -----------------------------------------------------------------------------

Send = Literal["bearer", "raw", "cookie", "none"]


@dataclass(frozen=True)
class Expect:
    """The answer: status, ``WWW-Authenticate`` (fullmatch pattern, ``None`` = absent),
    the JSON ``reason`` of a refusal, the ``user_id`` the view saw on a 200, and (when
    not ``None``) how many JWKS requests the issuer received while answering."""

    status: int
    www_authenticate: str | None = None
    reason: str | None = None
    user_id: str | None = None
    retry_after: bool = False
    fetches: int | None = None
    #: The exact body bytes of a refusal, when its shape is not ``{error, reason,
    #: message}`` (Clerk's ``clerk_error`` for a reverification refusal).
    body: bytes | None = None
    #: What a 403 ``insufficient-scope`` body names as required (issue 16).
    required: dict[str, list[str]] | None = None
    #: A machine-token route's 200 body (``verified_body``), instead of ``user_id``.
    machine: dict[str, str | None] | None = None
    #: When not ``None``: how many Backend API verify calls answering took.
    api_calls: int | None = None


def ok(user_id: str | None = USER) -> Expect:
    """200 and the view saw ``user_id``."""
    return Expect(200, user_id=user_id)


def unauthorized(reason: str, www: str = INVALID, fetches: int | None = None) -> Expect:
    """401 with ``reason``."""
    return Expect(401, www, reason, fetches=fetches)


#: What /admin and /reports require, as their 403 names it.
NEEDS_ROLE = {"roles": ["org:admin"]}
NEEDS_PERMISSION = {"permissions": ["org:reports:read"]}


def forbidden(required: dict[str, list[str]]) -> Expect:
    """403 ``insufficient_scope``, naming what the route ``required``."""
    return Expect(403, SCOPE, "insufficient-scope", required=required)


#: What ``/sensitive`` (``reverification="strict"``) answers a too-old ``fva``, exactly.
REVERIFY_STRICT = (
    b'{"clerk_error":{"type":"forbidden","reason":"reverification-error",'
    b'"metadata":{"reverification":"strict"}}}'
)


def reverify() -> Expect:
    """403 ``insufficient_scope`` with Clerk's reverification body."""
    return Expect(403, SCOPE, "reverification-error", body=REVERIFY_STRICT)


def verified(
    subject: str, token_type: str, user_id: str | None = None, api_calls: int | None = None
) -> Expect:
    """200 on a machine-token route, which saw this verified token."""
    body = {"subject": subject, "token_type": token_type, "user_id": user_id}
    return Expect(200, machine=body, api_calls=api_calls)


def mismatch() -> Expect:
    """401 ``token-type-mismatch`` for a kind the route does not accept: no call made."""
    return Expect(401, INVALID, "token-type-mismatch", fetches=0, api_calls=0)


def refused(reason: str, api_calls: int | None = None) -> Expect:
    """401 ``reason`` for a machine token (``invalid_token``)."""
    return Expect(401, INVALID, reason, api_calls=api_calls)


#: What a session answers on a machine-token route that accepts sessions too.
SESSION = verified(USER, "session_token", USER, api_calls=0)
#: A machine-only route's answer to a request without an Authorization token.
MISSING = Expect(401, NO_TOKEN, "machine-token-missing", api_calls=0)


def unavailable(fetches: int | None = None) -> Expect:
    """503 with ``Retry-After``: the keys could not be loaded, the token may be good."""
    return Expect(503, None, "jwk-remote-failed-to-load", retry_after=True, fetches=fetches)


@dataclass(frozen=True)
class Scenario:
    """One request and the answer every adapter must give.

    ``send``: ``bearer`` (``Authorization: Bearer <token>``), ``raw`` (``authorization``
    as given, ``{token}`` replaced), ``cookie`` (only the ``cookie`` header) or
    ``none``. ``cookie`` is a ``Cookie`` header template: ``{token}``, ``{suffix}`` (the
    publishable key's cookie suffix), ``{valid}`` (another, valid token), ``{uat}`` (a
    ``__client_uat`` before the token's ``iat``) and ``{uat_late}`` (one after it) are
    filled in; it is sent with any ``send``. ``{origin}`` in ``headers`` is the front
    end's origin (the authorized party).
    """

    id: str
    expect: Expect
    token: str | None = "valid"
    send: Send = "bearer"
    path: str = "/protected"
    method: str = "GET"
    authorization: str | None = None
    cookie: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    state: str = "normal"


S = Scenario
_COOKIE = "__session={token}; __client_uat={uat}"

SCENARIOS: tuple[Scenario, ...] = (
    # Where the token comes from (spec §1).
    S("valid-bearer", ok()),
    S("no-token", unauthorized("session-token-and-uat-missing", NO_TOKEN), None, "none"),
    S("bearer-without-token", unauthorized("token-invalid"), None, "raw", authorization="Bearer"),
    S(
        "bearer-two-tokens",
        unauthorized("token-invalid"),
        send="raw",
        authorization="Bearer {token} {token}",
    ),
    # Issue 12: Authorization is a singleton (RFC 9110); several values are refused,
    # whether they arrive as separate headers or joined with a comma (WSGI, proxies).
    S(
        "two-authorization-headers",
        unauthorized("token-invalid", fetches=0),
        headers=(("Authorization", "Bearer {valid}"),),
    ),
    S(
        "authorization-values-joined",
        unauthorized("token-invalid", fetches=0),
        send="raw",
        authorization="Bearer {token},{token}",
    ),
    # An oversized value is refused before it is read (and costs no fetch).
    S(
        "oversized-authorization",
        unauthorized("token-invalid", fetches=0),
        None,
        "raw",
        authorization="Bearer " + "a" * 10_000,
    ),
    S("bearer-scheme-any-case", ok(), send="raw", authorization="bEaReR   {token}"),
    S("bare-token", ok(), send="raw", authorization="{token}"),
    # Nothing before the gate costs a key fetch (key-rotation.md, "Tokens before keys").
    S("garbage-token", unauthorized("token-invalid", fetches=0), "garbage"),
    S(
        "other-scheme-then-cookie",
        ok(),
        send="raw",
        authorization="Basic Zm9vOmJhcg==",
        cookie=_COOKIE,
    ),
    S(
        "other-scheme-no-cookie",
        unauthorized("session-token-and-uat-missing", NO_TOKEN),
        send="raw",
        authorization="Basic Zm9vOmJhcg==",
    ),
    S(
        "header-wins-over-cookie",
        unauthorized("token-expired"),
        "expired",
        cookie="__session={valid}; __client_uat={uat}",
    ),
    S("cookie-only", ok(), send="cookie", cookie=_COOKIE),
    S(
        "suffixed-cookie-pair-wins",
        ok(),
        send="cookie",
        cookie="__session=garbage; __client_uat=1; "
        "__session_{suffix}={token}; __client_uat_{suffix}={uat}",
    ),
    S(
        "cookie-without-client-uat",
        unauthorized("session-token-but-no-client-uat"),
        send="cookie",
        cookie="__session={token}",
    ),
    S(
        "client-uat-without-cookie",
        unauthorized("client-uat-but-no-session-token", NO_TOKEN),
        None,
        "cookie",
        cookie="__client_uat={uat}",
    ),
    S(
        "signed-out-client-uat-zero",
        unauthorized("session-token-and-uat-missing", NO_TOKEN),
        None,
        "cookie",
        cookie="__client_uat=0; theme=dark",
    ),
    S(
        "cookie-older-than-client-uat",
        unauthorized("session-token-iat-before-client-uat"),
        send="cookie",
        cookie="__session={token}; __client_uat={uat_late}",
    ),
    S(
        "machine-token-in-cookie-ignored",
        unauthorized("client-uat-but-no-session-token", NO_TOKEN),
        "opaque-machine",
        "cookie",
        cookie=_COOKIE,
    ),
    # Time claims (spec §3.5), 5 s skew.
    S("expired", unauthorized("token-expired"), "expired"),
    S("expired-inside-skew", ok(), "expired-inside-skew"),
    S("not-yet-valid", unauthorized("token-not-active-yet"), "not-yet-valid"),
    S("nbf-inside-skew", ok(), "nbf-inside-skew"),
    S("iat-in-the-future", unauthorized("token-iat-in-the-future"), "iat-future"),
    S("iat-inside-skew", ok(), "iat-inside-skew"),
    S("lifetime-over-cap", unauthorized("token-verification-failed"), "too-long-lived"),
    # Header, key and signature (spec §3.2–3.4).
    S("alg-none", unauthorized("token-invalid-algorithm"), "alg-none"),
    # A bad signature never triggers a refresh (key-rotation.md).
    S("bad-signature", unauthorized("token-invalid-signature", fetches=0), "bad-signature"),
    S("unknown-kid", unauthorized("jwk-kid-mismatch"), "unknown-kid"),
    # Claims (spec §3.5–3.8).
    S("wrong-azp", unauthorized("token-invalid-authorized-parties"), "wrong-azp"),
    S("missing-azp", unauthorized("token-invalid-authorized-parties"), "missing-azp"),
    S("wrong-issuer", unauthorized("token-invalid-issuer"), "wrong-iss"),
    S("pending-session", unauthorized("session-pending"), "pending"),
    S("pending-session-allowed", ok(), "pending", path="/pending-ok"),
    # Machine tokens are not session tokens (spec §6).
    S("opaque-machine-token", unauthorized("token-type-mismatch"), "opaque-machine"),
    S("m2m-sub", unauthorized("token-type-mismatch"), "m2m-sub"),
    S("oauth-access-token-typ", unauthorized("token-type-mismatch"), "oauth-typ"),
    S("m2m-category", unauthorized("token-type-mismatch"), "m2m-cat"),
    # Roles and permissions, v1 and v2 claims (403 insufficient_scope).
    S("role-v1-allowed", ok(), "v1-admin", path="/admin"),
    S("role-v1-denied", forbidden(NEEDS_ROLE), "v1-member", path="/admin"),
    S("role-v2-allowed", ok(), "v2-admin", path="/admin"),
    S("role-v2-denied", forbidden(NEEDS_ROLE), "v2-member", path="/admin"),
    S("role-no-org", forbidden(NEEDS_ROLE), path="/admin"),
    S("permission-v1-allowed", ok(), "v1-admin", path="/reports"),
    S("permission-v1-denied", forbidden(NEEDS_PERMISSION), "v1-member", path="/reports"),
    S("permission-v2-allowed", ok(), "v2-admin", path="/reports"),
    S("permission-v2-denied", forbidden(NEEDS_PERMISSION), "v2-member", path="/reports"),
    # Reverification (step-up): /sensitive requires "strict" (second factor < 10 min).
    S("reverification-fresh", ok(), "fva-fresh", path="/sensitive"),
    S("reverification-stale", reverify(), "fva-stale", path="/sensitive"),
    S("reverification-stale-v2", reverify(), "fva-stale-v2", path="/sensitive"),
    S("reverification-no-2fa-fresh", ok(), "fva-no-second-factor", path="/sensitive"),
    S("reverification-no-2fa-stale", reverify(), "fva-no-second-factor-stale", path="/sensitive"),
    S("reverification-never", reverify(), "fva-never", path="/sensitive"),
    S("reverification-fva-missing", reverify(), "fva-missing", path="/sensitive"),
    S("reverification-fresh-member", ok(), "fva-fresh-member", path="/sensitive"),
    S("reverification-unneeded-elsewhere", ok(), "fva-stale"),
    S(
        "reverification-no-token",
        unauthorized("session-token-and-uat-missing", NO_TOKEN),
        None,
        "none",
        path="/sensitive",
    ),
    S("reverification-expired", unauthorized("token-expired"), "expired", path="/sensitive"),
    S(
        "role-route-no-token",
        unauthorized("session-token-and-uat-missing", NO_TOKEN),
        None,
        "none",
        path="/admin",
    ),
    S("role-route-expired", unauthorized("token-expired"), "expired", path="/admin"),
    # Optional routes run signed out with None.
    S("optional-signed-in", ok(), path="/optional"),
    S("optional-signed-out", ok(None), None, "none", path="/optional"),
    S("optional-bad-token", ok(None), "expired", path="/optional"),
    # A CORS preflight is never refused (spec §1).
    S(
        "preflight",
        Expect(200),
        None,
        "none",
        method="OPTIONS",
        headers=(
            ("Origin", "{origin}"),
            ("Access-Control-Request-Method", "GET"),
            ("Access-Control-Request-Headers", "authorization"),
        ),
    ),
    # Key rotation and outages (key-rotation.md).
    S("rotated-key-refetched", Expect(200, user_id=USER, fetches=1), state="rotated"),
    S("removed-key", unauthorized("jwk-kid-mismatch"), "old-key", state="key-removed"),
    S("keys-down-at-cold-start", unavailable(fetches=1), state="down-cold"),
    S(
        "no-token-while-keys-down",
        unauthorized("session-token-and-uat-missing", NO_TOKEN, fetches=0),
        None,
        "none",
        state="down-cold",
    ),
    # An optional route still answers 503 when keys are unavailable: the client's
    # token may be good, and a signed-out answer would hide the outage.
    S("optional-keys-down", unavailable(fetches=1), path="/optional", state="down-cold"),
    S("keys-down-after-warm-up", ok(), state="down-warm"),
    S("unknown-kid-while-keys-down", unavailable(), "unknown-kid", state="down-warm"),
    # Machine tokens (issue 14, machine-tokens.md §2): each kind on a route that takes
    # it; every other kind refused by kind, before any Backend API call or key fetch.
    S("api-key", verified(USER, "api_key", USER, api_calls=1), "api-key", path="/m/api-key"),
    S("m2m-opaque", verified("mch_test", "m2m_token", api_calls=1), "m2m-opaque", path="/m/m2m"),
    S("m2m-jwt", verified("mch_test", "m2m_token", api_calls=0), "m2m-jwt", path="/m/m2m"),
    S(
        "oauth-opaque",
        verified(USER, "oauth_token", USER, api_calls=1),
        "oauth-opaque",
        path="/m/oauth",
    ),
    S("oauth-jwt", verified(USER, "oauth_token", USER, api_calls=0), "oauth-jwt", path="/m/oauth"),
    S("any-api-key", verified(USER, "api_key", USER, api_calls=1), "api-key", path="/m/any"),
    S("any-m2m-opaque", verified("mch_test", "m2m_token"), "m2m-opaque", path="/m/any"),
    S("any-m2m-jwt", verified("mch_test", "m2m_token", api_calls=0), "m2m-jwt", path="/m/any"),
    S("any-oauth-opaque", verified(USER, "oauth_token", USER), "oauth-opaque", path="/m/any"),
    S("any-oauth-jwt", verified(USER, "oauth_token", USER), "oauth-jwt", path="/m/any"),
    S("any-session", SESSION, path="/m/any"),
    S("any-session-cookie", SESSION, send="cookie", cookie=_COOKIE, path="/m/any"),
    S(
        "any-no-token",
        unauthorized("session-token-and-uat-missing", NO_TOKEN),
        None,
        "none",
        path="/m/any",
    ),
    S("mixed-session", SESSION, path="/m/mixed"),
    S("mixed-session-cookie", SESSION, send="cookie", cookie=_COOKIE, path="/m/mixed"),
    S("mixed-api-key", verified(USER, "api_key", USER, api_calls=1), "api-key", path="/m/mixed"),
    S("mixed-refuses-m2m-opaque", mismatch(), "m2m-opaque", path="/m/mixed"),
    S("mixed-refuses-m2m-jwt", mismatch(), "m2m-jwt", path="/m/mixed"),
    S("mixed-refuses-oauth-jwt", mismatch(), "oauth-jwt", path="/m/mixed"),
    S("api-key-route-refuses-session", mismatch(), path="/m/api-key"),
    S("api-key-route-refuses-m2m-opaque", mismatch(), "m2m-opaque", path="/m/api-key"),
    S("api-key-route-refuses-oauth-opaque", mismatch(), "oauth-opaque", path="/m/api-key"),
    S("api-key-route-refuses-m2m-jwt", mismatch(), "m2m-jwt", path="/m/api-key"),
    S("m2m-route-refuses-api-key", mismatch(), "api-key", path="/m/m2m"),
    S("m2m-route-refuses-oauth-jwt", mismatch(), "oauth-jwt", path="/m/m2m"),
    S("m2m-route-refuses-session", mismatch(), path="/m/m2m"),
    S("oauth-route-refuses-api-key", mismatch(), "api-key", path="/m/oauth"),
    S("oauth-route-refuses-m2m-opaque", mismatch(), "m2m-opaque", path="/m/oauth"),
    S("oauth-route-refuses-garbage", mismatch(), "garbage", path="/m/oauth"),
    # Machine tokens come from the Authorization header only (spec §2.1, §2.5).
    S("machine-route-no-token", MISSING, None, "none", path="/m/api-key"),
    S("machine-route-session-cookie", MISSING, send="cookie", cookie=_COOKIE, path="/m/api-key"),
    S(
        "machine-route-api-key-in-cookie",
        MISSING,
        "api-key",
        "cookie",
        cookie="__session={token}; __client_uat={uat}",
        path="/m/api-key",
    ),
    # What the Backend API says of an opaque token (a revoked or expired one is "not
    # found", as Clerk's refuses it; tests/machine hold the 200-with-flags answers);
    # what the keys say of a JWT one.
    S("api-key-revoked", refused("token-invalid", 1), "api-key-revoked", path="/m/api-key"),
    S("m2m-opaque-revoked", refused("token-invalid", 1), "m2m-opaque-revoked", path="/m/m2m"),
    S("api-key-expired", refused("token-invalid", 1), "api-key-expired", path="/m/api-key"),
    S("api-key-unknown", refused("token-invalid", 1), "api-key-unknown", path="/m/api-key"),
    S("m2m-jwt-expired", refused("token-expired", 0), "m2m-jwt-expired", path="/m/m2m"),
    S(
        "m2m-jwt-session-category",
        refused("token-invalid", 0),
        "m2m-jwt-session-cat",
        path="/m/m2m",
    ),
    S(
        "m2m-jwt-bad-signature",
        Expect(401, INVALID, "token-invalid-signature", fetches=0, api_calls=0),
        "m2m-jwt-bad-signature",
        path="/m/m2m",
    ),
    S(
        "m2m-jwt-other-instance",
        refused("jwk-kid-mismatch", 0),
        "m2m-jwt-other-instance",
        path="/m/m2m",
    ),
    S(
        "oauth-jwt-alg-none",
        refused("token-invalid-algorithm", 0),
        "oauth-jwt-alg-none",
        path="/m/oauth",
    ),
    # Roles and the like are a session's: a machine token never meets them (403).
    S("api-key-role-route", forbidden(NEEDS_ROLE), "api-key", path="/m/api-key-admin"),
    # The Backend API down: 503 + Retry-After (never 401); JWT forms need no call.
    S(
        "backend-api-down",
        Expect(503, None, "unexpected-error", retry_after=True),
        "api-key",
        path="/m/api-key",
        state="machine-down",
    ),
    S(
        "backend-api-down-m2m-jwt",
        verified("mch_test", "m2m_token", api_calls=0),
        "m2m-jwt",
        path="/m/m2m",
        state="machine-down",
    ),
    S("backend-api-down-session", ok(), state="machine-down"),
)
