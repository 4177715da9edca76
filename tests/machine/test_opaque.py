"""Opaque machine tokens, sans-I/O: the Backend API request (machine-tokens.md §3.1)
and the judgement of every kind of answer (§3.2–3.3, §7 "Opaque verification")."""

from __future__ import annotations

import json
from typing import Any

import pytest

from clerk_auth_core import (
    ClerkConfig,
    ConfigurationError,
    KeyResolutionError,
    MachineConfig,
    MachineVerificationUnavailable,
    TokenVerificationError,
    http_answer,
    judge_machine_response,
    machine_verify_request,
)

from .conftest import CLERK_API_KEY, CLERK_M2M_TOKEN, CLERK_OAUTH_TOKEN

SECRET = "sk_test_a-valid-key-NeverEcho"
NOW = 1672531200  # 2023-01-01, Clerk's clock for these tests
API_KEY_BODY: dict[str, Any] = {
    "object": "api_key",
    "id": "ak_ey966f1b1xf93586b2debdcadb0b3bd1",
    "type": "api_key",
    "name": "my-api-key",
    "subject": "user_2vYVtestTESTtestTESTtestTESTtest",
    "scopes": ["read:foo", "write:bar"],
    "claims": {"foo": "bar"},
    "revoked": False,
    "revocation_reason": None,
    "expired": False,
    "expiration": None,
    "created_at": 1672531200000,
    "updated_at": 1672531200000,
}
M2M_BODY: dict[str, Any] = {
    "object": "machine_to_machine_token",
    "id": "mt_ey966f1b1xf93586b2debdcadb0b3bd1",
    "subject": "mch_2vYVtestTESTtestTESTtestTESTtest",
    "scopes": ["mch_1xxxxx", "mch_2xxxxx"],
    "claims": {"foo": "bar"},
    "revoked": False,
    "revocation_reason": None,
    "expired": False,
    "expiration": (NOW + 3600) * 1000,
    "created_at": 1672531200000,
    "updated_at": 1672531200000,
}
OAUTH_BODY: dict[str, Any] = {
    "object": "clerk_idp_oauth_access_token",
    "id": "oat_2VTWUzvGC5UhdJCNx6xG1D98edc",
    "client_id": "client_2VTWUzvGC5UhdJCNx6xG1D98edc",
    "type": "oauth_token",
    "subject": "user_2vYVtestTESTtestTESTtestTESTtest",
    "scopes": ["read:foo", "write:bar"],
    "revoked": False,
    "revocation_reason": None,
    "expired": False,
    "expiration": None,
    "created_at": 1672531200000,
    "updated_at": 1672531200000,
}
BODIES = {"api_key": API_KEY_BODY, "m2m_token": M2M_BODY, "oauth_token": OAUTH_BODY}
TOKENS = {"api_key": CLERK_API_KEY, "m2m_token": CLERK_M2M_TOKEN, "oauth_token": CLERK_OAUTH_TOKEN}


def body(document: Any) -> bytes:
    return json.dumps(document).encode()


class TestRequest:
    @pytest.mark.parametrize(
        ("kind", "path", "member"),
        [
            ("api_key", "/api_keys/verify", "secret"),
            ("m2m_token", "/m2m_tokens/verify", "token"),
            ("oauth_token", "/oauth_applications/access_tokens/verify", "access_token"),
        ],
    )
    def test_per_kind(self, kind: str, path: str, member: str) -> None:
        config = MachineConfig(secret_key=SECRET, api_url="https://api.clerk.test/")
        request = machine_verify_request(TOKENS[kind], kind, config)
        assert request.method == "POST"
        # No /v1 segment, no query string.
        assert request.url == "https://api.clerk.test" + path
        assert json.loads(request.body) == {member: TOKENS[kind]}
        headers = dict(request.headers)
        assert headers["Authorization"] == f"Bearer {SECRET}"
        assert headers["Clerk-API-Version"] == "2026-05-12"
        assert headers["Content-Type"] == "application/json"
        assert (request.timeout, request.connect_timeout) == (5.0, 2.0)
        # Neither the secret nor the token in the repr.
        assert SECRET not in repr(request)
        assert TOKENS[kind] not in repr(request)

    def test_machine_secret_key_wins_for_m2m_only(self) -> None:
        config = MachineConfig(secret_key=SECRET, machine_secret_key="ak_xxxxx")
        m2m = machine_verify_request(CLERK_M2M_TOKEN, "m2m_token", config)
        assert dict(m2m.headers)["Authorization"] == "Bearer ak_xxxxx"
        key = machine_verify_request(CLERK_API_KEY, "api_key", config)
        assert dict(key.headers)["Authorization"] == f"Bearer {SECRET}"

    def test_machine_secret_key_alone(self) -> None:
        config = MachineConfig(machine_secret_key="ak_xxxxx")
        assert machine_verify_request(CLERK_M2M_TOKEN, "m2m_token", config)
        for kind in ("api_key", "oauth_token"):
            with pytest.raises(ConfigurationError) as info:
                machine_verify_request(TOKENS[kind], kind, config)
            assert "CLERK_SECRET_KEY" in info.value.message
            assert "ak_xxxxx" not in info.value.message

    def test_configuration(self) -> None:
        with pytest.raises(ConfigurationError, match="CLERK_SECRET_KEY or"):
            MachineConfig()
        with pytest.raises(ConfigurationError, match="https"):
            MachineConfig(secret_key=SECRET, api_url="http://api.clerk.test")
        with pytest.raises(ConfigurationError, match="cache_ttl"):
            MachineConfig(secret_key=SECRET, cache_ttl=-1)
        assert MachineConfig(secret_key=SECRET, api_url="http://127.0.0.1:9")
        config = MachineConfig.from_env(
            {"CLERK_SECRET_KEY": SECRET, "CLERK_MACHINE_SECRET_KEY": "ak_m"}, cache_ttl=0
        )
        assert (config.machine_secret_key, config.cache_ttl) == ("ak_m", 0)
        assert SECRET not in repr(config)
        assert "ak_m" not in repr(config)

    def test_for_instance(self) -> None:
        instance = ClerkConfig(secret_key=SECRET, api_url="https://api.clerk.test")
        config = MachineConfig.for_instance(instance, machine_secret_key="ak_m", cache_ttl=5)
        assert (config.secret_key, config.api_url) == (SECRET, "https://api.clerk.test")
        assert (config.machine_secret_key, config.cache_ttl) == ("ak_m", 5)

    def test_session_kind_is_no_machine_kind(self) -> None:
        with pytest.raises(ConfigurationError):
            machine_verify_request("x", "session_token", MachineConfig(secret_key=SECRET))


def judge(kind: str, status: int, raw: bytes, **kw: Any) -> Any:
    return judge_machine_response(kind, status, raw, now=NOW, **kw)


class TestJudgeSuccess:
    def test_api_key(self) -> None:
        claims = judge("api_key", 200, body(API_KEY_BODY))
        assert claims.token_type == "api_key"
        assert claims.id == "ak_ey966f1b1xf93586b2debdcadb0b3bd1"
        assert claims.name == "my-api-key"
        assert claims.subject == claims.user_id == "user_2vYVtestTESTtestTESTtestTESTtest"
        assert claims.org_id is None
        assert claims.scopes == ("read:foo", "write:bar")
        assert claims.claims == {"foo": "bar"}
        assert claims.expires_at is None
        assert claims.created_at == NOW
        assert claims.has(scope="read:foo")
        assert claims.has(scope=["nope", "write:bar"])
        assert not claims.has(scope="admin")

    def test_org_api_key(self) -> None:
        claims = judge("api_key", 200, body({**API_KEY_BODY, "subject": "org_1"}))
        assert (claims.user_id, claims.org_id) == (None, "org_1")

    def test_m2m(self) -> None:
        claims = judge("m2m_token", 200, body(M2M_BODY))
        assert claims.id == "mt_ey966f1b1xf93586b2debdcadb0b3bd1"
        assert claims.machine_id == "mch_2vYVtestTESTtestTESTtestTESTtest"
        assert claims.scopes == ("mch_1xxxxx", "mch_2xxxxx")
        assert claims.claims == {"foo": "bar"}
        assert claims.expires_at == NOW + 3600

    def test_oauth(self) -> None:
        claims = judge("oauth_token", 200, body(OAUTH_BODY))
        assert claims.id == "oat_2VTWUzvGC5UhdJCNx6xG1D98edc"
        assert claims.client_id == "client_2VTWUzvGC5UhdJCNx6xG1D98edc"
        assert claims.user_id == claims.subject
        assert claims.scopes == ("read:foo", "write:bar")

    def test_clerk_test_bodies_without_object(self) -> None:
        document = {k: v for k, v in API_KEY_BODY.items() if k != "object"}
        assert judge("api_key", 200, body(document)).name == "my-api-key"


def refusal(kind: str, status: int, raw: bytes, **kw: Any) -> Any:
    with pytest.raises((TokenVerificationError, KeyResolutionError)) as info:
        judge(kind, status, raw, **kw)
    return info.value


class TestJudgeRefusals:
    @pytest.mark.parametrize(
        ("kind", "message"),
        [
            ("api_key", "API key not found."),
            ("m2m_token", "Machine token not found."),
            ("oauth_token", "OAuth token not found."),
        ],
    )
    @pytest.mark.parametrize("status", [404, 400, 422])
    def test_unknown_token(self, kind: str, message: str, status: int) -> None:
        error = refusal(kind, status, b"{}")
        assert type(error) is TokenVerificationError
        assert (error.reason, error.status, error.message) == ("token-invalid", 401, message)

    @pytest.mark.parametrize("status", [401, 403])
    @pytest.mark.parametrize("kind", sorted(BODIES))
    def test_our_secret_refused(self, status: int, kind: str) -> None:
        error = refusal(kind, status, b'{"errors":[]}')
        assert type(error) is KeyResolutionError
        assert (error.reason, error.status) == ("secret-key-invalid", 500)

    @pytest.mark.parametrize("status", [500, 502, 503, 504, 429, 302, 201, 204, 418])
    @pytest.mark.parametrize("kind", sorted(BODIES))
    def test_upstream_fault_is_503(self, status: int, kind: str) -> None:
        error = refusal(kind, status, b"{}", retry_after=7)
        assert type(error) is MachineVerificationUnavailable
        assert (error.reason, error.status, error.retry_after) == ("unexpected-error", 503, 7)
        answer = http_answer(error)
        assert answer.status == 503
        assert ("Retry-After", "7") in answer.headers
        assert not any(name == "WWW-Authenticate" for name, _ in answer.headers)

    @pytest.mark.parametrize(
        "raw",
        [
            b"<!doctype html><title>502 Bad Gateway</title>",
            b"",
            b"[]",
            b'{"id": "ak_1", "id": "ak_2", "subject": "user_1"}',  # duplicate member
            b'{"id": "ak_1"}',  # no subject
            b'{"id": 1, "subject": "user_1"}',
            b'{"id": "ak_1", "subject": ""}',
            b'{"object": "machine_to_machine_token", "id": "mt_1", "subject": "mch_1"}',
            b"\xff\xfe{}",
            b'{"id":"ak_1","subject":"user_1","scopes":[NaN]}',
        ],
    )
    def test_garbage_is_503(self, raw: bytes) -> None:
        error = refusal("api_key", 200, raw)
        assert type(error) is MachineVerificationUnavailable
        assert error.status == 503
        # The detail is safe for logs: never the body.
        assert raw.decode("latin-1") not in error.detail or not raw

    def test_oversized_is_503(self) -> None:
        padded = body({**API_KEY_BODY, "padding": "x" * 70_000})
        assert refusal("api_key", 200, padded).reason == "unexpected-error"
        assert judge("api_key", 200, padded, max_body_bytes=100_000)

    def test_revoked(self) -> None:
        raw = body({**API_KEY_BODY, "revoked": True, "revocation_reason": "leaked"})
        error = refusal("api_key", 200, raw)
        assert (error.reason, error.status) == ("token-revoked", 401)

    @pytest.mark.parametrize(
        "change",
        [{"expired": True}, {"expiration": NOW * 1000}, {"expiration": (NOW - 1) * 1000}],
    )
    def test_expired(self, change: dict[str, Any]) -> None:
        error = refusal("m2m_token", 200, body({**M2M_BODY, **change}))
        assert (error.reason, error.status) == ("token-expired", 401)
        assert "machine token" in error.message
