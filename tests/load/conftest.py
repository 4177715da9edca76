"""Fixtures for the load test: a mock issuer of its own per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from clerk_auth_core.testing import MockClerk


@pytest.fixture
def clerk() -> Iterator[MockClerk]:
    """A started mock Clerk issuer (the JWKS the servers fetch), checked afterwards."""
    with MockClerk() as mock:
        yield mock
        assert not mock.errors, mock.errors
