"""The scenario: what the front end sends each API, and what it must get back.

One table serves both clients: the demo's own (:func:`run_case`, with httpx, sending
the ``Origin`` a browser would) and the page in ``static/`` (which reads the table from
``/config.json`` and lets the browser do the sending). Tokens come from the mock
issuer's token endpoint over HTTP, the way ``getToken()`` gets them from Clerk's
Frontend API: ``POST /v1/tokens``, with the page's ``Origin`` becoming the ``azp``.
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import httpx

from .apis import HELLO_PATH, SENSITIVE_PATH, SENSITIVE_REVERIFICATION

__all__ = [
    "CASES",
    "DEMO_USER",
    "OTHER_ORIGIN",
    "Answer",
    "Case",
    "Outcome",
    "forge",
    "judge",
    "run_case",
    "step_up_level",
]

#: The user signed in on the front end.
DEMO_USER = "user_demo"
#: Another site: a token minted there must not work here, nor may its page call us.
OTHER_ORIGIN = "https://other-app.example"


@dataclass(frozen=True)
class Case:
    """One request the front end makes, and the answer it must get."""

    key: str
    title: str
    #: What it shows, in one line.
    why: str
    kind: Literal["call", "preflight"] = "call"
    #: Token endpoint parameters (``None``: no ``Authorization`` header at all).
    token: dict[str, Any] | None = field(default_factory=lambda: {"sub": DEMO_USER})
    #: Edit the payload after signing (the signature must then fail).
    forge: bool = False
    #: The origin the request comes from.
    origin: Literal["frontend", "other"] = "frontend"
    #: The API route called.
    path: str = HELLO_PATH
    #: 200, 401, 403, or 0 for "a preflight answer" (any 2xx).
    status: int = 200
    reason: str | None = None
    #: For a reverification refusal: the level the 403 must name
    #: (``clerk_error.metadata.reverification``).
    reverification: str | None = None
    #: Whether the answer allows the request's origin (Access-Control-Allow-Origin).
    cors: bool = True
    #: Whether a page on the front-end origin can make this request.
    browser: bool = True

    @property
    def expected(self) -> str:
        """The expected answer, for the table."""
        if self.kind == "preflight":
            return "2xx, allows Authorization" if self.cors else "origin not allowed"
        if self.status == 200:
            return f"200 {DEMO_USER}"
        if self.reverification is not None:
            return f"{self.status} {self.reason} ({self.reverification})"
        return f"{self.status} {self.reason}"


CASES: tuple[Case, ...] = (
    Case(
        key="valid",
        title="valid token (getToken())",
        why="a fresh token from the token endpoint, minted for this origin",
    ),
    Case(
        key="expired",
        title="expired token",
        why="a token that expired a minute ago (kept past its life)",
        token={"sub": DEMO_USER, "lifetime": -60},
        status=401,
        reason="token-expired",
    ),
    Case(
        key="other-azp",
        title="token for another origin",
        why=f"minted for {OTHER_ORIGIN} (azp), replayed here",
        token={"sub": DEMO_USER, "azp": OTHER_ORIGIN},
        status=401,
        reason="token-invalid-authorized-parties",
    ),
    Case(
        key="forged",
        title="forged token (sub edited)",
        why="a valid token whose payload was changed to another user",
        forge=True,
        status=401,
        reason="token-invalid-signature",
    ),
    Case(
        key="none",
        title="no token",
        why="fetch() without the Authorization header",
        token=None,
        status=401,
        reason="session-token-and-uat-missing",
    ),
    Case(
        key="step-up-fresh",
        title="sensitive route, recent second factor",
        why=f"{SENSITIVE_PATH} asks for reverification={SENSITIVE_REVERIFICATION!r}: "
        "second factor 5 minutes ago",
        token={"sub": DEMO_USER, "fva": "30,5"},
        path=SENSITIVE_PATH,
    ),
    Case(
        key="step-up-stale",
        title="sensitive route, old second factor",
        why="second factor 30 minutes ago: Clerk's 403, the page reads the level to ask for",
        token={"sub": DEMO_USER, "fva": "0,30"},
        path=SENSITIVE_PATH,
        status=403,
        reason="reverification-error",
        reverification=SENSITIVE_REVERIFICATION,
    ),
    Case(
        key="preflight",
        title="CORS preflight",
        why="the OPTIONS the browser sends first, because of Authorization",
        kind="preflight",
        token=None,
        status=0,
    ),
    Case(
        key="preflight-other",
        title="preflight from another origin",
        why=f"a page on {OTHER_ORIGIN} may not call the API",
        kind="preflight",
        token=None,
        origin="other",
        status=0,
        cors=False,
        browser=False,
    ),
)


@dataclass(frozen=True)
class Answer:
    """What came back (``error`` when nothing did)."""

    status: int = 0
    body: dict[str, Any] = field(default_factory=dict)
    allow_origin: str | None = None
    allow_headers: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Outcome:
    """One cell of the table: a case sent to one API."""

    case: str
    api: str
    ok: bool
    answer: str
    expected: str
    status: int
    reason: str | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


def _b64url_decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def forge(token: str, sub: str = "user_admin") -> str:
    """The token with its payload's ``sub`` changed and the signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(_b64url_decode(payload))
    claims["sub"] = sub
    edited = base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode())
    return f"{header}.{edited.decode().rstrip('=')}.{signature}"


def get_token(http: httpx.Client, token_url: str, origin: str, params: dict[str, Any]) -> str:
    """``getToken()``: a token from the issuer's token endpoint, as the page gets one."""
    response = http.post(token_url, params=params, headers={"Origin": origin})
    response.raise_for_status()
    token: str = response.json()["jwt"]
    return token


def run_case(
    http: httpx.Client, case: Case, api_url: str, *, token_url: str, frontend: str
) -> Answer:
    """Send ``case`` to the API at ``api_url`` as the front end would."""
    origin = frontend if case.origin == "frontend" else OTHER_ORIGIN
    headers = {"Origin": origin}
    try:
        if case.kind == "preflight":
            headers["Access-Control-Request-Method"] = "GET"
            headers["Access-Control-Request-Headers"] = "authorization"
            response = http.options(api_url + HELLO_PATH, headers=headers)
        else:
            if case.token is not None:
                token = get_token(http, token_url, origin, case.token)
                headers["Authorization"] = f"Bearer {forge(token) if case.forge else token}"
            response = http.get(api_url + case.path, headers=headers)
    except httpx.HTTPError as exc:
        return Answer(error=f"{type(exc).__name__}: {exc}")
    try:
        body = response.json() if response.content else {}
    except ValueError:
        body = {"text": response.text[:80]}
    return Answer(
        status=response.status_code,
        body=body if isinstance(body, dict) else {"json": body},
        allow_origin=response.headers.get("access-control-allow-origin"),
        allow_headers=response.headers.get("access-control-allow-headers"),
    )


def step_up_level(body: dict[str, Any]) -> Any:
    """The level a reverification 403 asks for (what clerk-js's ``useReverification()``
    reads), or ``None`` when ``body`` is not Clerk's reverification hint."""
    error = body.get("clerk_error")
    if (
        isinstance(error, dict)
        and error.get("type") == "forbidden"
        and error.get("reason") == "reverification-error"
    ):
        return (error.get("metadata") or {}).get("reverification")
    return None


def judge(case: Case, api: str, answer: Answer, frontend: str) -> Outcome:
    """Compare an answer with the case's expectation."""
    origin = frontend if case.origin == "frontend" else OTHER_ORIGIN
    allowed = answer.allow_origin == origin
    level = step_up_level(answer.body)
    reason = "reverification-error" if level is not None else answer.body.get("reason")
    if answer.error is not None:
        ok, shown = False, answer.error
    elif case.kind == "preflight":
        allows_auth = "authorization" in (answer.allow_headers or "").lower()
        ok = (200 <= answer.status < 300 and allowed and allows_auth) if case.cors else not allowed
        shown = f"{answer.status} " + (
            "allows Authorization" if allowed and allows_auth else "origin not allowed"
        )
    elif answer.status == 200:
        user, framework = answer.body.get("user_id"), answer.body.get("framework")
        ok = case.status == 200 and user == DEMO_USER and framework == api and allowed
        shown = f"200 {user} ({framework})"
    else:
        ok = answer.status == case.status and reason == case.reason and allowed
        ok = ok and level == case.reverification
        shown = f"{answer.status} {reason}" + ("" if level is None else f" ({level})")
    if answer.error is None and case.kind == "call" and not allowed:
        shown += " [no CORS: a browser could not read it]"
    return Outcome(
        case=case.key,
        api=api,
        ok=ok,
        answer=shown,
        expected=case.expected,
        status=answer.status,
        reason=reason if isinstance(reason, str) else None,
    )
