"""A request's outcome and its HTTP answer (spec §1, §3.8, §5 "HTTP mapping")."""

from __future__ import annotations

import json
from typing import Any

import pytest

from clerk_auth_core import (
    REASONS,
    AuthorizationError,
    ClerkAuthError,
    ClerkConfig,
    ConfigurationError,
    HttpAnswer,
    KeyResolutionError,
    KeySet,
    Reason,
    RequestState,
    Requirements,
    TokenVerificationError,
    authenticate_request,
    http_answer,
    is_preflight,
    prepare_request,
)

from .conftest import (
    AZP,
    CAT_M2M,
    DELETE,
    NOW,
    PUBLISHABLE_KEY,
    SECRET_KEY,
    Signer,
    cookie_suffix,
    make_claims,
    make_config,
    make_header,
)

ORIGIN = AZP

TOKEN_REASONS = [
    Reason.TOKEN_INVALID,
    Reason.TOKEN_INVALID_ALGORITHM,
    Reason.TOKEN_INVALID_SIGNATURE,
    Reason.TOKEN_VERIFICATION_FAILED,
    Reason.TOKEN_EXPIRED,
    Reason.TOKEN_NOT_ACTIVE_YET,
    Reason.TOKEN_IAT_IN_THE_FUTURE,
    Reason.TOKEN_INVALID_AUTHORIZED_PARTIES,
    Reason.TOKEN_INVALID_ISSUER,
    Reason.TOKEN_TYPE_MISMATCH,
    Reason.JWK_KID_MISMATCH,
    Reason.SESSION_TOKEN_BUT_NO_CLIENT_UAT,
    Reason.SESSION_TOKEN_IAT_BEFORE_CLIENT_UAT,
    Reason.SESSION_PENDING,
]


def header_dict(answer: HttpAnswer) -> dict[str, str]:
    names = [name.lower() for name, _ in answer.headers]
    assert len(names) == len(set(names)), "a header appears twice"
    return {name.lower(): value for name, value in answer.headers}


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def session_cookie(token: str, uat: int) -> dict[str, str]:
    return {"cookie": f"__session={token}; __client_uat={uat}"}


class TestHttpAnswer:
    def test_no_token(self) -> None:
        answer = http_answer(TokenVerificationError(Reason.SESSION_TOKEN_AND_UAT_MISSING))
        assert answer.status == 401
        # RFC 6750 §3.1: no error code when the request carried no authentication.
        assert header_dict(answer)["www-authenticate"] == "Bearer"
        assert answer.body == {
            "error": "unauthorized",
            "reason": "session-token-and-uat-missing",
            "message": REASONS[Reason.SESSION_TOKEN_AND_UAT_MISSING].message,
        }

    def test_uat_without_session_is_no_token(self) -> None:
        answer = http_answer(TokenVerificationError(Reason.CLIENT_UAT_BUT_NO_SESSION_TOKEN))
        assert answer.status == 401
        assert header_dict(answer)["www-authenticate"] == "Bearer"

    @pytest.mark.parametrize("reason", TOKEN_REASONS)
    def test_bad_token(self, reason: str) -> None:
        error = TokenVerificationError(reason)
        answer = http_answer(error)
        assert answer.status == 401
        challenge = header_dict(answer)["www-authenticate"]
        assert challenge == (
            f'Bearer error="invalid_token", error_description="{REASONS[reason].message}"'
        )
        assert answer.body == {"error": "unauthorized", "reason": reason, "message": error.message}
        assert "retry-after" not in header_dict(answer)
        assert header_dict(answer)["cache-control"] == "no-store"

    def test_realm(self) -> None:
        answer = http_answer(TokenVerificationError(Reason.TOKEN_EXPIRED), realm='my "api"')
        assert header_dict(answer)["www-authenticate"].startswith(
            'Bearer realm="my api", error="invalid_token", '
        )
        no_token = http_answer(
            TokenVerificationError(Reason.SESSION_TOKEN_AND_UAT_MISSING), realm="api"
        )
        assert header_dict(no_token)["www-authenticate"] == 'Bearer realm="api"'

    def test_error_description_is_a_safe_quoted_string(self) -> None:
        error = TokenVerificationError(Reason.TOKEN_INVALID, 'bad "x"\\ y\r\nSet-Cookie: a=b é')
        challenge = header_dict(http_answer(error))["www-authenticate"]
        description = challenge.split('error_description="', 1)[1]
        assert description == 'bad x ySet-Cookie: a=b "'
        assert "\r" not in challenge
        assert "\n" not in challenge

    def test_insufficient_scope(self) -> None:
        answer = http_answer(AuthorizationError())
        assert answer.status == 403
        assert header_dict(answer)["www-authenticate"] == (
            f'Bearer error="insufficient_scope", '
            f'error_description="{REASONS[Reason.INSUFFICIENT_SCOPE].message}"'
        )
        assert answer.body["error"] == "forbidden"
        assert answer.body["reason"] == "insufficient-scope"

    @pytest.mark.parametrize(
        ("error", "retry_after"),
        [
            pytest.param(KeyResolutionError(), "5", id="default"),
            pytest.param(
                KeyResolutionError(Reason.JWK_REMOTE_FAILED_TO_LOAD, retry_after=30), "30", id="30"
            ),
            pytest.param(KeyResolutionError(Reason.JWK_REMOTE_INVALID), "5", id="remote-invalid"),
            pytest.param(KeyResolutionError(retry_after=0), "1", id="at-least-1"),
        ],
    )
    def test_keys_unavailable(self, error: KeyResolutionError, retry_after: str) -> None:
        answer = http_answer(error)
        assert answer.status == 503
        headers = header_dict(answer)
        assert headers["retry-after"] == retry_after
        assert "www-authenticate" not in headers
        assert answer.body["error"] == "service_unavailable"
        assert answer.body["reason"] == error.reason

    @pytest.mark.parametrize(
        "error",
        [
            pytest.param(KeyResolutionError(Reason.SECRET_KEY_INVALID), id="secret-key-invalid"),
            pytest.param(KeyResolutionError(Reason.JWK_FAILED_TO_RESOLVE), id="no-key-source"),
            pytest.param(ConfigurationError("CLERK_X is wrong."), id="configuration"),
        ],
    )
    def test_server_misconfiguration(self, error: ClerkAuthError) -> None:
        answer = http_answer(error)
        assert answer.status == 500
        headers = header_dict(answer)
        assert "www-authenticate" not in headers
        assert "retry-after" not in headers
        assert answer.body["error"] == "server_error"
        assert SECRET_KEY not in answer.body_bytes.decode()

    def test_body_bytes(self) -> None:
        answer = http_answer(TokenVerificationError(Reason.TOKEN_EXPIRED))
        assert json.loads(answer.body_bytes) == answer.body
        assert set(answer.body) == {"error", "reason", "message"}
        assert b" " not in answer.body_bytes.split(b'"message"')[0]


class TestIsPreflight:
    @pytest.mark.parametrize(
        ("method", "headers", "expected"),
        [
            pytest.param(
                "OPTIONS",
                {"Origin": ORIGIN, "Access-Control-Request-Method": "GET"},
                True,
                id="preflight",
            ),
            pytest.param(
                "options",
                {"origin": ORIGIN, "access-control-request-method": "POST"},
                True,
                id="lowercase",
            ),
            # Issue 12: a browser's preflight always names its origin.
            pytest.param(
                "OPTIONS", {"Access-Control-Request-Method": "GET"}, False, id="no-origin"
            ),
            pytest.param(
                "OPTIONS",
                {"Origin": " ", "Access-Control-Request-Method": "GET"},
                False,
                id="blank-origin",
            ),
            pytest.param("OPTIONS", {"Origin": ORIGIN}, False, id="origin-without-acrm"),
            pytest.param("OPTIONS", {}, False, id="options-without-acrm"),
            pytest.param(
                "GET", {"Access-Control-Request-Method": "GET"}, False, id="get-with-acrm"
            ),
            pytest.param(None, {"Access-Control-Request-Method": "GET"}, False, id="no-method"),
        ],
    )
    def test_preflight(self, method: str | None, headers: dict[str, str], expected: bool) -> None:
        assert is_preflight(method, headers) is expected


class TestAuthenticateRequest:
    @staticmethod
    def run(
        headers: Any,
        keys: KeySet,
        config: ClerkConfig | None = None,
        **kwargs: Any,
    ) -> RequestState:
        return authenticate_request(
            headers, config=config or make_config(), keys=keys, now=NOW, **kwargs
        )

    def test_signed_in_with_header(self, signer: Signer, keys: KeySet) -> None:
        token = signer.mint()
        state = self.run(bearer(token), keys)
        assert state.status == "signed-in"
        assert state.signed_in
        assert state.claims is not None
        assert state.claims.user_id == "user_2abc"
        assert state.token == token
        assert state.error is None
        assert state.reason is None
        assert state.answer() is None
        assert token not in repr(state)

    def test_signed_in_with_cookie(self, signer: Signer, keys: KeySet) -> None:
        iat = make_claims()["iat"]
        state = self.run(session_cookie(signer.mint(), iat), keys)
        assert state.signed_in

    def test_signed_in_with_suffixed_cookie(self, signer: Signer, keys: KeySet) -> None:
        suffix = cookie_suffix(PUBLISHABLE_KEY)
        iat = make_claims()["iat"]
        headers = {
            "cookie": f"__session=junk; __client_uat={iat}; "
            f"__session_{suffix}={signer.mint()}; __client_uat_{suffix}={iat}"
        }
        assert self.run(headers, keys).signed_in

    def test_signed_in_with_pem(
        self, signer: Signer, pem_keys: KeySet, pem_config: ClerkConfig
    ) -> None:
        token = signer.mint(header=make_header(kid=DELETE))
        assert self.run(bearer(token), pem_keys, pem_config).signed_in

    def test_no_token(self, keys: KeySet) -> None:
        state = self.run({"accept": "application/json"}, keys)
        assert state.status == "signed-out"
        assert state.reason == Reason.SESSION_TOKEN_AND_UAT_MISSING
        assert not state.token_presented
        answer = state.answer()
        assert answer is not None
        assert answer.status == 401
        assert header_dict(answer)["www-authenticate"] == "Bearer"

    def test_no_token_errors_are_not_shared(self, keys: KeySet) -> None:
        # A fresh error per request: a shared one would carry one request's traceback
        # (and its frames) into the next once an adapter raises it.
        first, second = self.run({}, keys), self.run({}, keys)
        assert first.error is not None
        assert first.error is not second.error

    # -- signed out, with the reason ---------------------------------------------------------

    @pytest.mark.parametrize(
        ("claims", "header", "expected"),
        [
            pytest.param(make_claims(exp=NOW - 5), None, Reason.TOKEN_EXPIRED, id="expired"),
            pytest.param(
                make_claims(nbf=NOW + 6), None, Reason.TOKEN_NOT_ACTIVE_YET, id="not-active"
            ),
            pytest.param(
                make_claims(iat=NOW + 6), None, Reason.TOKEN_IAT_IN_THE_FUTURE, id="iat-future"
            ),
            pytest.param(
                make_claims(azp="https://x"),
                None,
                Reason.TOKEN_INVALID_AUTHORIZED_PARTIES,
                id="azp",
            ),
            pytest.param(make_claims(iss="https://x"), None, Reason.TOKEN_INVALID_ISSUER, id="iss"),
            pytest.param(
                make_claims(sub="mch_1"), None, Reason.TOKEN_TYPE_MISMATCH, id="machine-sub"
            ),
            pytest.param(None, make_header(cat=CAT_M2M), Reason.TOKEN_TYPE_MISMATCH, id="m2m-cat"),
            pytest.param(
                None, make_header(alg="none"), Reason.TOKEN_INVALID_ALGORITHM, id="alg-none"
            ),
            pytest.param(
                None, make_header(kid="ins_unknown"), Reason.JWK_KID_MISMATCH, id="unknown-kid"
            ),
            pytest.param(
                make_claims(sid=DELETE), None, Reason.TOKEN_VERIFICATION_FAILED, id="no-sid"
            ),
        ],
    )
    def test_bad_token(
        self, signer: Signer, keys: KeySet, claims: Any, header: Any, expected: str
    ) -> None:
        token = signer.mint(claims, header)
        state = self.run(bearer(token), keys)
        assert state.status == "signed-out"
        assert state.reason == expected
        assert state.token is None
        assert state.claims is None
        assert state.token_presented
        answer = state.answer()
        assert answer is not None
        assert answer.status == 401
        assert 'error="invalid_token"' in header_dict(answer)["www-authenticate"]
        # Messages and answers never contain the token.
        everything = f"{state.message} {state!r} {answer.headers} {answer.body_bytes.decode()}"
        assert token not in everything
        assert token.split(".")[2] not in everything

    @pytest.mark.parametrize(
        "token",
        [
            pytest.param("mt_2abcdef", id="m2m"),
            pytest.param("oat_2abcdef", id="oauth"),
            pytest.param("ak_2abcdef", id="api-key"),
        ],
    )
    def test_opaque_machine_token(self, keys: KeySet, token: str) -> None:
        state = self.run(bearer(token), keys)
        assert state.reason == Reason.TOKEN_TYPE_MISMATCH
        assert token not in f"{state.message} {state!r}"

    def test_malformed_bearer_wins_over_good_cookie(self, signer: Signer, keys: KeySet) -> None:
        headers = {"authorization": "Bearer a b", **session_cookie(signer.mint(), NOW - 5)}
        assert self.run(headers, keys).reason == Reason.TOKEN_INVALID

    def test_bad_header_token_wins_over_good_cookie(self, signer: Signer, keys: KeySet) -> None:
        headers = {
            **bearer(signer.mint(make_claims(exp=NOW - 100))),
            **session_cookie(signer.mint(), NOW - 5),
        }
        assert self.run(headers, keys).reason == Reason.TOKEN_EXPIRED

    # -- cookies and __client_uat ------------------------------------------------------------

    @pytest.mark.parametrize(
        ("uat_offset", "expected"),
        [
            pytest.param(0, None, id="uat-equals-iat"),
            pytest.param(-1000, None, id="uat-before-iat"),
            pytest.param(1, Reason.SESSION_TOKEN_IAT_BEFORE_CLIENT_UAT, id="uat-one-after-iat"),
            pytest.param(100, Reason.SESSION_TOKEN_IAT_BEFORE_CLIENT_UAT, id="uat-after-iat"),
        ],
    )
    def test_iat_before_client_uat(
        self, signer: Signer, keys: KeySet, uat_offset: int, expected: str | None
    ) -> None:
        iat = make_claims()["iat"]
        state = self.run(session_cookie(signer.mint(), iat + uat_offset), keys)
        assert state.reason == expected
        assert state.signed_in is (expected is None)

    def test_client_uat_not_checked_for_header_tokens(self, signer: Signer, keys: KeySet) -> None:
        headers = {**bearer(signer.mint()), "cookie": f"__client_uat={NOW + 1000}"}
        assert self.run(headers, keys).signed_in

    @pytest.mark.parametrize(
        ("cookie", "expected"),
        [
            pytest.param("__session=x", Reason.SESSION_TOKEN_BUT_NO_CLIENT_UAT, id="no-uat"),
            pytest.param("__client_uat=1", Reason.CLIENT_UAT_BUT_NO_SESSION_TOKEN, id="no-session"),
            pytest.param("__client_uat=0", Reason.SESSION_TOKEN_AND_UAT_MISSING, id="uat-zero"),
            pytest.param(
                "__session=mt_x; __client_uat=1",
                Reason.CLIENT_UAT_BUT_NO_SESSION_TOKEN,
                id="machine-cookie",
            ),
            pytest.param("__session=junk; __client_uat=1", Reason.TOKEN_INVALID, id="junk-token"),
        ],
    )
    def test_cookie_outcomes(self, keys: KeySet, cookie: str, expected: str) -> None:
        assert self.run({"cookie": cookie}, keys).reason == expected

    # -- pending sessions --------------------------------------------------------------------

    @pytest.mark.parametrize(
        ("config_allows", "call_allows", "signed_in"),
        [
            pytest.param(False, None, False, id="default-refuses"),
            pytest.param(True, None, True, id="config-allows"),
            pytest.param(False, True, True, id="call-allows"),
            pytest.param(True, False, False, id="call-refuses-over-config"),
            pytest.param(True, True, True, id="both-allow"),
        ],
    )
    def test_pending(
        self,
        signer: Signer,
        keys: KeySet,
        config_allows: bool,
        call_allows: bool | None,
        signed_in: bool,
    ) -> None:
        config = make_config(allow_pending=config_allows)
        state = self.run(
            bearer(signer.mint(make_claims(sts="pending"))), keys, config, allow_pending=call_allows
        )
        assert state.signed_in is signed_in
        if not signed_in:
            assert state.reason == Reason.SESSION_PENDING
            answer = state.answer()
            assert answer is not None
            assert answer.status == 401

    def test_active_session_unaffected_by_pending_setting(
        self, signer: Signer, keys: KeySet
    ) -> None:
        token = signer.mint(make_claims(sts="active"))
        assert self.run(bearer(token), keys, allow_pending=False).signed_in

    def test_pending_check_comes_after_verification(self, signer: Signer, keys: KeySet) -> None:
        token = signer.mint(make_claims(sts="pending", exp=NOW - 100))
        assert self.run(bearer(token), keys).reason == Reason.TOKEN_EXPIRED

    # -- preflight ---------------------------------------------------------------------------

    @pytest.mark.parametrize(
        "headers",
        [
            pytest.param({"access-control-request-method": "POST"}, id="bare"),
            pytest.param(
                {"access-control-request-method": "POST", "authorization": "Bearer a b"},
                id="bad-bearer",
            ),
            pytest.param(
                {"access-control-request-method": "POST", "cookie": "__session=x"}, id="bad-cookie"
            ),
        ],
    )
    def test_preflight_passes_through(self, keys: KeySet, headers: dict[str, str]) -> None:
        state = self.run({"origin": ORIGIN, **headers}, keys, method="OPTIONS")
        assert state.status == "preflight"
        assert state.is_preflight
        assert not state.signed_in
        assert state.error is None
        assert state.answer() is None
        assert state.answer(Requirements.of(role="admin")) is None

    def test_options_without_acrm_is_not_a_preflight(self, keys: KeySet) -> None:
        state = self.run({}, keys, method="OPTIONS")
        assert state.reason == Reason.SESSION_TOKEN_AND_UAT_MISSING

    def test_options_without_origin_is_authenticated(self, keys: KeySet) -> None:
        # Issue 12: without Origin it is no browser's preflight, so it is not let through.
        state = self.run({"access-control-request-method": "GET"}, keys, method="OPTIONS")
        assert state.reason == Reason.SESSION_TOKEN_AND_UAT_MISSING
        assert state.answer() is not None

    # -- what a route guard does (verdict) --------------------------------------------------

    def test_required_guard_answers_a_preflight_without_the_view(self, keys: KeySet) -> None:
        headers = {"origin": ORIGIN, "access-control-request-method": "POST"}
        state = self.run(headers, keys, method="OPTIONS")
        verdict = state.verdict()
        assert verdict is not None
        answer, error = verdict
        assert error is None
        assert (answer.status, answer.body_bytes) == (204, b"")
        assert dict(answer.headers) == {"Cache-Control": "no-store"}
        assert state.verdict(Requirements.of(role="admin")) == verdict
        assert state.verdict(optional=True) is None  # an optional route runs signed out

    def test_verdict_is_the_refusal_and_its_answer(self, signer: Signer, keys: KeySet) -> None:
        assert self.run(bearer(signer.mint()), keys).verdict() is None
        state = self.run({}, keys)
        verdict = state.verdict()
        assert verdict is not None
        assert verdict == (http_answer(state.error), state.error)  # type: ignore[arg-type]
        assert state.verdict(optional=True) is None

    # -- requirements ------------------------------------------------------------------------

    @pytest.fixture
    def admin_token(self, signer: Signer) -> str:
        return signer.mint(
            make_claims(org_id="org_1", org_role="org:admin", org_permissions=["org:a:read"])
        )

    @pytest.mark.parametrize(
        ("requirements", "allowed"),
        [
            pytest.param(Requirements(), True, id="none"),
            pytest.param(Requirements.of(role="admin"), True, id="role"),
            pytest.param(Requirements.of(role="org:member"), False, id="role-missing"),
            pytest.param(Requirements.of(role=["member", "admin"]), True, id="role-any-of"),
            pytest.param(Requirements.of(permission="org:a:read"), True, id="permission"),
            pytest.param(Requirements.of(permission="org:a:write"), False, id="permission-missing"),
            pytest.param(
                Requirements.of(role="admin", permission="org:a:write"), False, id="all-of"
            ),
            pytest.param(Requirements.of(feature="reports"), False, id="feature-missing"),
            pytest.param(Requirements.of(plan="pro"), False, id="plan-missing"),
        ],
    )
    def test_requirements(
        self, keys: KeySet, admin_token: str, requirements: Requirements, allowed: bool
    ) -> None:
        state = self.run(bearer(admin_token), keys)
        assert state.signed_in
        answer = state.answer(requirements)
        if allowed:
            assert answer is None
        else:
            assert answer is not None
            assert answer.status == 403
            assert 'error="insufficient_scope"' in header_dict(answer)["www-authenticate"]
            assert answer.body["reason"] == Reason.INSUFFICIENT_SCOPE

    def test_signed_out_with_requirements_is_401(self, keys: KeySet) -> None:
        answer = self.run({}, keys).answer(Requirements.of(role="admin"))
        assert answer is not None
        assert answer.status == 401

    def test_requirements_check_raises(self, keys: KeySet, admin_token: str) -> None:
        claims = self.run(bearer(admin_token), keys).claims
        assert claims is not None
        Requirements.of(role="admin").check(claims)
        with pytest.raises(AuthorizationError) as info:
            Requirements.of(role="member").check(claims)
        assert info.value.reason == Reason.INSUFFICIENT_SCOPE
        assert info.value.status == 403

    def test_requirements_truthiness(self) -> None:
        assert not Requirements()
        assert not Requirements.of()
        assert Requirements.of(plan="pro")
        perms = ("org:a:read", "org:b:read")  # issue 16: names Clerk could issue
        assert Requirements.of(role="admin", permission=perms).permissions == perms


class TestPrepareRequest:
    def test_needs_keys(self, signer: Signer, keys: KeySet, config: ClerkConfig) -> None:
        pending = prepare_request(bearer(signer.mint()), config=config)
        assert pending.state is None
        assert pending.kid == make_header()["kid"]
        assert pending.complete(keys, now=NOW).signed_in

    def test_pem_needs_no_kid(
        self, signer: Signer, pem_keys: KeySet, pem_config: ClerkConfig
    ) -> None:
        pending = prepare_request(
            bearer(signer.mint(header=make_header(kid=DELETE))), config=pem_config
        )
        assert pending.state is None
        assert pending.kid is None
        assert pending.complete(pem_keys, now=NOW).signed_in

    @pytest.mark.parametrize(
        ("claims", "header", "expected"),
        [
            pytest.param(b"not json", None, Reason.TOKEN_INVALID, id="payload-not-json"),
            pytest.param(
                b'{"sub":"a","sub":"b"}', None, Reason.TOKEN_INVALID, id="payload-duplicate"
            ),
            pytest.param(None, make_header(alg="HS256"), Reason.TOKEN_INVALID_ALGORITHM, id="alg"),
            pytest.param(None, make_header(kid="../../x"), Reason.TOKEN_INVALID, id="kid-pattern"),
            pytest.param(None, make_header(kid=DELETE), Reason.TOKEN_INVALID, id="kid-missing"),
            pytest.param(None, make_header(jku="https://evil"), Reason.TOKEN_INVALID, id="jku"),
            pytest.param(None, make_header(typ="at+jwt"), Reason.TOKEN_TYPE_MISMATCH, id="at-jwt"),
        ],
    )
    def test_tokens_before_keys(
        self, signer: Signer, config: ClerkConfig, claims: Any, header: Any, expected: str
    ) -> None:
        # key-rotation.md "Tokens before keys": refused before any key is asked for.
        pending = prepare_request(bearer(signer.mint(claims, header)), config=config)
        assert pending.state is not None
        assert pending.kid is None
        assert pending.state.reason == expected

    def test_preflight_is_final(self, config: ClerkConfig) -> None:
        pending = prepare_request(
            {"origin": ORIGIN, "access-control-request-method": "GET"},
            config=config,
            method="OPTIONS",
        )
        assert pending.state is not None
        assert pending.state.is_preflight

    def test_keys_unavailable(self, signer: Signer, config: ClerkConfig) -> None:
        pending = prepare_request(bearer(signer.mint()), config=config)
        state = pending.fail(KeyResolutionError(retry_after=7))
        assert state.reason == Reason.JWK_REMOTE_FAILED_TO_LOAD
        answer = state.answer()
        assert answer is not None
        assert answer.status == 503
        assert header_dict(answer)["retry-after"] == "7"
        assert state.token_presented

    def test_fail_keeps_an_earlier_outcome(self, config: ClerkConfig) -> None:
        pending = prepare_request({}, config=config)
        state = pending.fail(KeyResolutionError())
        assert state.reason == Reason.SESSION_TOKEN_AND_UAT_MISSING
        assert pending.complete(None, now=NOW) is pending.state

    def test_no_key_source(self, signer: Signer, config: ClerkConfig) -> None:
        pending = prepare_request(bearer(signer.mint()), config=config)
        state = pending.complete(None, now=NOW)
        assert state.reason == Reason.JWK_FAILED_TO_RESOLVE
        answer = state.answer()
        assert answer is not None
        assert answer.status == 500


class TestRefusal:
    """RequestState.refusal/answer: the one place that decides whether a route runs."""

    @pytest.mark.parametrize(
        ("error", "optional", "refused"),
        [
            pytest.param(TokenVerificationError(Reason.TOKEN_EXPIRED), False, True, id="401"),
            pytest.param(
                TokenVerificationError(Reason.TOKEN_EXPIRED), True, False, id="401-optional"
            ),
            pytest.param(
                TokenVerificationError(Reason.SESSION_TOKEN_AND_UAT_MISSING),
                True,
                False,
                id="no-token-optional",
            ),
            pytest.param(KeyResolutionError(), False, True, id="503"),
            # A server-side failure is answered even on an optional route: the client's
            # token may be good, and a signed-out page would hide the outage.
            pytest.param(KeyResolutionError(), True, True, id="503-optional"),
            pytest.param(
                KeyResolutionError(Reason.SECRET_KEY_INVALID), True, True, id="500-optional"
            ),
        ],
    )
    def test_signed_out(self, error: ClerkAuthError, optional: bool, refused: bool) -> None:
        state = RequestState.signed_out(error)
        assert (state.refusal(optional=optional) is error) is refused
        answer = state.answer(optional=optional)
        assert (answer is not None) is refused
        if answer is not None:
            assert answer.status == error.status
            assert answer.body["reason"] == error.reason

    def test_preflight_is_never_refused(self) -> None:
        state = RequestState(status="preflight")
        assert state.refusal(Requirements.of(role="admin")) is None
        assert state.answer() is None

    def test_missing_role_is_an_authorization_error(
        self, signer: Signer, keys: KeySet, config: ClerkConfig
    ) -> None:
        state = authenticate_request(bearer(signer.mint()), config=config, keys=keys, now=NOW)
        assert state.signed_in
        needs_admin = Requirements.of(role="org:admin")
        for optional in (False, True):
            error = state.refusal(needs_admin, optional=optional)
            assert isinstance(error, AuthorizationError)
            assert error.reason == Reason.INSUFFICIENT_SCOPE
        assert state.refusal() is None
        answer = state.answer(needs_admin)
        assert answer is not None
        assert answer.status == 403

    def test_answers_are_json(self) -> None:
        for error in (
            TokenVerificationError(Reason.TOKEN_EXPIRED),
            AuthorizationError(),
            KeyResolutionError(),
        ):
            answer = http_answer(error)
            assert header_dict(answer)["content-type"] == "application/json"
            assert json.loads(answer.body_bytes) == answer.body
