"""One mock issuer and one world of genuine tokens per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from clerk_auth_core.testing import MockClerk

from .harness import World, make_world


@pytest.fixture(scope="module")
def clerk() -> Iterator[MockClerk]:
    with MockClerk() as mock:
        yield mock
        assert not mock.errors


@pytest.fixture(scope="module")
def world(clerk: MockClerk) -> World:
    return make_world(clerk)
