"""The mock issuer over real loopback HTTP: secret-key auth, faults, ETag and
Cache-Control, rotation, hit counting, lifecycle, the token endpoint and CORS."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from mock_helpers import decode, signature_holds

from clerk_auth_core import KeyResolutionError, KeySet
from clerk_auth_core.testing import (
    REDIRECT_TARGET_PATH,
    MockClerk,
)

TIMEOUT = httpx.Timeout(5.0)
JWKS_PATHS = ["/v1/jwks", "/.well-known/jwks.json"]


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    """One client for the module: building one loads the CA bundle (~40 ms)."""
    with httpx.Client(verify=False, timeout=TIMEOUT) as client:
        yield client


@pytest.fixture
def clerk(shared_mock_clerk: MockClerk) -> MockClerk:
    """The session's mock issuer, reset: for tests that neither rotate nor stop it."""
    return shared_mock_clerk


def get(
    http: httpx.Client, clerk: MockClerk, path: str, *, auth: bool = True, **kwargs: Any
) -> httpx.Response:
    """GET ``path``; the Backend API gets the secret key unless ``auth`` is false."""
    headers = dict(kwargs.pop("headers", {}))
    if auth and path == "/v1/jwks":
        headers.setdefault("Authorization", f"Bearer {clerk.secret_key}")
    return http.get(clerk.url + path, headers=headers, **kwargs)


class TestSecretKey:
    def test_backend_jwks_needs_the_secret_key(self, http: httpx.Client, clerk: MockClerk) -> None:
        response = get(http, clerk, "/v1/jwks", auth=False)
        assert response.status_code == 401
        assert response.json()["errors"][0]["code"] == "authentication_invalid"
        assert clerk.secret_key not in response.text

    def test_wrong_secret_key(self, http: httpx.Client, clerk: MockClerk) -> None:
        headers = {"Authorization": "Bearer sk_test_wrong"}
        assert get(http, clerk, "/v1/jwks", auth=False, headers=headers).status_code == 401

    def test_basic_scheme_is_refused(self, http: httpx.Client, clerk: MockClerk) -> None:
        headers = {"Authorization": f"Basic {clerk.secret_key}"}
        assert get(http, clerk, "/v1/jwks", auth=False, headers=headers).status_code == 401

    def test_right_secret_key(self, http: httpx.Client, clerk: MockClerk) -> None:
        response = get(http, clerk, "/v1/jwks")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert response.json() == clerk.jwks()

    def test_public_jwks_needs_nothing(self, http: httpx.Client, clerk: MockClerk) -> None:
        response = get(http, clerk, "/.well-known/jwks.json")
        assert response.status_code == 200
        assert KeySet.from_jwks(response.content).kids == {clerk.kid}

    def test_head(self, http: httpx.Client, clerk: MockClerk) -> None:
        response = http.head(clerk.jwks_url)
        assert response.status_code == 200
        assert response.content == b""

    def test_post_is_not_allowed(self, http: httpx.Client, clerk: MockClerk) -> None:
        assert http.post(clerk.jwks_url).status_code == 405

    def test_unknown_path(self, http: httpx.Client, clerk: MockClerk) -> None:
        response = get(http, clerk, "/v1/users")
        assert response.status_code == 404
        assert response.json()["errors"][0]["code"] == "resource_not_found"


@pytest.mark.parametrize("path", JWKS_PATHS)
class TestFaults:
    def test_down_closes_without_a_response(
        self, http: httpx.Client, clerk: MockClerk, path: str
    ) -> None:
        clerk.set_fault("down")
        with pytest.raises(httpx.RemoteProtocolError):
            get(http, clerk, path)

    def test_500(self, http: httpx.Client, clerk: MockClerk, path: str) -> None:
        clerk.set_fault("500")
        assert get(http, clerk, path).status_code == 500

    def test_slow_answers_after_the_delay(
        self, http: httpx.Client, clerk: MockClerk, path: str
    ) -> None:
        clerk.set_fault("slow", delay=0.2)
        started = time.monotonic()
        response = get(http, clerk, path)
        assert time.monotonic() - started >= 0.2
        assert response.json() == clerk.jwks()

    def test_slow_times_a_client_out(self, http: httpx.Client, clerk: MockClerk, path: str) -> None:
        clerk.set_fault("slow", delay=5)
        with pytest.raises(httpx.ReadTimeout):
            get(http, clerk, path, timeout=0.2)

    def test_garbage(self, http: httpx.Client, clerk: MockClerk, path: str) -> None:
        clerk.set_fault("garbage")
        response = get(http, clerk, path)
        assert response.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(response.content)

    def test_oversized(self, http: httpx.Client, clerk: MockClerk, path: str) -> None:
        clerk.set_fault("oversized")
        response = get(http, clerk, path)
        assert response.status_code == 200
        assert int(response.headers["content-length"]) == len(response.content) > 65536
        # Valid JSON holding the real keys: only a size cap stops a client.
        assert response.json()["keys"] == clerk.jwks()["keys"]

    def test_oversized_stream_has_no_length(
        self, http: httpx.Client, clerk: MockClerk, path: str
    ) -> None:
        clerk.set_fault("oversized-stream")
        response = get(http, clerk, path)
        assert "content-length" not in response.headers
        assert len(response.content) > 65536
        assert response.json()["keys"] == clerk.jwks()["keys"]

    def test_redirect(self, http: httpx.Client, clerk: MockClerk, path: str) -> None:
        clerk.set_fault("redirect")
        response = get(http, clerk, path)
        assert response.status_code == 302
        assert response.headers["location"] == clerk.url + REDIRECT_TARGET_PATH
        assert REDIRECT_TARGET_PATH not in clerk.hits
        # A client that (wrongly) follows it gets keys, and it shows in the hits.
        followed = get(http, clerk, path, follow_redirects=True)
        assert followed.json() == clerk.jwks()
        assert clerk.hits[REDIRECT_TARGET_PATH] == 1

    def test_empty(self, http: httpx.Client, clerk: MockClerk, path: str) -> None:
        clerk.set_fault("empty")
        assert get(http, clerk, path).json() == {"keys": []}

    def test_bad_keys(self, http: httpx.Client, clerk: MockClerk, path: str) -> None:
        clerk.set_fault("bad-keys")
        document = get(http, clerk, path).json()
        assert len(document["keys"]) >= 6
        for jwk in document["keys"]:
            with pytest.raises(KeyResolutionError):
                KeySet.from_jwks({"keys": [jwk]})

    def test_heal(self, http: httpx.Client, clerk: MockClerk, path: str) -> None:
        clerk.set_fault("500")
        clerk.set_fault(None)
        assert clerk.fault is None
        assert get(http, clerk, path).json() == clerk.jwks()


class TestFaultRules:
    def test_unknown_fault(self, clerk: MockClerk) -> None:
        with pytest.raises(ValueError, match="unknown fault"):
            clerk.set_fault("flaky")  # type: ignore[arg-type]

    def test_faults_leave_the_token_endpoint_alone(
        self, http: httpx.Client, clerk: MockClerk
    ) -> None:
        clerk.set_fault("down")
        assert http.get(clerk.token_url).status_code == 200

    def test_content_faults_still_need_the_secret_key(
        self, http: httpx.Client, clerk: MockClerk
    ) -> None:
        clerk.set_fault("empty")
        assert get(http, clerk, "/v1/jwks", auth=False).status_code == 401

    def test_set_jwks_serves_a_given_document(self, http: httpx.Client, clerk: MockClerk) -> None:
        clerk.set_jwks({"keys": [{"kid": "x"}]})
        assert get(http, clerk, "/.well-known/jwks.json").json() == {"keys": [{"kid": "x"}]}
        clerk.set_jwks(b"not json")
        assert get(http, clerk, "/.well-known/jwks.json").content == b"not json"
        clerk.set_jwks(None)
        assert get(http, clerk, "/.well-known/jwks.json").json() == clerk.jwks()


class TestCaching:
    def test_etag_and_304(self, http: httpx.Client, clerk: MockClerk) -> None:
        first = get(http, clerk, "/v1/jwks")
        etag = first.headers["etag"]
        assert etag.startswith('"')
        again = get(http, clerk, "/v1/jwks", headers={"If-None-Match": etag})
        assert again.status_code == 304
        assert again.content == b""
        assert again.headers["etag"] == etag
        assert "content-length" not in again.headers

    @pytest.mark.parametrize("form", ["W/{}", '"nope", {}', "*"])
    def test_if_none_match_forms(self, http: httpx.Client, clerk: MockClerk, form: str) -> None:
        etag = get(http, clerk, "/.well-known/jwks.json").headers["etag"]
        headers = {"If-None-Match": form.format(etag)}
        assert get(http, clerk, "/.well-known/jwks.json", headers=headers).status_code == 304

    def test_stale_etag_gets_the_new_set(self, http: httpx.Client, mock_clerk: MockClerk) -> None:
        etag = get(http, mock_clerk, "/v1/jwks").headers["etag"]
        mock_clerk.rotate()
        response = get(http, mock_clerk, "/v1/jwks", headers={"If-None-Match": etag})
        assert response.status_code == 200
        assert response.headers["etag"] != etag

    def test_etag_can_be_turned_off(self, http: httpx.Client, clerk: MockClerk) -> None:
        clerk.etag = False
        response = get(http, clerk, "/v1/jwks", headers={"If-None-Match": "*"})
        assert response.status_code == 200
        assert "etag" not in response.headers

    def test_cache_control(self, http: httpx.Client, clerk: MockClerk) -> None:
        assert "cache-control" not in get(http, clerk, "/v1/jwks").headers
        clerk.cache_control = "max-age=600"
        response = get(http, clerk, "/v1/jwks")
        assert response.headers["cache-control"] == "max-age=600"
        etag = response.headers["etag"]
        not_modified = get(http, clerk, "/v1/jwks", headers={"If-None-Match": etag})
        assert not_modified.headers["cache-control"] == "max-age=600"
        clerk.cache_control = None
        assert "cache-control" not in get(http, clerk, "/v1/jwks").headers


class TestRotation:
    def test_rotate_drops_the_old_key(self, http: httpx.Client, mock_clerk: MockClerk) -> None:
        old_kid, old_token = mock_clerk.kid, mock_clerk.mint()
        new_kid = mock_clerk.rotate()
        assert new_kid == mock_clerk.kid != old_kid
        served = get(http, mock_clerk, "/v1/jwks").json()
        assert [k["kid"] for k in served["keys"]] == [new_kid]
        assert decode(mock_clerk.mint())[0]["kid"] == new_kid
        assert signature_holds(mock_clerk.mint(), served)
        assert not signature_holds(old_token, served)

    def test_rotate_keep_old(self, http: httpx.Client, mock_clerk: MockClerk) -> None:
        old_kid, old_pem = mock_clerk.kid, mock_clerk.public_pem
        new_kid = mock_clerk.rotate(keep_old=True)
        served = get(http, mock_clerk, "/.well-known/jwks.json").json()
        assert [k["kid"] for k in served["keys"]] == [old_kid, new_kid]
        assert mock_clerk.public_pem != old_pem
        # The old private key is kept: a token under the old kid is signed by it.
        assert signature_holds(mock_clerk.mint(kid=old_kid), served)
        assert KeySet.from_jwks(served).kids == {old_kid, new_kid}

    def test_rotate_to_a_chosen_kid(self, mock_clerk: MockClerk) -> None:
        assert mock_clerk.rotate(kid="ins_next") == "ins_next"
        assert mock_clerk.jwks()["keys"][0]["kid"] == "ins_next"


class TestHits:
    def test_counts_by_path(self, http: httpx.Client, clerk: MockClerk) -> None:
        get(http, clerk, "/v1/jwks")
        get(http, clerk, "/v1/jwks", auth=False)
        get(http, clerk, "/.well-known/jwks.json")
        get(http, clerk, "/elsewhere")
        assert clerk.hits == {"/v1/jwks": 2, "/.well-known/jwks.json": 1, "/elsewhere": 1}
        assert clerk.jwks_hits == 3
        clerk.reset_hits()
        assert clerk.hits == {}
        assert clerk.jwks_hits == 0

    def test_dropped_requests_count(self, http: httpx.Client, clerk: MockClerk) -> None:
        clerk.set_fault("down")
        with pytest.raises(httpx.TransportError):
            get(http, clerk, "/v1/jwks")
        assert clerk.jwks_hits == 1

    def test_concurrent_requests(self, clerk: MockClerk) -> None:
        # A short delay keeps many requests in flight at once.
        clerk.set_fault("slow", delay=0.05)
        statuses: list[int] = []
        lock = threading.Lock()

        def worker(index: int) -> None:
            path = JWKS_PATHS[index % 2]
            with httpx.Client(verify=False, timeout=TIMEOUT) as client:
                for _ in range(5):
                    response = client.get(
                        clerk.url + path,
                        headers={"Authorization": f"Bearer {clerk.secret_key}"},
                    )
                    with lock:
                        statuses.append(response.status_code)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert statuses == [200] * 100
        assert clerk.hits == {"/v1/jwks": 50, "/.well-known/jwks.json": 50}
        assert clerk.jwks_hits == 100
        # 20 clients x 5 sequential requests x 50 ms: served in parallel, not in series.
        assert time.monotonic() - started < 3


class TestLifecycle:
    def test_context_manager(self, http: httpx.Client) -> None:
        with MockClerk() as clerk:
            assert clerk.running
            assert clerk.url.startswith("http://127.0.0.1:")
            assert clerk.issuer == clerk.url
            url = clerk.jwks_url
        assert not clerk.running
        with pytest.raises(httpx.ConnectError):
            http.get(url)

    def test_stop_is_prompt_with_a_slow_request_in_flight(
        self, http: httpx.Client, mock_clerk: MockClerk
    ) -> None:
        mock_clerk.set_fault("slow", delay=30)
        outcome: list[object] = []

        def fetch() -> None:
            try:
                outcome.append(get(http, mock_clerk, "/v1/jwks", timeout=10))
            except httpx.HTTPError as exc:
                outcome.append(exc)

        thread = threading.Thread(target=fetch)
        thread.start()
        deadline = time.monotonic() + 5
        while mock_clerk.jwks_hits == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        started = time.monotonic()
        mock_clerk.stop()
        assert time.monotonic() - started < 1
        thread.join(5)
        assert not thread.is_alive()
        assert len(outcome) == 1
        assert isinstance(outcome[0], httpx.TransportError)

    def test_stop_is_idempotent_and_restart_keeps_the_url(
        self, http: httpx.Client, mock_clerk: MockClerk
    ) -> None:
        url = mock_clerk.url
        mock_clerk.stop()
        mock_clerk.stop()
        mock_clerk.start()
        assert mock_clerk.url == url
        assert get(http, mock_clerk, "/v1/jwks").status_code == 200

    def test_double_start(self, mock_clerk: MockClerk) -> None:
        with pytest.raises(RuntimeError, match="already running"):
            mock_clerk.start()

    def test_silent_on_stderr(
        self, http: httpx.Client, mock_clerk: MockClerk, capfd: pytest.CaptureFixture[str]
    ) -> None:
        get(http, mock_clerk, "/v1/jwks")
        get(http, mock_clerk, "/missing")
        mock_clerk.set_fault("down")
        with pytest.raises(httpx.TransportError):
            get(http, mock_clerk, "/v1/jwks")
        mock_clerk.stop()
        out, err = capfd.readouterr()
        assert (out, err) == ("", "")
        assert mock_clerk.errors == []


class TestTokenEndpoint:
    def test_get_mints_a_token(self, http: httpx.Client, clerk: MockClerk) -> None:
        response = http.get(
            clerk.token_url, params={"sub": "user_9", "sid": "sess_9"}, timeout=TIMEOUT
        )
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "*"
        token = response.json()["jwt"]
        _, claims = decode(token)
        assert (claims["sub"], claims["sid"]) == ("user_9", "sess_9")
        assert claims["azp"] == clerk.origin
        assert claims["iss"] == clerk.issuer
        assert signature_holds(token, get(http, clerk, "/v1/jwks").json())

    def test_azp_follows_the_origin(self, http: httpx.Client, clerk: MockClerk) -> None:
        headers = {"Origin": "http://localhost:5173"}
        response = http.get(clerk.token_url, headers=headers)
        assert decode(response.json()["jwt"])[1]["azp"] == "http://localhost:5173"

    def test_org_from_query(self, http: httpx.Client, clerk: MockClerk) -> None:
        params = {"org_id": "org_1", "org_role": "admin", "org_permissions": "org:a:read"}
        response = http.get(clerk.token_url, params=params)
        claims = decode(response.json()["jwt"])[1]
        assert (claims["org_id"], claims["org_role"]) == ("org_1", "org:admin")
        assert claims["org_permissions"] == ["org:a:read"]

    def test_fva_from_query_and_json(self, http: httpx.Client, clerk: MockClerk) -> None:
        # What a page asks for to try a reverification-protected route.
        response = http.post(clerk.token_url, params={"fva": "30,-1"})
        assert decode(response.json()["jwt"])[1]["fva"] == [30, -1]
        response = http.post(clerk.token_url, json={"fva": [0, 5]})
        assert decode(response.json()["jwt"])[1]["fva"] == [0, 5]
        assert http.post(clerk.token_url, params={"fva": "soon"}).status_code == 400

    def test_post_json(self, http: httpx.Client, clerk: MockClerk) -> None:
        body = {
            "sub": "user_2",
            "version": 2,
            "lifetime": 30,
            "org": {"id": "org_1", "role": "admin", "permissions": ["org:a:read"]},
            "claims": {"email": "a@example.com"},
        }
        response = http.post(clerk.token_url, json=body)
        assert response.status_code == 200
        claims = decode(response.json()["jwt"])[1]
        assert claims["o"] == {"id": "org_1", "rol": "admin", "per": "read", "fpm": "1"}
        assert claims["exp"] - claims["iat"] == 30
        assert claims["email"] == "a@example.com"

    @pytest.mark.parametrize(
        "body",
        [
            {"bogus": 1},
            {"lifetime": "long"},
            {"version": 3},
            {"claims": [1]},
            {"iat": "yesterday"},
            {"fva": "a,b"},
            [1, 2],
            "{",
        ],
    )
    def test_bad_parameters(self, http: httpx.Client, clerk: MockClerk, body: Any) -> None:
        content = body if isinstance(body, str) else json.dumps(body)
        response = http.post(clerk.token_url, content=content)
        assert response.status_code == 400
        assert response.headers["access-control-allow-origin"] == "*"
        assert clerk.errors == []

    def test_iat_and_nbf_from_query(self, http: httpx.Client, clerk: MockClerk) -> None:
        # docs/testing.md: "an expired token: iat=time.time() - 3600", over HTTP too.
        iat = int(time.time()) - 3600
        response = http.get(clerk.token_url, params={"iat": str(iat), "nbf": str(iat - 5)})
        assert response.status_code == 200, response.text
        claims = decode(response.json()["jwt"])[1]
        assert (claims["iat"], claims["exp"], claims["nbf"]) == (iat, iat + 60, iat - 5)

    def test_every_mint_parameter_but_key(self, http: httpx.Client, clerk: MockClerk) -> None:
        body = {
            "sub": "user_3",
            "sid": "sess_3",
            "azp": "http://localhost:5173",
            "iss": "https://other.example",
            "iat": 1714564800.5,
            "lifetime": 30,
            "nbf": 1714564790,
            "version": 1,
            "sts": "pending",
            "act": {"sub": "user_admin"},
            "fva": [5, -1],
            "features": "u:beta",
            "plans": ["u:free"],
            "claims": {"email": "a@example.com"},
            "header": {"x5t": "abc"},
            "kid": "ins_unknown",
            "typ": "at+jwt",
            "cat": "cl_B7d4PD111AAA",
        }
        response = http.post(clerk.token_url, json=body)
        assert response.status_code == 200, response.text
        header, claims = decode(response.json()["jwt"])
        assert header == {
            "alg": "RS256",
            "cat": "cl_B7d4PD111AAA",
            "kid": "ins_unknown",
            "typ": "at+jwt",
            "x5t": "abc",
        }
        assert claims["iat"] == 1714564800.5
        assert claims["exp"] == 1714564830.5
        expected = {k: body[k] for k in ("sub", "sid", "azp", "iss", "nbf", "sts", "act", "fva")}
        assert {k: claims[k] for k in expected} == expected
        assert (claims["fea"], claims["pla"], claims["email"]) == (
            "u:beta",
            "u:free",
            "a@example.com",
        )

    def test_fva_from_query(self, http: httpx.Client, clerk: MockClerk) -> None:
        response = http.get(clerk.token_url, params={"fva": "0,-1"})
        assert decode(response.json()["jwt"])[1]["fva"] == [0, -1]

    def test_key_is_not_a_parameter(self, http: httpx.Client, clerk: MockClerk) -> None:
        response = http.post(clerk.token_url, json={"key": "x"})
        assert response.status_code == 400
        assert response.json() == {"error": "unknown parameters: key"}

    def test_wrong_method(self, http: httpx.Client, clerk: MockClerk) -> None:
        assert http.delete(clerk.token_url).status_code == 405

    def test_preflight(self, http: httpx.Client, clerk: MockClerk) -> None:
        headers = {
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-custom",
        }
        response = http.options(clerk.token_url, headers=headers)
        assert response.status_code == 204
        assert response.headers["access-control-allow-origin"] == "*"
        assert "POST" in response.headers["access-control-allow-methods"]
        assert response.headers["access-control-allow-headers"] == "content-type, x-custom"
        assert "content-length" not in response.headers


def test_imports_stay_apart() -> None:
    # pytest is not a runtime dependency (only the plugin imports it), and the
    # verification core never imports the mock (it does I/O).
    code = (
        "import sys, clerk_auth_core;"
        "assert 'clerk_auth_core.testing' not in sys.modules, 'core imports testing';"
        "import clerk_auth_core.testing;"
        "assert 'pytest' not in sys.modules, 'testing imports pytest'"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
