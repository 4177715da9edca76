"""Two instances side by side and nested, through every adapter (issue 12).

Each adapter's driver serves, with ``serve_pair(config_a, config_b)``, an app where two
authenticators meet on one request: ``/a/protected`` guarded by A, ``/b/protected`` by
B (nested under A, or beside it), and ``/both/protected``, where A has already run (optional or
annotating) before B guards. Every guard must decide with its own configuration: a
result obtained by one never serves the other. Two worlds: B another Clerk instance
(other key, issuer and origin), and B the same instance with stricter authorized
parties.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack
from typing import Protocol

import httpx
import pytest

from clerk_auth_core import ClerkConfig
from clerk_auth_core.testing import MockClerk

from .drivers import load

ORIGIN_B = "http://localhost:4000"


class PairDriver(Protocol):
    def serve_pair(
        self, config_a: ClerkConfig, config_b: ClerkConfig
    ) -> AbstractContextManager[str]: ...


class Pair:
    def __init__(self, url: str, tokens: dict[str, str], reasons: dict[str, str]) -> None:
        self.url = url
        self.tokens = tokens
        #: The reason a token of one side gets from the other side's guard.
        self.reasons = reasons


@pytest.fixture(scope="module")
def driver(framework_adapter: str) -> PairDriver:
    """Each registered framework adapter's driver (the core has no second instance
    to confuse)."""
    module: PairDriver = load(framework_adapter)  # type: ignore[assignment]
    return module


@pytest.fixture(scope="module", params=["other-instance", "stricter-parties"])
def pair(request: pytest.FixtureRequest, driver: PairDriver) -> Iterator[Pair]:
    with ExitStack() as stack:
        clerk_a = stack.enter_context(MockClerk())
        config_a = clerk_a.config()
        if request.param == "other-instance":
            clerk_b = stack.enter_context(MockClerk(origin=ORIGIN_B, frontend_api="b.mock.test"))
            config_b = clerk_b.config()
            tokens = {"a": clerk_a.mint(sub="user_a"), "b": clerk_b.mint(sub="user_b")}
            # Each side's JWKS lacks the other's kid.
            reasons = {"a": "jwk-kid-mismatch", "b": "jwk-kid-mismatch"}
        else:
            config_b = clerk_a.config(authorized_parties=(ORIGIN_B,))
            tokens = {
                "a": clerk_a.mint(sub="user_a"),
                "b": clerk_a.mint(sub="user_b", azp=ORIGIN_B),
            }
            reasons = {
                "a": "token-invalid-authorized-parties",
                "b": "token-invalid-authorized-parties",
            }
        url = stack.enter_context(driver.serve_pair(config_a, config_b))
        yield Pair(url, tokens, reasons)


#: (path, whose token, the guard that decides): "a", "b", or None for no token.
CASES = [
    ("/a/protected", "a", "a"),
    ("/a/protected", "b", "a"),
    ("/a/protected", None, "a"),
    ("/b/protected", "b", "b"),
    ("/b/protected", "a", "b"),
    ("/b/protected", None, "b"),
    ("/both/protected", "b", "b"),
    ("/both/protected", "a", "b"),
    ("/both/protected", None, "b"),
]


@pytest.mark.parametrize(("path", "whose", "guard"), CASES)
def test_each_guard_decides_with_its_own_configuration(
    pair: Pair, path: str, whose: str | None, guard: str
) -> None:
    headers = {} if whose is None else {"Authorization": f"Bearer {pair.tokens[whose]}"}
    # Twice on one connection: a result is never carried into the next request either.
    with httpx.Client(timeout=10.0) as client:
        for _ in range(2):
            response = client.get(pair.url + path, headers=headers)
            body = json.loads(response.content)
            if whose == guard:
                assert response.status_code == 200, response.text
                assert body == {"user_id": f"user_{whose}"}
            else:
                assert response.status_code == 401, response.text
                expected = "session-token-and-uat-missing" if whose is None else pair.reasons[whose]
                assert body["reason"] == expected
                assert response.headers["WWW-Authenticate"].startswith("Bearer")
