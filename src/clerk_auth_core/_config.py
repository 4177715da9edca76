"""Configuration: :class:`ClerkConfig` and the key-cache policy :class:`JwksPolicy`.

Both are frozen, keyword-only attrs classes validated at construction, so a
misconfigured app fails at start-up with a :class:`ConfigurationError` that names the
offending setting, not on its first request. No message ever echoes a secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import logging
import math
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

import attrs

from ._cache import TokenCache
from ._claims import ClaimRules
from ._errors import ConfigurationError
from ._keys import KeySet
from ._token_kinds import API_KEY, M2M_TOKEN, OAUTH_TOKEN, AcceptsToken

__all__ = [
    "ClerkConfig",
    "JwksPolicy",
    "frontend_api_from_publishable_key",
    "is_loopback_host",
]

logger = logging.getLogger("clerk_auth")

DEFAULT_API_URL = "https://api.clerk.com"


def _finite_non_negative(name: str, env: str | None = None) -> Any:
    # The message names the environment variable too, since that is what a user of
    # from_env() set (CLERK_CLOCK_SKEW=nan must point at CLERK_CLOCK_SKEW).
    label = f"{env} ({name})" if env else name

    def check(_inst: object, _attr: attrs.Attribute[Any], value: float) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigurationError(f"{label} must be a number, not {type(value).__name__}.")
        if not math.isfinite(value) or value < 0:
            raise ConfigurationError(f"{label} must be a finite number >= 0.")

    return check


def _non_negative_int(name: str, env: str | None = None) -> Any:
    label = f"{env} ({name})" if env else name

    def check(_inst: object, _attr: attrs.Attribute[Any], value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigurationError(f"{label} must be an integer >= 0.")

    return check


def _positive_int(name: str, env: str | None = None) -> Any:
    label = f"{env} ({name})" if env else name

    def check(_inst: object, _attr: attrs.Attribute[Any], value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ConfigurationError(f"{label} must be a positive integer.")

    return check


@attrs.frozen(kw_only=True)
class JwksPolicy:
    """How the JWKS key cache behaves (spec: key-rotation.md, "Numbers").

    Every number is a default you may change; all durations are in seconds.
    """

    #: How long a fetched key set counts as fresh without a ``Cache-Control`` header.
    fresh_for: float = attrs.field(default=300.0, validator=_finite_non_negative("fresh_for"))
    #: ``Cache-Control: max-age`` is honoured but clamped into this range.
    min_max_age: float = attrs.field(default=60.0, validator=_finite_non_negative("min_max_age"))
    max_max_age: float = attrs.field(default=3600.0, validator=_finite_non_negative("max_max_age"))
    #: Start a background refresh once this fraction of the freshness has passed.
    refresh_ahead: float = attrs.field(default=0.8)
    #: An unknown kid forces a refetch only if this long has passed since the last fetch.
    unknown_kid_cooldown: float = attrs.field(
        default=30.0, validator=_finite_non_negative("unknown_kid_cooldown")
    )
    #: Failure backoff: initial delay, cap, and the +/- jitter fraction.
    backoff_initial: float = attrs.field(
        default=1.0, validator=_finite_non_negative("backoff_initial")
    )
    backoff_max: float = attrs.field(default=60.0, validator=_finite_non_negative("backoff_max"))
    backoff_jitter: float = attrs.field(default=0.2)
    #: Keep serving the last good set this long while fetches fail (0 = fail closed).
    stale_if_error: float = attrs.field(
        default=86400.0, validator=_finite_non_negative("stale_if_error")
    )
    #: Response limits.
    max_body_bytes: int = attrs.field(default=65536, validator=_positive_int("max_body_bytes"))
    max_keys: int = attrs.field(default=64, validator=_positive_int("max_keys"))
    #: Network timeouts for the shells (connect, and the whole request).
    connect_timeout: float = attrs.field(
        default=2.0, validator=_finite_non_negative("connect_timeout")
    )
    timeout: float = attrs.field(default=5.0, validator=_finite_non_negative("timeout"))

    @refresh_ahead.validator
    def _check_refresh_ahead(self, _a: attrs.Attribute[float], value: float) -> None:
        if not isinstance(value, int | float) or not 0 < value <= 1:
            raise ConfigurationError("refresh_ahead must be a fraction in (0, 1].")

    @backoff_jitter.validator
    def _check_jitter(self, _a: attrs.Attribute[float], value: float) -> None:
        if not isinstance(value, int | float) or not 0 <= value < 1:
            raise ConfigurationError("backoff_jitter must be a fraction in [0, 1).")

    def __attrs_post_init__(self) -> None:
        if self.min_max_age > self.max_max_age:
            raise ConfigurationError("min_max_age must not exceed max_max_age.")
        if self.backoff_initial > self.backoff_max:
            raise ConfigurationError("backoff_initial must not exceed backoff_max.")


def frontend_api_from_publishable_key(publishable_key: str) -> str:
    """Return the Frontend API host encoded in a publishable key (spec §4).

    ``pk_test_`` / ``pk_live_`` + unpadded standard base64 of ``<host>$``; valid when
    the decoded text ends in exactly one ``$``, has no other ``$`` and contains a dot.

    :raises ConfigurationError: naming ``CLERK_PUBLISHABLE_KEY``.
    """
    bad = ConfigurationError(
        "CLERK_PUBLISHABLE_KEY is not a valid Clerk publishable key "
        "(expected pk_test_… or pk_live_… as shown in the Clerk dashboard)."
    )
    if not isinstance(publishable_key, str):
        raise bad
    for prefix in ("pk_test_", "pk_live_"):
        if publishable_key.startswith(prefix):
            encoded = publishable_key[len(prefix) :]
            break
    else:
        raise bad
    try:
        padded = encoded + "=" * (-len(encoded) % 4)
        decoded = base64.b64decode(padded, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise bad from None
    if not decoded.endswith("$") or decoded.count("$") != 1 or "." not in decoded:
        raise bad
    host = decoded[:-1]
    if not host or any(c.isspace() or c in "/?#@" for c in host):
        raise bad
    return host


def is_loopback_host(host: str | None) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ``::1``)."""
    if not host:
        return False
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_url(name: str, url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url.rstrip("/")
    if parts.scheme == "http" and is_loopback_host(parts.hostname):
        # Plain http only for loopback hosts (tests, the mock issuer).
        return url.rstrip("/")
    raise ConfigurationError(
        f"{name} must be an https:// URL (plain http is allowed only for loopback hosts)."
    )


def _to_parties(value: Iterable[str] | str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = value.split(",")
    # Spec §3.6: empty entries are dropped ("https://a.example," is one party).
    return tuple(p.strip() for p in value if isinstance(p, str) and p.strip())


#: An origin as a browser serializes it (RFC 6454 §6.2), which is what Clerk writes to
#: ``azp`` and what ``azp`` is compared to, exactly: a lower-case scheme, ``://``, a
#: lower-case host (a name, an IPv4 or a bracketed IPv6 literal) and an optional port.
#: Any scheme: native shells send ``capacitor://localhost``, extensions
#: ``chrome-extension://<id>``.
_ORIGIN = re.compile(r"[a-z][a-z0-9+.-]*://(?:[a-z0-9_.-]+|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def _origin_problem(party: str) -> str:
    """Why ``party`` can never equal a token's ``azp`` (and the origin probably meant),
    or ``""`` when it is an origin."""
    if _ORIGIN.fullmatch(party):
        scheme, _, rest = party.partition("://")
        port = rest.rpartition(":")[2] if not rest.endswith("]") and ":" in rest else None
        if port is not None and not 0 < int(port) < 65536:
            return "its port is not 1-65535"
        if port is not None and _DEFAULT_PORTS.get(scheme) == int(port):
            return f"browsers leave the default port out (did you mean {party.rpartition(':')[0]}?)"
        return ""
    if "*" in party:
        return "there are no wildcards; list every origin"
    if "://" not in party:
        meant = f" (did you mean http://{party}?)" if party and "/" not in party else ""
        return f"it has no scheme{meant}"
    parts = urlsplit(party)
    if not parts.netloc or not parts.scheme:
        return "it has no host"
    if "@" in parts.netloc:
        return "an origin has no user name or password"
    if parts.netloc.count(":") > 1 and not parts.netloc.startswith("["):
        return "an IPv6 host is written in [brackets] (http://[::1]:3000)"
    meant = f"{parts.scheme.lower()}://{parts.netloc.lower()}"
    if parts.path or parts.query or parts.fragment or party.endswith(("?", "#")):
        what = "path (not even /)" if parts.path else "query or fragment"
        return f"an origin has no {what} (did you mean {meant}?)"
    if meant != party:
        return f"browsers send origins in lower case (did you mean {meant}?)"
    return "its host is not a host name or IP address (IDN names are written xn--…)"


def _check_parties(parties: tuple[str, ...]) -> None:
    # azp is compared to each entry exactly (spec §3.6), so an entry that is not an
    # origin in a browser's serialization silently refuses every token it was meant for.
    for party in parties:
        problem = _origin_problem(party)
        if problem:
            # User info may hold a password: never echo it.
            shown = party if "@" not in party else "…@" + party.rpartition("@")[2]
            raise ConfigurationError(
                f"CLERK_AUTHORIZED_PARTIES: {shown!r} can never match a token's azp: "
                f"{problem}. Origins are scheme://host[:port], as the browser sends them "
                "(https://app.example.com, http://localhost:3000)."
            )


def _to_str_tuple(value: Iterable[str] | str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def _empty_to_none(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


@attrs.frozen(kw_only=True)
class ClerkConfig:
    """Everything clerk-auth needs to know about your Clerk instance.

    Give at least one key source: ``jwt_key`` (the PEM public key, networkless and
    fastest), ``secret_key`` (keys from the Backend API), ``jwks_url``, or a
    ``publishable_key`` (keys from the public Frontend API JWKS). Build it from the
    environment with :meth:`from_env`.

    :raises ConfigurationError: on any invalid setting, naming it.
    """

    #: ``CLERK_SECRET_KEY``: ``sk_test_…`` / ``sk_live_…``; never logged or echoed.
    secret_key: str | None = attrs.field(default=None, converter=_empty_to_none, repr=False)
    #: ``CLERK_PUBLISHABLE_KEY``: gives the Frontend API host and the issuer.
    publishable_key: str | None = attrs.field(default=None, converter=_empty_to_none)
    #: ``CLERK_JWT_KEY``: the instance's PEM public key (one-line, literal ``\n`` and
    #: bare base64 body forms accepted). When set, no key is ever fetched.
    jwt_key: str | None = attrs.field(default=None, converter=_empty_to_none, repr=False)
    #: ``CLERK_JWKS_URL``: an explicit JWKS URL (https, or http on loopback).
    jwks_url: str | None = attrs.field(default=None, converter=_empty_to_none)
    #: ``CLERK_API_URL``: the Backend API base URL.
    api_url: str = attrs.field(default=DEFAULT_API_URL)
    #: ``CLERK_API_VERSION``: the Backend API version path segment.
    api_version: str = attrs.field(default="v1")
    #: ``CLERK_ISSUER``: the expected ``iss``; derived from the publishable key if unset.
    issuer: str | None = attrs.field(default=None, converter=_empty_to_none)
    #: ``CLERK_AUTHORIZED_PARTIES``: allowed ``azp`` origins (comma-separated in env),
    #: each ``scheme://host[:port]`` in lower case as a browser sends it; anything
    #: else could never match and is refused.
    authorized_parties: tuple[str, ...] = attrs.field(default=(), converter=_to_parties)
    #: ``CLERK_AUDIENCE``: checked only when the token also has ``aud``.
    audience: tuple[str, ...] = attrs.field(default=(), converter=_to_str_tuple)
    #: ``CLERK_CLOCK_SKEW``: seconds of tolerance for ``exp``/``nbf``/``iat``.
    clock_skew: float = attrs.field(
        default=5.0, validator=_finite_non_negative("clock_skew", "CLERK_CLOCK_SKEW")
    )
    #: ``CLERK_MAX_TOKEN_LIFETIME``: refuse tokens whose ``exp - iat`` exceeds this.
    max_token_lifetime: float = attrs.field(
        default=3600.0,
        validator=_finite_non_negative("max_token_lifetime", "CLERK_MAX_TOKEN_LIFETIME"),
    )
    #: Refuse tokens longer than this many bytes before decoding anything.
    max_token_size: int = attrs.field(
        default=8192, validator=_positive_int("max_token_size", "CLERK_MAX_TOKEN_SIZE")
    )
    #: ``CLERK_ALLOW_PENDING``: treat ``sts: pending`` sessions as signed in.
    allow_pending: bool = attrs.field(default=False)
    #: Allowed signature algorithms. Only RS256 is supported (spec §3.2).
    algorithms: tuple[str, ...] = attrs.field(default=("RS256",), converter=_to_str_tuple)
    #: Key cache behaviour for remote JWKS.
    jwks: JwksPolicy = attrs.field(factory=JwksPolicy)
    #: Most verified tokens remembered, so a token sent again costs no signature check
    #: (its key and time claims are re-checked on every use); 0 disables the cache.
    token_cache_size: int = attrs.field(
        default=10_000,
        validator=_non_negative_int("token_cache_size", "CLERK_TOKEN_CACHE_SIZE"),
    )
    #: The token kinds routes accept unless they say otherwise (``CLERK_ACCEPTS_TOKEN``):
    #: ``"session_token"`` (the default, sessions only), a machine kind (``api_key``,
    #: ``m2m_token``, ``oauth_token``), a list, or ``"any"``.
    accepts_token: AcceptsToken = attrs.field(factory=AcceptsToken, converter=AcceptsToken)
    #: A machine secret key (``CLERK_MACHINE_SECRET_KEY``): verifies opaque M2M tokens
    #: instead of the secret key when set (Clerk: it wins). Never shown.
    machine_secret_key: str | None = attrs.field(default=None, converter=_empty_to_none, repr=False)
    #: Seconds a verified opaque machine token is reused without asking Clerk again
    #: (``CLERK_MACHINE_CACHE_TTL``; never past the token's own expiration; ``0``
    #: disables): the window in which a revoked API key still works.
    machine_cache_ttl: float = attrs.field(
        default=60.0, validator=_finite_non_negative("machine_cache_ttl", "CLERK_MACHINE_CACHE_TTL")
    )
    _static_keys: KeySet | None = attrs.field(default=None, init=False, repr=False, eq=False)
    # Derived once at construction: both are read on every request.
    _expected_issuer: str | None = attrs.field(default=None, init=False, repr=False, eq=False)
    _cookie_suffix: str | None = attrs.field(default=None, init=False, repr=False, eq=False)
    #: What validate_claims reads, derived once.
    _claim_rules: ClaimRules = attrs.field(factory=ClaimRules, init=False, repr=False, eq=False)
    #: What this configuration has already verified or refused (``token_cache_size``).
    #: Mutable state on a frozen value, on purpose: every request reads it, and one
    #: attribute load is the cheapest way there. A side table keyed by configuration
    #: would hash the configuration (attrs hashes by value: every field) per request,
    #: or need identity keys on a class that compares by value; the tables hold only
    #: verdicts that are pure functions of (token, this configuration), so sharing
    #: them with the value is sound (a copy or a pickle starts empty, see TokenCache).
    token_cache: TokenCache = attrs.field(
        factory=lambda: TokenCache(0), init=False, repr=False, eq=False
    )

    def __attrs_post_init__(self) -> None:
        self._validate()
        issuer = self.issuer
        if issuer is None and self.publishable_key is not None:
            issuer = f"https://{frontend_api_from_publishable_key(self.publishable_key)}"
        object.__setattr__(self, "_expected_issuer", issuer)
        suffix = None
        if self.publishable_key is not None:
            digest = hashlib.sha1(self.publishable_key.encode(), usedforsecurity=False).digest()
            suffix = base64.urlsafe_b64encode(digest).decode()[:8]
        object.__setattr__(self, "_cookie_suffix", suffix)
        rules = ClaimRules(
            skew=self.clock_skew,
            parties=self.authorized_parties,
            max_lifetime=self.max_token_lifetime,
            issuer=issuer,
            audience=self.audience,
        )
        object.__setattr__(self, "_claim_rules", rules)
        cache = TokenCache(
            self.token_cache_size,
            max_size=self.max_token_size,
            algorithms=self.algorithms,
            kid_required=self._static_keys is None,
        )
        object.__setattr__(self, "token_cache", cache)
        if not self.authorized_parties:
            logger.warning(
                "clerk-auth: no authorized parties are configured, so the token's azp "
                "(the origin that minted it) is not checked; set CLERK_AUTHORIZED_PARTIES "
                "to your front end's origin(s) to refuse tokens minted for other sites."
            )

    def _validate(self) -> None:
        if self.secret_key is not None and not (
            self.secret_key.startswith(("sk_test_", "sk_live_"))
            and len(self.secret_key) > len("sk_test_")
        ):
            raise ConfigurationError(
                "CLERK_SECRET_KEY is not a valid Clerk secret key "
                "(expected sk_test_… or sk_live_…)."
            )
        if self.publishable_key is not None:
            frontend_api_from_publishable_key(self.publishable_key)
        if self.secret_key and self.publishable_key:
            live_sk = self.secret_key.startswith("sk_live_")
            live_pk = self.publishable_key.startswith("pk_live_")
            if live_sk != live_pk:
                raise ConfigurationError(
                    "CLERK_SECRET_KEY and CLERK_PUBLISHABLE_KEY belong to different "
                    "instance types (one is live, the other test)."
                )
        object.__setattr__(self, "api_url", _check_url("CLERK_API_URL", self.api_url))
        if self.jwks_url is not None:
            object.__setattr__(self, "jwks_url", _check_url("CLERK_JWKS_URL", self.jwks_url))
        if not self.api_version or "/" in self.api_version:
            raise ConfigurationError("CLERK_API_VERSION must be a single path segment.")
        if self.issuer is not None and not self.issuer.startswith(("https://", "http://")):
            raise ConfigurationError("CLERK_ISSUER must be a URL (https://…).")
        _check_parties(self.authorized_parties)
        if not self.algorithms or set(self.algorithms) != {"RS256"}:
            raise ConfigurationError("algorithms: only RS256 is supported.")
        if not isinstance(self.allow_pending, bool):
            raise ConfigurationError("allow_pending must be a bool.")
        check_machine_credentials(self, self.accepts_token)
        if self.jwt_key is not None:
            # Parse now so a bad PEM fails at start-up (raises ConfigurationError).
            object.__setattr__(self, "_static_keys", KeySet.from_pem(self.jwt_key))
        elif self.jwks_url is None and self.secret_key is None and self.publishable_key is None:
            raise ConfigurationError(
                "No key source: set CLERK_JWT_KEY (PEM public key), CLERK_SECRET_KEY, "
                "CLERK_JWKS_URL or CLERK_PUBLISHABLE_KEY."
            )

    # -- derived values ---------------------------------------------------------------

    @property
    def frontend_api(self) -> str | None:
        """The Frontend API host from the publishable key, or ``None``."""
        if self.publishable_key is None:
            return None
        return frontend_api_from_publishable_key(self.publishable_key)

    @property
    def expected_issuer(self) -> str | None:
        """The issuer tokens must carry: configured, else derived from the publishable key."""
        return self._expected_issuer

    @property
    def static_keys(self) -> KeySet | None:
        """The networkless key set built from ``jwt_key``, or ``None``."""
        return self._static_keys

    @property
    def jwks_request_url(self) -> str | None:
        """Where keys are fetched from, or ``None`` when ``jwt_key`` makes it networkless.

        Explicit ``jwks_url`` first; then the Backend API (with the secret key); then the
        public Frontend API JWKS derived from the publishable key.
        """
        if self.jwt_key is not None:
            return None
        if self.jwks_url is not None:
            return self.jwks_url
        if self.secret_key is not None:
            return f"{self.api_url}/{self.api_version}/jwks"
        host = self.frontend_api
        return f"https://{host}/.well-known/jwks.json" if host else None

    @property
    def jwks_uses_secret_key(self) -> bool:
        """True when the JWKS request authenticates with ``Authorization: Bearer <secret>``."""
        url = self.jwks_request_url
        return (
            url is not None
            and self.secret_key is not None
            and url == f"{self.api_url}/{self.api_version}/jwks"
        )

    @property
    def session_cookie_suffix(self) -> str | None:
        """The ``__session_<suffix>`` suffix: first 8 chars of url-safe base64 of
        SHA-1(publishable key) (spec §1), or ``None`` without a publishable key."""
        return self._cookie_suffix

    @property
    def key_source_id(self) -> tuple[str | None, str | None, str | None]:
        """The cache scope (spec: one source per JWKS URL, credentials, issuer). The
        credentials appear as a digest, never in clear."""
        cred = (
            hashlib.sha256(self.secret_key.encode()).hexdigest()[:16]
            if self.jwks_uses_secret_key and self.secret_key
            else None
        )
        return (self.jwks_request_url, cred, self.expected_issuer)

    # -- construction from the environment ---------------------------------------------

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> ClerkConfig:
        """Build a configuration from ``CLERK_*`` variables (``os.environ`` by default).

        Reads ``CLERK_SECRET_KEY``, ``CLERK_PUBLISHABLE_KEY``, ``CLERK_JWT_KEY``,
        ``CLERK_JWKS_URL``, ``CLERK_API_URL``, ``CLERK_API_VERSION``, ``CLERK_ISSUER``,
        ``CLERK_AUTHORIZED_PARTIES`` (comma-separated), ``CLERK_AUDIENCE``,
        ``CLERK_CLOCK_SKEW``, ``CLERK_MAX_TOKEN_LIFETIME``, ``CLERK_MAX_TOKEN_SIZE``,
        ``CLERK_TOKEN_CACHE_SIZE``, ``CLERK_ALLOW_PENDING``, ``CLERK_ACCEPTS_TOKEN``
        (comma-separated kinds, or ``any``), ``CLERK_MACHINE_SECRET_KEY``,
        ``CLERK_MACHINE_CACHE_TTL`` (and, from a mapping such as
        Flask's ``app.config``, ``CLERK_JWKS_POLICY``: a :class:`JwksPolicy` or a dict of
        its fields). Keyword ``overrides`` win over the environment.
        """
        env = os.environ if environ is None else environ
        return cls(**{**settings_from_mapping(env), **overrides})


def check_machine_credentials(config: ClerkConfig, accepted: AcceptsToken) -> None:
    """Clerk's key preconditions (machine-tokens.md §2.2), for the machine kinds
    ``accepted`` names: API keys and OAuth tokens need ``CLERK_SECRET_KEY``, M2M tokens
    it or ``CLERK_MACHINE_SECRET_KEY``. (JWT forms are verified locally; their opaque
    twins are not, and a route cannot know which form a caller will send.)

    :raises ConfigurationError: naming the missing key.
    """
    kinds = accepted.machine_kinds
    if not kinds or config.secret_key is not None:
        return
    needs_secret = sorted(kinds & {API_KEY, OAUTH_TOKEN})
    if needs_secret:
        raise ConfigurationError(
            f"Accepting {' and '.join(needs_secret)} tokens requires CLERK_SECRET_KEY "
            "(the Backend API verifies them with it)."
        )
    if M2M_TOKEN in kinds and config.machine_secret_key is None:
        raise ConfigurationError(
            "Accepting m2m_token tokens requires CLERK_MACHINE_SECRET_KEY or CLERK_SECRET_KEY."
        )


_STR_VARS = {
    "CLERK_SECRET_KEY": "secret_key",
    "CLERK_PUBLISHABLE_KEY": "publishable_key",
    "CLERK_JWT_KEY": "jwt_key",
    "CLERK_JWKS_URL": "jwks_url",
    "CLERK_API_URL": "api_url",
    "CLERK_API_VERSION": "api_version",
    "CLERK_ISSUER": "issuer",
    "CLERK_AUTHORIZED_PARTIES": "authorized_parties",
    "CLERK_MACHINE_SECRET_KEY": "machine_secret_key",
}
_FLOAT_VARS = {
    "CLERK_CLOCK_SKEW": "clock_skew",
    "CLERK_MAX_TOKEN_LIFETIME": "max_token_lifetime",
    "CLERK_MACHINE_CACHE_TTL": "machine_cache_ttl",
}
_INT_VARS = {
    "CLERK_MAX_TOKEN_SIZE": "max_token_size",
    "CLERK_TOKEN_CACHE_SIZE": "token_cache_size",
}


def _int_setting(var: str, value: Any) -> int:
    """A whole number from a variable (decimal digits) or from ``app.config`` (an int)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdecimal():
        return int(value.strip())
    raise ConfigurationError(f"{var} must be a whole number.")


def _jwks_policy_setting(value: Any) -> JwksPolicy:
    """``CLERK_JWKS_POLICY``: a :class:`JwksPolicy`, or a mapping of its fields (set in
    ``app.config``; there is no string form)."""
    if isinstance(value, JwksPolicy):
        return value
    if isinstance(value, Mapping):
        known = {a.name for a in attrs.fields(JwksPolicy)}
        unknown = sorted(str(k) for k in value if k not in known)
        if unknown:
            raise ConfigurationError(
                f"CLERK_JWKS_POLICY has no setting {unknown[0]!r}; "
                f"the settings are {', '.join(sorted(known))}."
            )
        try:
            return JwksPolicy(**value)
        except ConfigurationError as exc:
            raise ConfigurationError(f"CLERK_JWKS_POLICY: {exc.message}") from None
    raise ConfigurationError("CLERK_JWKS_POLICY must be a JwksPolicy or a mapping of its fields.")


def settings_from_mapping(env: Mapping[str, Any]) -> dict[str, Any]:
    """Turn ``CLERK_*`` keys of a mapping (environment, ``app.config``) into
    :class:`ClerkConfig` keyword arguments. Unset and empty values are skipped."""
    out: dict[str, Any] = {}
    for var, field in _STR_VARS.items():
        value = env.get(var)
        if value is not None and value != "":
            out[field] = value
    audience = env.get("CLERK_AUDIENCE")
    if audience:
        out["audience"] = _to_parties(audience) if isinstance(audience, str) else audience
    for var, field in _FLOAT_VARS.items():
        value = env.get(var)
        if value is None or value == "":
            continue
        try:
            out[field] = float(value)
        except (TypeError, ValueError):
            raise ConfigurationError(f"{var} must be a number.") from None
    for var, field in _INT_VARS.items():
        value = env.get(var)
        if value is not None and value != "":
            out[field] = _int_setting(var, value)
    accepted = env.get("CLERK_ACCEPTS_TOKEN")
    if accepted:
        # "any", one kind, or kinds separated by commas (a list from app.config).
        out["accepts_token"] = _to_parties(accepted) if isinstance(accepted, str) else accepted
        if out["accepts_token"] == ("any",):
            out["accepts_token"] = "any"
    policy = env.get("CLERK_JWKS_POLICY")
    if policy is not None and policy != "":
        out["jwks"] = _jwks_policy_setting(policy)
    pending = env.get("CLERK_ALLOW_PENDING")
    if pending is not None and pending != "":
        if isinstance(pending, bool):
            out["allow_pending"] = pending
        elif str(pending).strip().lower() in ("1", "true", "yes", "on"):
            out["allow_pending"] = True
        elif str(pending).strip().lower() in ("0", "false", "no", "off"):
            out["allow_pending"] = False
        else:
            raise ConfigurationError("CLERK_ALLOW_PENDING must be true or false.")
    return out
