"""Fixtures for the FastAPI dependencies: the shared mock Clerk issuer, asyncio."""

from __future__ import annotations

import pytest

from clerk_auth_core.testing import MockClerk
from clerk_auth_core.testing.pytest_plugin import mock_clerk_session, shared_mock_clerk

__all__ = ["anyio_backend", "clerk", "mock_clerk_session", "shared_mock_clerk"]

pytest.importorskip("fastapi")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clerk(shared_mock_clerk: MockClerk) -> MockClerk:
    """The session's started mock Clerk issuer, reset (no fault, no hits)."""
    return shared_mock_clerk
