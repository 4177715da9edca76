"""Development sessions: `nox` runs the default set; `nox -l` lists them all.

Interpreters come from PATH; on machines with pyenv, every installed 3.10–3.13 is
added to PATH here so `nox` finds them without `pyenv global` gymnastics.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

import nox

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]

nox.needs_version = ">=2024.3.2"
nox.options.default_venv_backend = "venv"
nox.options.sessions = ["tests", "lint", "typecheck", "docs"]
# Skipping absent interpreters is the norm locally; CI (CI=true) must run them all.
nox.options.error_on_missing_interpreters = bool(os.environ.get("CI"))


def _add_pyenv_pythons_to_path() -> None:
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    dirs = []
    for version in PYTHONS:
        found = sorted(glob.glob(str(root / "versions" / f"{version}.*" / "bin")))
        if found:
            dirs.append(found[-1])
    if dirs:
        os.environ["PATH"] = os.pathsep.join([*dirs, os.environ.get("PATH", "")])


_add_pyenv_pythons_to_path()

TEST_DEPS = [
    "pytest>=8",
    "hypothesis>=6.100",
    "anyio>=4",
    "uvicorn>=0.29",
    "flask-cors>=4",
    "asgiref>=3.2",
    "websockets>=12",
    "trio>=0.25",
    "mkdocs>=1.6",
]


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The unit and conformance suites, with the newest framework versions."""
    session.install("-e", ".[flask,starlette,fastapi]", *TEST_DEPS)
    if session.python == PYTHONS[-1]:
        # The real-browser test (Debian's chromium, driven by Playwright): newest Python only.
        session.install("playwright>=1.45")
    session.run("pytest", "-q", "-p", "no:cacheprovider", *session.posargs)


@nox.session(python=PYTHONS[-1])
def lint(session: nox.Session) -> None:
    """ruff: lint and formatting."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", "src", "tests", "demo", "noxfile.py", "run.py")
    session.run("ruff", "format", "--check", "src", "tests", "demo", "noxfile.py", "run.py")


@nox.session(python=PYTHONS[-1])
def docs(session: nox.Session) -> None:
    """Build the documentation site; warnings are errors (no -q: it hides them)."""
    session.install("mkdocs>=1.6")
    session.run("mkdocs", "build", "--strict", "-d", f"{session.create_tmp()}/site")


@nox.session(python=PYTHONS[-1])
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the three packages."""
    session.install("-e", ".[flask,starlette,fastapi]", "mypy>=1.10", *TEST_DEPS)
    session.run(
        "mypy", "-p", "clerk_auth_core", "-p", "clerk_auth_flask", "-p", "clerk_auth_starlette"
    )
    session.run("mypy", "--strict", "demo")
