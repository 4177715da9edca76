"""Every token kind end to end under the real servers (issue 14): gunicorn + Flask,
uvicorn + Starlette, gunicorn + Django, each worker with its own machine verifier,
against the mock's JWKS and Backend API."""

from __future__ import annotations

import pytest

from clerk_auth_core.testing import MockClerk

from .harness import KINDS, client, serve

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_verifies_and_sessions_routes_refuse_them(clerk: MockClerk, kind: str) -> None:
    m = clerk.machine
    tokens = {
        "session_token": (clerk.mint(sub="user_s"), "user_s"),
        "api_key": (m.mint_api_key(subject="user_k"), "user_k"),
        "m2m_token": (m.mint_m2m_token(subject="mch_o"), "mch_o"),
        "m2m_jwt": (m.mint_m2m_jwt(subject="mch_j"), "mch_j"),
        "oauth_token": (m.mint_oauth_token(subject="user_o"), "user_o"),
        "oauth_jwt": (m.mint_oauth_jwt(subject="user_j"), "user_j"),
    }
    with serve(kind, clerk) as server, client() as http:
        for name, (token, subject) in tokens.items():
            headers = {"Authorization": f"Bearer {token}"}
            answer = http.get(server.url + "/machine", headers=headers)
            assert answer.status_code == 200, (name, answer.text)
            body = answer.json()
            assert body["subject"] == subject
            assert body["token_type"] == name.replace("_jwt", "_token")
            calls = m.total_calls
            refused = http.get(server.url + "/me", headers=headers)
            if name == "session_token":
                assert refused.status_code == 200
            else:
                assert refused.status_code == 401, refused.text
                assert refused.json()["reason"] == "token-type-mismatch"
                assert m.total_calls == calls  # refused by kind: no Backend API call
    # One call per opaque token (each reached one worker once).
    assert m.calls == {"api_key": 1, "m2m_token": 1, "oauth_token": 1}
