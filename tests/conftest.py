"""The suites' shared root.

pytest puts the folder of a root-level conftest on ``sys.path``, so every suite can
import the shared helpers by name: the adapter registry (``adapters``) and the drivers
and their servers (``conformance.drivers``).
"""

from __future__ import annotations

import pytest

from adapters import adapter_names, require


@pytest.fixture(scope="module", params=adapter_names())
def adapter(request: pytest.FixtureRequest) -> str:
    """Each registered adapter in turn, the bare core included (skipped when its
    framework is not installed)."""
    return require(request.param)


@pytest.fixture(scope="module", params=adapter_names(core=False))
def framework_adapter(request: pytest.FixtureRequest) -> str:
    """Each registered framework adapter in turn (not the bare core)."""
    return require(request.param)
