"""Fixtures for the Starlette adapter: a started MockClerk and uvicorn in a thread."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import uvicorn
from starlette.types import ASGIApp

from clerk_auth_core.testing import MockClerk
from clerk_auth_core.testing.pytest_plugin import mock_clerk_session, shared_mock_clerk

__all__ = ["anyio_backend", "clerk", "mock_clerk_session", "serve", "shared_mock_clerk"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clerk(shared_mock_clerk: MockClerk) -> MockClerk:
    """The session's started mock Clerk issuer, reset (no fault, no hits). Each test
    builds its own app, so each starts with a cold key cache."""
    return shared_mock_clerk


@contextlib.contextmanager
def _serve(app: ASGIApp) -> Iterator[str]:
    """Run ``app`` under a real uvicorn on 127.0.0.1 (random port) in a thread, with its
    lifespan; yields the base URL and shuts the server down (and the lifespan) after."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        assert not thread.is_alive(), "uvicorn did not stop"


@pytest.fixture
def serve() -> Callable[[ASGIApp], contextlib.AbstractContextManager[str]]:
    """``with serve(app) as url:`` runs ``app`` under uvicorn for the block."""
    return _serve
