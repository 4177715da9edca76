"""The corpus through every adapter over real HTTP, via the conformance drivers.

Per driver, two apps trust the same mock issuer: a *warm* one (keys fetched from the
Backend API JWKS before the first case) for tokens that pass the gate, and a *cold*
one (keys from the public JWKS path, never fetched) for the gate cases: a gate case
that reached the key provider would be that app's first fetch, and is caught.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from clerk_auth_core import ClerkConfig
from clerk_auth_core.testing import PUBLIC_JWKS_PATH, MockClerk
from conformance.drivers import Driver, load

from .conftest import params
from .corpus import CASES, Case
from .kit import Kit


@pytest.fixture(scope="module")
def driver(adapter: str) -> Driver:
    """Each registered adapter's driver (the root conftest's ``adapter``)."""
    return load(adapter)


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0) as client:
        yield client


@pytest.fixture(scope="module")
def apps(
    driver: Driver, clerk: MockClerk, kit: Kit, config: ClerkConfig, http: httpx.Client
) -> Iterator[tuple[str, str]]:
    """(warm URL, cold URL) of the driver's two apps."""
    cold_config = clerk.config(jwks_url=clerk.jwks_url, secret_key=None)
    with driver.serve(config) as warm, driver.serve(cold_config) as cold:
        response = http.get(warm + "/protected", headers=_bearer(kit.valid()))
        assert response.status_code == 200, response.text
        yield warm, cold


def _bearer(token: str) -> list[tuple[bytes, bytes]]:
    # Bytes: a token with non-ASCII characters goes on the wire as its UTF-8 bytes.
    return [(b"authorization", b"Bearer " + token.encode("utf-8", "surrogatepass"))]


@params([c for c in CASES if c.http])
def test_over_http(
    case: Case, kit: Kit, clerk: MockClerk, apps: tuple[str, str], http: httpx.Client
) -> None:
    warm, cold = apps
    token = case.build(kit)
    cold_hits, hits = clerk.hits.get(PUBLIC_JWKS_PATH, 0), clerk.jwks_hits
    response = http.get((cold if case.gate else warm) + "/protected", headers=_bearer(token))
    if case.gate:
        assert clerk.hits.get(PUBLIC_JWKS_PATH, 0) == cold_hits, "the gate let it reach a fetch"
    assert clerk.jwks_hits - hits <= (1 if case.unknown_kid else 0)
    body = json.loads(response.content)
    if case.reason is None:
        assert response.status_code == 200, response.text
        assert body == {"user_id": "user_test"}
        return
    assert response.status_code == 401, response.text
    assert body["reason"] == case.reason
    assert set(body) == {"error", "reason", "message"}
    www = response.headers["WWW-Authenticate"]
    assert www.startswith('Bearer error="invalid_token"')
    assert response.headers["Cache-Control"] == "no-store"
    if len(token) >= 16:
        assert token not in response.text
        assert all(token not in value for value in response.headers.values())
