"""Claim rules in Clerk's order (spec §3.5–3.7) and the claim model (spec §2: v1 and v2)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clerk_auth_core import (
    Actor,
    ClerkConfig,
    Reason,
    SessionClaims,
    TokenVerificationError,
    validate_claims,
)
from clerk_auth_core import _claims as _claims_module

from .conftest import AZP, DELETE, ISSUER, NOW, Signer, make_claims, make_config

FAILED = Reason.TOKEN_VERIFICATION_FAILED
EXPIRED = Reason.TOKEN_EXPIRED
NOT_ACTIVE = Reason.TOKEN_NOT_ACTIVE_YET
FUTURE = Reason.TOKEN_IAT_IN_THE_FUTURE
AZP_BAD = Reason.TOKEN_INVALID_AUTHORIZED_PARTIES
ISS_BAD = Reason.TOKEN_INVALID_ISSUER
MISMATCH = Reason.TOKEN_TYPE_MISMATCH
SKEW = 5
CAP = 3600


def check(payload: dict[str, Any], config: ClerkConfig | None = None) -> None:
    validate_claims(payload, config or make_config(), NOW)


def failure(payload: dict[str, Any], config: ClerkConfig | None = None) -> TokenVerificationError:
    with pytest.raises(TokenVerificationError) as info:
        check(payload, config)
    return info.value


def times(*, exp: float, iat: float | None = None, nbf: Any = DELETE) -> dict[str, Any]:
    """Claims with the given times; ``iat`` defaults to well inside the lifetime cap."""
    return make_claims(exp=exp, iat=exp - 60 if iat is None else iat, nbf=nbf)


class TestValidateClaims:
    def test_valid(self) -> None:
        check(make_claims())

    # -- time boundaries, default skew (5 s) ------------------------------------------------

    @pytest.mark.parametrize(
        ("claims", "expected"),
        [
            pytest.param(times(exp=NOW - SKEW), EXPIRED, id="exp-at-now-minus-skew"),
            pytest.param(times(exp=NOW - SKEW + 1), None, id="exp-one-after"),
            pytest.param(times(exp=NOW - SKEW + 0.5), None, id="exp-half-second-after"),
            pytest.param(times(exp=NOW - SKEW - 1), EXPIRED, id="exp-one-before"),
            pytest.param(times(exp=0), EXPIRED, id="exp-zero"),
            pytest.param(times(exp=-1), EXPIRED, id="exp-negative"),
            pytest.param(times(exp=NOW + 60, nbf=NOW + SKEW), None, id="nbf-at-now-plus-skew"),
            pytest.param(times(exp=NOW + 60, nbf=NOW + SKEW + 1), NOT_ACTIVE, id="nbf-one-after"),
            pytest.param(
                times(exp=NOW + 60, nbf=NOW + SKEW + 0.5), NOT_ACTIVE, id="nbf-half-after"
            ),
            pytest.param(times(exp=NOW + 60, nbf=DELETE), None, id="nbf-absent"),
            pytest.param(times(exp=NOW + 60, iat=NOW + SKEW), None, id="iat-at-now-plus-skew"),
            pytest.param(times(exp=NOW + 60, iat=NOW + SKEW + 1), FUTURE, id="iat-one-after"),
            pytest.param(times(exp=NOW + 60, iat=0), FAILED, id="iat-epoch-lifetime"),
        ],
    )
    def test_time_boundaries(self, claims: dict[str, Any], expected: str | None) -> None:
        if expected is None:
            check(claims)
        else:
            assert failure(claims).reason == expected

    @pytest.mark.parametrize(
        ("lifetime", "expected"),
        [
            pytest.param(CAP, None, id="at-cap"),
            pytest.param(CAP + 1, FAILED, id="cap-plus-one"),
            pytest.param(CAP + 0.5, FAILED, id="cap-plus-half"),
            pytest.param(CAP - 1, None, id="under-cap"),
            pytest.param(10 * 365 * 86400, FAILED, id="jwt-template-ten-years"),
        ],
    )
    def test_lifetime_cap(self, lifetime: float, expected: str | None) -> None:
        claims = make_claims(iat=NOW - 5, exp=NOW - 5 + lifetime)
        if expected is None:
            check(claims)
        else:
            error = failure(claims)
            assert error.reason == expected
            assert "longer" in error.message

    @pytest.mark.parametrize(
        ("cap", "lifetime", "ok"),
        [(60, 60, True), (60, 61, False), (0, 0, True), (0, 1, False)],
        ids=["60-at", "60-over", "0-at", "0-over"],
    )
    def test_lifetime_cap_configurable(self, cap: float, lifetime: float, ok: bool) -> None:
        config = make_config(max_token_lifetime=cap)
        claims = make_claims(iat=NOW, exp=NOW + lifetime)
        if ok:
            check(claims, config)
        else:
            assert failure(claims, config).reason == FAILED

    @pytest.mark.parametrize(
        ("skew", "claims", "expected"),
        [
            pytest.param(0, times(exp=NOW), EXPIRED, id="0-exp-at-now"),
            pytest.param(0, times(exp=NOW + 1), None, id="0-exp-now-plus-1"),
            pytest.param(0, times(exp=NOW + 60, nbf=NOW), None, id="0-nbf-at-now"),
            pytest.param(0, times(exp=NOW + 60, nbf=NOW + 1), NOT_ACTIVE, id="0-nbf-plus-1"),
            pytest.param(0, times(exp=NOW + 60, iat=NOW), None, id="0-iat-at-now"),
            pytest.param(0, times(exp=NOW + 60, iat=NOW + 1), FUTURE, id="0-iat-plus-1"),
            pytest.param(30, times(exp=NOW - 30), EXPIRED, id="30-exp-at-bound"),
            pytest.param(30, times(exp=NOW - 29), None, id="30-exp-inside"),
            pytest.param(30, times(exp=NOW + 60, nbf=NOW + 30), None, id="30-nbf-at-bound"),
            pytest.param(30, times(exp=NOW + 60, nbf=NOW + 31), NOT_ACTIVE, id="30-nbf-over"),
            pytest.param(30, times(exp=NOW + 60, iat=NOW + 30), None, id="30-iat-at-bound"),
            pytest.param(30, times(exp=NOW + 60, iat=NOW + 31), FUTURE, id="30-iat-over"),
            pytest.param(2.5, times(exp=NOW - 2.5), EXPIRED, id="2.5-exp-at-bound"),
            pytest.param(2.5, times(exp=NOW - 2), None, id="2.5-exp-inside"),
        ],
    )
    def test_custom_skew(self, skew: float, claims: dict[str, Any], expected: str | None) -> None:
        config = make_config(clock_skew=skew)
        if expected is None:
            check(claims, config)
        else:
            assert failure(claims, config).reason == expected

    # -- one rule at a time --------------------------------------------------------------

    @pytest.mark.parametrize(
        ("overrides", "expected"),
        [
            pytest.param({"sub": DELETE}, FAILED, id="sub-missing"),
            pytest.param({"sub": ""}, FAILED, id="sub-empty"),
            pytest.param({"sub": 42}, FAILED, id="sub-number"),
            pytest.param({"sub": None}, FAILED, id="sub-null"),
            pytest.param({"sub": ["user_1"]}, FAILED, id="sub-list"),
            pytest.param({"sub": "mch_2abc"}, MISMATCH, id="sub-machine"),
            pytest.param({"exp": DELETE}, FAILED, id="exp-missing"),
            pytest.param({"exp": str(NOW + 60)}, FAILED, id="exp-string"),
            pytest.param({"exp": True}, FAILED, id="exp-true"),
            pytest.param({"exp": None}, FAILED, id="exp-null"),
            pytest.param({"exp": [NOW + 60]}, FAILED, id="exp-list"),
            pytest.param({"exp": float("nan")}, FAILED, id="exp-nan"),
            pytest.param({"exp": float("inf")}, FAILED, id="exp-inf"),
            pytest.param({"exp": 2**53 + 1}, FAILED, id="exp-above-2-53"),
            pytest.param({"exp": 10**30}, FAILED, id="exp-absurd"),
            pytest.param({"nbf": "0"}, FAILED, id="nbf-string"),
            pytest.param({"nbf": False}, FAILED, id="nbf-false"),
            pytest.param({"nbf": None}, FAILED, id="nbf-null"),
            pytest.param({"nbf": -(2**53) - 1}, FAILED, id="nbf-below-minus-2-53"),
            pytest.param({"nbf": float("-inf")}, FAILED, id="nbf-minus-inf"),
            pytest.param({"iat": DELETE}, FAILED, id="iat-missing"),
            pytest.param({"iat": str(NOW)}, FAILED, id="iat-string"),
            pytest.param({"iat": True}, FAILED, id="iat-true"),
            pytest.param({"iat": float("nan")}, FAILED, id="iat-nan"),
            pytest.param({"iat": 2**60}, FAILED, id="iat-absurd"),
            pytest.param({"sid": DELETE}, FAILED, id="sid-missing"),
            pytest.param({"sid": ""}, FAILED, id="sid-empty"),
            pytest.param({"sid": 7}, FAILED, id="sid-number"),
            pytest.param({"sid": None}, FAILED, id="sid-null"),
            pytest.param({"azp": DELETE}, AZP_BAD, id="azp-missing"),
            pytest.param({"azp": ""}, AZP_BAD, id="azp-empty"),
            pytest.param({"azp": None}, AZP_BAD, id="azp-null"),
            pytest.param({"azp": 1}, AZP_BAD, id="azp-number"),
            pytest.param({"azp": [AZP]}, AZP_BAD, id="azp-list"),
            pytest.param({"azp": "https://evil.example"}, AZP_BAD, id="azp-other"),
            pytest.param({"azp": AZP + "/"}, AZP_BAD, id="azp-trailing-slash"),
            pytest.param({"azp": AZP.upper()}, AZP_BAD, id="azp-case"),
            pytest.param({"azp": AZP + ".evil"}, AZP_BAD, id="azp-suffix"),
            pytest.param({"azp": " " + AZP}, AZP_BAD, id="azp-space"),
            pytest.param({"iss": "https://clerk.other.example"}, ISS_BAD, id="iss-other"),
            pytest.param({"iss": ISSUER + "/"}, ISS_BAD, id="iss-trailing-slash"),
            pytest.param({"iss": ISSUER.replace("https", "http")}, ISS_BAD, id="iss-http"),
            pytest.param({"iss": DELETE}, ISS_BAD, id="iss-missing"),
            pytest.param({"iss": None}, ISS_BAD, id="iss-null"),
            pytest.param({"iss": [ISSUER]}, ISS_BAD, id="iss-list"),
        ],
    )
    def test_rule(self, overrides: dict[str, Any], expected: str) -> None:
        assert failure(make_claims(**overrides)).reason == expected

    @pytest.mark.parametrize("azp", [DELETE, "", "https://anything.example", 5])
    def test_no_authorized_parties_no_azp_check(self, azp: Any) -> None:
        check(make_claims(azp=azp), make_config(authorized_parties=()))

    def test_azp_any_of_several_parties(self) -> None:
        config = make_config(authorized_parties=("https://a.example", AZP))
        check(make_claims(azp=AZP), config)
        check(make_claims(azp="https://a.example"), config)
        assert failure(make_claims(azp="https://b.example"), config).reason == AZP_BAD

    def test_no_issuer_known_no_iss_check(self, signer: Signer) -> None:
        config = ClerkConfig(jwt_key=signer.pem, authorized_parties=AZP)
        assert config.expected_issuer is None
        check(make_claims(iss="https://any.example"), config)
        check(make_claims(iss=DELETE), config)

    def test_configured_issuer(self, signer: Signer) -> None:
        config = ClerkConfig(
            jwt_key=signer.pem, issuer="https://iss.example", authorized_parties=AZP
        )
        check(make_claims(iss="https://iss.example"), config)
        assert failure(make_claims(), config).reason == ISS_BAD

    @pytest.mark.parametrize(
        ("aud", "ok"),
        [
            pytest.param(DELETE, True, id="token-without-aud"),
            pytest.param("aud-1", True, id="string-match"),
            pytest.param(["other", "aud-1"], True, id="list-match"),
            pytest.param("aud-2", False, id="string-mismatch"),
            pytest.param(["aud-2"], False, id="list-mismatch"),
            pytest.param([], False, id="empty-list"),
            pytest.param(5, False, id="number"),
            pytest.param([5, None], False, id="list-of-non-strings"),
            pytest.param(None, False, id="null"),
        ],
    )
    def test_audience(self, aud: Any, ok: bool) -> None:
        config = make_config(audience=("aud-1",))
        claims = make_claims(aud=aud)
        if ok:
            check(claims, config)
        else:
            error = failure(claims, config)
            assert error.reason == FAILED
            assert "aud" in error.message

    @pytest.mark.parametrize("aud", ["anything", ["a", "b"], 5])
    def test_audience_not_configured(self, aud: Any) -> None:
        check(make_claims(aud=aud))

    # -- order: first failure wins ---------------------------------------------------------

    @pytest.mark.parametrize(
        ("overrides", "expected", "message_part"),
        [
            pytest.param({"sub": DELETE, "exp": NOW - 100}, FAILED, "sub", id="sub-before-exp"),
            pytest.param({"sub": DELETE, "aud": "other"}, FAILED, "sub", id="sub-before-aud"),
            pytest.param({"sub": "mch_1", "aud": "other"}, MISMATCH, None, id="machine-before-aud"),
            pytest.param({"sub": "mch_1", "azp": "x"}, MISMATCH, None, id="machine-before-azp"),
            pytest.param({"aud": "other", "azp": "x"}, FAILED, "aud", id="aud-before-azp"),
            pytest.param({"azp": "x", "exp": NOW - 100}, AZP_BAD, None, id="azp-before-exp"),
            pytest.param({"azp": "x", "exp": "soon"}, AZP_BAD, None, id="azp-before-exp-type"),
            pytest.param({"exp": NOW - 100, "nbf": NOW + 100}, EXPIRED, None, id="exp-before-nbf"),
            pytest.param({"exp": DELETE, "nbf": NOW + 100}, FAILED, "exp", id="exp-missing-first"),
            pytest.param(
                {"nbf": NOW + 100, "iat": NOW + 100}, NOT_ACTIVE, None, id="nbf-before-iat"
            ),
            pytest.param({"iat": NOW + 100, "sid": DELETE}, FUTURE, None, id="iat-before-sid"),
            pytest.param({"iat": DELETE, "sid": DELETE}, FAILED, "iat", id="iat-missing-first"),
            pytest.param(
                {"sid": DELETE, "iat": NOW - 7200, "exp": NOW + 60},
                FAILED,
                "sid",
                id="sid-before-lifetime",
            ),
            pytest.param(
                {"iat": NOW - 7200, "exp": NOW + 60, "iss": "x"},
                FAILED,
                "longer",
                id="lifetime-before-iss",
            ),
            pytest.param({"exp": NOW - 100, "iss": "x"}, EXPIRED, None, id="exp-before-iss"),
            pytest.param({"azp": "x", "iss": "x"}, AZP_BAD, None, id="azp-before-iss"),
        ],
    )
    def test_order(
        self, overrides: dict[str, Any], expected: str, message_part: str | None
    ) -> None:
        config = make_config(audience=("aud-1",))
        error = failure(make_claims(**overrides), config)
        assert error.reason == expected
        if message_part is not None:
            assert message_part in error.message


ORG_V1 = {
    "org_id": "org_2abc",
    "org_slug": "acme",
    "org_role": "org:admin",
    "org_permissions": ["org:reports:read", "org:reports:manage", "org:billing:read"],
}
ORG_V2 = {
    "v": 2,
    "o": {"id": "org_2abc", "slg": "acme", "rol": "admin", "per": "read,manage", "fpm": "3,1"},
    "fea": "o:reports,o:billing",
}


def claims_of(**overrides: Any) -> SessionClaims:
    return SessionClaims.from_payload(make_claims(**overrides))


def org_perms(per: str, fea: str, fpm: str) -> tuple[str, ...]:
    return claims_of(
        v=2, o={"id": "org_1", "rol": "admin", "per": per, "fpm": fpm}, fea=fea
    ).org_permissions


class TestSessionClaims:
    def test_v1_fields(self) -> None:
        act = {"sub": "user_admin", "sid": "sess_admin", "iss": ISSUER, "type": "impersonation"}
        claims = claims_of(**ORG_V1, sts="active", act=act, custom={"tier": "gold"})
        base = make_claims()
        assert claims.user_id == base["sub"]
        assert claims.session_id == base["sid"]
        assert claims.issuer == ISSUER
        assert claims.authorized_party == AZP
        assert claims.expires_at == base["exp"]
        assert claims.issued_at == base["iat"]
        assert claims.not_before == base["nbf"]
        assert claims.session_status == "active"
        assert not claims.is_pending
        assert claims.actor == Actor(
            subject="user_admin", session_id="sess_admin", issuer=ISSUER, type="impersonation"
        )
        assert claims.factor_verification_age == (3, -1)
        assert claims.org_id == "org_2abc"
        assert claims.org_slug == "acme"
        assert claims.org_role == "org:admin"
        assert claims.org_permissions == tuple(ORG_V1["org_permissions"])
        assert claims.version == 1
        # Custom claims from the session-token template stay reachable.
        assert claims.raw["custom"] == {"tier": "gold"}
        assert claims.raw["jti"] == base["jti"]

    def test_v1_and_v2_decode_identically(self) -> None:
        v1 = claims_of(
            **ORG_V1
            | {"org_permissions": ["org:reports:read", "org:reports:manage", "org:billing:read"]}
        )
        v2 = claims_of(**ORG_V2)
        for field in (
            "user_id",
            "session_id",
            "issuer",
            "authorized_party",
            "expires_at",
            "issued_at",
            "not_before",
            "org_id",
            "org_slug",
            "org_role",
            "org_permissions",
            "factor_verification_age",
        ):
            assert getattr(v1, field) == getattr(v2, field), field
        assert (v1.version, v2.version) == (1, 2)
        assert v2.features == ("org:reports", "org:billing")

    def test_no_org(self) -> None:
        for claims in (claims_of(), claims_of(v=2)):
            assert (claims.org_id, claims.org_slug, claims.org_role) == (None, None, None)
            assert claims.org_permissions == ()

    @pytest.mark.parametrize("v", [1, "2", None, True, 3], ids=["1", "str-2", "null", "true", "3"])
    def test_only_v_2_is_v2(self, v: Any) -> None:
        claims = claims_of(v=v, **ORG_V1)
        assert claims.version == 1
        assert claims.org_role == "org:admin"

    def test_v2_role_gets_org_prefix(self) -> None:
        assert claims_of(**ORG_V2).org_role == "org:admin"

    # -- v2 fpm derivation -----------------------------------------------------------------

    @pytest.mark.parametrize(
        ("per", "fea", "fpm", "expected"),
        [
            pytest.param(
                "read,manage,delete",
                "o:reports,o:billing",
                "3,5",
                (
                    "org:reports:read",
                    "org:reports:manage",
                    "org:billing:read",
                    "org:billing:delete",
                ),
                id="bits-per-feature",
            ),
            pytest.param(
                "read,manage",
                "u:profile,o:reports,u:avatar,o:billing",
                "1,2",
                ("org:reports:read", "org:billing:manage"),
                id="user-features-take-no-mask",
            ),
            pytest.param(
                "read,manage",
                "uo:reports,ou:billing",
                "2,1",
                ("org:reports:manage", "org:billing:read"),
                id="uo-and-ou-are-org-scopes",
            ),
            pytest.param(
                "read", "x:weird,o:reports", "1", ("org:reports:read",), id="unknown-scope-no-slot"
            ),
            pytest.param("read,manage", "o:reports", "0", (), id="zero-mask"),
            pytest.param(
                "read", "o:reports", "7", ("org:reports:read",), id="bits-beyond-permissions"
            ),
            pytest.param(
                "read,manage",
                "o:reports,o:billing",
                "3",
                ("org:reports:read", "org:reports:manage"),
                id="fewer-masks-than-features",
            ),
            pytest.param(
                " read , manage ",
                " o:reports , o:billing ",
                " 1 , 2 ",
                ("org:reports:read", "org:billing:manage"),
                id="entries-trimmed",
            ),
            pytest.param(
                "read,,manage",
                "o:reports",
                "7",
                ("org:reports:read", "org:reports:manage"),
                id="empty-permission-keeps-position",
            ),
            pytest.param("", "o:reports", "1", (), id="no-permissions"),
            pytest.param("read", "", "1", (), id="no-features"),
        ],
    )
    def test_fpm(self, per: str, fea: str, fpm: str, expected: tuple[str, ...]) -> None:
        assert org_perms(per, fea, fpm) == expected

    @pytest.mark.parametrize(
        "bad",
        [
            pytest.param("x", id="letters"),
            pytest.param("", id="empty"),
            pytest.param("-1", id="negative"),
            pytest.param("3.0", id="decimal-point"),
            pytest.param("0x3", id="hex"),
            pytest.param("1e2", id="exponent"),
            pytest.param("+3", id="plus-sign"),
            pytest.param("3 3", id="inner-space"),
            pytest.param("\u00b3", id="superscript-three"),
            pytest.param("\u0663", id="arabic-indic-three"),
            pytest.param("\uff13", id="fullwidth-three"),
            pytest.param("9" * 5000, id="absurdly-long"),
        ],
    )
    def test_malformed_mask_grants_nothing_for_its_own_feature_only(self, bad: str) -> None:
        perms = org_perms("read,manage", "o:first,o:second,o:third", f"3,{bad},2")
        assert perms == ("org:first:read", "org:first:manage", "org:third:manage")

    def test_mask_above_2_53(self) -> None:
        per = ",".join(f"p{i}" for i in range(64))
        mask = 2**63 + 2**53 + 1  # loses its low bits as a double
        assert org_perms(per, "o:big", str(mask)) == ("org:big:p0", "org:big:p53", "org:big:p63")

    def test_mask_exactly_2_53_plus_1(self) -> None:
        per = ",".join(f"p{i}" for i in range(54))
        assert org_perms(per, "o:f", str(2**53 + 1)) == ("org:f:p0", "org:f:p53")

    # -- v2 features and plans -------------------------------------------------------------

    @pytest.mark.parametrize(
        ("fea", "expected"),
        [
            pytest.param("u:profile", ("user:profile",), id="u"),
            pytest.param("o:reports", ("org:reports",), id="o"),
            pytest.param("uo:search", ("user:search", "org:search"), id="uo"),
            pytest.param("ou:search", ("user:search", "org:search"), id="ou"),
            pytest.param(" u:a , o:b ", ("user:a", "org:b"), id="trimmed"),
            pytest.param("", (), id="empty"),
        ],
    )
    def test_feature_scopes(self, fea: str, expected: tuple[str, ...]) -> None:
        assert claims_of(v=2, fea=fea).features == expected

    def test_plans(self) -> None:
        assert claims_of(v=2, pla="u:free,o:pro").plans == ("user:free", "org:pro")

    @pytest.mark.parametrize(
        "fea",
        [
            pytest.param("reports", id="single"),
            pytest.param("o:reports,billing", id="second"),
            pytest.param("o:reports,,o:billing", id="empty-entry"),
        ],
    )
    def test_fea_entry_without_colon_is_token_invalid(self, fea: str) -> None:
        with pytest.raises(TokenVerificationError) as info:
            claims_of(v=2, fea=fea)
        assert info.value.reason == Reason.TOKEN_INVALID

    def test_remembered_decodings_answer_as_a_fresh_one(self) -> None:
        # Alternating organisations, then a malformed feature list right after a good
        # one: what the memo (and its last-key shortcut) answers is what decoding
        # answers, and a malformed entry is never answered from memory.
        orgs = [
            ({"id": "o1", "rol": "admin", "per": "read,write", "fpm": "3"}, "o:reports", "u:a"),
            ({"id": "o2", "rol": "member", "per": "read,write", "fpm": "1"}, "o:reports", "u:b"),
            ({"id": "o3", "rol": "member", "per": "read", "fpm": "1"}, "o:billing,u:x", "o:b"),
        ]
        expected = [
            (("org:reports",), ("user:a",), ("org:reports:read", "org:reports:write")),
            (("org:reports",), ("user:b",), ("org:reports:read",)),
            (("org:billing", "user:x"), ("org:b",), ("org:billing:read",)),
        ]
        for i in [0, 0, 1, 0, 2, 2, 1, 0]:
            org, fea, pla = orgs[i]
            claims = claims_of(v=2, o=org, fea=fea, pla=pla)
            assert (claims.features, claims.plans, claims.org_permissions) == expected[i]
            with pytest.raises(TokenVerificationError) as info:
                claims_of(v=2, o=org, fea=fea + ",broken", pla=pla)
            assert info.value.reason == Reason.TOKEN_INVALID

    # -- other claims --------------------------------------------------------------------

    @pytest.mark.parametrize(
        ("fva", "expected"),
        [
            ([3, -1], (3, -1)),
            ([0, 0], (0, 0)),
            ([3], None),
            ([3, -1, 2], None),
            (["3", -1], None),
            ([True, 1], None),
            ([1.5, 1], None),
            ("3,-1", None),
            (None, None),
        ],
    )
    def test_fva(self, fva: Any, expected: tuple[int, int] | None) -> None:
        assert claims_of(fva=fva).factor_verification_age == expected

    @pytest.mark.parametrize(
        ("act", "expected"),
        [
            ({"sub": "user_a"}, Actor(subject="user_a")),
            ({"sub": "user_a", "sid": 5, "iss": None}, Actor(subject="user_a")),
            ({"sid": "sess_a"}, None),
            ({"sub": 5}, None),
            ("user_a", None),
            (None, None),
        ],
    )
    def test_actor(self, act: Any, expected: Actor | None) -> None:
        assert claims_of(act=act).actor == expected

    @pytest.mark.parametrize(
        ("sts", "pending"), [("pending", True), ("active", False), (DELETE, False), (1, False)]
    )
    def test_pending(self, sts: Any, pending: bool) -> None:
        assert claims_of(sts=sts).is_pending is pending


class TestHas:
    @pytest.fixture
    def claims(self) -> SessionClaims:
        return claims_of(
            v=2,
            o={"id": "org_1", "rol": "admin", "per": "read,manage", "fpm": "3"},
            fea="o:reports,u:profile",
            pla="u:free,o:pro",
        )

    @pytest.mark.parametrize(
        ("kwargs", "expected"),
        [
            pytest.param({}, True, id="nothing-asked"),
            pytest.param({"role": "org:admin"}, True, id="role-prefixed"),
            pytest.param({"role": "admin"}, True, id="role-unprefixed"),
            pytest.param({"role": "member"}, False, id="role-other"),
            pytest.param({"role": ["member", "admin"]}, True, id="role-any-of"),
            pytest.param({"role": []}, False, id="role-empty-list"),
            pytest.param({"permission": "org:reports:read"}, True, id="permission"),
            pytest.param({"permission": "org:reports:delete"}, False, id="permission-missing"),
            pytest.param(
                {"permission": ("org:x:y", "org:reports:manage")}, True, id="permission-any-of"
            ),
            pytest.param({"feature": "org:reports"}, True, id="feature-scoped"),
            pytest.param({"feature": "reports"}, True, id="feature-unscoped"),
            pytest.param({"feature": "user:reports"}, False, id="feature-wrong-scope"),
            pytest.param({"feature": "profile"}, True, id="feature-user-unscoped"),
            pytest.param({"feature": ["nope", "user:profile"]}, True, id="feature-any-of"),
            pytest.param({"plan": "pro"}, True, id="plan-unscoped"),
            pytest.param({"plan": "user:pro"}, False, id="plan-wrong-scope"),
            pytest.param({"plan": "org:pro"}, True, id="plan-scoped"),
            pytest.param({"role": "admin", "permission": "org:reports:read"}, True, id="all-hold"),
            pytest.param(
                {"role": "admin", "permission": "org:reports:delete"}, False, id="all-one-fails"
            ),
            pytest.param({"role": "member", "feature": "reports"}, False, id="all-role-fails"),
            pytest.param(
                {
                    "role": "admin",
                    "permission": "org:reports:read",
                    "feature": "reports",
                    "plan": "free",
                },
                True,
                id="all-four",
            ),
        ],
    )
    def test_has(self, claims: SessionClaims, kwargs: dict[str, Any], expected: bool) -> None:
        assert claims.has(**kwargs) is expected

    def test_no_org_role(self) -> None:
        claims = claims_of()
        assert not claims.has(role="admin")
        assert not claims.has(permission="org:reports:read")
        assert claims.has()


# -- validate_claims' one-expression common case ------------------------------------------

_odd_values: st.SearchStrategy[Any] = st.sampled_from(
    [None, True, False, 0, -1, 1.5, float(NOW), "", "x", "mch_x", [], {}, 2**53, 2**53 + 1]
)


def _time_value(base: int) -> st.SearchStrategy[Any]:
    """Near the edges the rules care about: skew, lifetime, range; or a wrong type."""
    return st.one_of(
        st.integers(min_value=base - 4000, max_value=base + 4000),
        st.sampled_from([-(2**53) - 1, -(2**53), 2**53, 2**53 + 1]),
        _odd_values,
    )


#: What each claim may be changed to: near the edges the rules care about, or odd.
_CHANGES: dict[str, st.SearchStrategy[Any]] = {
    "sub": st.one_of(st.just("user_2abc"), _odd_values),
    "sid": st.one_of(st.just("sess_2abc"), _odd_values),
    "azp": st.one_of(st.just(AZP), st.just("https://evil.example"), _odd_values),
    "iss": st.one_of(st.just(ISSUER), st.just("https://other.example"), _odd_values),
    "aud": st.one_of(st.just("api"), st.just(["api", "x"]), _odd_values),
    "exp": _time_value(NOW + 55),
    "nbf": _time_value(NOW - 15),
    "iat": _time_value(NOW - 5),
}


@st.composite
def _payloads(draw: st.DrawFn) -> dict[str, Any]:
    """A valid Clerk payload with up to three claims changed or removed."""
    payload = make_claims()
    names = draw(st.lists(st.sampled_from(sorted(_CHANGES)), max_size=3, unique=True))
    for name in names:
        if draw(st.booleans()) and name in payload:
            del payload[name]
        else:
            payload[name] = draw(_CHANGES[name])
    return payload


_CONFIGS = [
    make_config(),
    make_config(authorized_parties=[]),
    make_config(authorized_parties=["https://a.example", AZP]),
    make_config(audience=["api"]),
    make_config(max_token_lifetime=60),
    make_config(clock_skew=0),
    make_config(publishable_key=None, jwks_url="https://x.example/jwks", issuer=None),
]
_configs = st.sampled_from(_CONFIGS)


def _outcome(check: Any, payload: dict[str, Any], config: ClerkConfig, now: float) -> str | None:
    try:
        check(payload, config, now)
    except TokenVerificationError as exc:
        return exc.reason
    return None


class TestValidateClaimsCommonCase:
    """The common-case expression may only say "all rules hold" when the rules, one by
    one in their order, say so too; then every answer equals theirs."""

    @settings(max_examples=600, deadline=None)
    @given(payload=_payloads(), config=_configs, drift=st.floats(min_value=-100, max_value=100))
    def test_same_answer_as_the_rules_in_order(
        self, payload: dict[str, Any], config: ClerkConfig, drift: float
    ) -> None:
        now = NOW + drift
        assert _outcome(validate_claims, payload, config, now) == _outcome(
            _claims_module._validate_in_order, payload, config, now
        )

    def test_every_single_change_answers_as_the_rules_in_order(self) -> None:
        odd: list[Any] = [None, True, False, 0, -1, 1.5, "", "x", "mch_x", [], {}, 2**53, 2**53 + 1]
        edges: list[Any] = [-(2**53) - 1, -(2**53), NOW - 3700, NOW - 61, NOW - 60, NOW - 5, NOW]
        edges += [NOW + 4, NOW + 5, NOW + 6, NOW + 3600, float(NOW), 2**53, 2**53 + 1]
        values: dict[str, list[Any]] = {
            "sub": ["user_2abc", *odd],
            "sid": ["sess_2abc", *odd],
            "azp": [AZP, "https://evil.example", *odd],
            "iss": [ISSUER, "https://other.example", *odd],
            "aud": ["api", ["api"], ["x"], *odd],
            "exp": [*edges, *odd],
            "nbf": [*edges, *odd],
            "iat": [*edges, *odd],
        }
        checked = 0
        for name, candidates in values.items():
            for value in [DELETE, *candidates]:
                payload = make_claims()
                if value is DELETE:
                    payload.pop(name, None)
                else:
                    payload[name] = value
                for config in _CONFIGS:
                    for now in (NOW, NOW + 0.5):
                        got = _outcome(validate_claims, payload, config, now)
                        want = _outcome(_claims_module._validate_in_order, payload, config, now)
                        assert got == want, (name, value, config, now)
                        checked += 1
        assert checked > 1500

    def test_a_clerk_payload_takes_the_common_case(self, monkeypatch: pytest.MonkeyPatch) -> None:
        def must_not_run(*_: Any) -> None:
            raise AssertionError("the rules in order ran for a plain valid payload")

        monkeypatch.setattr(_claims_module, "_validate_in_order", must_not_run)
        validate_claims(make_claims(), make_config(), NOW)
