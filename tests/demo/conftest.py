"""The demo package lives at the repository root, not in src/: make it importable."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Django's settings are the process's, configured once by whoever comes first. The demo
# configures minimal ones if none are (a run of these tests alone); in a run with the
# Django and conformance tests, theirs must be the ones, whatever the order, so
# configure them now (the demo's Django API builds its own chain, needing none of it).
from conformance.drivers.django import configure  # noqa: E402

configure()
