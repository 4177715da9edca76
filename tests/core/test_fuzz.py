"""Properties: whatever a client sends, the core answers with a reason, never a crash.

Arbitrary header values, cookie strings, header lists and token strings (plus
structured near-valid tokens: canonical and broken base64url segments, random JSON
headers and claim sets, some of them properly signed) are thrown at ``extract_token``,
``parse_token``, ``verify_token`` and ``authenticate_request``. Only
``TokenVerificationError`` may come out (or a signed-out / preflight state), and no
message ever contains the token.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import clerk_auth_core
from clerk_auth_core import (
    REASONS,
    ClerkAuthError,
    ClerkConfig,
    ExtractedToken,
    KeySet,
    RequestState,
    Requirements,
    SessionClaims,
    TokenVerificationError,
    UnverifiedToken,
    authenticate_request,
    extract_token,
    parse_token,
    verify_token,
)

from .conftest import (
    AZP,
    CAT_M2M,
    CAT_SESSION,
    CAT_UNTAGGED,
    ISSUER,
    KID,
    NOW,
    Signer,
    b64u,
    encode_part,
    make_claims,
    make_config,
    make_header,
)

FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
#: Properties that sign a token per example (RSA signing dominates): fewer examples.
FUZZ_SIGNED = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
T = TypeVar("T")
#: Shorter strings occur in our fixed messages by chance ("a", "token" …).
MIN_SECRET_LENGTH = 12
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

# -- strategies ------------------------------------------------------------------------

any_text = st.text(st.characters(exclude_categories=()), max_size=120)
token_chars = st.text(alphabet=B64URL + ".=+/ \t", max_size=120)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=16)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=8,
)
times = st.integers(min_value=NOW - 7300, max_value=NOW + 7300) | st.sampled_from(
    [NOW - 5, NOW + 5, NOW + 6, 0, -1, 2**53, 2**53 + 1]
)
comma_lists = st.text(alphabet="ou:,abc 019\u00b2\u0661-", max_size=24)
fea_lists = st.lists(
    st.tuples(st.sampled_from(["o", "u", "uo", "ou", "x", ""]), st.sampled_from(["a", "b", ""])),
    max_size=4,
).map(lambda entries: ",".join(f"{scope}:{name}" for scope, name in entries))
fpm_lists = st.lists(
    st.sampled_from(["0", "1", "3", "7", str(2**60 + 5), "\u00b2", "\u0661", "", "-1", " 2 "]),
    max_size=4,
).map(",".join)

HEADER_KEYS = [
    "alg",
    "kid",
    "typ",
    "cat",
    "crit",
    "jku",
    "jwk",
    "x5u",
    "x5c",
    "zip",
    "b64",
    "cty",
    "x",
]
header_values = (
    st.sampled_from(
        [
            *("RS256", "HS256", "none", "JWT", "jwt", "at+jwt", "AT+JWT", "JOSE"),
            *(KID, "ins_other", CAT_SESSION, CAT_M2M, CAT_UNTAGGED, "a" * 129, "../x"),
        ]
    )
    | json_values
)
CLAIM_KEYS = [
    "sub", "sid", "exp", "nbf", "iat", "iss", "azp", "aud", "sts", "v", "o", "fea", "pla",
    "act", "fva", "org_id", "org_role", "org_permissions",
]  # fmt: skip
claim_values = (
    times
    | comma_lists
    | st.sampled_from(["user_1", "mch_1", "", "pending", "active", ISSUER, AZP, 2, "2"])
    | st.fixed_dictionaries(
        {},
        optional={
            "id": st.text(max_size=6),
            "rol": st.text(max_size=6) | st.none(),
            "per": comma_lists,
            "fpm": comma_lists | st.integers(),
            "slg": json_values,
        },
    )
    | json_values
)


@st.composite
def near_valid_header(draw: st.DrawFn) -> dict[str, Any]:
    header = make_header()
    for key in draw(st.lists(st.sampled_from(HEADER_KEYS), max_size=3)):
        if draw(st.booleans()):
            header.pop(key, None)
        else:
            header[key] = draw(header_values)
    return header


@st.composite
def near_valid_claims(draw: st.DrawFn) -> dict[str, Any]:
    claims = make_claims()
    if draw(st.booleans()):
        # A well-formed v2 organisation, so the fpm derivation sees odd masks.
        org = {"id": "org_1", "rol": "admin", "per": draw(comma_lists), "fpm": draw(fpm_lists)}
        claims.update(v=2, o=org, fea=draw(fea_lists), pla=draw(fea_lists))
    for key in draw(st.lists(st.sampled_from(CLAIM_KEYS), max_size=4)):
        if draw(st.booleans()):
            claims.pop(key, None)
        else:
            claims[key] = draw(claim_values)
    return claims


def segment(part: st.SearchStrategy[Any]) -> st.SearchStrategy[str]:
    """A segment: canonical base64url of JSON or bytes, or raw near-base64url text."""
    return (
        part.map(encode_part)
        | st.binary(max_size=48).map(b64u)
        | st.text(alphabet=B64URL, max_size=48)
        | st.text(alphabet=B64URL + "=+/", max_size=48)
    )


structured_tokens = st.builds(
    lambda h, p, s, sep: sep.join([h, p, s]),
    segment(near_valid_header() | st.dictionaries(st.sampled_from(HEADER_KEYS), header_values)),
    segment(near_valid_claims() | json_values.map(lambda v: json.dumps(v).encode())),
    st.binary(min_size=0, max_size=300).map(b64u) | st.text(alphabet=B64URL, max_size=10),
    st.sampled_from([".", ".", ".", "..", ""]),
)
machine_like = st.sampled_from(["mt_", "oat_", "ak_", "mch_"]).flatmap(
    lambda prefix: token_chars.map(lambda rest: prefix + rest)
)
tokens = any_text | token_chars | structured_tokens | machine_like


def _message_catalogue() -> list[re.Pattern[str]]:
    """Every message the core can put into an error: the reason table, plus each string
    (or f-string, its fields matching a short name) given to an ``…Error(…)`` call in a
    core module. A message from this catalogue cannot carry the token."""
    texts = {info.message for info in REASONS.values()}
    patterns = [re.escape(text) for text in texts]
    core = Path(clerk_auth_core.__file__).parent
    for path in core.glob("_*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if not name.endswith("Error"):
                continue
            for arg in node.args:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    patterns.append(re.escape(arg.value))
                elif isinstance(arg, ast.JoinedStr):
                    patterns.append(
                        "".join(
                            re.escape(str(part.value))
                            if isinstance(part, ast.Constant)
                            else "[A-Za-z_]{1,32}"
                            for part in arg.values
                        )
                    )
    return [re.compile(pattern) for pattern in patterns]


CATALOGUE = _message_catalogue()
CATALOGUE_TEXT = "\n".join(pattern.pattern for pattern in CATALOGUE)
#: Fixed texts an error's str/repr adds to its message: reason codes and class names.
FIXED_TEXT = "\n".join([*REASONS, *(cls.__name__ for cls in ClerkAuthError.__subclasses__())])


def assert_safe(error: ClerkAuthError, token: str) -> None:
    """The error is a known reason with a catalogued message, so it cannot echo the token."""
    assert error.reason in REASONS
    assert any(pattern.fullmatch(error.message) for pattern in CATALOGUE), error.message
    assert str(error) == f"{error.reason}: {error.message}"
    # And, directly: no realistic token appears (strings that happen to be part of our
    # own fixed texts, which Hypothesis likes to try, are excused).
    if (
        len(token) >= MIN_SECRET_LENGTH
        and re.escape(token) not in CATALOGUE_TEXT
        and token not in FIXED_TEXT
    ):
        assert token not in str(error)
        assert token not in repr(error)


def attempt(function: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T | None, Any]:
    """``(result, None)`` or ``(None, error)`` for a :class:`TokenVerificationError`;
    any other exception propagates and fails the property."""
    try:
        return function(*args, **kwargs), None
    except TokenVerificationError as error:
        return None, error


# -- properties ---------------------------------------------------------------------------

header_names = st.sampled_from(
    ["authorization", "Authorization", "AUTHORIZATION", "cookie", "Cookie", "x-other"]
)
cookie_names = st.sampled_from(
    ["__session", "__client_uat", "__session_abcdefgh", "__client_uat_abcdefgh", "x", ""]
)
cookie_strings = (
    st.builds(
        lambda pairs, sep: sep.join(f"{name}={value}" for name, value in pairs),
        st.lists(
            st.tuples(
                cookie_names,
                token_chars | any_text | st.sampled_from(["0", "1", str(NOW), "\u00b2", "\u0661"]),
            ),
            max_size=5,
        ),
        st.sampled_from(["; ", ";", " ; ", ","]),
    )
    | any_text
)
header_value = (
    any_text
    | cookie_strings
    | st.tuples(
        st.sampled_from(["Bearer ", "bearer   ", "BEARER\t", "", "Basic ", " Bearer"]),
        tokens,
        st.sampled_from(["", " ", " junk", "\t"]),
    ).map("".join)
)


@st.composite
def header_inputs(draw: st.DrawFn, value: st.SearchStrategy[str] = header_value) -> Any:
    pairs = draw(st.lists(st.tuples(header_names, value), max_size=4))
    form = draw(st.sampled_from(["dict", "str-pairs", "bytes-pairs", "bytes-dict"]))
    if form == "dict":
        return dict(pairs)
    if form == "str-pairs":
        return pairs
    encoded = [(name.encode(), text.encode("utf-8", "surrogatepass")) for name, text in pairs]
    return encoded if form == "bytes-pairs" else dict(encoded)


class TestExtractTokenProperties:
    @FUZZ
    @given(headers=header_inputs(), suffix=st.none() | st.just("abcdefgh"))
    def test_only_token_errors(self, headers: Any, suffix: str | None) -> None:
        found, error = attempt(extract_token, headers, cookie_suffix=suffix)
        if error is not None:
            assert error.status == 401
            assert_safe(error, "")
            return
        assert found is None or isinstance(found, ExtractedToken)
        if found is not None:
            assert found.token
            if len(found.token) >= MIN_SECRET_LENGTH:
                assert found.token not in repr(found)

    @FUZZ
    @given(cookie=cookie_strings, suffix=st.none() | st.just("abcdefgh"))
    def test_cookie_strings(self, cookie: str, suffix: str | None) -> None:
        found, error = attempt(extract_token, {"cookie": cookie}, cookie_suffix=suffix)
        if error is not None:
            assert_safe(error, cookie)
        elif found is not None:
            assert found.source == "cookie"
            assert isinstance(found.client_uat, int)
            assert found.client_uat > 0


class TestParseTokenProperties:
    @FUZZ
    @given(token=tokens, kid_required=st.booleans())
    def test_only_token_errors(self, token: str, kid_required: bool) -> None:
        parsed, error = attempt(parse_token, token, kid_required=kid_required)
        if error is not None:
            assert_safe(error, token)
            return
        assert isinstance(parsed, UnverifiedToken)
        assert parsed.alg == "RS256"
        assert isinstance(parsed.payload, dict)
        assert token not in repr(parsed)
        # Three segments joined by real dots, and the signing input is the first two.
        head, body, _sig = token.split(".")
        assert parsed.signing_input == f"{head}.{body}".encode()
        assert parsed.payload_segment == body


@pytest.fixture(scope="module")
def fuzz_configs(signer: Signer) -> list[ClerkConfig]:
    """Configurations that move the rules around: default, no azp but an audience and
    no skew, and a PEM key with a zero lifetime cap. Built once (a PEM parse per
    example would dominate the run)."""
    return [
        make_config(),
        make_config(authorized_parties=(), audience=("aud",), clock_skew=0),
        make_config(jwt_key=signer.pem, max_token_lifetime=0),
    ]


class TestVerifyTokenProperties:
    @FUZZ
    @given(token=tokens)
    def test_unsigned_inputs(self, token: str, keys: KeySet, config: ClerkConfig) -> None:
        claims, error = attempt(verify_token, token, keys, config, now=NOW)
        assert claims is None, "an unsigned token verified"
        assert_safe(error, token)

    @FUZZ_SIGNED
    @given(data=st.data())
    def test_signed_near_valid_tokens(
        self,
        data: st.DataObject,
        signer: Signer,
        keys: KeySet,
        pem_keys: KeySet,
        fuzz_configs: list[ClerkConfig],
    ) -> None:
        # Properly signed, so the claim rules and the v1/v2 decoding see every shape.
        claims = data.draw(near_valid_claims() | json_values.map(lambda v: {"x": v}))
        header = data.draw(near_valid_header())
        token = signer.mint(claims, header)
        config = data.draw(st.sampled_from(fuzz_configs))
        key_set = pem_keys if config.static_keys is not None else keys
        verified, error = attempt(verify_token, token, key_set, config, now=NOW)
        if error is not None:
            assert_safe(error, token)
            return
        assert isinstance(verified, SessionClaims)
        assert verified.user_id == claims["sub"]
        verified.has(role="admin", permission="org:a:b", feature="x", plan="y")


class TestAuthenticateRequestProperties:
    @FUZZ
    @given(
        headers=header_inputs(),
        method=st.none() | st.sampled_from(["GET", "OPTIONS", "options", "POST"]) | any_text,
        allow_pending=st.none() | st.booleans(),
    )
    def test_always_a_state(
        self,
        headers: Any,
        method: str | None,
        allow_pending: bool | None,
        keys: KeySet,
        config: ClerkConfig,
    ) -> None:
        state = authenticate_request(
            headers, config=config, keys=keys, now=NOW, method=method, allow_pending=allow_pending
        )
        self.check_state(state)

    @FUZZ_SIGNED
    @given(data=st.data())
    def test_signed_tokens_in_header_or_cookie(
        self, data: st.DataObject, signer: Signer, keys: KeySet, config: ClerkConfig
    ) -> None:
        token = signer.mint(data.draw(near_valid_claims()), data.draw(near_valid_header()))
        uat = data.draw(st.sampled_from(["0", "1", str(NOW - 5), str(NOW), "x", "²"]))
        headers = data.draw(
            st.sampled_from(
                [
                    {"authorization": f"Bearer {token}"},
                    {"authorization": token},
                    {"cookie": f"__session={token}; __client_uat={uat}"},
                    [("cookie", f"x=1; __session={token}"), ("cookie", f"__client_uat={uat}")],
                ]
            )
        )
        state = authenticate_request(headers, config=config, keys=keys, now=NOW, method="GET")
        self.check_state(state, token)

    @staticmethod
    def check_state(state: RequestState, token: str | None = None) -> None:
        assert isinstance(state, RequestState)
        assert state.status in ("signed-in", "signed-out", "preflight")
        for requirements in (None, Requirements.of(role="admin", permission="org:a:b")):
            answer = state.answer(requirements)
            if state.status == "signed-out":
                assert state.error is not None
                assert answer is not None
                assert answer.status in (401, 403, 500, 503)
                assert_safe(state.error, token or "")
                assert answer.body["message"] == state.message
                if token is not None:
                    assert token not in f"{state!r} {answer.headers} {answer.body_bytes!r}"
            elif state.status == "preflight":
                assert answer is None
            else:
                assert state.claims is not None
                assert answer is None or answer.status == 403
