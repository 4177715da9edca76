"""Machine tokens in the Flask adapter (issue 14): ``accepts=`` on the guards, the
machine verifier beside the key provider, the accessors, under werkzeug's threaded
server against the mock issuer's Backend API."""

from __future__ import annotations

import gc
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from flask import Flask, g

from clerk_auth_core import ClerkConfig, ConfigurationError, authenticate_with
from clerk_auth_core.io import SyncMachineVerifier, key_provider
from clerk_auth_core.testing import MockClerk
from clerk_auth_flask import (
    ClerkAuth,
    get_auth,
    get_machine_auth,
    get_verified,
    require_auth,
)
from conformance.drivers import serve_wsgi

pytestmark = pytest.mark.slow

#: Each kind: how the mock mints it, its token type and subject, the route that takes it.
KINDS: dict[str, tuple[Callable[[MockClerk], str], str, str, str]] = {
    "api_key": (
        lambda c: c.machine.mint_api_key(subject="user_k"),
        "api_key",
        "user_k",
        "/api-key",
    ),
    "m2m_opaque": (
        lambda c: c.machine.mint_m2m_token(subject="mch_s"),
        "m2m_token",
        "mch_s",
        "/m2m",
    ),
    "m2m_jwt": (lambda c: c.machine.mint_m2m_jwt(subject="mch_s"), "m2m_token", "mch_s", "/m2m"),
    "oauth_opaque": (
        lambda c: c.machine.mint_oauth_token(subject="user_o"),
        "oauth_token",
        "user_o",
        "/oauth",
    ),
    "oauth_jwt": (
        lambda c: c.machine.mint_oauth_jwt(subject="user_o"),
        "oauth_token",
        "user_o",
        "/oauth",
    ),
}
MACHINE_PATHS = ("/api-key", "/m2m", "/oauth")


def _body() -> dict[str, Any]:
    verified = get_verified()
    session, machine = get_auth(), get_machine_auth()
    assert g.clerk_auth is verified  # g holds the verified token, whichever kind
    assert verified is (machine if machine is not None else session)
    return {
        "token_type": None if verified is None else verified.token_type,
        "subject": None if verified is None else verified.subject,
        "session": session is not None,
        "machine": machine is not None,
    }


def _user_id() -> dict[str, Any]:
    claims = get_auth()
    return {"user_id": None if claims is None else claims.user_id}


def make_app(config: ClerkConfig) -> Flask:
    app = Flask("machine")
    auth = ClerkAuth(app, config=config, warm_up=False)
    app.get("/session")(require_auth(_user_id))
    app.get("/api-key", endpoint="api_key")(require_auth(accepts="api_key")(_body))
    app.get("/m2m", endpoint="m2m")(require_auth(accepts="m2m_token")(_body))
    app.get("/oauth", endpoint="oauth")(auth.require_auth(accepts="oauth_token")(_body))
    app.get("/any", endpoint="any")(require_auth(accepts="any")(_body))
    app.get("/mixed", endpoint="mixed")(require_auth(accepts=["session_token", "api_key"])(_body))
    app.get("/key-admin", endpoint="key_admin")(
        require_auth(accepts="api_key", role="org:admin")(_body)
    )
    # Two guards on one request: each must get its own answer, never the other's.
    app.get("/session-then-key", endpoint="session_then_key")(
        require_auth(optional=True)(require_auth(accepts="api_key")(_body))
    )
    app.get("/key-then-session", endpoint="key_then_session")(
        require_auth(optional=True, accepts="api_key")(require_auth(_body))
    )
    return app


@pytest.fixture
def clerk() -> Iterator[MockClerk]:
    with MockClerk() as mock:
        yield mock
        assert not mock.errors


@pytest.fixture
def serve(clerk: MockClerk) -> Iterator[Callable[..., str]]:
    """``serve(**config overrides)``: the app under werkzeug's threaded server; its URL."""
    with ExitStack() as stack:
        yield lambda **overrides: stack.enter_context(
            serve_wsgi(make_app(clerk.config(**overrides)))
        )


def get(url: str, token: str | None = None, **headers: str) -> httpx.Response:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.get(url, headers=headers, timeout=10)


def reason(response: httpx.Response) -> str:
    return str(response.json()["reason"])


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_is_accepted_on_its_route(
    clerk: MockClerk, serve: Callable[..., str], kind: str
) -> None:
    mint, token_type, subject, path = KINDS[kind]
    url = serve()
    token = mint(clerk)
    for route in (path, "/any"):
        response = get(url + route, token)
        assert response.status_code == 200, response.text
        assert response.json() == {
            "token_type": token_type,
            "subject": subject,
            "session": False,
            "machine": True,
        }
    # An opaque form was asked of the Backend API once (the second route: the cache).
    assert clerk.machine.total_calls == (0 if kind.endswith("jwt") else 1)


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_is_refused_elsewhere_without_a_call(
    clerk: MockClerk, serve: Callable[..., str], kind: str
) -> None:
    mint, _, _, path = KINDS[kind]
    url = serve()
    token = mint(clerk)
    for other in [p for p in (*MACHINE_PATHS, "/session") if p != path]:
        response = get(url + other, token)
        assert response.status_code == 401, (other, response.text)
        assert reason(response) == "token-type-mismatch"
        assert "invalid_token" in response.headers["WWW-Authenticate"]
    assert clerk.machine.total_calls == 0


def test_mixed_route_takes_sessions_and_api_keys(
    clerk: MockClerk, serve: Callable[..., str]
) -> None:
    url = serve()
    session = get(url + "/mixed", clerk.mint(sub="user_s"))
    assert session.json() == {
        "token_type": "session_token",
        "subject": "user_s",
        "session": True,
        "machine": False,
    }
    key = get(url + "/mixed", clerk.machine.mint_api_key())
    assert key.json()["token_type"] == "api_key"
    m2m = get(url + "/mixed", clerk.machine.mint_m2m_token())
    assert (m2m.status_code, reason(m2m)) == (401, "token-type-mismatch")
    assert clerk.machine.calls["api_key"] == 1
    assert clerk.machine.calls == {"api_key": 1}


def test_no_header_token_is_machine_token_missing(
    clerk: MockClerk, serve: Callable[..., str]
) -> None:
    url = serve()
    bare = get(url + "/api-key")
    assert (bare.status_code, reason(bare)) == (401, "machine-token-missing")
    # Machine tokens come from the header only: a session cookie does not count here.
    cookie = get(url + "/api-key", Cookie=f"__session={clerk.mint()}; __client_uat=1")
    assert (cookie.status_code, reason(cookie)) == (401, "machine-token-missing")
    assert clerk.machine.total_calls == 0


def test_revoked_key_is_refused_once_the_cache_allows(
    clerk: MockClerk, serve: Callable[..., str]
) -> None:
    clerk.machine.flags_in_body = True  # a 200 with revoked: true (Clerk's own 404 also refuses)
    url = serve(machine_cache_ttl=0)
    token = clerk.machine.mint_api_key()
    assert get(url + "/api-key", token).status_code == 200
    clerk.machine.revoke(token)
    response = get(url + "/api-key", token)
    assert (response.status_code, reason(response)) == (401, "token-revoked")
    assert clerk.machine.calls["api_key"] == 2


def test_backend_api_down_is_503_with_retry_after(
    clerk: MockClerk, serve: Callable[..., str]
) -> None:
    url = serve()
    clerk.machine.set_fault("down")
    response = get(url + "/api-key", clerk.machine.mint_api_key())
    assert response.status_code == 503, response.text
    assert int(response.headers["Retry-After"]) >= 1
    assert reason(response) == "unexpected-error"


def test_a_role_guarded_route_refuses_a_machine_token_403(
    clerk: MockClerk, serve: Callable[..., str]
) -> None:
    url = serve()
    response = get(url + "/key-admin", clerk.machine.mint_api_key())
    assert response.status_code == 403, response.text
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    assert response.json()["required"] == {"roles": ["org:admin"]}


def test_sessions_only_route_answers_exactly_as_the_session_path(
    clerk: MockClerk, serve: Callable[..., str]
) -> None:
    config = clerk.config()
    url = serve()
    ok = get(url + "/session", clerk.mint(sub="user_same"))
    assert (ok.status_code, ok.json()) == (200, {"user_id": "user_same"})
    source = key_provider(config)
    try:
        for token in (clerk.machine.mint_api_key(), clerk.machine.mint_m2m_jwt(), None, "x.y.z"):
            headers = [] if token is None else [("Authorization", f"Bearer {token}")]
            state = authenticate_with(source, headers, config=config, now=time.time())
            expected = state.answer()
            assert expected is not None
            response = get(url + "/session", token)
            assert response.status_code == expected.status
            assert response.content == expected.body_bytes
            assert (
                response.headers["WWW-Authenticate"] == dict(expected.headers)["WWW-Authenticate"]
            )
    finally:
        source.close()
    assert clerk.machine.total_calls == 0


def test_typo_in_accepts_fails_at_decoration(clerk: MockClerk) -> None:
    with pytest.raises(ConfigurationError, match="api_keys"):
        require_auth(accepts="api_keys")
    auth = ClerkAuth(config=clerk.pem_config())
    with pytest.raises(ConfigurationError, match="unknown token kind"):
        auth.require_auth(accepts=["session_token", "m2m"])
    with pytest.raises(ConfigurationError, match="empty list"):
        require_auth(accepts=[])


@pytest.mark.parametrize("path", ["/session-then-key", "/key-then-session"])
def test_two_guards_on_one_request_never_share_a_result(
    clerk: MockClerk, serve: Callable[..., str], path: str
) -> None:
    url = serve()
    token = clerk.machine.mint_api_key() if path == "/session-then-key" else clerk.mint()
    response = get(url + path, token)
    assert response.status_code == 200, response.text
    expected = "api_key" if path == "/session-then-key" else "session_token"
    assert response.json()["token_type"] == expected


def test_an_opaque_token_without_a_secret_key_is_500(idle_clerk: MockClerk) -> None:
    # A PEM-only config has no Backend API credentials: no verifier is made, and an
    # opaque token is a configuration error naming the missing key, not a 401.
    app = make_app(idle_clerk.pem_config())
    assert app.extensions["clerk_auth"].machine is None
    response = app.test_client().get("/api-key", headers={"Authorization": "Bearer ak_" + "a" * 40})
    assert response.status_code == 500
    assert "CLERK_SECRET_KEY" in json.loads(response.data)["message"]
    jwt = idle_clerk.machine.mint_m2m_jwt()  # the JWT form needs only the key
    ok = app.test_client().get("/m2m", headers={"Authorization": f"Bearer {jwt}"})
    assert ok.status_code == 200


def test_a_given_machine_source_is_used(clerk: MockClerk) -> None:
    class Fixed:
        calls = 0

        def verify(self, token: str) -> Any:
            Fixed.calls += 1
            with SyncMachineVerifier(clerk.machine.config()) as real:
                return real.verify(token)

    app = Flask("given")
    ClerkAuth(app, config=clerk.config(), machine_source=Fixed(), warm_up=False)
    app.get("/k")(require_auth(accepts="api_key")(_body))
    token = clerk.machine.mint_api_key()
    response = app.test_client().get("/k", headers={"Authorization": f"Bearer {token}"})
    assert json.loads(response.data)["token_type"] == "api_key"
    assert Fixed.calls == 1


def test_the_verifier_made_for_an_app_is_closed_with_it(clerk: MockClerk) -> None:
    app = make_app(clerk.config())
    token = clerk.machine.mint_api_key()
    ok = app.test_client().get("/api-key", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    verifier = app.extensions["clerk_auth"].machine
    assert isinstance(verifier, SyncMachineVerifier)
    client = verifier._client  # made by the verifier for the call
    assert client is not None
    assert not client.is_closed
    del app, ok
    gc.collect()
    assert client.is_closed


def test_refusals_are_logged_without_the_token(
    clerk: MockClerk, serve: Callable[..., str], caplog: pytest.LogCaptureFixture
) -> None:
    url = serve()
    token = clerk.machine.mint_m2m_token()
    with caplog.at_level("INFO", logger="clerk_auth"):
        assert get(url + "/api-key", token).status_code == 401
    assert "token-type-mismatch" in caplog.text
    assert token not in caplog.text
    assert clerk.secret_key not in caplog.text


HERD = 200


def test_herd_of_one_new_key_makes_one_call(clerk: MockClerk) -> None:
    # The call is slow, so the whole herd arrives while it is in flight: without the
    # single flight, each request would make its own.
    clerk.machine.set_fault("slow", delay=0.5)
    token = clerk.machine.mint_api_key(subject="user_herd")
    barrier = threading.Barrier(HERD)
    statuses: list[int | str] = []

    with serve_wsgi(make_app(clerk.config())) as url:

        def call(client: httpx.Client) -> None:
            try:
                barrier.wait(timeout=10)
                response = client.get(
                    url + "/api-key", headers={"Authorization": f"Bearer {token}"}
                )
                statuses.append(response.status_code)
            except Exception as exc:  # reported by the assert below
                statuses.append(repr(exc))

        limits = httpx.Limits(max_connections=HERD + 10, max_keepalive_connections=HERD + 10)
        with httpx.Client(timeout=20, limits=limits) as client:
            callers = [threading.Thread(target=call, args=(client,)) for _ in range(HERD)]
            for caller in callers:
                caller.start()
            deadline = time.monotonic() + 30
            for caller in callers:
                caller.join(max(0.0, deadline - time.monotonic()))
            assert not any(caller.is_alive() for caller in callers), "the herd did not finish"
    assert statuses == [200] * HERD, json.dumps(statuses[:5])
    assert clerk.machine.calls["api_key"] == 1
