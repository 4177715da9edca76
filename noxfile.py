"""Development sessions: `nox` runs the default set; `nox -l` lists them all.

Interpreters come from PATH; on machines with pyenv, every installed 3.10–3.13 is
added to PATH here so `nox` finds them without `pyenv global` gymnastics.
"""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path

import nox

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]

nox.needs_version = ">=2024.3.2"
nox.options.default_venv_backend = "venv"
nox.options.sessions = [
    "tests",
    "minimums",
    "django_lts",
    "servers",
    "lint",
    "typecheck",
    "docs",
]
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
    "gunicorn>=22",
    # tests/packaging builds the sdist and wheel and checks them as a release would.
    "build>=1.2",
    "twine>=6.1",
]

#: Real servers under fault and load: run once, on the newest Python (``servers``).
SERVER_SUITES = ["tests/servers", "tests/load"]
#: What the oldest supported versions must pass: the unit and conformance suites.
UNIT_AND_CONFORMANCE = [
    "tests/core",
    "tests/io",
    "tests/testing",
    "tests/conformance",
    "tests/flask",
    "tests/starlette",
    "tests/fastapi",
    "tests/django",
    "tests/webhooks",
]
#: Every adapter's extra (the ``tests`` and ``minimums`` sessions install them all).
EXTRAS = ".[flask,starlette,fastapi,django,drf]"
#: (Python, Django) for ``django_lts``: each LTS on the newest Python it supports.
DJANGO_LTS = [("3.12", "4.2"), ("3.13", "5.2")]
#: What ``django_lts`` runs: the Django glue and the Django/DRF rows of the shared suites.
DJANGO_SUITES = ["tests/django", "tests/conformance", "tests/attacks/test_corpus_http.py"]


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The unit and conformance suites, with the newest framework versions."""
    session.install("-e", EXTRAS, *TEST_DEPS)
    if session.python == PYTHONS[-1]:
        # The real-browser test (Debian's chromium, driven by Playwright) and the short
        # atheris run of the token gate: newest Python only.
        session.install("playwright>=1.45", "atheris>=2.3")
    ignore = [f"--ignore={suite}" for suite in SERVER_SUITES]
    session.run("pytest", "-q", "-p", "no:cacheprovider", *ignore, *session.posargs)


def _lower_bounds() -> list[str]:
    """``name==floor`` for every ``>=`` floor we declare (dependencies and extras),
    plus the floors of what those pull in that our floors would otherwise not hold."""
    text = Path("pyproject.toml").read_text()
    project = text.split("[project]", 1)[1].split("[project.scripts]", 1)[0]
    pins = dict(re.findall(r'"([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?>=([0-9][0-9.]*)', project))
    # Flask's floor needs the Werkzeug of its day (Werkzeug 3 dropped what Flask 2.3.0 used).
    pins.setdefault("werkzeug", "2.3.0")
    return [f"{name}=={version}" for name, version in sorted(pins.items())]


@nox.session(python=PYTHONS)
def minimums(session: nox.Session) -> None:
    """The unit and conformance suites with the OLDEST versions we claim to support."""
    constraints = Path(session.create_tmp()) / "minimums.txt"
    constraints.write_text("\n".join(_lower_bounds()) + "\n")
    session.install("-c", str(constraints), "-e", EXTRAS, *TEST_DEPS)
    session.run("pip", "freeze", silent=False)
    session.run(
        "pytest", "-q", "-p", "no:cacheprovider", *(session.posargs or UNIT_AND_CONFORMANCE)
    )


@nox.session
@nox.parametrize(("python", "django"), DJANGO_LTS, ids=[f"django{d}" for _, d in DJANGO_LTS])
def django_lts(session: nox.Session, django: str) -> None:
    """The Django adapter with each Django LTS (``tests`` runs the newest), newest DRF."""
    session.install("-e", ".[flask,drf]", f"django~={django}.0", *TEST_DEPS)
    session.run(
        "pytest", "-q", "-p", "no:cacheprovider", *DJANGO_SUITES, "-k", "django or drf",
        *session.posargs,
    )  # fmt: skip


@nox.session(python=PYTHONS[-1])
def servers(session: nox.Session) -> None:
    """Fault and load tests against gunicorn (Flask, Django) and uvicorn (Starlette)."""
    session.install("-e", ".[flask,starlette,django]", *TEST_DEPS)
    session.run("pytest", "-q", "-p", "no:cacheprovider", *SERVER_SUITES, *session.posargs)


@nox.session(python=PYTHONS[-1], default=False)
def load(session: nox.Session) -> None:
    """The long form of the server suites (~9 min): every fault, a 20 s outage, 8
    rotations, 50,000 requests per server; JSON summaries in the session's tmp dir."""
    session.install("-e", ".[flask,starlette]", *TEST_DEPS)
    session.run(
        "pytest",
        "-q",
        "-s",
        "-p",
        "no:cacheprovider",
        *SERVER_SUITES,
        *session.posargs,
        env={"CLERK_AUTH_LONG": "1", "CLERK_AUTH_LOAD_DIR": f"{session.create_tmp()}/load"},
    )


BENCH_DEPS = [
    "svix>=1.0",  # its webhook verifier, beside ours (benchmarks only)
    "pyjwt>=2.8",
    "joserfc>=1.0",
    "authlib>=1.3",
    "clerk-backend-api>=7.0",
    "fastapi-clerk-auth>=0.0.9",
    "gunicorn>=22",
    "uvicorn>=0.29",
    "matplotlib>=3.8",
]


@nox.session(python="3.11", default=False)
def bench(session: nox.Session) -> None:
    """Side by side with the peers (docs/performance.md): `nox -s bench` (~2 min; servers
    under Debian's `wrk` when installed), or `nox -s bench -- --quick`."""
    session.install("-e", ".[flask,starlette,fastapi,django,drf]", *BENCH_DEPS)
    session.run("python", "-m", "benchmarks", *session.posargs)


@nox.session(python=PYTHONS[-1], default=False)
def fuzz(session: nox.Session) -> None:
    """A longer coverage-guided atheris run of the token gate and cookie parser."""
    session.install("-e", ".", "atheris>=2.3")
    session.run("python", "tests/fuzz/atheris_gate.py", *(session.posargs or ["--runs", "500000"]))


@nox.session(python=PYTHONS[-1])
def lint(session: nox.Session) -> None:
    """ruff: lint and formatting."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", "src", "tests", "demo", "benchmarks", "noxfile.py", "run.py")
    session.run(
        "ruff", "format", "--check", "src", "tests", "demo", "benchmarks", "noxfile.py", "run.py"
    )


@nox.session(python=PYTHONS[-1])
def docs(session: nox.Session) -> None:
    """Build the documentation site; warnings are errors (no -q: it hides them)."""
    session.install("mkdocs>=1.6")
    session.run("mkdocs", "build", "--strict", "-d", f"{session.create_tmp()}/site")


@nox.session(python=PYTHONS[-1])
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the four packages."""
    session.install("-e", EXTRAS, "mypy>=1.10", *TEST_DEPS)
    session.run(
        "mypy", "-p", "clerk_auth_core", "-p", "clerk_auth_flask", "-p", "clerk_auth_starlette",
        "-p", "clerk_auth_django",
    )  # fmt: skip
    session.run("mypy", "--strict", "demo")
