"""The distribution as a user gets it: ``python -m build`` makes an sdist and a wheel
(the wheel built from the sdist, so the sdist is complete), ``twine check --strict``
accepts both, and the wheel installed into a fresh virtual environment, away from
this checkout, runs ``clerk-auth --version`` and verifies a token it minted.

Slow (a build and an install from the package index, ~20 s): it is what a release
would ship.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from clerk_auth_core import __version__

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 600


def _run(
    *argv: str | Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    # No PYTHONPATH or CLERK_* from the test run: the venv must stand on its own.
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CLERK_") and k not in ("PYTHONPATH", "VIRTUAL_ENV")
    }
    return subprocess.run(
        [str(a) for a in argv],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**environ, **(env or {})},
        cwd=cwd,
        input=input,
        check=False,
    )


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"{result.args}\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built distributions: an sdist and a wheel with ``build``, else (``build``
    not installed) the wheel alone with ``pip wheel``."""
    out = tmp_path_factory.mktemp("dist")
    if importlib.util.find_spec("build") is not None:
        _ok(_run(sys.executable, "-m", "build", "--outdir", out, ROOT))
    else:
        _ok(_run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", out, ROOT))
    return out


@pytest.fixture(scope="module")
def wheel(dist: Path) -> Path:
    (found,) = dist.glob("*.whl")
    assert found.name == f"clerk_auth-{__version__}-py3-none-any.whl"
    return found


@pytest.fixture(scope="module")
def sdist(dist: Path) -> Path:
    found = list(dist.glob("*.tar.gz"))
    if not found:
        pytest.skip("the sdist needs `build` (pip install build)")
    (one,) = found
    assert one.name == f"clerk_auth-{__version__}.tar.gz"
    return one


@pytest.fixture(scope="module")
def venv_bin(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the wheel (and its dependencies) installed."""
    root = tmp_path_factory.mktemp("venv")
    _ok(_run(sys.executable, "-m", "venv", root / "venv"))
    bin_dir = root / "venv" / ("Scripts" if os.name == "nt" else "bin")
    _ok(_run(bin_dir / "python", "-m", "pip", "install", "--disable-pip-version-check", wheel))
    return bin_dir


def test_twine_check_strict(dist: Path, sdist: Path) -> None:
    if importlib.util.find_spec("twine") is None:
        pytest.skip("needs twine (pip install twine)")
    files = sorted(dist.iterdir())
    out = _ok(_run(sys.executable, "-m", "twine", "check", "--strict", *files))
    assert out.count("PASSED") == 2, out


def test_sdist_holds_what_a_release_needs(sdist: Path) -> None:
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for needed in ("README.md", "CHANGELOG.md", "LICENSE", "pyproject.toml", "PKG-INFO"):
        assert needed in names
    assert "src/clerk_auth_core/py.typed" in names
    assert any(name.startswith("tests/core/") for name in names)
    assert not any(name.startswith((".ci/", "benchmarks/", ".venv/")) for name in names)


def test_installed_version(venv_bin: Path, tmp_path: Path) -> None:
    out = _ok(_run(venv_bin / "clerk-auth", "--version", cwd=tmp_path))
    assert out.strip() == f"clerk-auth {__version__}"
    where = _ok(
        _run(venv_bin / "python", "-c", "import clerk_auth_core; print(clerk_auth_core.__file__)",
             cwd=tmp_path)
    )  # fmt: skip
    assert str(ROOT) not in where  # the wheel's copy, not this checkout


def test_installed_cli_mints_and_verifies(venv_bin: Path, tmp_path: Path) -> None:
    cli = venv_bin / "clerk-auth"
    key = tmp_path / "dev.pem"
    pem = _ok(_run(cli, "mint", "--key-file", key, "--print-pem", cwd=tmp_path))
    token = _ok(_run(cli, "mint", "--key-file", key, "--sub", "user_wheel", cwd=tmp_path))
    env = {
        "CLERK_JWT_KEY": pem,
        "CLERK_ISSUER": "https://clerk.mock.test",
        "CLERK_AUTHORIZED_PARTIES": "http://localhost:3000",
    }
    result = _run(cli, "verify", "-", input=token, env=env, cwd=tmp_path)
    out = _ok(result)
    assert out.startswith("VALID"), out
    assert re.search(r"user_id\s+user_wheel", out), out
    refused = _run(cli, "verify", "-", input=token[:-4] + "AAAA", env=env, cwd=tmp_path)
    assert refused.returncode == 1
    assert "token-invalid-signature" in refused.stdout + refused.stderr
