"""``run.py``: it says what it is doing, installs only when ``.venv`` is not current,
and ends the demo by pointing at the code it ran and the page to read next.

pip and the demo are replaced by recorders here (a real install takes ~20 s and the
network); the venv is a directory of the test's own.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import run  # run.py at the repository root (tests/demo/conftest.py puts it on the path)


class Calls:
    """Every command run.py would have run."""

    def __init__(self, fail_pip: bool = False) -> None:
        self.commands: list[list[str]] = []
        self.fail_pip = fail_pip

    def run(self, command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        self.commands.append(command)
        if self.fail_pip and "pip" in command:
            raise subprocess.CalledProcessError(1, command)
        return subprocess.CompletedProcess(command, 0)

    def call(self, command: list[str], **kwargs: Any) -> int:
        self.commands.append(command)
        return 0

    @property
    def pip_installs(self) -> list[list[str]]:
        return [c for c in self.commands if c[1:4] == ["-m", "pip", "install"]]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project's pyproject.toml and a venv that already has a python."""
    (tmp_path / "pyproject.toml").write_bytes((Path(run.ROOT) / "pyproject.toml").read_bytes())
    monkeypatch.setattr(run, "ROOT", tmp_path)
    monkeypatch.setattr(run, "VENV", tmp_path / ".venv")
    python = run._venv_python()
    python.parent.mkdir(parents=True)
    python.write_text("")
    return tmp_path


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Calls:
    recorder = Calls()
    monkeypatch.setattr(run.subprocess, "run", recorder.run)
    monkeypatch.setattr(run.subprocess, "call", recorder.call)
    return recorder


def test_a_second_run_with_the_same_requirements_skips_pip(
    project: Path, calls: Calls, capsys: pytest.CaptureFixture[str]
) -> None:
    run._ensure_venv(*run.DEMO_REQUIREMENTS)
    first = capsys.readouterr().err
    run._ensure_venv(*run.DEMO_REQUIREMENTS)
    second = capsys.readouterr().err
    assert len(calls.pip_installs) == 1
    assert "installing -e .[flask,starlette,fastapi,django] uvicorn>=0.29" in first
    assert "up to date" in second


def test_pip_shows_its_progress(project: Path, calls: Calls) -> None:
    run._ensure_venv(*run.DEMO_REQUIREMENTS)
    (command,) = calls.pip_installs
    assert "-q" not in command
    assert "--quiet" not in command


def test_a_changed_pyproject_installs_again(project: Path, calls: Calls) -> None:
    run._ensure_venv(*run.DEMO_REQUIREMENTS)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "\n# a new dependency\n")
    run._ensure_venv(*run.DEMO_REQUIREMENTS)
    assert len(calls.pip_installs) == 2


def test_demo_and_test_are_remembered_apart(project: Path, calls: Calls) -> None:
    for requirements in (run.DEMO_REQUIREMENTS, run.TEST_REQUIREMENTS) * 2:
        run._ensure_venv(*requirements)
    assert [c[4:] for c in calls.pip_installs] == [
        ["--disable-pip-version-check", *run.DEMO_REQUIREMENTS],
        ["--disable-pip-version-check", *run.TEST_REQUIREMENTS],
    ]


def test_a_failed_install_is_not_remembered(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    failing = Calls(fail_pip=True)
    monkeypatch.setattr(run.subprocess, "run", failing.run)
    assert run.main(["demo"]) == 1
    assert "pip failed (exit 1)" in capsys.readouterr().err
    assert not run.is_installed(run.install_key(run.DEMO_REQUIREMENTS))


def test_a_deleted_venv_forgets_its_installs(project: Path, calls: Calls) -> None:
    key = run.install_key(run.TEST_REQUIREMENTS)
    run.mark_installed(key)
    assert run.is_installed(key)
    (run.VENV / run.STAMP_NAME).unlink()
    assert not run.is_installed(key)


def test_the_demo_ends_with_where_to_read_next(
    project: Path, calls: Calls, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run.main(["demo"]) == 0
    assert calls.commands[-1][1:] == ["-m", "demo"]
    err = capsys.readouterr().err
    assert "starting the demo" in err
    assert err.endswith(run.NEXT_STEPS)
    for path in (
        "demo/apis.py",
        "docs/demo.md",
        "docs/flask.md",
        "docs/starlette.md",
        "docs/django.md",
    ):
        assert path in run.NEXT_STEPS
        assert (Path(__file__).resolve().parents[2] / path).is_file(), path
