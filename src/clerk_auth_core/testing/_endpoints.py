"""What the mock issuer answers: the two JWKS endpoints (with faults, ETag and
``Cache-Control``), the token endpoint and CORS preflights.

Functions of an immutable :class:`JwksSnapshot` and the request, so the answer to one
request never sees half of a concurrent ``rotate()`` or ``set_fault()``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Mapping
from typing import Any, Literal, get_args

import attrs

from ._server import Request, Response

__all__ = [
    "BACKEND_JWKS_PATH",
    "FAULTS",
    "Fault",
    "JwksSnapshot",
    "OVERSIZED_BYTES",
    "PUBLIC_JWKS_PATH",
    "REDIRECT_TARGET_PATH",
    "TOKEN_PATH",
    "bad_keys_document",
    "not_found",
    "preflight",
    "serve_jwks",
    "serve_token",
]

BACKEND_JWKS_PATH = "/v1/jwks"
PUBLIC_JWKS_PATH = "/.well-known/jwks.json"
#: Where the ``redirect`` fault points: serves the real JWKS, ignoring faults, so a
#: test can tell from ``hits`` whether a client (wrongly) followed the redirect.
REDIRECT_TARGET_PATH = "/_mock/redirected/jwks.json"
TOKEN_PATH = "/v1/tokens"

Fault = Literal[
    "down",
    "500",
    "slow",
    "garbage",
    "oversized",
    "oversized-stream",
    "redirect",
    "empty",
    "bad-keys",
]
#: Every fault :meth:`MockClerk.set_fault` accepts.
FAULTS: tuple[Fault, ...] = get_args(Fault)

#: Bigger than the 64 KiB response cap of key-rotation.md.
OVERSIZED_BYTES = 64 * 1024 + 4096
_JSON = ("Content-Type", "application/json")
_CORS = (
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Methods", "GET, POST, OPTIONS"),
    ("Access-Control-Max-Age", "600"),
)


@attrs.frozen(kw_only=True)
class JwksSnapshot:
    """Everything a JWKS answer depends on, taken under the issuer's lock."""

    #: The body served when nothing is wrong (the JWKS, or a ``set_jwks`` override).
    body: bytes
    #: The current signing key's JWK (``bad-keys`` spoils copies of it).
    current_jwk: Mapping[str, Any]
    fault: Fault | None
    delay: float
    cache_control: str | None
    etag: bool
    secret_key: str
    redirect_to: str


def _clerk_error(status: int, code: str, message: str) -> Response:
    # Clerk's Backend API error shape.
    document = {"errors": [{"message": message, "long_message": message, "code": code}]}
    return Response.json(status, document)


def _authorized(request: Request, secret_key: str) -> bool:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        credentials.strip().encode(), secret_key.encode()
    )


def _etag_matches(if_none_match: str, etag: str) -> bool:
    # RFC 9110 §13.1.2: weak comparison, a list of tags, or "*".
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags


def bad_keys_document(jwk: Mapping[str, Any]) -> dict[str, Any]:
    """A JWKS whose keys all carry the current ``kid`` and each break one key rule of
    key-rotation.md ("Which keys are accepted")."""
    good = dict(jwk)
    short_n = good["n"][:171]  # 1024 bits of the real modulus: too small
    return {
        "keys": [
            {"kty": "EC", "crv": "P-256", "kid": good["kid"], "x": "AAAA", "y": "AAAA"},
            {**good, "d": "AAAA"},
            {**good, "alg": "RS512"},
            {**good, "use": "enc"},
            {**good, "key_ops": ["encrypt"]},
            {**good, "e": "Aw"},
            {**good, "n": short_n},
            {**good, "kid": ""},
        ]
    }


def _oversized_body(body: bytes) -> bytes:
    try:
        document = json.loads(body)
    except ValueError:
        document = {"keys": []}
    if not isinstance(document, dict):
        document = {"keys": []}
    # Valid JSON with valid keys: only a size cap keeps a client from accepting it.
    pad = OVERSIZED_BYTES - len(json.dumps(document))
    return json.dumps({**document, "padding": "x" * pad}, separators=(",", ":")).encode()


def serve_jwks(
    snap: JwksSnapshot, request: Request, stopping: threading.Event, *, needs_secret: bool
) -> Response | None:
    """Answer a JWKS request: fault first, then the secret key (Backend API only), then
    the body with ``ETag`` / ``Cache-Control`` and ``If-None-Match`` → 304."""
    if request.method not in ("GET", "HEAD"):
        return _clerk_error(405, "method_not_allowed", "Use GET.")
    fault = snap.fault
    if fault == "down":
        return None
    if fault == "slow" and stopping.wait(snap.delay):
        return None  # the server is stopping: give up at once
    if fault == "500":
        return _clerk_error(500, "internal_clerk_error", "Something went wrong (mock fault).")
    if fault == "redirect":
        return Response(status=302, headers=(("Location", snap.redirect_to),))
    if needs_secret and not _authorized(request, snap.secret_key):
        return _clerk_error(401, "authentication_invalid", "The secret key is missing or invalid.")
    body, content_length = snap.body, True
    if fault == "garbage":
        body = b"<!doctype html><title>502 Bad Gateway</title>\n"
    elif fault == "oversized":
        body = _oversized_body(snap.body)
    elif fault == "oversized-stream":
        body, content_length = _oversized_body(snap.body), False
    elif fault == "empty":
        body = b'{"keys":[]}'
    elif fault == "bad-keys":
        body = json.dumps(bad_keys_document(snap.current_jwk)).encode()
    headers: list[tuple[str, str]] = [_JSON]
    if snap.cache_control is not None:
        headers.append(("Cache-Control", snap.cache_control))
    if snap.etag:
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        headers.append(("ETag", etag))
        if _etag_matches(request.headers.get("if-none-match", ""), etag):
            # RFC 9110 §15.4.5: no body; validators and Cache-Control repeated.
            return Response(status=304, headers=tuple(headers[1:]), content_length=False)
    return Response(status=200, headers=tuple(headers), body=body, content_length=content_length)


def preflight(request: Request) -> Response:
    """Answer any ``OPTIONS`` preflight permissively."""
    asked = request.headers.get("access-control-request-headers")
    allow = asked or "Authorization, Content-Type"
    return Response(status=204, headers=(*_CORS, ("Access-Control-Allow-Headers", allow)))


def not_found(request: Request) -> Response:
    """404 in Clerk's error shape."""
    return _clerk_error(404, "resource_not_found", f"No mock endpoint at {request.path}.")


#: Every :meth:`MockClerk.mint` parameter but ``key`` (a private key has no JSON form):
#: docs/testing.md promises "the same parameters as ``mint``".
_TOKEN_PARAMS = frozenset(
    {
        "sub",
        "sid",
        "azp",
        "iss",
        "iat",
        "lifetime",
        "nbf",
        "version",
        "sts",
        "act",
        "fva",
        "org",
        "org_id",
        "org_slug",
        "org_role",
        "org_permissions",
        "features",
        "plans",
        "claims",
        "header",
        "kid",
        "typ",
        "cat",
    }
)


def _number(value: Any) -> float:
    # A query string carries "1714564800" or "1714564800.5"; JSON a number. Whole
    # numbers stay ints so the minted claims read like Clerk's (``"iat":1714564800``).
    number = float(value)
    return int(number) if number.is_integer() else number


def _token_params(request: Request) -> dict[str, Any]:
    params: dict[str, Any] = {name: values[-1] for name, values in request.query.items()}
    if request.method == "POST" and request.body.strip():
        document = json.loads(request.body)
        if not isinstance(document, dict):
            raise ValueError("the body must be a JSON object")
        params.update(document)
    unknown = sorted(set(params) - _TOKEN_PARAMS)
    if unknown:
        raise ValueError(f"unknown parameters: {', '.join(unknown)}")
    for name in ("lifetime", "version"):
        if name in params:
            params[name] = int(params[name])
    for name in ("iat", "nbf"):
        if name in params:
            params[name] = _number(params[name])
    if isinstance(params.get("fva"), str):
        # fva=30,-1 in a query: minutes since the first and the second factor.
        params["fva"] = [int(part) for part in params["fva"].split(",")]
    if "org_id" in params:
        permissions = params.pop("org_permissions", "")
        if isinstance(permissions, str):
            permissions = [p.strip() for p in permissions.split(",") if p.strip()]
        params["org"] = {
            "id": params.pop("org_id"),
            "slug": params.pop("org_slug", None),
            "role": params.pop("org_role", None),
            "permissions": permissions,
        }
    return params


def serve_token(request: Request, mint: Callable[..., str]) -> Response:
    """The token endpoint: mint a session token from query or JSON body parameters.

    ``azp`` defaults to the request's ``Origin`` (as a browser's ``getToken()`` would
    get). Answers ``{"jwt": "…"}`` with permissive CORS headers.
    """
    if request.method not in ("GET", "POST"):
        return Response.json(405, {"error": "use GET or POST"}, _CORS)
    try:
        params = _token_params(request)
        if "azp" not in params and request.headers.get("origin"):
            params["azp"] = request.headers["origin"]
        token = mint(**params)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        return Response.json(400, {"error": str(exc)}, _CORS)
    return Response.json(
        200, {"object": "token", "jwt": token}, (*_CORS, ("Cache-Control", "no-store"))
    )
