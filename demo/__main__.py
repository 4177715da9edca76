"""``python -m demo`` (from the repository root)."""

from __future__ import annotations

import sys

from .main import main

sys.exit(main())
