"""The corpus through the core: the gate, ``verify_token`` (JWKS and PEM key sets),
``authenticate_with`` (header and cookie), and a real :class:`SyncKeyProvider` against
the mock, cold and warm, counting JWKS requests."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from clerk_auth_core import (
    ClerkConfig,
    ConfigurationError,
    KeySet,
    Reason,
    TokenVerificationError,
    authenticate_with,
    parse_token,
    verify_token,
)
from clerk_auth_core.io import SyncKeyProvider
from clerk_auth_core.testing import MockClerk

from .conftest import CountingSource, outcome, params
from .corpus import CASES, Case
from .kit import Kit

GATE = [c for c in CASES if c.gate]


@params()
def test_gate_decides_exactly_the_gate_cases(case: Case, kit: Kit) -> None:
    """``parse_token`` (the gate and header step) refuses a gate case with its reason,
    and lets every other case through to the key lookup."""
    token = case.build(kit)
    if case.gate:
        with pytest.raises(TokenVerificationError) as info:
            parse_token(token)
        assert info.value.reason == case.reason
    else:
        assert parse_token(token).kid is not None


def verdict(token: str, keys: KeySet | None, config: ClerkConfig) -> str | None:
    """``None`` when ``verify_token`` accepts, else the reason (checked to be safe)."""
    try:
        claims = verify_token(token, keys, config, now=time.time())
    except TokenVerificationError as exc:
        error = exc
    else:
        assert claims.user_id == "user_test"
        return None
    for text in (str(error), repr(error), error.message):
        assert token not in text
    return error.reason


@params()
def test_verify_token_jwks(case: Case, kit: Kit, keyset: KeySet, config: ClerkConfig) -> None:
    assert verdict(case.build(kit), keyset, config) == case.reason


@params()
def test_verify_token_pem(case: Case, kit: Kit, pem_config: ClerkConfig) -> None:
    """A networkless ``CLERK_JWT_KEY``: the classic target of algorithm confusion."""
    assert verdict(case.build(kit), pem_config.static_keys, pem_config) == case.pem_reason


@params([c for c in CASES if c.http])
def test_authenticate_with_header(
    case: Case, kit: Kit, keyset: KeySet, config: ClerkConfig
) -> None:
    """Keys are asked for only when the token passed the gate."""
    token = case.build(kit)
    source = CountingSource(keyset)
    headers = [("authorization", f"Bearer {token}")]
    state = authenticate_with(source, headers, config=config, now=time.time(), method="GET")
    assert outcome(state) == case.reason
    assert (source.calls == []) == case.gate


@params([c for c in CASES if c.cookie])
def test_authenticate_with_cookie(
    case: Case, kit: Kit, keyset: KeySet, config: ClerkConfig
) -> None:
    token = case.build(kit)
    source = CountingSource(keyset)
    headers = [("cookie", f"__session={token}; __client_uat=1")]
    state = authenticate_with(source, headers, config=config, now=time.time(), method="GET")
    assert outcome(state) == case.reason
    assert (source.calls == []) == case.gate


@params([c for c in GATE if c.http or c.cookie])
def test_gate_cases_cost_no_fetch_on_a_cold_provider(
    case: Case, kit: Kit, clerk: MockClerk, config: ClerkConfig
) -> None:
    """A cold provider fetches on its first lookup; a gate case must never get there."""
    token = case.build(kit)
    hits = clerk.jwks_hits
    with SyncKeyProvider(config) as provider:
        for headers in (
            [("authorization", f"Bearer {token}")] if case.http else [],
            [("cookie", f"__session={token}; __client_uat=1")] if case.cookie else [],
        ):
            if headers:
                state = authenticate_with(provider, headers, config=config, now=time.time())
                assert outcome(state) == case.reason
        assert provider.stats.fetch_started == 0
    assert clerk.jwks_hits == hits


@pytest.fixture(scope="module")
def warm_provider(kit: Kit, config: ClerkConfig) -> Iterator[SyncKeyProvider]:
    with SyncKeyProvider(config) as provider:
        state = authenticate_with(
            provider, [("authorization", f"Bearer {kit.valid()}")], config=config, now=time.time()
        )
        assert state.signed_in, state.reason
        yield provider


@params([c for c in CASES if c.http or c.cookie])
def test_warm_provider(
    case: Case, kit: Kit, clerk: MockClerk, config: ClerkConfig, warm_provider: SyncKeyProvider
) -> None:
    """Through the real JWKS cache: the reason, and no fetch (at most the one forced
    refresh an unknown kid may cause; a bad signature causes none)."""
    token = case.build(kit)
    hits = clerk.jwks_hits
    headers = [("cookie", f"__session={token}; __client_uat=1")]
    if case.http:
        headers = [("authorization", f"Bearer {token}")]
    state = authenticate_with(warm_provider, headers, config=config, now=time.time())
    assert outcome(state) == case.reason
    assert clerk.jwks_hits - hits <= (1 if case.unknown_kid else 0)


def test_floods_of_unknown_kids_and_forgeries_cost_at_most_one_fetch(
    kit: Kit, clerk: MockClerk, config: ClerkConfig
) -> None:
    """key-rotation.md: a flood of made-up kids costs at most one forced refresh per
    cooldown; a bad signature never causes a fetch."""
    foreign = kit.rs256(kit.foreign)
    with SyncKeyProvider(config) as provider:
        warm = authenticate_with(
            provider, [("authorization", kit.valid())], config=config, now=time.time()
        )
        assert warm.signed_in
        hits = clerk.jwks_hits
        for i in range(40):
            unknown = kit.token(kit.header(kid=f"ins_flood{i}"), sign=foreign)
            forged = kit.token(sign=foreign)
            for token, reason in (
                (unknown, Reason.JWK_KID_MISMATCH),
                (forged, Reason.TOKEN_INVALID_SIGNATURE),
            ):
                state = authenticate_with(
                    provider, [("authorization", token)], config=config, now=time.time()
                )
                assert state.reason == reason
        assert clerk.jwks_hits - hits <= 1


@pytest.mark.parametrize("algorithms", [("RS256", "HS256"), ("none",), ("HS256",), ()])
def test_the_algorithm_allow_list_cannot_be_widened(
    clerk: MockClerk, algorithms: tuple[str, ...]
) -> None:
    """spec §3.2: none and HMAC are never accepted, whatever a caller configures."""
    with pytest.raises(ConfigurationError):
        clerk.config(algorithms=algorithms)
