"""What both test apps read from the environment the test harness sets.

``CLERK_*`` are the library's own variables (the mock issuer's secret key, API URL,
issuer and origin). The key-cache policy is not a ``CLERK_*`` setting, so the harness
passes it as JSON in ``CLERK_AUTH_TEST_POLICY`` (``JwksPolicy`` keyword arguments, e.g.
``{"timeout": 0.5, "backoff_initial": 1}``); ``CLERK_AUTH_TEST_WARM_UP=1`` fetches the
keys at start-up; ``CLERK_AUTH_TEST_STATS_DIR`` is where the processes leave a ``ready``
mark and their final key-cache counters.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from clerk_auth_core import ClerkConfig, JwksPolicy


def config() -> ClerkConfig:
    """The app's configuration: ``CLERK_*`` plus the test's key-cache policy."""
    policy = json.loads(os.environ.get("CLERK_AUTH_TEST_POLICY") or "{}")
    return ClerkConfig.from_env(jwks=JwksPolicy(**policy))


def warm_up() -> bool:
    """Whether the app fetches its keys at start-up."""
    return os.environ.get("CLERK_AUTH_TEST_WARM_UP") == "1"


def write_mark(name: str, data: dict[str, Any]) -> None:
    """Leave ``<name>-<pid>.json`` in the stats folder (when the harness gave one)."""
    folder = os.environ.get("CLERK_AUTH_TEST_STATS_DIR")
    if not folder:
        return
    path = Path(folder) / f"{name}-{os.getpid()}.json"
    partial = path.with_suffix(".part")
    partial.write_text(json.dumps({"pid": os.getpid(), **data}))
    partial.replace(path)  # readers never see half a file
