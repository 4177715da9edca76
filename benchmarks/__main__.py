"""``python -m benchmarks [--quick] [--servers/--no-servers] [--strict]``."""

from __future__ import annotations

import sys

from ._run import main

sys.exit(main())
