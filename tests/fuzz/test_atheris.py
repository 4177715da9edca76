"""Run the atheris target briefly (coverage-guided, seeded with gate-passing inputs);
skipped when atheris is not installed. The long run is in docs/fuzzing.md."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

TARGET = Path(__file__).with_name("atheris_gate.py")
RUNS = 20_000


@pytest.mark.skipif(importlib.util.find_spec("atheris") is None, reason="atheris not installed")
def test_atheris_gate_briefly(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    run = subprocess.run(
        [
            sys.executable, str(TARGET), "--seeds", str(corpus), "--runs", str(RUNS),
            "-max_total_time=20", f"-artifact_prefix={tmp_path}/",
        ],
        capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, _failure_report(run.stderr)
    done = re.search(r"Done (\d+) runs", run.stderr)
    assert done is not None, run.stderr[-2000:]
    assert int(done.group(1)) > 0
    print(done.group(0))  # shown with -s, for the record
    assert not list(tmp_path.glob("crash-*"))


def _failure_report(stderr: str) -> str:
    """libFuzzer's seed (to replay the run with ``-seed=``) and the Python traceback,
    which the progress lines would otherwise push out of the report."""
    seed = re.search(r"INFO: Seed: \d+", stderr)
    start = stderr.find("=== Uncaught Python exception")
    tail = stderr[start:] if start >= 0 else stderr[-3000:]
    return f"{seed.group(0) if seed else 'no seed line'}\n{tail[-4000:]}"
