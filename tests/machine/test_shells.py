"""The opaque-token verifiers against the real mock issuer on 127.0.0.1: the herd,
the flood, the outage, the revocation window, the bound, TTL 0 (issue 14)."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from clerk_auth_core import (
    ConfigurationError,
    KeyResolutionError,
    MachineVerificationUnavailable,
    TokenVerificationError,
    http_answer,
    verify_machine_jwt,
)
from clerk_auth_core.io import AsyncMachineVerifier, SyncMachineVerifier
from clerk_auth_core.testing import MockClerk

pytestmark = pytest.mark.slow

HERD = 200


def refused(verifier: SyncMachineVerifier, token: str) -> Any:
    with pytest.raises((TokenVerificationError, KeyResolutionError)) as info:
        verifier.verify(token)
    return info.value


class TestKinds:
    def test_each_opaque_kind(self, clerk: MockClerk) -> None:
        api_key = clerk.machine.mint_api_key(subject="user_9", scopes=["read"], claims={"a": 1})
        m2m = clerk.machine.mint_m2m_token(subject="mch_9", scopes=["mch_1"])
        oauth = clerk.machine.mint_oauth_token(subject="user_9", client_id="client_9")
        with SyncMachineVerifier(clerk.machine.config()) as verifier:
            key = verifier.verify(api_key)
            assert (key.token_type, key.subject, key.user_id) == ("api_key", "user_9", "user_9")
            assert key.has(scope="read")
            assert key.claims == {"a": 1}
            assert key.name == "test-api-key"
            machine = verifier.verify(m2m)
            assert (machine.token_type, machine.machine_id) == ("m2m_token", "mch_9")
            assert machine.expires_at is not None
            assert machine.expires_at > time.time() + 3000
            token = verifier.verify(oauth)
            assert (token.token_type, token.client_id) == ("oauth_token", "client_9")
        assert clerk.machine.calls == {"api_key": 1, "m2m_token": 1, "oauth_token": 1}

    def test_a_token_sent_to_the_wrong_kind_is_unknown(self, clerk: MockClerk) -> None:
        # The mock keeps kinds apart: an ak_ string minted as an M2M token is unknown.
        with SyncMachineVerifier(clerk.machine.config()) as verifier:
            assert refused(verifier, "ak_" + "x" * 40).reason == "token-invalid"

    def test_jwt_forms_verify_locally(self, clerk: MockClerk) -> None:
        config = clerk.pem_config()
        m2m = verify_machine_jwt(
            clerk.machine.mint_m2m_jwt(scopes=["mch_1"]),
            config.static_keys,
            config,
            now=time.time(),
        )
        assert (m2m.token_type, m2m.scopes) == ("m2m_token", ("mch_1",))
        oauth = verify_machine_jwt(
            clerk.machine.mint_oauth_jwt(scopes=["read", "write"]),
            config.static_keys,
            config,
            now=time.time(),
        )
        assert (oauth.token_type, oauth.scopes) == ("oauth_token", ("read", "write"))
        assert clerk.machine.total_calls == 0

    def test_jwt_and_session_tokens_cost_no_call(self, clerk: MockClerk) -> None:
        with SyncMachineVerifier(clerk.machine.config()) as verifier:
            for token in (clerk.machine.mint_m2m_jwt(), clerk.mint(), "garbage"):
                assert refused(verifier, token).reason == "token-type-mismatch"
        assert clerk.machine.total_calls == 0

    def test_machine_secret_key(self, clerk: MockClerk) -> None:
        token = clerk.machine.mint_m2m_token()
        config = clerk.machine.config(
            secret_key=None, machine_secret_key=clerk.machine.machine_secret_key
        )
        with SyncMachineVerifier(config) as verifier:
            assert verifier.verify(token).token_type == "m2m_token"
            with pytest.raises(ConfigurationError):
                verifier.verify(clerk.machine.mint_api_key())

    def test_our_secret_refused_is_500(self, clerk: MockClerk) -> None:
        config = clerk.machine.config(secret_key="sk_test_not-the-mocks-secret")
        with SyncMachineVerifier(config) as verifier:
            error = refused(verifier, clerk.machine.mint_api_key())
        assert (error.reason, error.status) == ("secret-key-invalid", 500)
        assert "sk_test_not" not in error.message


class TestHerd:
    def test_threads_make_one_call(self, clerk: MockClerk) -> None:
        token = clerk.machine.mint_api_key()
        clerk.machine.set_fault("slow", delay=0.5)  # every caller arrives mid-flight
        results: list[Any] = []
        barrier = threading.Barrier(HERD)

        def one() -> None:
            barrier.wait()
            try:
                results.append(verifier.verify(token).subject)
            except Exception as exc:  # pragma: no cover - reported by the assert below
                results.append(exc)

        with SyncMachineVerifier(clerk.machine.config()) as verifier:
            threads = [threading.Thread(target=one) for _ in range(HERD)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(10)
        assert results == ["user_test"] * HERD
        assert clerk.machine.total_calls == 1

    def test_tasks_make_one_call(self, clerk: MockClerk) -> None:
        token = clerk.machine.mint_api_key()
        clerk.machine.set_fault("slow", delay=0.5)

        async def herd() -> list[Any]:
            async with AsyncMachineVerifier(clerk.machine.config()) as verifier:
                return await asyncio.gather(
                    *(verifier.verify(token) for _ in range(HERD)), return_exceptions=True
                )

        results = asyncio.run(herd())
        assert [r.subject for r in results] == ["user_test"] * HERD
        assert clerk.machine.total_calls == 1


class TestFlood:
    def test_one_bad_key_costs_one_call(self, clerk: MockClerk) -> None:
        with SyncMachineVerifier(clerk.machine.config()) as verifier:
            for _ in range(50):
                error = refused(verifier, "ak_not-a-key")
                assert (error.reason, error.status) == ("token-invalid", 401)
                assert error.message == "API key not found."
            assert verifier.stats.refused_hits == 49
        assert clerk.machine.total_calls == 1

    def test_async_flood(self, clerk: MockClerk) -> None:
        async def flood() -> list[Any]:
            async with AsyncMachineVerifier(clerk.machine.config()) as verifier:
                out = []
                for _ in range(20):
                    try:
                        await verifier.verify("mt_not-a-token")
                    except TokenVerificationError as exc:
                        out.append(exc.reason)
                return out

        assert asyncio.run(flood()) == ["token-invalid"] * 20
        assert clerk.machine.total_calls == 1


class TestOutage:
    @pytest.mark.parametrize("fault", ["500", "down", "garbage", "oversized"])
    def test_503_with_retry_after_never_401(self, clerk: MockClerk, fault: Any) -> None:
        clerk.machine.set_fault(fault)
        config = clerk.machine.config(backoff=0.3)
        with SyncMachineVerifier(config) as verifier:
            error = refused(verifier, clerk.machine.mint_api_key())
            assert isinstance(error, MachineVerificationUnavailable)
            answer = http_answer(error)
            assert answer.status == 503
            assert dict(answer.headers)["Retry-After"] == "1"
            # During the backoff, no call at all, even for another token.
            assert refused(verifier, clerk.machine.mint_api_key()).status == 503
            assert clerk.machine.total_calls == 1
            # Healed and past the backoff: verified again.
            clerk.machine.set_fault(None)
            time.sleep(0.35)
            assert verifier.verify(clerk.machine.mint_api_key()).token_type == "api_key"

    def test_slow_backend_times_out_as_503(self, clerk: MockClerk) -> None:
        clerk.machine.set_fault("slow", delay=5)
        config = clerk.machine.config(timeout=0.3, connect_timeout=0.3)
        with SyncMachineVerifier(config) as verifier:
            started = time.monotonic()
            error = refused(verifier, clerk.machine.mint_api_key())
            assert time.monotonic() - started < 3
        assert (error.reason, error.status) == ("unexpected-error", 503)

    def test_async_outage(self, clerk: MockClerk) -> None:
        clerk.machine.set_fault("500")
        token = clerk.machine.mint_oauth_token()

        async def once() -> Any:
            async with AsyncMachineVerifier(clerk.machine.config()) as verifier:
                try:
                    await verifier.verify(token)
                except MachineVerificationUnavailable as exc:
                    return exc
            return None  # pragma: no cover

        error = asyncio.run(once())
        assert error is not None
        assert http_answer(error).status == 503


class TestRevocationWindow:
    def test_revoked_key_works_until_the_ttl(self, clerk: MockClerk) -> None:
        token = clerk.machine.mint_api_key()
        with SyncMachineVerifier(clerk.machine.config(cache_ttl=0.5)) as verifier:
            assert verifier.verify(token).token_type == "api_key"
            clerk.machine.revoke(token)
            # Inside the window: the remembered answer, no call.
            assert verifier.verify(token).token_type == "api_key"
            assert clerk.machine.total_calls == 1
            time.sleep(0.55)
            error = refused(verifier, token)
        assert (error.reason, error.status) == ("token-invalid", 401)
        assert clerk.machine.total_calls == 2

    def test_revoked_flag_in_a_200(self, clerk: MockClerk) -> None:
        clerk.machine.flags_in_body = True
        token = clerk.machine.mint_api_key()
        clerk.machine.revoke(token)
        with SyncMachineVerifier(clerk.machine.config()) as verifier:
            assert refused(verifier, token).reason == "token-revoked"

    def test_never_past_the_tokens_expiration(self, clerk: MockClerk) -> None:
        token = clerk.machine.mint_m2m_token(lifetime=0.5)
        with SyncMachineVerifier(clerk.machine.config(cache_ttl=60)) as verifier:
            assert verifier.verify(token)
            time.sleep(0.55)
            assert refused(verifier, token).reason == "token-invalid"
        assert clerk.machine.total_calls == 2


class TestCachePolicy:
    def test_ttl_zero_asks_every_time(self, clerk: MockClerk) -> None:
        token = clerk.machine.mint_api_key()
        with SyncMachineVerifier(clerk.machine.config(cache_ttl=0)) as verifier:
            for _ in range(3):
                assert verifier.verify(token)
            assert verifier.cached == 0
        assert clerk.machine.total_calls == 3

    def test_hit_makes_no_call(self, clerk: MockClerk) -> None:
        token = clerk.machine.mint_api_key()
        with SyncMachineVerifier(clerk.machine.config()) as verifier:
            for _ in range(10):
                assert verifier.verify(token)
            assert verifier.stats.hits == 9
        assert clerk.machine.total_calls == 1

    def test_random_tokens_cannot_grow_memory(self, clerk: MockClerk) -> None:
        with SyncMachineVerifier(clerk.machine.config(max_entries=25)) as verifier:
            for i in range(120):
                refused(verifier, f"ak_random_{i}")
            assert verifier.cached == 25
        assert clerk.machine.total_calls == 120


class TestAsyncCancellation:
    def test_a_cancelled_leader_does_not_cancel_the_call(self, clerk: MockClerk) -> None:
        token = clerk.machine.mint_api_key()
        clerk.machine.set_fault("slow", delay=0.3)

        async def run() -> list[Any]:
            async with AsyncMachineVerifier(clerk.machine.config()) as verifier:
                leader = asyncio.ensure_future(verifier.verify(token))
                await asyncio.sleep(0.05)  # its call is in flight
                others = [asyncio.ensure_future(verifier.verify(token)) for _ in range(20)]
                await asyncio.sleep(0.05)
                leader.cancel()
                return await asyncio.gather(*others)

        results = asyncio.run(run())
        assert [r.subject for r in results] == ["user_test"] * 20
        assert clerk.machine.total_calls == 1
