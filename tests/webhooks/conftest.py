"""Fixtures for the webhook tests: a sender (the test kit's) and real loopback servers
(the conformance drivers' ``serve_wsgi`` and ``serve_asgi``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from clerk_auth_core.testing import WebhookSender

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))  # for conformance.drivers


@pytest.fixture(scope="module")
def sender() -> WebhookSender:
    """Clerk's side of the webhook endpoint, with its own whsec_ secret."""
    return WebhookSender()
