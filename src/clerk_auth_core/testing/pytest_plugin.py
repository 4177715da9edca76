"""pytest fixtures for code protected by Clerk. Opt in from a ``conftest.py``::

    pytest_plugins = ["clerk_auth_core.testing.pytest_plugin"]

``mock_clerk`` is a fresh, started :class:`MockClerk` per test. ``shared_mock_clerk``
is one per session, :meth:`~MockClerk.reset` before each test: faster (no new RSA key,
no new server) for tests that do not rotate keys.

Only this module imports pytest; it is not a runtime dependency of clerk-auth.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ._issuer import MockClerk

__all__ = ["mock_clerk", "mock_clerk_session", "shared_mock_clerk"]


@pytest.fixture
def mock_clerk() -> Iterator[MockClerk]:
    """A started :class:`MockClerk` of its own, stopped after the test."""
    with MockClerk() as clerk:
        yield clerk


@pytest.fixture(scope="session")
def mock_clerk_session() -> Iterator[MockClerk]:
    """One started :class:`MockClerk` for the whole session (not reset: prefer
    ``shared_mock_clerk``)."""
    with MockClerk() as clerk:
        yield clerk


@pytest.fixture
def shared_mock_clerk(mock_clerk_session: MockClerk) -> MockClerk:
    """The session's :class:`MockClerk`, reset (no fault, hits cleared). Do not rotate
    its keys or stop it; use ``mock_clerk`` for that."""
    if not mock_clerk_session.running:
        mock_clerk_session.start()  # a test stopped it: same port, same URL
    mock_clerk_session.reset()
    return mock_clerk_session
