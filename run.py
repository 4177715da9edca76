"""The two quick-start commands, with nothing but Python and pip on the machine.

    python run.py demo    # the demo: a mock Clerk issuer and protected APIs on loopback
    python run.py test    # the whole test suite (nox: unit, conformance, lint, types)

Each creates ``.venv/`` next to this file on first use and installs what it needs;
later runs skip the install while ``pyproject.toml`` and the requirements are the
same (delete ``.venv/`` to start over).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
#: Inside the venv, so a deleted or rebuilt venv forgets what was installed in it.
STAMP_NAME = "run-py-installed.txt"

DEMO_REQUIREMENTS = ("-e", ".[flask,starlette,fastapi,django]", "uvicorn>=0.29")
TEST_REQUIREMENTS = ("nox>=2024.3.2",)

NEXT_STEPS = """\
run.py: that was the demo. Next:
  - demo/apis.py       the server code it ran: one small API on Flask, Starlette and Django
  - docs/demo.md       what each row of the table showed, and how to do it in your app
  - docs/flask.md, docs/starlette.md, docs/fastapi.md, docs/django.md   protect your own routes
  - python run.py demo --serve   keep it running and open the printed URL in a browser
"""


def say(message: str) -> None:
    """A progress line on stderr (stdout is the demo's and nox's)."""
    print(f"run.py: {message}", file=sys.stderr, flush=True)


def _venv_python() -> Path:
    sub = "Scripts" if os.name == "nt" else "bin"
    return VENV / sub / ("python.exe" if os.name == "nt" else "python")


def install_key(requirements: tuple[str, ...]) -> str:
    """What an install depends on: the requirements, ``pyproject.toml`` (the extras and
    dependencies of ``-e .``) and this interpreter's version."""
    digest = hashlib.sha256()
    digest.update("\0".join(requirements).encode())
    digest.update(b"\0" + (ROOT / "pyproject.toml").read_bytes())
    digest.update(b"\0" + sys.version.encode())
    return digest.hexdigest()


def is_installed(key: str) -> bool:
    """True when an install with this :func:`install_key` finished in ``.venv``."""
    try:
        return key in (VENV / STAMP_NAME).read_text().split()
    except FileNotFoundError:
        return False


def mark_installed(key: str) -> None:
    """Remember that the install with this key finished (demo and test install
    different things into the one venv: each has its own line)."""
    with (VENV / STAMP_NAME).open("a") as stamp:
        stamp.write(key + "\n")


def _ensure_venv(*requirements: str) -> Path:
    python = _venv_python()
    if not python.exists():
        say(f"creating {VENV} (first run only)")
        venv.EnvBuilder(with_pip=True).create(VENV)
    key = install_key(requirements)
    if is_installed(key):
        say(f"{VENV.name} is up to date (delete it to reinstall)")
        return python
    say(
        "installing " + " ".join(requirements) + " into " + VENV.name
        + " (about 20 s the first time; pip's progress follows)"
    )  # fmt: skip
    subprocess.run(
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", *requirements],
        check=True,
        cwd=ROOT,
        stdout=sys.stderr,  # pip's progress is not the demo's output (`demo --json`)
    )
    mark_installed(key)
    return python


def main(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv else ("", [])
    try:
        if command == "demo":
            python = _ensure_venv(*DEMO_REQUIREMENTS)
            say("starting the demo: a mock Clerk, APIs on Flask, Starlette, Django, on 127.0.0.1")
            try:
                return subprocess.call([str(python), "-m", "demo", *rest], cwd=ROOT)
            except KeyboardInterrupt:  # Ctrl-C of `demo --serve`: the demo stopped too
                return 130
            finally:
                print(NEXT_STEPS, end="", file=sys.stderr)
        if command == "test":
            python = _ensure_venv(*TEST_REQUIREMENTS)
            say("running nox (the sessions it runs are listed by `nox -l`)")
            return subprocess.call([str(python), "-m", "nox", *rest], cwd=ROOT)
    except subprocess.CalledProcessError as exc:
        say(f"pip failed (exit {exc.returncode}); its output is above")
        return 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
