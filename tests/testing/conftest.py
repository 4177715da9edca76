"""Fixtures for the mock issuer's own tests.

The ``mock_clerk`` fixtures come from the pytest plugin users opt in to; importing it here is the
same as listing the plugin in ``pytest_plugins`` (which only a root conftest may do).
"""

from __future__ import annotations

import pytest

from clerk_auth_core.testing import MockClerk
from clerk_auth_core.testing.pytest_plugin import (
    mock_clerk,
    mock_clerk_session,
    shared_mock_clerk,
)

__all__ = ["idle_clerk", "mock_clerk", "mock_clerk_session", "shared_mock_clerk"]


@pytest.fixture(scope="module")
def idle_clerk() -> MockClerk:
    """A never-started MockClerk with a fixed issuer: for minting without a server.
    Module-scoped because making an RSA key costs ~60 ms; tests must not rotate it."""
    return MockClerk(issuer="https://clerk.mock.test")
