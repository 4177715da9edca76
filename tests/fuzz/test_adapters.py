"""Properties of every adapter, in process (``apps.py``): Flask's test client, Starlette
and FastAPI through ``httpx.ASGITransport``; an exception in the app fails the property
instead of becoming a 500. Each app is the conformance drivers' small API, trusting the
world's mock issuer."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clerk_auth_core import REASONS

from .apps import ADAPTERS, Answer, open_app
from .harness import FUZZ, World, assert_no_leak, now, watchdog
from .strategies import UNKNOWN, Req, requests

Send = Callable[[Req], Answer]


@pytest.fixture(scope="module", params=[a for a in ADAPTERS if a != "core"])
def send(request: pytest.FixtureRequest, world: World) -> Iterator[Send]:
    """The adapter's app, trusting the world's issuer (the core has its own properties)."""
    with open_app(request.param, world.config) as send_raw:
        yield lambda req: send_raw(req.path, req.headers)


def allowed_users(req: Req, world: World) -> set[str]:
    """Who the request may be signed in as: a genuine (not pending) token it carries,
    or a re-signed token the oracle called valid."""
    users = {world.genuine[t].sub for t in req.genuine if not world.genuine[t].pending}
    if req.resigned_sub is not None:
        users.add(req.resigned_sub)
    return users


def check_answer(answer: Answer, req: Req, world: World, logs: str) -> None:
    status, headers, body = answer
    assert status in (200, 401, 403, 503), (status, body[:200])
    data = json.loads(body)
    if status == 200:
        user = data["user_id"]
        if not (req.path == "/optional" and user is None):
            assert user in allowed_users(req, world), "signed in without a genuine token"
        if req.path == "/admin":
            assert user == "user_admin"
    else:
        # An optional route runs signed out for any token problem; only a server-side
        # failure (keys unavailable, a refused secret key) may stop it.
        assert req.path != "/optional" or status >= 500, "an optional route refused"
        # A 403 names what the route required (issue 16); nothing else is added.
        extra = {"required"} if data.get("reason") == "insufficient-scope" else set()
        assert set(data) == {"error", "reason", "message", *extra}
        assert data["reason"] in REASONS
        assert REASONS[data["reason"]].status == status
        assert dict((k.lower(), v) for k, v in headers)["cache-control"] == "no-store"
    if req.expect is not UNKNOWN:
        assert req.path == "/protected"
        if req.expect is None:
            assert status == 200, data
        else:
            assert (status, data.get("reason")) == (REASONS[req.expect].status, req.expect)
    text = body.decode("utf-8", "replace") + "\n" + repr(headers)
    for token in req.tokens:
        assert_no_leak(token, text, logs)


@FUZZ
@given(data=st.data())
def test_adapter_requests(
    data: st.DataObject, send: Send, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """Any request (oracle-exact, mutated genuine tokens, raw header lists): a
    documented answer, never a 500, an unhandled exception or a hang; signed in only
    with a genuinely valid token; nothing presented echoed or logged."""
    req = data.draw(requests(world, now()))
    caplog.clear()
    with caplog.at_level(logging.DEBUG), watchdog():
        answer = send(req)
    check_answer(answer, req, world, caplog.text)


@FUZZ
@given(
    authorization=st.text(max_size=60).map(lambda s: s.encode("utf-8", "surrogatepass")),
    cookie=st.binary(max_size=60),
)
def test_adapter_odd_bytes(authorization: bytes, cookie: bytes, send: Send, world: World) -> None:
    """Header octets that are not text (UTF-8 of anything, or raw bytes) as the
    frameworks hand them over: still a documented answer."""
    safe = bytes(b for b in authorization + b"\x00" + cookie if b >= 0x20 or b == 0x09)
    auth, _, cookie_value = safe.partition(b"\x00")
    req = Req(
        headers=[
            ("Authorization", auth.decode("latin-1").strip(" \t")),
            ("Cookie", cookie_value.decode("latin-1").strip(" \t")),
        ],
        tokens=[],
    )
    with watchdog():
        answer = send(req)
    check_answer(answer, req, world, "")
