"""The fuzz world (a mock issuer and a pool of genuine tokens), Hypothesis settings,
and the guards every property applies: a watchdog against hangs and a leak check."""

from __future__ import annotations

import ast
import base64
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings

import clerk_auth_core
from clerk_auth_core import REASONS, ClerkConfig, KeySet
from clerk_auth_core.testing import MockClerk

__all__ = [
    "FUZZ",
    "Genuine",
    "World",
    "assert_no_leak",
    "decode_segment",
    "make_world",
    "watchdog",
]

#: Examples per property: 200 in the suite; ``CLERK_AUTH_FUZZ_EXAMPLES`` for longer runs.
EXAMPLES = int(os.environ.get("CLERK_AUTH_FUZZ_EXAMPLES", "200"))

#: No per-example deadline (the watchdog catches hangs).
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,  # caplog is cleared per example
        HealthCheck.filter_too_much,
    ],
)

#: A request that takes longer than this in process is a hang.
HANG_SECONDS = 10.0


@dataclass(frozen=True)
class Genuine:
    """A genuine token of the pool and what it should get."""

    token: str
    sub: str
    pending: bool = False
    admin: bool = False


@dataclass
class World:
    clerk: MockClerk
    config: ClerkConfig
    keys: KeySet
    genuine: dict[str, Genuine]
    _base: dict[str, Any]

    @property
    def kid(self) -> str:
        return self.clerk.kid

    @property
    def tokens(self) -> list[str]:
        return list(self.genuine)

    def base_claims(self) -> dict[str, Any]:
        """A valid claim set (issued when the world was made, valid for ten minutes),
        for re-signed variants."""
        return dict(self._base)


ADMIN_ORG = {"id": "org_1", "slug": "acme", "role": "org:admin", "permissions": []}


def make_world(clerk: MockClerk) -> World:
    """Genuine tokens (plain, v2 admin, pending), valid for ten minutes."""
    pool = [
        Genuine(clerk.mint(sub=f"user_fuzz_{i}", lifetime=600), f"user_fuzz_{i}") for i in range(3)
    ]
    pool.append(
        Genuine(
            clerk.mint(sub="user_admin", version=2, org=ADMIN_ORG, lifetime=600),
            "user_admin",
            admin=True,
        )
    )
    pool.append(
        Genuine(
            clerk.mint(sub="user_pending", sts="pending", lifetime=600),
            "user_pending",
            pending=True,
        )
    )
    config = clerk.config()
    keys = KeySet.from_jwks(clerk.jwks())
    base = decode_segment(clerk.mint(sub="user_resigned", lifetime=600).split(".")[1])
    return World(
        clerk=clerk, config=config, keys=keys, genuine={g.token: g for g in pool}, _base=base
    )


def decode_segment(segment: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


class Hang(Exception):
    """A request did not finish within :data:`HANG_SECONDS`."""


@contextmanager
def watchdog(seconds: float = HANG_SECONDS) -> Iterator[None]:
    """Raise :class:`Hang` in the main thread if the block runs longer than ``seconds``."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(
        signal, "setitimer"
    ):
        yield
        return

    def fire(signum: int, frame: object) -> None:
        raise Hang(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _library_text() -> str:
    """Every string literal of the library and every reason message: a fuzzed value
    that is part of these (``token-invalid``, ``The session``) may appear in an answer
    without having been echoed."""
    texts = [info.message for info in REASONS.values()] + list(REASONS)
    src = Path(clerk_auth_core.__file__).parent.parent
    for path in src.glob("clerk_auth_*/**/*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                texts.append(node.value)
    return "\n".join(texts)


LIBRARY_TEXT = _library_text()
#: Shorter values occur in any text by chance.
MIN_SECRET_LENGTH = 16


def assert_no_leak(secret: str, *texts: str) -> None:
    """``secret`` (a presented token) appears in none of ``texts``."""
    if len(secret) < MIN_SECRET_LENGTH or secret in LIBRARY_TEXT:
        return
    for text in texts:
        assert secret not in text, "a presented token was echoed"


def now() -> int:
    return int(time.time())
