"""``accepts_token`` in the request path (machine-tokens.md §2): the routing of
:mod:`clerk_auth_core._accepts` through ``authenticate_with`` and its async twin,
against the mock issuer's keys and Backend API on loopback."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clerk_auth_core import (
    AcceptsToken,
    ClerkConfig,
    ConfigurationError,
    KeySet,
    MachineClaims,
    Reason,
    RequestState,
    Requirements,
    TokenVerificationError,
    authenticate_with,
    authenticate_with_async,
    http_answer,
    token_kind,
)
from clerk_auth_core.io import (
    async_key_provider,
    async_machine_verifier,
    key_provider,
    machine_verifier,
)
from clerk_auth_core.testing import MockClerk


class Counting:
    """A key source and a machine source that count their calls (and must not be
    reached by a token of a kind the route does not accept)."""

    def __init__(self, keys: KeySet | None = None) -> None:
        self.keys = keys
        self.key_calls = 0
        self.verify_calls = 0

    def get_keys(self, kid: str | None) -> KeySet:
        self.key_calls += 1
        assert self.keys is not None
        return self.keys

    def verify(self, token: str) -> MachineClaims:
        self.verify_calls += 1
        raise TokenVerificationError(Reason.TOKEN_INVALID)


@pytest.fixture(scope="module")
def mock() -> Iterator[MockClerk]:
    with MockClerk() as clerk:
        yield clerk


@pytest.fixture(scope="module")
def config(mock: MockClerk) -> ClerkConfig:
    return mock.config()


def _bearer(token: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")]


def _tokens(mock: MockClerk) -> dict[str, str]:
    m = mock.machine
    return {
        "session": mock.mint(),
        "api_key": m.mint_api_key(subject="user_k"),
        "mt": m.mint_m2m_token(subject="mch_o"),
        "m2m_jwt": m.mint_m2m_jwt(subject="mch_j"),
        "oat": m.mint_oauth_token(subject="user_o"),
        "oauth_jwt": m.mint_oauth_jwt(subject="user_j"),
    }


KIND = {
    "session": "session_token",
    "api_key": "api_key",
    "mt": "m2m_token",
    "m2m_jwt": "m2m_token",
    "oat": "oauth_token",
    "oauth_jwt": "oauth_token",
}
ROUTES = ["session_token", "api_key", "m2m_token", "oauth_token", "any",
          ["session_token", "api_key"], ["m2m_token", "oauth_token"]]  # fmt: skip


class TestTheMatrix:
    @pytest.mark.parametrize("accepts", ROUTES, ids=str)
    def test_every_kind_on_every_route(
        self, mock: MockClerk, config: ClerkConfig, accepts: Any
    ) -> None:
        accepted = AcceptsToken(accepts)
        source, machine = key_provider(config), machine_verifier(config)
        try:
            for name, token in _tokens(mock).items():
                calls = mock.machine.total_calls
                state = authenticate_with(
                    source,
                    _bearer(token),
                    config=config,
                    now=time.time(),
                    accepts=accepted,
                    machine=machine,
                )
                kind = KIND[name]
                if accepted.accepts(kind):
                    assert state.signed_in, (name, state.reason)
                    assert state.token_type == kind
                    assert state.verified is not None
                    assert (state.claims is None) == (kind != "session_token")
                    assert (state.machine is None) == (kind == "session_token")
                    assert state.token == token
                    opaque = name in ("api_key", "mt", "oat")
                    assert mock.machine.total_calls - calls == int(opaque)
                else:
                    assert (state.status, state.reason) == ("signed-out", "token-type-mismatch")
                    assert http_answer(state.error).status == 401  # type: ignore[arg-type]
                    assert mock.machine.total_calls == calls
        finally:
            source.close()
            if machine is not None:
                machine.close()

    def test_async_twin_answers_the_same(self, mock: MockClerk, config: ClerkConfig) -> None:
        tokens = _tokens(mock)

        async def run() -> list[tuple[str, str | None, str | None]]:
            source, machine = async_key_provider(config), async_machine_verifier(config)
            out: list[tuple[str, str | None, str | None]] = []
            for token in tokens.values():
                state = await authenticate_with_async(
                    source, _bearer(token), config=config, now=time.time(), accepts="any",
                    machine=machine,
                )  # fmt: skip
                out.append((state.status, state.token_type, state.reason))
            await source.aclose()
            assert machine is not None
            await machine.aclose()
            return out

        answers = anyio.run(run)
        assert answers == [("signed-in", KIND[name], None) for name in tokens]


class TestRefusedByKindFirst:
    @settings(max_examples=150, deadline=None)
    @given(
        token=st.one_of(
            st.text(max_size=60),
            st.sampled_from(["ak_", "mt_", "oat_"]).flatmap(
                lambda p: st.text(max_size=40).map(lambda t: p + t)
            ),
        ),
        accepts=st.sampled_from(["api_key", "m2m_token", "oauth_token"]),
    )
    def test_an_unaccepted_kind_costs_no_key_and_no_call(
        self, config: ClerkConfig, token: str, accepts: str
    ) -> None:
        source = Counting()
        value = token.strip()
        if not value or any(c in value for c in "\r\n\x00") or " " in value or "," in value:
            return  # not one clean Authorization token: the extraction's business
        state = authenticate_with(
            source,
            _bearer(value),
            config=config,
            now=time.time(),
            accepts=accepts,
            machine=source,
        )
        if token_kind(value) != accepts:
            assert state.reason in ("token-type-mismatch", "token-invalid")
            assert (source.key_calls, source.verify_calls) == (0, 0)


class TestWhereMachineTokensComeFrom:
    def test_no_header_on_a_machine_route(self, config: ClerkConfig) -> None:
        state = authenticate_with(Counting(), [], config=config, now=time.time(), accepts="api_key")
        assert state.reason == "machine-token-missing"
        answer = http_answer(state.error)  # type: ignore[arg-type]
        assert answer.status == 401
        assert dict(answer.headers)["WWW-Authenticate"] == "Bearer"
        assert not state.token_presented

    def test_cookies_are_never_read_on_a_machine_route(
        self, mock: MockClerk, config: ClerkConfig
    ) -> None:
        for token in (mock.mint(), mock.machine.mint_api_key()):
            headers = [("cookie", f"__session={token}; __client_uat=1")]
            state = authenticate_with(
                Counting(), headers, config=config, now=time.time(), accepts="api_key"
            )
            assert state.reason == "machine-token-missing"

    def test_a_mixed_route_takes_the_cookie_flow_for_sessions(
        self, mock: MockClerk, config: ClerkConfig
    ) -> None:
        token = mock.mint()
        headers = [("cookie", f"__session={token}; __client_uat={int(time.time()) - 30}")]
        with key_provider(config) as source:
            state = authenticate_with(
                source, headers, config=config, now=time.time(), accepts="any"
            )
        assert (state.token_type, state.claims and state.claims.user_id) == (
            "session_token",
            "user_test",
        )


class TestSessionsUnchanged:
    def test_a_session_on_a_mixed_route_is_what_a_sessions_route_sees(
        self, mock: MockClerk, config: ClerkConfig
    ) -> None:
        with key_provider(config) as source:
            for token in (mock.mint(), mock.mint(sts="pending"), mock.mint(lifetime=-100)):
                a = authenticate_with(source, _bearer(token), config=config, now=time.time())
                b = authenticate_with(
                    source, _bearer(token), config=config, now=time.time(), accepts="any"
                )
                assert (a.status, a.reason, a.claims, a.machine) == (
                    b.status,
                    b.reason,
                    b.claims,
                    b.machine,
                )

    def test_the_default_is_sessions_only(self, mock: MockClerk, config: ClerkConfig) -> None:
        assert config.accepts_token == AcceptsToken("session_token")
        assert config.accepts_token.sessions_only
        with key_provider(config) as source:
            state = authenticate_with(
                source, _bearer(mock.machine.mint_m2m_jwt()), config=config, now=time.time()
            )
        assert (state.reason, state.message) == (
            "token-type-mismatch",
            "The token is not a session token.",
        )


class TestRequirementsAreASessions:
    def test_a_machine_token_never_meets_a_role(self, mock: MockClerk, config: ClerkConfig) -> None:
        with key_provider(config) as source:
            state = authenticate_with(
                source,
                _bearer(mock.machine.mint_m2m_jwt()),
                config=config,
                now=time.time(),
                accepts="m2m_token",
            )
        assert state.signed_in
        assert state.refusal() is None
        error = state.refusal(Requirements.of(role="org:admin"))
        assert error is not None
        assert (error.status, error.reason) == (403, "insufficient-scope")
        assert http_answer(error).body["required"] == {"roles": ["org:admin"]}


class TestVerifierAndKeys:
    def test_no_verifier_names_the_missing_key(self, mock: MockClerk) -> None:
        config = mock.pem_config()  # no secret key at all
        state = authenticate_with(
            Counting(),
            _bearer(mock.machine.mint_api_key()),
            config=config,
            now=time.time(),
            accepts="api_key",
        )
        assert (state.reason, http_answer(state.error).status) == ("configuration-invalid", 500)  # type: ignore[arg-type]
        assert "CLERK_SECRET_KEY" in (state.message or "")
        assert machine_verifier(config) is None

    def test_a_machine_jwt_needs_no_secret(self, mock: MockClerk) -> None:
        config = mock.pem_config()
        assert config.static_keys is not None
        state = authenticate_with(
            Counting(config.static_keys),
            _bearer(mock.machine.mint_oauth_jwt()),
            config=config,
            now=time.time(),
            accepts="oauth_token",
        )
        assert state.token_type == "oauth_token"

    def test_keys_unavailable_is_503_for_a_machine_jwt(self, mock: MockClerk) -> None:
        with MockClerk() as other:
            config = other.config()
            other.set_fault("down")
            with key_provider(config) as source:
                state = authenticate_with(
                    source,
                    _bearer(other.machine.mint_m2m_jwt()),
                    config=config,
                    now=time.time(),
                    accepts="m2m_token",
                )
        assert http_answer(state.error).status == 503  # type: ignore[arg-type]


class TestConfiguration:
    def test_accepts_token_from_the_environment(self, mock: MockClerk) -> None:
        env = {"CLERK_SECRET_KEY": mock.secret_key, "CLERK_JWKS_URL": mock.jwks_url}
        both = ClerkConfig.from_env({**env, "CLERK_ACCEPTS_TOKEN": "session_token, api_key"})
        assert both.accepts_token.kinds == {"session_token", "api_key"}
        every = ClerkConfig.from_env({**env, "CLERK_ACCEPTS_TOKEN": "any"})
        assert every.accepts_token == AcceptsToken("any")
        with pytest.raises(ConfigurationError, match="unknown token kind 'api_keys'"):
            ClerkConfig.from_env({**env, "CLERK_ACCEPTS_TOKEN": "api_keys"})

    def test_clerks_key_preconditions(self, mock: MockClerk) -> None:
        url = mock.jwks_url
        with pytest.raises(ConfigurationError, match="api_key tokens requires CLERK_SECRET_KEY"):
            ClerkConfig(jwks_url=url, accepts_token="api_key")
        with pytest.raises(ConfigurationError, match="CLERK_MACHINE_SECRET_KEY or CLERK_SECRET"):
            ClerkConfig(jwks_url=url, accepts_token="m2m_token")
        config = ClerkConfig(jwks_url=url, accepts_token="m2m_token", machine_secret_key="ak_x")
        assert "ak_x" not in repr(config)
        assert machine_verifier(config) is not None

    def test_machine_settings_reach_the_verifier(self, mock: MockClerk) -> None:
        config = mock.config(machine_secret_key="ak_machine", machine_cache_ttl=5)
        verifier = machine_verifier(config)
        assert verifier is not None
        assert verifier.config.cache_ttl == 5
        assert verifier.config.credential_for("m2m_token") == "ak_machine"
        assert verifier.config.credential_for("api_key") == mock.secret_key
        with pytest.raises(ConfigurationError, match="CLERK_MACHINE_CACHE_TTL"):
            mock.config(machine_cache_ttl=-1)

    def test_a_typo_fails_at_construction(self, config: ClerkConfig) -> None:
        with pytest.raises(ConfigurationError):
            authenticate_with(Counting(), [], config=config, now=time.time(), accepts="api-key")


def test_states_compare_as_before() -> None:
    assert RequestState(status="signed-out") == RequestState(status="signed-out", machine=None)


def test_machine_jwt_refusals_speak_of_a_machine_token(mock: MockClerk) -> None:
    config = mock.pem_config()
    assert config.static_keys is not None
    token = mock.machine.mint_m2m_jwt(iat=time.time() - 7200, lifetime=60)
    state = authenticate_with(
        Counting(config.static_keys),
        _bearer(token),
        config=config,
        now=time.time(),
        accepts="m2m_token",
    )
    assert (state.reason, state.message) == ("token-expired", "The machine token has expired.")


def test_machine_scopes_never_pass_for_a_sessions(mock: MockClerk) -> None:
    from clerk_auth_core._requirements import machine_scopes

    config = mock.pem_config()
    assert config.static_keys is not None
    token = mock.machine.mint_m2m_jwt(scopes=["orders:read", "role:org:admin", "plan:pro"])
    state = authenticate_with(
        Counting(config.static_keys), _bearer(token), config=config, now=time.time(),
        accepts="m2m_token",
    )  # fmt: skip
    assert state.machine is not None
    assert machine_scopes(state.machine) == ("authenticated", "orders:read")
