"""The token cache (``ClerkConfig.token_cache_size``): exactly as strict as a full
verification, bounded, per configuration, and safe under threads without a lock."""

from __future__ import annotations

import copy
import pickle
import threading
from typing import Any

import attrs
import pytest

from clerk_auth_core import (
    ClerkConfig,
    ConfigurationError,
    KeyResolutionError,
    KeySet,
    Reason,
    RequestState,
    Requirements,
    SessionClaims,
    TokenVerificationError,
    VerificationKey,
    authenticate_request,
    verify_token,
)
from clerk_auth_core._bounded import remember
from clerk_auth_core._cache import HEADER_ENTRIES, REFUSED_ENTRIES, TokenCache
from clerk_auth_core._claims import decode_claims
from clerk_auth_core._errors import REASONS, refusal
from clerk_auth_core._request import _state

from .conftest import AZP, KID, NOW, Signer, make_claims, make_config, make_header

SKEW = 5


class CountingKey:
    """Wraps a public key and counts signature checks."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.key_size = real.key_size
        self.calls = 0

    def recover_data_from_signature(self, *args: Any) -> bytes:
        self.calls += 1
        recovered: bytes = self.real.recover_data_from_signature(*args)
        return recovered


def counting_keys(keys: KeySet, kid: str | None = KID) -> tuple[KeySet, CountingKey]:
    """The same key material (and thumbprint) as ``keys``, with a counter."""
    real = keys.get(kid)
    counter = CountingKey(real.public_key)
    key = VerificationKey(
        kid=real.kid,
        public_key=counter,  # type: ignore[arg-type]
        bits=real.bits,
        thumbprint=real.thumbprint,
    )
    return KeySet({real.kid: key}), counter


def reason_of(token: str, keys: KeySet | None, config: ClerkConfig, now: float) -> str:
    with pytest.raises((TokenVerificationError, KeyResolutionError)) as info:
        verify_token(token, keys, config, now=now)
    return info.value.reason


def outcome(token: str, keys: KeySet | None, config: ClerkConfig, now: float) -> Any:
    try:
        return verify_token(token, keys, config, now=now)
    except (TokenVerificationError, KeyResolutionError) as exc:
        return exc.reason


@pytest.fixture
def fresh() -> ClerkConfig:
    """A configuration of its own per test (its own, empty cache)."""
    return make_config()


class TestHits:
    def test_second_verification_skips_the_signature(
        self, signer: Signer, keys: KeySet, fresh: ClerkConfig
    ) -> None:
        counted, counter = counting_keys(keys)
        token = signer.mint()
        first = verify_token(token, counted, fresh, now=NOW)
        again = verify_token(token, counted, fresh, now=NOW + 1)
        assert again is first
        assert counter.calls == 1
        assert token in fresh.token_cache.verified

    def test_a_new_str_object_hits(self, signer: Signer, keys: KeySet, fresh: ClerkConfig) -> None:
        counted, counter = counting_keys(keys)
        token = signer.mint()
        verify_token(token, counted, fresh, now=NOW)
        verify_token(token.encode().decode(), counted, fresh, now=NOW)
        assert counter.calls == 1

    def test_disabled_with_size_zero(self, signer: Signer, keys: KeySet) -> None:
        config = make_config(token_cache_size=0)
        counted, counter = counting_keys(keys)
        token = signer.mint()
        for _ in range(3):
            assert verify_token(token, counted, config, now=NOW).user_id == make_claims()["sub"]
        assert counter.calls == 3
        assert not config.token_cache.verified

    def test_only_verified_tokens_enter(
        self, signer: Signer, other_signer: Signer, keys: KeySet, fresh: ClerkConfig
    ) -> None:
        forged = other_signer.mint()  # right kid, wrong key
        expired = signer.mint(make_claims(exp=NOW - 60, iat=NOW - 120, nbf=NOW - 130))
        assert reason_of(forged, keys, fresh, NOW) == Reason.TOKEN_INVALID_SIGNATURE
        assert reason_of(expired, keys, fresh, NOW) == Reason.TOKEN_EXPIRED
        assert not fresh.token_cache.verified


class TestTimeOnEveryHit:
    """A hit answers exactly as a full verification at the same ``now``."""

    @pytest.mark.parametrize(
        "offset",
        [-3600, -30, -16, -15, -10, -5, 0, 1, 30, 49, 50, 55, 56, 60, 61, 3600],
    )
    def test_same_answer_as_uncached(self, signer: Signer, keys: KeySet, offset: int) -> None:
        # iat = NOW - 5, nbf = iat - 10, exp = iat + 60 (Clerk's shape).
        token = signer.mint()
        cached = make_config()
        verify_token(token, keys, cached, now=NOW)  # now in the cache
        uncached = make_config(token_cache_size=0)
        expected = outcome(token, keys, uncached, NOW + offset)
        got = outcome(token, keys, cached, NOW + offset)
        if isinstance(expected, SessionClaims):
            assert got == expected
        else:
            assert got == expected

    def test_entry_dies_at_exp(self, signer: Signer, keys: KeySet, fresh: ClerkConfig) -> None:
        token = signer.mint()
        exp = make_claims()["exp"]
        verify_token(token, keys, fresh, now=NOW)
        verify_token(token, keys, fresh, now=exp + SKEW - 1)  # still inside the skew
        assert token in fresh.token_cache.verified
        assert reason_of(token, keys, fresh, exp + SKEW) == Reason.TOKEN_EXPIRED
        assert token not in fresh.token_cache.verified

    def test_clock_going_back_is_rechecked(
        self, signer: Signer, keys: KeySet, fresh: ClerkConfig
    ) -> None:
        claims = make_claims()
        token = signer.mint(claims)
        verify_token(token, keys, fresh, now=NOW)
        assert reason_of(token, keys, fresh, claims["nbf"] - SKEW - 1) == (
            Reason.TOKEN_NOT_ACTIVE_YET
        )
        no_nbf = signer.mint(make_claims(nbf=None) | {"nbf": claims["iat"]})
        verify_token(no_nbf, keys, fresh, now=NOW)
        assert reason_of(no_nbf, keys, fresh, claims["iat"] - SKEW - 1) == (
            Reason.TOKEN_NOT_ACTIVE_YET
        )

    def test_iat_in_the_future_after_the_clock_went_back(
        self, signer: Signer, keys: KeySet, fresh: ClerkConfig
    ) -> None:
        claims = make_claims()
        del claims["nbf"]
        token = signer.mint(claims)
        verify_token(token, keys, fresh, now=NOW)
        assert reason_of(token, keys, fresh, claims["iat"] - SKEW - 1) == (
            Reason.TOKEN_IAT_IN_THE_FUTURE
        )


class TestKeys:
    def test_key_removed_from_the_set(
        self, signer: Signer, other_signer: Signer, keys: KeySet, fresh: ClerkConfig
    ) -> None:
        token = signer.mint()
        verify_token(token, keys, fresh, now=NOW)
        rotated = KeySet.from_jwks({"keys": [other_signer.public_jwk("ins_new")]})
        assert reason_of(token, rotated, fresh, NOW) == Reason.JWK_KID_MISMATCH
        assert token not in fresh.token_cache.verified

    def test_other_key_under_the_same_kid(
        self, signer: Signer, other_signer: Signer, keys: KeySet, fresh: ClerkConfig
    ) -> None:
        token = signer.mint()
        verify_token(token, keys, fresh, now=NOW)
        swapped = KeySet.from_jwks(other_signer.jwks())  # same kid, other material
        assert reason_of(token, swapped, fresh, NOW) == Reason.TOKEN_INVALID_SIGNATURE
        assert token not in fresh.token_cache.verified

    def test_refetched_set_with_the_same_key_still_hits(
        self, signer: Signer, keys: KeySet, fresh: ClerkConfig
    ) -> None:
        token = signer.mint()
        verify_token(token, keys, fresh, now=NOW)
        refetched, counter = counting_keys(KeySet.from_jwks(signer.jwks()))
        assert verify_token(token, refetched, fresh, now=NOW).session_id == "sess_2abc"
        assert counter.calls == 0

    def test_ambiguous_kid_after_refresh(
        self, signer: Signer, other_signer: Signer, keys: KeySet, fresh: ClerkConfig
    ) -> None:
        token = signer.mint()
        verify_token(token, keys, fresh, now=NOW)
        doubled = KeySet.from_jwks(
            {
                "keys": [
                    signer.public_jwk(),
                    other_signer.public_jwk(),  # the same kid twice: ambiguous
                    other_signer.public_jwk("ins_other"),
                ]
            }
        )
        assert reason_of(token, doubled, fresh, NOW) == Reason.JWK_KID_MISMATCH

    def test_no_key_source(self, signer: Signer, keys: KeySet, fresh: ClerkConfig) -> None:
        token = signer.mint()
        verify_token(token, keys, fresh, now=NOW)
        assert reason_of(token, None, fresh, NOW) == Reason.JWK_FAILED_TO_RESOLVE

    def test_unknown_kid_remembered_until_the_key_appears(
        self, signer: Signer, other_signer: Signer, fresh: ClerkConfig
    ) -> None:
        token = signer.mint(header=make_header(kid="ins_rotated"))
        old = KeySet.from_jwks(other_signer.jwks())
        for _ in range(2):
            assert reason_of(token, old, fresh, NOW) == Reason.JWK_KID_MISMATCH
        assert fresh.token_cache.refused[token] == ("ins_rotated", old)
        assert reason_of(token, None, fresh, NOW) == Reason.JWK_FAILED_TO_RESOLVE
        # Another key set (a refresh) without the kid: asked, then remembered instead.
        refreshed = KeySet.from_jwks(other_signer.jwks())
        assert refreshed is not old
        assert reason_of(token, refreshed, fresh, NOW) == Reason.JWK_KID_MISMATCH
        assert fresh.token_cache.refused[token] == ("ins_rotated", refreshed)
        new = KeySet.from_jwks({"keys": [signer.public_jwk("ins_rotated")]})
        assert verify_token(token, new, fresh, now=NOW).user_id == make_claims()["sub"]


class TestPerConfiguration:
    def test_another_configuration_decides_for_itself(self, signer: Signer, keys: KeySet) -> None:
        token = signer.mint()
        lenient = make_config()
        verify_token(token, keys, lenient, now=NOW)
        strict = make_config(authorized_parties=["https://other.example"])
        assert reason_of(token, keys, strict, NOW) == Reason.TOKEN_INVALID_AUTHORIZED_PARTIES
        assert token not in strict.token_cache.verified

    def test_evolve_copy_and_pickle_start_empty(self, signer: Signer, keys: KeySet) -> None:
        config = make_config()
        verify_token(signer.mint(), keys, config, now=NOW)
        evolved = attrs.evolve(config, clock_skew=1.0)
        assert not evolved.token_cache.verified
        restored = pickle.loads(pickle.dumps(config))
        assert restored == config
        assert not restored.token_cache.verified
        assert restored.token_cache.size == config.token_cache.size
        assert copy.deepcopy(config).token_cache.verified == {}

    def test_gate_verdicts_follow_the_configuration(self, signer: Signer) -> None:
        # The same header segment: kid optional with a PEM, required with a JWKS.
        token = signer.mint(header=make_header(kid=None) | {"kid": None})
        headerless = signer.mint(header={k: v for k, v in make_header().items() if k != "kid"})
        jwks = make_config()
        pem = make_config(jwt_key=signer.pem)
        assert reason_of(headerless, KeySet.from_jwks(signer.jwks()), jwks, NOW) == (
            Reason.TOKEN_INVALID
        )
        assert verify_token(headerless, pem.static_keys, pem, now=NOW).user_id == "user_2abc"
        assert reason_of(token, pem.static_keys, pem, NOW) == Reason.TOKEN_INVALID


class TestBounds:
    def test_verified_entries(self, signer: Signer, keys: KeySet) -> None:
        config = make_config(token_cache_size=3)
        tokens = [signer.mint(make_claims(sid=f"sess_{i}")) for i in range(5)]
        for token in tokens:
            verify_token(token, keys, config, now=NOW)
        assert list(config.token_cache.verified) == tokens[2:]  # the oldest go first

    def test_expired_entries_leave_as_new_ones_arrive(self, signer: Signer, keys: KeySet) -> None:
        config = make_config()
        old = [signer.mint(make_claims(sid=f"sess_{i}")) for i in range(3)]
        for token in old:
            verify_token(token, keys, config, now=NOW)
        later = NOW + 3600  # the old tokens are long dead
        for i in range(20):
            claims = make_claims(sid=f"sess_new{i}", iat=later - 5, nbf=later - 15, exp=later + 55)
            verify_token(signer.mint(claims), keys, config, now=later)
        assert not set(old) & set(config.token_cache.verified)
        assert len(config.token_cache.verified) == 20

    def test_garbage_never_evicts_verified_tokens(
        self, signer: Signer, keys: KeySet, fresh: ClerkConfig
    ) -> None:
        token = signer.mint()
        verify_token(token, keys, fresh, now=NOW)
        for i in range(REFUSED_ENTRIES + 50):
            assert reason_of(f"garbage{i}", keys, fresh, NOW) == Reason.TOKEN_INVALID
        assert len(fresh.token_cache.refused) <= REFUSED_ENTRIES
        assert token in fresh.token_cache.verified

    def test_header_verdicts(self, signer: Signer, keys: KeySet, fresh: ClerkConfig) -> None:
        for i in range(HEADER_ENTRIES + 10):
            token = signer.mint(header=make_header(kid=f"ins_{i}"))
            assert reason_of(token, keys, fresh, NOW) == Reason.JWK_KID_MISMATCH
        assert len(fresh.token_cache.headers) <= HEADER_ENTRIES

    def test_oversized_values_are_never_hashed_or_kept(
        self, keys: KeySet, fresh: ClerkConfig
    ) -> None:
        assert reason_of("a" * 9000, keys, fresh, NOW) == Reason.TOKEN_INVALID
        assert not fresh.token_cache.refused

    @pytest.mark.parametrize("value", [-1, 1.5, True, "10", None])
    def test_size_must_be_a_non_negative_int(self, value: Any) -> None:
        with pytest.raises(ConfigurationError, match="token_cache_size"):
            make_config(token_cache_size=value)

    def test_remember_tolerates_a_table_changing_underneath(self) -> None:
        class Racing(dict[str, int]):
            """A dict another thread empties between len() and the eviction."""

            def __iter__(self) -> Any:
                self.clear()
                return super().__iter__()

        table = Racing(a=1, b=2)
        remember(table, "c", 3, 2)  # the eviction finds nothing: no error
        assert table == {"c": 3}


class TestRequestChecksStillRun:
    """__client_uat, pending sessions and roles are never cached: checked every time."""

    def test_client_uat_on_a_hit(self, signer: Signer, keys: KeySet, fresh: ClerkConfig) -> None:
        claims = make_claims()
        token = signer.mint(claims)

        def state(uat: int) -> Any:
            cookie = f"__session={token}; __client_uat={uat}"
            return authenticate_request({"cookie": cookie}, config=fresh, keys=keys, now=NOW)

        assert state(claims["iat"]).signed_in
        assert token in fresh.token_cache.verified
        later = state(claims["iat"] + 1)  # signed in again elsewhere since
        assert later.reason == Reason.SESSION_TOKEN_IAT_BEFORE_CLIENT_UAT

    def test_pending_on_a_hit(self, signer: Signer, keys: KeySet, fresh: ClerkConfig) -> None:
        token = signer.mint(make_claims(sts="pending"))
        headers = {"authorization": f"Bearer {token}"}
        allowed = authenticate_request(
            headers, config=fresh, keys=keys, now=NOW, allow_pending=True
        )
        assert allowed.signed_in
        refused = authenticate_request(headers, config=fresh, keys=keys, now=NOW)
        assert refused.reason == Reason.SESSION_PENDING

    def test_roles_on_a_hit(self, signer: Signer, keys: KeySet, fresh: ClerkConfig) -> None:
        token = signer.mint(make_claims(org_id="org_1", org_role="org:member"))
        headers = {"authorization": f"Bearer {token}"}
        admin = Requirements.of(role="org:admin")
        member = Requirements.of(role="member")
        for _ in range(2):  # first sight, then a hit
            state = authenticate_request(headers, config=fresh, keys=keys, now=NOW)
            assert state.refusal(admin) is not None
            assert state.refusal(admin).status == 403  # type: ignore[union-attr]
            assert state.refusal(member) is None
        assert token in fresh.token_cache.verified

    def test_unknown_kid_through_a_request(
        self, signer: Signer, other_signer: Signer, fresh: ClerkConfig
    ) -> None:
        token = signer.mint(header=make_header(kid="ins_rotated"))
        headers = {"authorization": f"Bearer {token}"}
        old = KeySet.from_jwks(other_signer.jwks())

        def reason(keys: KeySet | None) -> str | None:
            return authenticate_request(headers, config=fresh, keys=keys, now=NOW).reason

        for _ in range(2):  # first sight, then the remembered (kid, key set)
            assert reason(old) == Reason.JWK_KID_MISMATCH
        assert fresh.token_cache.refused[token] == ("ins_rotated", old)
        assert reason(None) == Reason.JWK_FAILED_TO_RESOLVE
        refreshed = KeySet.from_jwks(other_signer.jwks())
        assert reason(refreshed) == Reason.JWK_KID_MISMATCH
        assert fresh.token_cache.refused[token] == ("ins_rotated", refreshed)
        new = KeySet.from_jwks({"keys": [signer.public_jwk("ins_rotated")]})
        assert authenticate_request(headers, config=fresh, keys=new, now=NOW).signed_in

    def test_expiry_through_a_request(
        self, signer: Signer, keys: KeySet, fresh: ClerkConfig
    ) -> None:
        token = signer.mint()
        headers = {"authorization": f"Bearer {token}"}
        assert authenticate_request(headers, config=fresh, keys=keys, now=NOW).signed_in
        later = authenticate_request(headers, config=fresh, keys=keys, now=NOW + 3600)
        assert later.reason == Reason.TOKEN_EXPIRED


class TestThreads:
    def test_hammering_from_threads(
        self, signer: Signer, other_signer: Signer, keys: KeySet
    ) -> None:
        """Many threads, a cache too small for the tokens (constant eviction races), a
        refused table churned by garbage: every answer right, no exception escapes."""
        config = make_config(token_cache_size=4)
        tokens = [(signer.mint(make_claims(sub=f"user_{i}")), f"user_{i}") for i in range(12)]
        forged = other_signer.mint()
        errors: list[BaseException] = []
        wrong: list[str] = []
        start = threading.Barrier(8)

        def work(seed: int) -> None:
            try:
                start.wait()
                for n in range(300):
                    token, sub = tokens[(seed * 7 + n) % len(tokens)]
                    if verify_token(token, keys, config, now=NOW).user_id != sub:
                        wrong.append(sub)
                    if n % 5 == 0 and outcome(f"junk{seed}.{n}", keys, config, NOW) != (
                        Reason.TOKEN_INVALID
                    ):
                        wrong.append("junk")
                    if n % 50 == 0 and outcome(forged, keys, config, NOW) != (
                        Reason.TOKEN_INVALID_SIGNATURE
                    ):
                        wrong.append("forged")
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert not wrong
        cache = config.token_cache
        assert len(cache.verified) <= cache.size + len(threads)
        assert len(cache.refused) <= REFUSED_ENTRIES + len(threads)


def _attributes(error: BaseException) -> dict[str, object]:
    """An error's attributes: its slots and whatever its instance dict holds."""
    slots = ("reason", "message", "status", "bearer_error")
    return {**{name: getattr(error, name) for name in slots}, **vars(error)}


class TestFastConstructors:
    """The hot path builds errors and claims without their __init__: the same objects."""

    @pytest.mark.parametrize("reason", sorted(REASONS))
    def test_refusal_is_the_error(self, reason: str) -> None:
        fast, slow = refusal(reason), TokenVerificationError(reason)
        assert type(fast) is type(slow)
        assert _attributes(fast) == _attributes(slow)
        assert fast.reason == reason
        assert fast.args == slow.args
        assert (str(fast), repr(fast)) == (str(slow), repr(slow))
        assert _attributes(pickle.loads(pickle.dumps(fast))) == _attributes(slow)

    @pytest.mark.parametrize(
        "claims",
        [
            make_claims(),
            make_claims(v=2, o={"id": "org_1", "slg": "acme", "rol": "admin", "per": "read",
                                "fpm": "1"}, fea="o:reports", pla="u:free"),
            make_claims(sts="pending", act={"sub": "user_admin"}, org_id="org_1",
                        org_role="org:member", org_permissions=["org:a:b"]),
        ],
        ids=["v1", "v2", "pending-actor"],
    )  # fmt: skip
    def test_decoded_claims_are_attrs_built(self, claims: dict[str, Any]) -> None:
        fast = decode_claims(claims, dict(claims))
        names = {a.name for a in attrs.fields(SessionClaims)}
        # Lazy: what cannot fail is decoded when first read, then kept.
        assert set(vars(fast)) < names
        slow = SessionClaims(**{a.name: getattr(fast, a.name) for a in attrs.fields(SessionClaims)})
        assert set(vars(fast)) == names
        eager = SessionClaims.from_payload(claims)
        assert eager == slow
        assert eager.raw == slow.raw
        assert fast == slow
        assert repr(fast) == repr(slow)
        assert hash(fast) == hash(slow)
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            fast.user_id = "x"  # type: ignore[misc]

    @pytest.mark.parametrize("status", ["signed-in", "signed-out", "preflight"])
    def test_request_states_are_attrs_built(self, status: str) -> None:
        claims = decode_claims(make_claims(), make_claims())
        error = refusal(Reason.TOKEN_EXPIRED)
        fast = _state(status, claims, "SECRETTOKEN", error)
        slow = RequestState(status=status, claims=claims, token="SECRETTOKEN", error=error)  # type: ignore[arg-type]
        assert set(vars(fast)) == {a.name for a in attrs.fields(RequestState)}
        assert fast == slow
        assert repr(fast) == repr(slow)
        assert "SECRETTOKEN" not in repr(fast)

    def test_token_cache_repr_never_shows_tokens(self, signer: Signer, keys: KeySet) -> None:
        config = make_config()
        token = signer.mint()
        verify_token(token, keys, config, now=NOW)
        assert token not in repr(config.token_cache)
        assert token not in repr(config)
        assert isinstance(config.token_cache, TokenCache)


def test_pem_configuration_hits(signer: Signer) -> None:
    config = ClerkConfig(jwt_key=signer.pem, authorized_parties=[AZP])
    token = signer.mint()
    first = verify_token(token, config.static_keys, config, now=NOW)
    assert verify_token(token, config.static_keys, config, now=NOW) is first


class TestLazyClaims:
    """decode_claims decodes each field on first read, from ``raw``, and keeps it."""

    V2 = make_claims(
        v=2,
        o={"id": "org_1", "slg": "acme", "rol": "admin", "per": "read", "fpm": "1"},
        fea="o:reports",
        pla="u:free",
        act={"sub": "user_admin", "sid": "sess_a"},
        fva=[3, -1],
    )

    def test_a_read_decodes_that_field_only(self) -> None:
        claims = decode_claims(self.V2, self.V2)
        assert "user_id" not in vars(claims)
        assert "actor" not in vars(claims)
        assert claims.user_id == self.V2["sub"]
        assert vars(claims)["user_id"] == self.V2["sub"]
        assert "actor" not in vars(claims)
        # What can fail was decided at verification.
        assert vars(claims)["org_permissions"] == ("org:reports:read",)

    def test_every_field_as_decoded_from_the_claims(self) -> None:
        claims = decode_claims(self.V2, self.V2)
        assert claims.session_id == self.V2["sid"]
        assert (claims.org_id, claims.org_slug, claims.org_role) == ("org_1", "acme", "org:admin")
        assert claims.actor is not None
        assert (claims.actor.subject, claims.actor.session_id) == ("user_admin", "sess_a")
        assert claims.factor_verification_age == (3, -1)
        assert (claims.features, claims.plans) == (("org:reports",), ("user:free",))
        assert (claims.expires_at, claims.issued_at) == (self.V2["exp"], self.V2["iat"])

    def test_copies_and_pickles_before_any_read(self) -> None:
        claims = decode_claims(self.V2, self.V2)
        for other in (pickle.loads(pickle.dumps(claims)), copy.copy(claims)):
            assert other == decode_claims(self.V2, self.V2)
            assert other.org_role == "org:admin"

    def test_unknown_names_still_raise(self) -> None:
        claims = decode_claims(self.V2, self.V2)
        with pytest.raises(AttributeError, match="no_such_field"):
            _ = claims.no_such_field  # type: ignore[attr-defined]
        assert not hasattr(claims, "__setstate__")
