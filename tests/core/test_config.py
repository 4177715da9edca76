"""Configuration (spec §3.5–3.7, §4): ClerkConfig, from_env, publishable keys, JwksPolicy."""

from __future__ import annotations

import base64
import logging
from typing import Any

import pytest

from clerk_auth_core import ClerkConfig, ConfigurationError, JwksPolicy
from clerk_auth_core._config import (
    frontend_api_from_publishable_key,
    is_loopback_host,
    settings_from_mapping,
)

from .conftest import (
    AZP,
    HOST,
    ISSUER,
    PUBLISHABLE_KEY,
    PUBLISHABLE_KEY_LIVE,
    SECRET_KEY,
    SECRET_KEY_LIVE,
    Signer,
    cookie_suffix,
)

WARNING_TEXT = "no authorized parties are configured"


def pk(decoded: str | bytes, prefix: str = "pk_test_") -> str:
    raw = decoded.encode() if isinstance(decoded, str) else decoded
    return prefix + base64.b64encode(raw).decode().rstrip("=")


def config_error(**settings: Any) -> ConfigurationError:
    with pytest.raises(ConfigurationError) as info:
        ClerkConfig(**settings)
    return info.value


def env_error(env: dict[str, str]) -> ConfigurationError:
    with pytest.raises(ConfigurationError) as info:
        ClerkConfig.from_env(env)
    return info.value


def assert_no_secret(*texts: str, secret: str = SECRET_KEY) -> None:
    for text in texts:
        assert secret not in text
        # Not even the distinctive part without its prefix.
        assert secret[len("sk_test_") :] not in text


class TestPublishableKey:
    @pytest.mark.parametrize(
        ("key", "host"),
        [
            pytest.param(PUBLISHABLE_KEY, HOST, id="test"),
            pytest.param(PUBLISHABLE_KEY_LIVE, HOST, id="live"),
            pytest.param(
                pk("happy-hen-42.clerk.accounts.dev$"), "happy-hen-42.clerk.accounts.dev", id="dev"
            ),
            pytest.param(pk("a.b$"), "a.b", id="short"),
        ],
    )
    def test_valid(self, key: str, host: str) -> None:
        assert frontend_api_from_publishable_key(key) == host

    @pytest.mark.parametrize(
        "key",
        [
            pytest.param("pk_prod_" + pk(f"{HOST}$")[8:], id="bad-prefix"),
            pytest.param("PK_TEST_" + pk(f"{HOST}$")[8:], id="uppercase-prefix"),
            pytest.param(pk(f"{HOST}$", prefix="sk_test_"), id="secret-prefix"),
            pytest.param(pk(f"{HOST}$", prefix=""), id="no-prefix"),
            pytest.param("pk_test_", id="empty-body"),
            pytest.param(pk(HOST), id="no-dollar"),
            pytest.param(pk(f"{HOST}$$"), id="two-dollars-at-end"),
            pytest.param(pk("clerk$.example.com$"), id="two-dollars"),
            pytest.param(pk(f"{HOST}$x"), id="dollar-not-last"),
            pytest.param(pk("localhost$"), id="no-dot"),
            pytest.param(pk("$"), id="only-dollar"),
            pytest.param("pk_test_!!!!", id="bad-base64"),
            pytest.param("pk_test_Y2xlcmsuZXhhbXBsZS5jb20k*", id="bad-base64-char"),
            pytest.param("pk_test_Y", id="base64-length-1-mod-4"),
            pytest.param(pk(b"\xff\xfe.x$"), id="not-utf8"),
            pytest.param(pk("clerk example.com$"), id="space-in-host"),
            pytest.param(pk("clerk.example.com/x$"), id="slash-in-host"),
            pytest.param(pk("user@clerk.example.com$"), id="at-in-host"),
        ],
    )
    def test_invalid(self, key: str) -> None:
        with pytest.raises(ConfigurationError) as info:
            frontend_api_from_publishable_key(key)
        assert "CLERK_PUBLISHABLE_KEY" in str(info.value)
        # And the configuration refuses it at construction.
        assert "CLERK_PUBLISHABLE_KEY" in str(config_error(publishable_key=key))


class TestClerkConfig:
    # -- derived values ------------------------------------------------------------------

    def test_derived_from_publishable_key(self) -> None:
        config = ClerkConfig(publishable_key=PUBLISHABLE_KEY, authorized_parties=AZP)
        assert config.frontend_api == HOST
        assert config.expected_issuer == ISSUER
        assert config.jwks_request_url == f"https://{HOST}/.well-known/jwks.json"
        assert not config.jwks_uses_secret_key
        assert config.session_cookie_suffix == cookie_suffix(PUBLISHABLE_KEY)
        assert config.static_keys is None

    def test_cookie_suffix_known_value(self) -> None:
        # Pinned literal (SHA-1 of "pk_test_Y2xlcmsuZXhhbXBsZS5jb20k", url-safe base64,
        # first 8 chars), so a change in how the suffix is computed cannot go unnoticed.
        assert PUBLISHABLE_KEY == "pk_test_Y2xlcmsuZXhhbXBsZS5jb20k"
        config = ClerkConfig(publishable_key=PUBLISHABLE_KEY, authorized_parties=AZP)
        assert config.session_cookie_suffix == "l2OS3d9k"

    def test_cookie_suffix_is_url_safe(self) -> None:
        # This key's digest has '+' in standard base64: the suffix must use '-'.
        key = pk("clerk0.example.com$")
        assert key == "pk_test_Y2xlcmswLmV4YW1wbGUuY29tJA"
        config = ClerkConfig(publishable_key=key, authorized_parties=AZP)
        assert config.session_cookie_suffix == cookie_suffix(key) == "k--sgf8a"

    def test_cookie_suffix_differs_per_key(self) -> None:
        live = ClerkConfig(publishable_key=PUBLISHABLE_KEY_LIVE, authorized_parties=AZP)
        assert live.session_cookie_suffix == cookie_suffix(PUBLISHABLE_KEY_LIVE)
        assert live.session_cookie_suffix != cookie_suffix(PUBLISHABLE_KEY)

    def test_no_publishable_key_no_derived_values(self, signer: Signer) -> None:
        config = ClerkConfig(jwt_key=signer.pem, authorized_parties=AZP)
        assert config.frontend_api is None
        assert config.expected_issuer is None
        assert config.session_cookie_suffix is None
        assert config.jwks_request_url is None
        assert config.static_keys is not None
        assert config.static_keys.is_static

    def test_explicit_issuer_wins(self) -> None:
        config = ClerkConfig(
            publishable_key=PUBLISHABLE_KEY,
            issuer="https://clerk.other.example",
            authorized_parties=AZP,
        )
        assert config.expected_issuer == "https://clerk.other.example"

    def test_secret_key_uses_backend_api(self) -> None:
        config = ClerkConfig(secret_key=SECRET_KEY, authorized_parties=AZP)
        assert config.jwks_request_url == "https://api.clerk.com/v1/jwks"
        assert config.jwks_uses_secret_key
        url, credential, issuer = config.key_source_id
        assert url == "https://api.clerk.com/v1/jwks"
        assert credential is not None
        assert_no_secret(credential)
        assert issuer is None

    def test_api_url_and_version(self) -> None:
        config = ClerkConfig(
            secret_key=SECRET_KEY,
            api_url="https://api.example.com/",
            api_version="v2",
            authorized_parties=AZP,
        )
        assert config.api_url == "https://api.example.com"
        assert config.jwks_request_url == "https://api.example.com/v2/jwks"

    def test_explicit_jwks_url_wins_over_secret(self) -> None:
        config = ClerkConfig(
            secret_key=SECRET_KEY, jwks_url="https://keys.example/jwks.json", authorized_parties=AZP
        )
        assert config.jwks_request_url == "https://keys.example/jwks.json"
        assert not config.jwks_uses_secret_key
        assert config.key_source_id[1] is None

    def test_pem_wins_over_everything(self, signer: Signer) -> None:
        config = ClerkConfig(
            jwt_key=signer.pem,
            secret_key=SECRET_KEY,
            jwks_url="https://keys.example/jwks.json",
            authorized_parties=AZP,
        )
        assert config.jwks_request_url is None
        assert not config.jwks_uses_secret_key

    def test_key_source_differs_per_secret(self) -> None:
        a = ClerkConfig(secret_key=SECRET_KEY, authorized_parties=AZP).key_source_id
        b = ClerkConfig(secret_key=SECRET_KEY + "x", authorized_parties=AZP).key_source_id
        assert a != b

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            pytest.param("https://a.example", ("https://a.example",), id="one"),
            pytest.param("https://a.example,", ("https://a.example",), id="trailing-comma"),
            pytest.param(
                " https://a.example , https://b.example ",
                ("https://a.example", "https://b.example"),
                id="spaces",
            ),
            pytest.param(",,", (), id="only-commas"),
            pytest.param(["https://a.example", ""], ("https://a.example",), id="list-with-empty"),
            pytest.param(None, (), id="none"),
        ],
    )
    def test_authorized_parties(
        self, value: Any, expected: tuple[str, ...], caplog: pytest.LogCaptureFixture
    ) -> None:
        config = ClerkConfig(publishable_key=PUBLISHABLE_KEY, authorized_parties=value)
        assert config.authorized_parties == expected

    # -- the azp warning ---------------------------------------------------------------

    @pytest.mark.parametrize(
        "parties", [None, "", ",", ()], ids=["none", "empty", "comma", "tuple"]
    )
    def test_warns_once_without_authorized_parties(
        self, parties: Any, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.WARNING, logger="clerk_auth"):
            ClerkConfig(publishable_key=PUBLISHABLE_KEY, authorized_parties=parties)
        records = [r for r in caplog.records if r.name == "clerk_auth"]
        assert len(records) == 1
        assert records[0].levelno == logging.WARNING
        assert WARNING_TEXT in records[0].getMessage()
        assert "CLERK_AUTHORIZED_PARTIES" in records[0].getMessage()

    def test_no_warning_with_authorized_parties(self, caplog: pytest.LogCaptureFixture) -> None:
        with caplog.at_level(logging.DEBUG, logger="clerk_auth"):
            ClerkConfig(publishable_key=PUBLISHABLE_KEY, authorized_parties=AZP)
        assert [r for r in caplog.records if r.name == "clerk_auth"] == []

    def test_warning_never_contains_the_secret(self, caplog: pytest.LogCaptureFixture) -> None:
        with caplog.at_level(logging.DEBUG):
            ClerkConfig(secret_key=SECRET_KEY)
        assert_no_secret(caplog.text)

    # -- validation --------------------------------------------------------------------

    def test_no_key_source(self) -> None:
        error = config_error(authorized_parties=AZP)
        for name in (
            "CLERK_JWT_KEY",
            "CLERK_SECRET_KEY",
            "CLERK_JWKS_URL",
            "CLERK_PUBLISHABLE_KEY",
        ):
            assert name in str(error)

    @pytest.mark.parametrize(
        "secret",
        [
            pytest.param("sk_prod_" + SECRET_KEY[8:], id="bad-prefix"),
            pytest.param("sk_test_", id="prefix-only"),
            pytest.param("pk_test_" + SECRET_KEY[8:], id="publishable-prefix"),
            pytest.param(SECRET_KEY[8:], id="no-prefix"),
        ],
    )
    def test_invalid_secret_key_never_echoed(self, secret: str) -> None:
        error = config_error(secret_key=secret, authorized_parties=AZP)
        assert "CLERK_SECRET_KEY" in str(error)
        assert_no_secret(str(error), repr(error), error.message)

    @pytest.mark.parametrize(
        ("secret", "publishable"),
        [
            pytest.param(SECRET_KEY_LIVE, PUBLISHABLE_KEY, id="live-secret-test-publishable"),
            pytest.param(SECRET_KEY, PUBLISHABLE_KEY_LIVE, id="test-secret-live-publishable"),
        ],
    )
    def test_live_and_test_mixed(self, secret: str, publishable: str) -> None:
        error = config_error(secret_key=secret, publishable_key=publishable, authorized_parties=AZP)
        assert "CLERK_SECRET_KEY" in str(error)
        assert "CLERK_PUBLISHABLE_KEY" in str(error)
        assert_no_secret(str(error), repr(error), secret=secret)

    @pytest.mark.parametrize(
        ("secret", "publishable"),
        [(SECRET_KEY_LIVE, PUBLISHABLE_KEY_LIVE), (SECRET_KEY, PUBLISHABLE_KEY)],
        ids=["live", "test"],
    )
    def test_live_and_test_matched(self, secret: str, publishable: str) -> None:
        config = ClerkConfig(secret_key=secret, publishable_key=publishable, authorized_parties=AZP)
        assert config.frontend_api == HOST

    def test_repr_never_contains_secrets(self, signer: Signer) -> None:
        config = ClerkConfig(
            secret_key=SECRET_KEY,
            publishable_key=PUBLISHABLE_KEY,
            jwt_key=signer.pem,
            authorized_parties=AZP,
        )
        text = repr(config) + str(config)
        assert_no_secret(text)
        body_line = signer.pem.splitlines()[1]
        assert body_line not in text
        assert "secret_key" not in text

    @pytest.mark.parametrize(
        ("field", "url", "variable"),
        [
            ("api_url", "http://api.clerk.com", "CLERK_API_URL"),
            ("api_url", "ftp://api.clerk.com", "CLERK_API_URL"),
            ("api_url", "https://", "CLERK_API_URL"),
            ("api_url", "api.clerk.com", "CLERK_API_URL"),
            ("jwks_url", "http://keys.example/jwks.json", "CLERK_JWKS_URL"),
            ("jwks_url", "http://10.0.0.1/jwks.json", "CLERK_JWKS_URL"),
            ("jwks_url", "http://localhost.evil.example/jwks", "CLERK_JWKS_URL"),
            ("jwks_url", "http://127.0.0.1.nip.io/jwks", "CLERK_JWKS_URL"),
            ("jwks_url", "file:///etc/jwks.json", "CLERK_JWKS_URL"),
        ],
    )
    def test_urls_https_only(self, field: str, url: str, variable: str) -> None:
        error = config_error(secret_key=SECRET_KEY, authorized_parties=AZP, **{field: url})
        assert variable in str(error)

    @pytest.mark.parametrize(
        "url",
        [
            "http://localhost:8080",
            "http://127.0.0.1:8080/jwks",
            "http://127.1.2.3/jwks",
            "http://[::1]:9000/jwks",
            "http://api.localhost/jwks",
            "https://keys.example/jwks.json",
        ],
    )
    @pytest.mark.parametrize("field", ["api_url", "jwks_url"])
    def test_urls_http_on_loopback(self, field: str, url: str) -> None:
        config = ClerkConfig(secret_key=SECRET_KEY, authorized_parties=AZP, **{field: url})
        assert getattr(config, field) == url.rstrip("/")

    @pytest.mark.parametrize(
        ("settings", "variable"),
        [
            pytest.param({"clock_skew": float("nan")}, "CLERK_CLOCK_SKEW", id="skew-nan"),
            pytest.param({"clock_skew": float("inf")}, "CLERK_CLOCK_SKEW", id="skew-inf"),
            pytest.param({"clock_skew": -1}, "CLERK_CLOCK_SKEW", id="skew-negative"),
            pytest.param({"clock_skew": "5"}, "CLERK_CLOCK_SKEW", id="skew-string"),
            pytest.param({"clock_skew": True}, "CLERK_CLOCK_SKEW", id="skew-bool"),
            pytest.param(
                {"max_token_lifetime": float("nan")}, "CLERK_MAX_TOKEN_LIFETIME", id="lifetime-nan"
            ),
            pytest.param(
                {"max_token_lifetime": float("-inf")}, "CLERK_MAX_TOKEN_LIFETIME", id="lifetime-inf"
            ),
            pytest.param(
                {"max_token_lifetime": -0.5}, "CLERK_MAX_TOKEN_LIFETIME", id="lifetime-negative"
            ),
            pytest.param({"max_token_size": 0}, "max_token_size", id="size-zero"),
            pytest.param({"max_token_size": 1.5}, "max_token_size", id="size-float"),
            pytest.param({"algorithms": ("HS256",)}, "RS256", id="algorithms-hmac"),
            pytest.param({"algorithms": ("RS256", "none")}, "RS256", id="algorithms-none"),
            pytest.param({"algorithms": ()}, "RS256", id="algorithms-empty"),
            pytest.param({"allow_pending": "yes"}, "allow_pending", id="allow-pending-str"),
            pytest.param({"api_version": ""}, "CLERK_API_VERSION", id="api-version-empty"),
            pytest.param({"api_version": "v1/x"}, "CLERK_API_VERSION", id="api-version-path"),
            pytest.param({"issuer": "clerk.example.com"}, "CLERK_ISSUER", id="issuer-not-url"),
            pytest.param({"jwt_key": "not a pem"}, "CLERK_JWT_KEY", id="bad-pem"),
        ],
    )
    def test_invalid_setting_named(self, settings: dict[str, Any], variable: str) -> None:
        error = config_error(secret_key=SECRET_KEY, authorized_parties=AZP, **settings)
        assert variable in str(error)
        assert error.status == 500
        assert_no_secret(str(error), repr(error))

    @pytest.mark.parametrize("skew", [0, 0.0, 2.5, 300])
    def test_any_finite_non_negative_skew(self, skew: float) -> None:
        assert (
            ClerkConfig(secret_key=SECRET_KEY, clock_skew=skew, authorized_parties=AZP).clock_skew
            == skew
        )

    def test_defaults(self) -> None:
        config = ClerkConfig(secret_key=SECRET_KEY, authorized_parties=AZP)
        assert config.clock_skew == 5
        assert config.max_token_lifetime == 3600
        assert config.max_token_size == 8192
        assert config.allow_pending is False
        assert config.algorithms == ("RS256",)
        assert config.audience == ()
        assert config.api_url == "https://api.clerk.com"

    def test_empty_strings_are_unset(self, signer: Signer) -> None:
        config = ClerkConfig(
            jwt_key=signer.pem, secret_key="", publishable_key="  ", jwks_url="", issuer=""
        )
        assert config.secret_key is None
        assert config.publishable_key is None
        assert config.jwks_url is None
        assert config.issuer is None


FULL_ENV = {
    "CLERK_SECRET_KEY": SECRET_KEY,
    "CLERK_PUBLISHABLE_KEY": PUBLISHABLE_KEY,
    "CLERK_JWKS_URL": "https://keys.example/jwks.json",
    "CLERK_API_URL": "https://api.example.com/",
    "CLERK_API_VERSION": "v9",
    "CLERK_ISSUER": "https://issuer.example",
    "CLERK_AUTHORIZED_PARTIES": "https://a.example,https://b.example",
    "CLERK_AUDIENCE": "aud-1, aud-2,",
    "CLERK_CLOCK_SKEW": "2.5",
    "CLERK_MAX_TOKEN_LIFETIME": "600",
    "CLERK_ALLOW_PENDING": "true",
}


class TestAuthorizedPartiesAreOrigins:
    """Entries that can never equal a token's azp (compared exactly, spec §3.6) fail at
    configuration, naming the variable, the reason and the fix."""

    @pytest.mark.parametrize(
        ("party", "why"),
        [
            pytest.param("*", "no wildcards", id="wildcard"),
            pytest.param("https://*.example.com", "no wildcards", id="wildcard-subdomain"),
            pytest.param(
                "localhost:3000", "no scheme (did you mean http://localhost:3000?)", id="no-scheme"
            ),
            pytest.param("app.example.com", "no scheme", id="bare-host"),
            pytest.param(
                "http://localhost:3000/",
                "no path (not even /) (did you mean http://localhost:3000?)",
                id="trailing-slash",
            ),
            pytest.param("https://a.example/app", "no path", id="path"),
            pytest.param("https://a.example?x=1", "no query or fragment", id="query"),
            pytest.param("https://a.example#top", "no query or fragment", id="fragment"),
            pytest.param("https://user@a.example", "no user name", id="userinfo"),
            pytest.param(
                "https://App.Example", "lower case (did you mean https://app.example?)", id="upper"
            ),
            pytest.param(
                "https://a.example:443",
                "default port out (did you mean https://a.example?)",
                id="default-port",
            ),
            pytest.param("http://a.example:99999", "port is not 1-65535", id="port-range"),
            pytest.param("http://::1:3000", "[brackets]", id="ipv6-unbracketed"),
            pytest.param("https://", "no host", id="no-host"),
        ],
    )
    def test_refused(self, party: str, why: str) -> None:
        for error in (
            config_error(publishable_key=PUBLISHABLE_KEY, authorized_parties=[AZP, party]),
            env_error({"CLERK_PUBLISHABLE_KEY": PUBLISHABLE_KEY,
                       "CLERK_AUTHORIZED_PARTIES": f"{AZP},{party}"}),
        ):  # fmt: skip
            assert error.message.startswith("CLERK_AUTHORIZED_PARTIES: ")
            assert why in error.message
            assert "Origins are scheme://host[:port]" in error.message

    def test_a_password_is_not_echoed(self) -> None:
        error = config_error(
            publishable_key=PUBLISHABLE_KEY, authorized_parties="https://me:hunter2@a.example"
        )
        assert "hunter2" not in error.message
        assert "a.example" in error.message

    @pytest.mark.parametrize(
        "party",
        [
            "https://app.example.com",
            "http://localhost:3000",
            "http://127.0.0.1:8080",
            "http://[::1]:3000",
            "http://[::1]",
            "https://a.example:8443",
            "capacitor://localhost",
            "chrome-extension://abcdefghijklmnop",
            "https://xn--bcher-kva.example",
        ],
    )
    def test_origins_are_kept_as_given(self, party: str) -> None:
        config = ClerkConfig.from_env(
            {"CLERK_PUBLISHABLE_KEY": PUBLISHABLE_KEY, "CLERK_AUTHORIZED_PARTIES": party}
        )
        assert config.authorized_parties == (party,)


class TestFromEnv:
    def test_every_variable(self, signer: Signer) -> None:
        config = ClerkConfig.from_env({**FULL_ENV, "CLERK_JWT_KEY": signer.pem})
        assert config.secret_key == SECRET_KEY
        assert config.publishable_key == PUBLISHABLE_KEY
        assert config.jwt_key == signer.pem.strip()
        assert config.static_keys is not None
        assert config.jwks_url == "https://keys.example/jwks.json"
        assert config.api_url == "https://api.example.com"
        assert config.api_version == "v9"
        assert config.issuer == "https://issuer.example"
        assert config.expected_issuer == "https://issuer.example"
        assert config.authorized_parties == ("https://a.example", "https://b.example")
        assert config.audience == ("aud-1", "aud-2")
        assert config.clock_skew == 2.5
        assert config.max_token_lifetime == 600
        assert config.allow_pending is True

    def test_without_pem(self) -> None:
        config = ClerkConfig.from_env(FULL_ENV)
        assert config.static_keys is None
        assert config.jwks_request_url == "https://keys.example/jwks.json"

    def test_reads_os_environ(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for name in (*FULL_ENV, "CLERK_JWT_KEY"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("CLERK_PUBLISHABLE_KEY", PUBLISHABLE_KEY)
        monkeypatch.setenv("CLERK_AUTHORIZED_PARTIES", AZP)
        config = ClerkConfig.from_env()
        assert config.expected_issuer == ISSUER
        assert config.authorized_parties == (AZP,)

    def test_empty_values_ignored(self) -> None:
        env = {name: "" for name in FULL_ENV} | {
            "CLERK_JWT_KEY": "",
            "CLERK_SECRET_KEY": SECRET_KEY,
        }
        config = ClerkConfig.from_env(env)
        defaults = ClerkConfig(secret_key=SECRET_KEY)
        assert config == defaults

    def test_trailing_comma_is_one_party(self) -> None:
        config = ClerkConfig.from_env(
            {"CLERK_SECRET_KEY": SECRET_KEY, "CLERK_AUTHORIZED_PARTIES": "https://a.example,"}
        )
        assert config.authorized_parties == ("https://a.example",)

    def test_overrides_win(self) -> None:
        config = ClerkConfig.from_env(
            FULL_ENV, clock_skew=0, authorized_parties=("https://c.example",)
        )
        assert config.clock_skew == 0
        assert config.authorized_parties == ("https://c.example",)

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("1", True),
            ("true", True),
            ("TRUE", True),
            (" yes ", True),
            ("on", True),
            ("0", False),
            ("false", False),
            ("No", False),
            ("off", False),
        ],
    )
    def test_allow_pending_values(self, value: str, expected: bool) -> None:
        env = {"CLERK_SECRET_KEY": SECRET_KEY, "CLERK_ALLOW_PENDING": value}
        assert ClerkConfig.from_env(env).allow_pending is expected

    @pytest.mark.parametrize(
        ("env", "variable"),
        [
            pytest.param({"CLERK_CLOCK_SKEW": "nan"}, "CLERK_CLOCK_SKEW", id="skew-nan"),
            pytest.param({"CLERK_CLOCK_SKEW": "inf"}, "CLERK_CLOCK_SKEW", id="skew-inf"),
            pytest.param({"CLERK_CLOCK_SKEW": "-1"}, "CLERK_CLOCK_SKEW", id="skew-negative"),
            pytest.param({"CLERK_CLOCK_SKEW": "five"}, "CLERK_CLOCK_SKEW", id="skew-text"),
            pytest.param({"CLERK_CLOCK_SKEW": "1e400"}, "CLERK_CLOCK_SKEW", id="skew-overflow"),
            pytest.param(
                {"CLERK_MAX_TOKEN_LIFETIME": "NaN"}, "CLERK_MAX_TOKEN_LIFETIME", id="lifetime-nan"
            ),
            pytest.param(
                {"CLERK_MAX_TOKEN_LIFETIME": "-Infinity"},
                "CLERK_MAX_TOKEN_LIFETIME",
                id="lifetime-inf",
            ),
            pytest.param(
                {"CLERK_MAX_TOKEN_LIFETIME": "-5"},
                "CLERK_MAX_TOKEN_LIFETIME",
                id="lifetime-negative",
            ),
            pytest.param({"CLERK_ALLOW_PENDING": "maybe"}, "CLERK_ALLOW_PENDING", id="pending"),
            pytest.param({"CLERK_PUBLISHABLE_KEY": "pk_test_xx"}, "CLERK_PUBLISHABLE_KEY", id="pk"),
            pytest.param(
                {"CLERK_PUBLISHABLE_KEY": PUBLISHABLE_KEY_LIVE}, "CLERK_SECRET_KEY", id="mixed"
            ),
            pytest.param(
                {"CLERK_SECRET_KEY": "sk_nope_" + SECRET_KEY}, "CLERK_SECRET_KEY", id="sk"
            ),
            pytest.param(
                {"CLERK_JWT_KEY": "-----BEGIN PUBLIC KEY-----x"}, "CLERK_JWT_KEY", id="pem"
            ),
            pytest.param(
                {"CLERK_JWKS_URL": "http://keys.example"}, "CLERK_JWKS_URL", id="jwks-url"
            ),
            pytest.param({"CLERK_API_URL": "http://api.example"}, "CLERK_API_URL", id="api-url"),
            pytest.param({"CLERK_API_VERSION": "a/b"}, "CLERK_API_VERSION", id="api-version"),
            pytest.param({"CLERK_ISSUER": "issuer"}, "CLERK_ISSUER", id="issuer"),
            pytest.param(
                {"CLERK_TOKEN_CACHE_SIZE": "many"}, "CLERK_TOKEN_CACHE_SIZE", id="cache-text"
            ),
            pytest.param(
                {"CLERK_TOKEN_CACHE_SIZE": "-1"}, "CLERK_TOKEN_CACHE_SIZE", id="cache-negative"
            ),
            pytest.param({"CLERK_MAX_TOKEN_SIZE": "0"}, "CLERK_MAX_TOKEN_SIZE", id="size-zero"),
            pytest.param({"CLERK_MAX_TOKEN_SIZE": "8k"}, "CLERK_MAX_TOKEN_SIZE", id="size-text"),
            pytest.param(
                {"CLERK_JWKS_POLICY": "stale_if_error=60"}, "CLERK_JWKS_POLICY", id="policy-str"
            ),
        ],
    )
    def test_error_names_the_variable(self, env: dict[str, str], variable: str) -> None:
        error = env_error({"CLERK_SECRET_KEY": SECRET_KEY, **env})
        assert variable in str(error)
        assert variable in repr(error)
        assert_no_secret(str(error), repr(error), secret=SECRET_KEY)
        assert_no_secret(str(error), repr(error), secret=env.get("CLERK_SECRET_KEY", SECRET_KEY))

    def test_no_key_source(self) -> None:
        assert "CLERK_JWT_KEY" in str(env_error({"CLERK_AUTHORIZED_PARTIES": AZP}))

    def test_settings_from_app_config_types(self) -> None:
        # Flask's app.config holds real types, not strings.
        settings = settings_from_mapping(
            {
                "CLERK_SECRET_KEY": SECRET_KEY,
                "CLERK_CLOCK_SKEW": 3,
                "CLERK_ALLOW_PENDING": True,
                "CLERK_AUDIENCE": ("a", "b"),
                "UNRELATED": "x",
            }
        )
        assert settings == {
            "secret_key": SECRET_KEY,
            "clock_skew": 3.0,
            "allow_pending": True,
            "audience": ("a", "b"),
        }

    def test_cache_and_size_from_variables(self) -> None:
        config = ClerkConfig.from_env(
            {
                "CLERK_SECRET_KEY": SECRET_KEY,
                "CLERK_TOKEN_CACHE_SIZE": "0",
                "CLERK_MAX_TOKEN_SIZE": " 4096 ",
            }
        )
        assert config.token_cache_size == 0
        assert config.token_cache.size == 0
        assert config.max_token_size == 4096
        assert config.token_cache.max_size == 4096

    def test_jwks_policy_from_app_config(self) -> None:
        policy = JwksPolicy(stale_if_error=60)
        assert settings_from_mapping({"CLERK_JWKS_POLICY": policy}) == {"jwks": policy}
        settings = settings_from_mapping(
            {"CLERK_JWKS_POLICY": {"unknown_kid_cooldown": 0, "timeout": 2}}
        )
        assert settings == {"jwks": JwksPolicy(unknown_kid_cooldown=0, timeout=2)}
        config = ClerkConfig(secret_key=SECRET_KEY, **settings)
        assert config.jwks.unknown_kid_cooldown == 0

    @pytest.mark.parametrize(
        ("value", "says"),
        [
            pytest.param({"stale": 1}, "no setting 'stale'", id="unknown-field"),
            pytest.param({"fresh_for": -1}, "fresh_for", id="invalid-value"),
            pytest.param({"max_keys": "64"}, "max_keys", id="wrong-type"),
            pytest.param(["fresh_for"], "a mapping", id="not-a-mapping"),
        ],
    )
    def test_jwks_policy_errors_name_the_setting(self, value: Any, says: str) -> None:
        with pytest.raises(ConfigurationError) as info:
            settings_from_mapping({"CLERK_JWKS_POLICY": value})
        assert "CLERK_JWKS_POLICY" in str(info.value)
        assert says in str(info.value)


class TestIsLoopbackHost:
    @pytest.mark.parametrize(
        ("host", "expected"),
        [
            ("localhost", True),
            ("LOCALHOST", True),
            ("api.localhost", True),
            ("127.0.0.1", True),
            ("127.255.0.9", True),
            ("::1", True),
            ("[::1]", True),
            ("localhost.example", False),
            ("10.0.0.1", False),
            ("0.0.0.0", False),
            ("example.com", False),
            ("", False),
            (None, False),
        ],
    )
    def test_hosts(self, host: str | None, expected: bool) -> None:
        assert is_loopback_host(host) is expected


class TestJwksPolicy:
    def test_defaults_match_the_spec(self) -> None:
        policy = JwksPolicy()
        assert policy.fresh_for == 300
        assert (policy.min_max_age, policy.max_max_age) == (60, 3600)
        assert policy.refresh_ahead == 0.8
        assert policy.unknown_kid_cooldown == 30
        assert (policy.backoff_initial, policy.backoff_max, policy.backoff_jitter) == (1, 60, 0.2)
        assert policy.stale_if_error == 86400
        assert (policy.max_body_bytes, policy.max_keys) == (65536, 64)
        assert (policy.connect_timeout, policy.timeout) == (2, 5)

    @pytest.mark.parametrize(
        "settings",
        [
            pytest.param({"fresh_for": -1}, id="fresh-negative"),
            pytest.param({"fresh_for": float("nan")}, id="fresh-nan"),
            pytest.param({"stale_if_error": float("inf")}, id="stale-inf"),
            pytest.param({"refresh_ahead": 0}, id="refresh-ahead-zero"),
            pytest.param({"refresh_ahead": 1.5}, id="refresh-ahead-above-one"),
            pytest.param({"backoff_jitter": 1}, id="jitter-one"),
            pytest.param({"backoff_jitter": -0.1}, id="jitter-negative"),
            pytest.param({"min_max_age": 100, "max_max_age": 50}, id="min-above-max"),
            pytest.param({"backoff_initial": 10, "backoff_max": 5}, id="backoff-initial-above-max"),
            pytest.param({"max_keys": 0}, id="max-keys-zero"),
            pytest.param({"max_body_bytes": -1}, id="max-body-negative"),
        ],
    )
    def test_invalid(self, settings: dict[str, Any]) -> None:
        with pytest.raises(ConfigurationError):
            JwksPolicy(**settings)

    def test_zero_stale_if_error_fails_closed(self) -> None:
        assert JwksPolicy(stale_if_error=0).stale_if_error == 0
