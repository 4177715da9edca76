"""The mock issuer's machine-token endpoints over real HTTP: Clerk's paths, bodies,
credentials and error shapes (machine-tokens.md §3)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from clerk_auth_core.testing import (
    API_KEYS_VERIFY_PATH,
    M2M_TOKENS_VERIFY_PATH,
    MACHINE_FAULTS,
    OAUTH_TOKENS_VERIFY_PATH,
    MockClerk,
)

pytestmark = pytest.mark.slow


def post(clerk: MockClerk, path: str, body: Any, key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key or clerk.secret_key}"}
    return httpx.post(clerk.url + path, json=body, headers=headers, timeout=5)


class TestEndpoints:
    def test_api_key_shape(self, clerk: MockClerk) -> None:
        token = clerk.machine.mint_api_key(subject="org_1", scopes=["a"], claims={"x": 1})
        answer = post(clerk, API_KEYS_VERIFY_PATH, {"secret": token})
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/json"
        body = answer.json()
        assert body["object"] == "api_key"
        assert body["id"].startswith("ak_")
        assert body["id"] != token
        assert (body["subject"], body["scopes"], body["claims"]) == ("org_1", ["a"], {"x": 1})
        assert body["expiration"] is None
        assert body["revoked"] is False
        assert isinstance(body["created_at"], int)
        assert body["created_at"] > 10**12  # milliseconds

    def test_m2m_and_oauth_shapes(self, clerk: MockClerk) -> None:
        m2m = post(clerk, M2M_TOKENS_VERIFY_PATH, {"token": clerk.machine.mint_m2m_token()})
        assert m2m.json()["object"] == "machine_to_machine_token"
        oauth = post(
            clerk, OAUTH_TOKENS_VERIFY_PATH, {"access_token": clerk.machine.mint_oauth_token()}
        )
        assert oauth.json()["object"] == "clerk_idp_oauth_access_token"
        assert oauth.json()["client_id"] == "client_test"
        assert clerk.machine.calls == {"m2m_token": 1, "oauth_token": 1}

    def test_unknown_revoked_expired_are_404(self, clerk: MockClerk) -> None:
        revoked, expired = clerk.machine.mint_api_key(), clerk.machine.mint_api_key()
        clerk.machine.revoke(revoked)
        clerk.machine.expire(expired)
        for token in ("ak_unknown", revoked, expired):
            answer = post(clerk, API_KEYS_VERIFY_PATH, {"secret": token})
            assert answer.status_code == 404
            assert answer.json()["errors"][0]["code"] == "resource_not_found"

    def test_flags_in_body(self, clerk: MockClerk) -> None:
        clerk.machine.flags_in_body = True
        token = clerk.machine.mint_api_key()
        clerk.machine.revoke(token, reason="leaked")
        body = post(clerk, API_KEYS_VERIFY_PATH, {"secret": token}).json()
        assert (body["revoked"], body["revocation_reason"]) == (True, "leaked")

    def test_kinds_are_kept_apart(self, clerk: MockClerk) -> None:
        token = clerk.machine.mint_m2m_token()
        assert post(clerk, API_KEYS_VERIFY_PATH, {"secret": token}).status_code == 404

    def test_credentials(self, clerk: MockClerk) -> None:
        machine_key = clerk.machine.machine_secret_key
        m2m, key = clerk.machine.mint_m2m_token(), clerk.machine.mint_api_key()
        assert post(clerk, M2M_TOKENS_VERIFY_PATH, {"token": m2m}, machine_key).status_code == 200
        # A machine secret key verifies M2M tokens only.
        assert post(clerk, API_KEYS_VERIFY_PATH, {"secret": key}, machine_key).status_code == 401
        assert post(clerk, API_KEYS_VERIFY_PATH, {"secret": key}, "sk_test_no").status_code == 401

    def test_bad_requests(self, clerk: MockClerk) -> None:
        assert post(clerk, API_KEYS_VERIFY_PATH, {"token": "ak_x"}).status_code == 422
        answer = httpx.get(clerk.url + API_KEYS_VERIFY_PATH, timeout=5)
        assert answer.status_code == 405

    def test_faults(self, clerk: MockClerk) -> None:
        assert set(MACHINE_FAULTS) == {"down", "500", "slow", "garbage", "oversized"}
        with pytest.raises(ValueError, match="unknown machine fault"):
            clerk.machine.set_fault("redirect")
        clerk.machine.set_fault("500")
        assert post(clerk, API_KEYS_VERIFY_PATH, {"secret": "ak_x"}).status_code == 500
        clerk.machine.set_fault("down")
        with pytest.raises(httpx.HTTPError):
            post(clerk, API_KEYS_VERIFY_PATH, {"secret": "ak_x"})
        clerk.reset()  # MockClerk.reset heals the machine endpoints too
        assert clerk.machine.total_calls == 0
        assert post(clerk, API_KEYS_VERIFY_PATH, {"secret": "ak_x"}).status_code == 404

    def test_jwt_forms(self, clerk: MockClerk) -> None:
        head = clerk.machine.mint_m2m_jwt().split(".")[0]
        assert head  # signed JWTs, verified in test_shells / test_machine_jwt
        assert clerk.machine.mint_oauth_jwt(typ="application/at+jwt").count(".") == 2
