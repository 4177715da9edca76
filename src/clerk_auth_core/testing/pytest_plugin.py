"""pytest fixtures for code protected by Clerk. Opt in from a ``conftest.py``::

    pytest_plugins = ["clerk_auth_core.testing.pytest_plugin"]

``mock_clerk`` is a fresh, started :class:`MockClerk` per test. ``shared_mock_clerk``
is one per session, :meth:`~MockClerk.reset` before each test: faster (no new RSA key,
no new server) for tests that do not rotate keys. Both reset the default FastAPI
dependencies (``clerk_auth_starlette.fastapi.clerk_auth.reset()``) so that they read
the ``CLERK_*`` variables a test sets again.

Only this module imports pytest; it is not a runtime dependency of clerk-auth.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from ._issuer import MockClerk

__all__ = ["mock_clerk", "mock_clerk_session", "shared_mock_clerk"]


def _reset_default_dependencies() -> None:
    # The default FastAPI dependencies (clerk_auth_starlette.fastapi.require_auth …) read
    # CLERK_* once, on first use: a test pointing CLERK_* at its own mock would get the
    # previous test's keys (401 jwk-kid-mismatch). Reset them, if that module is in use
    # (never imported from here: FastAPI is optional).
    fastapi_face = sys.modules.get("clerk_auth_starlette.fastapi")
    if fastapi_face is not None:
        fastapi_face.clerk_auth.reset()


@pytest.fixture
def mock_clerk() -> Iterator[MockClerk]:
    """A started :class:`MockClerk` of its own, stopped after the test. The default
    FastAPI dependencies are reset before and after (they read ``CLERK_*`` again)."""
    _reset_default_dependencies()
    with MockClerk() as clerk:
        yield clerk
    _reset_default_dependencies()


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
    _reset_default_dependencies()
    if not mock_clerk_session.running:
        mock_clerk_session.start()  # a test stopped it: same port, same URL
    mock_clerk_session.reset()
    return mock_clerk_session
