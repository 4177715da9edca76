"""The two quick-start commands, with nothing but Python and pip on the machine.

    python run.py demo    # the demo: a mock Clerk issuer and protected APIs on loopback
    python run.py test    # the whole test suite (nox: unit, conformance, lint, types)

Each creates ``.venv/`` next to this file on first use and installs what it needs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"


def _venv_python() -> Path:
    sub = "Scripts" if os.name == "nt" else "bin"
    return VENV / sub / ("python.exe" if os.name == "nt" else "python")


def _ensure_venv(*requirements: str) -> Path:
    python = _venv_python()
    if not python.exists():
        print(f"run.py: creating {VENV}", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("run.py: installing " + " ".join(requirements), file=sys.stderr)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *requirements],
        check=True,
        cwd=ROOT,
    )
    return python


def main(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv else ("", [])
    if command == "demo":
        python = _ensure_venv("-e", ".[flask,starlette,fastapi]", "uvicorn>=0.29")
        return subprocess.call([str(python), "-m", "demo", *rest], cwd=ROOT)
    if command == "test":
        python = _ensure_venv("nox>=2024.3.2")
        return subprocess.call([str(python), "-m", "nox", *rest], cwd=ROOT)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
