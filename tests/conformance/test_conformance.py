"""Run every scenario of the table through every driver, over real HTTP."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import httpx
import pytest

from clerk_auth_core.testing import MockClerk

from .drivers import Driver, load
from .scenarios import SCENARIOS, STATES, TOKENS, Scenario, World


@pytest.fixture(scope="module")
def driver(adapter: str) -> Driver:
    """Each registered adapter's driver in turn (the root conftest's ``adapter``)."""
    return load(adapter)


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0) as client:
        yield client


def _world(driver: Driver, http: httpx.Client, state: str) -> Iterator[World]:
    with MockClerk() as clerk:
        config = clerk.config(publishable_key=clerk.publishable_key, jwks=STATES[state].policy)
        with driver.serve(config) as url:
            world = World(clerk=clerk, url=url, http=http)
            STATES[state].setup(world)
            yield world
        assert not clerk.errors


@pytest.fixture(scope="module")
def shared_world(driver: Driver, http: httpx.Client) -> Iterator[World]:
    """One issuer and app per driver for the scenarios of the ``normal`` state."""
    yield from _world(driver, http, "normal")


@pytest.fixture
def world(request: pytest.FixtureRequest, driver: Driver, http: httpx.Client) -> Iterator[World]:
    """The scenario's world: the shared one, or a fresh one brought into its state."""
    scenario: Scenario = request.param
    if scenario.state == "normal":
        yield request.getfixturevalue("shared_world")
    else:
        yield from _world(driver, http, scenario.state)


def send(world: World, scenario: Scenario) -> httpx.Response:
    """Build the scenario's request (minting its token now) and send it."""
    token = "" if scenario.token is None else TOKENS[scenario.token](world)
    now = int(time.time())
    values = {
        "token": token,
        "valid": world.clerk.mint(),
        "suffix": world.clerk.config(
            publishable_key=world.clerk.publishable_key
        ).session_cookie_suffix,
        "uat": str(now - 30),
        "uat_late": str(now + 30),
        "origin": world.clerk.origin,
    }
    headers = [(name, value.format(**values)) for name, value in scenario.headers]
    if scenario.send == "bearer":
        headers.append(("Authorization", f"Bearer {token}"))
    elif scenario.send == "raw":
        assert scenario.authorization is not None
        headers.append(("Authorization", scenario.authorization.format(**values)))
    if scenario.cookie is not None:
        headers.append(("Cookie", scenario.cookie.format(**values)))
    return world.http.request(scenario.method, world.url + scenario.path, headers=headers)


@pytest.mark.parametrize(
    ("world", "scenario"),
    [(s, s) for s in SCENARIOS],
    ids=[s.id for s in SCENARIOS],
    indirect=["world"],
)
def test_scenario(world: World, scenario: Scenario) -> None:
    hits = world.clerk.jwks_hits
    calls = world.clerk.machine.total_calls
    response = send(world, scenario)
    expect = scenario.expect
    if expect.fetches is not None:
        assert world.clerk.jwks_hits - hits == expect.fetches
    if expect.api_calls is not None:
        assert world.clerk.machine.total_calls - calls == expect.api_calls
    assert response.status_code == expect.status, response.text
    www = response.headers.get("WWW-Authenticate")
    if expect.www_authenticate is None:
        assert www is None
    else:
        assert www is not None
        assert re.fullmatch(expect.www_authenticate, www), www
    assert ("Retry-After" in response.headers) == expect.retry_after
    if expect.retry_after:
        assert int(response.headers["Retry-After"]) >= 1
    if scenario.method == "OPTIONS":
        assert response.headers.get("Access-Control-Allow-Origin") == world.clerk.origin
        return
    assert response.headers["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    if expect.status == 200 and expect.machine is not None:
        assert body == expect.machine
    elif expect.status == 200:
        assert body == {"user_id": expect.user_id}
    elif expect.body is not None:
        assert response.content == expect.body
        assert body["clerk_error"]["reason"] == expect.reason
        assert response.headers.get("Cache-Control") == "no-store"
    else:
        assert body["reason"] == expect.reason
        if expect.required is None:
            assert set(body) == {"error", "reason", "message"}
        else:
            assert set(body) == {"error", "reason", "message", "required"}
            assert body["required"] == expect.required
        assert response.headers.get("Cache-Control") == "no-store"
