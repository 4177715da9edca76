"""pytest fixtures for code protected by Clerk. Opt in from a ``conftest.py``::

    pytest_plugins = ["clerk_auth_core.testing.pytest_plugin"]

Only this module imports pytest; it is not a runtime dependency of clerk-auth.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ._issuer import MockClerk

__all__ = ["mock_clerk"]


@pytest.fixture
def mock_clerk() -> Iterator[MockClerk]:
    """A started :class:`MockClerk`, stopped after the test."""
    with MockClerk() as clerk:
        yield clerk
