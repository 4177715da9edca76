"""Fixtures for the server tests: a fresh mock issuer per test (tests rotate its keys
and break it), checked for bugs of its own afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from clerk_auth_core.testing import MockClerk


@pytest.fixture
def clerk() -> Iterator[MockClerk]:
    """A started mock Clerk issuer of this test's own."""
    with MockClerk() as mock:
        yield mock
        assert not mock.errors, mock.errors
