"""Real servers for the fault and load tests: gunicorn (Flask, Django) and uvicorn (Starlette)
as subprocesses on 127.0.0.1, keys from a :class:`MockClerk` in the test process.

``serve(kind, clerk, ...)`` starts one and yields a :class:`Served`; everything is
bounded in time, and the server is stopped (SIGTERM, then SIGKILL of its own process
group) however the test ends. The app modules live in ``apps/`` and read their
configuration from the environment set here (see ``apps/_settings.py``).

Also here: the spec's fetch bounds as functions of the policy, so the tests assert
numbers computed from the same policy they gave the server.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

import clerk_auth_core
from adapters import SERVER_KINDS
from clerk_auth_core.testing import MockClerk

__all__ = [
    "APPS",
    "KINDS",
    "LONG",
    "Reply",
    "Served",
    "bearer",
    "fetch_bound",
    "get",
    "serve",
]

APPS = Path(__file__).resolve().parent / "apps"
#: The server kinds, from the adapter registry (tests/adapters.py): gunicorn (gthread
#: workers) running Flask or Django, uvicorn running Starlette.
KINDS = SERVER_KINDS
#: ``CLERK_AUTH_LONG=1`` selects the long form (more faults, longer outages, more load).
LONG = os.environ.get("CLERK_AUTH_LONG", "") not in ("", "0")

_START_TIMEOUT = 30.0
_STOP_TIMEOUT = 10.0


def fetch_bound(window: float, policy: Mapping[str, float]) -> int:
    """The most JWKS fetches one key cache can start in ``window`` seconds while every
    fetch fails (spec "failures": one at once, then one after each backoff of 1 s, 2 s,
    4 s … capped, each at least ``(1 - jitter)`` of its length; no fetch while backing
    off). Fetch durations are taken as zero, which only makes the bound larger."""
    initial = float(policy.get("backoff_initial", 1.0))
    cap = float(policy.get("backoff_max", 60.0))
    jitter = float(policy.get("backoff_jitter", 0.2))
    if initial <= 0:
        raise ValueError("no bound without a backoff")
    fetches, elapsed, failures = 1, 0.0, 0
    while True:
        failures += 1
        # _jwks.py: delay = min(base * (1 ± jitter), cap), base = min(initial * 2^(n-1), cap)
        base = min(initial * 2.0 ** (failures - 1), cap)
        elapsed += min(base * (1.0 - jitter), cap)
        if elapsed > window:
            return fetches
        fetches += 1


def cooldown_bound(window: float, cooldown: float) -> int:
    """The most fetches unknown kids can force in ``window`` seconds after a fetch
    (spec "unknown kid": only if ≥ ``cooldown`` since the last fetch started)."""
    return math.floor(window / cooldown) if cooldown > 0 else sys.maxsize


@dataclass(frozen=True)
class Reply:
    """What a test needs from one response."""

    status: int
    reason: str | None
    user_id: str | None
    pid: int | None
    retry_after: str | None
    www_authenticate: str | None
    at: float = 0.0

    @classmethod
    def of(cls, response: httpx.Response) -> Reply:
        body: Any = None
        with contextlib.suppress(ValueError):
            body = response.json()
        body = body if isinstance(body, dict) else {}
        pid = response.headers.get("x-worker-pid")
        return cls(
            status=response.status_code,
            reason=body.get("reason"),
            user_id=body.get("user_id"),
            pid=int(pid) if pid and pid.isdigit() else None,
            retry_after=response.headers.get("retry-after"),
            www_authenticate=response.headers.get("www-authenticate"),
            at=time.monotonic(),
        )


def bearer(token: str) -> dict[str, str]:
    """An ``Authorization: Bearer`` header."""
    return {"Authorization": f"Bearer {token}"}


def client(timeout: float = 10.0) -> httpx.Client:
    """A client that opens a new connection per request, so the kernel spreads the
    requests over gunicorn's workers (a kept-alive connection stays on one worker)."""
    return httpx.Client(
        timeout=timeout,
        limits=httpx.Limits(max_connections=64, max_keepalive_connections=0),
        trust_env=False,
    )


def get(http: httpx.Client, url: str, token: str | None = None) -> Reply:
    """``GET url`` with the token as a Bearer header (none when ``None``)."""
    return Reply.of(http.get(url, headers=bearer(token) if token else {}))


@dataclass
class Served:
    """A running server: its URL, its processes and what they left behind."""

    kind: str
    url: str
    proc: subprocess.Popen[bytes]
    #: Processes that serve requests, each with its own key cache.
    workers: int
    log_path: Path
    marks: Path
    policy: Mapping[str, float]
    final_stats: dict[int, dict[str, Any]] = field(default_factory=dict)
    _saved_log: str | None = None

    @property
    def master_pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        """What the server wrote to stdout and stderr (so far, or in all once stopped)."""
        if self._saved_log is not None:
            return self._saved_log
        return self.log_path.read_text(errors="replace")

    def worker_pids(self) -> list[int]:
        """The pids that serve requests: gunicorn's workers, or uvicorn itself."""
        if self.kind == "starlette-uvicorn":
            return [self.proc.pid]
        return _children(self.proc.pid)

    def server_pids(self) -> list[int]:
        """Every process of the server (gunicorn's master too)."""
        pids = [self.proc.pid, *self.worker_pids()]
        return sorted(set(pids))

    def rss_kib(self) -> dict[int, int]:
        """VmRSS of each server process, in KiB (from ``/proc/<pid>/status``)."""
        return {pid: rss for pid in self.server_pids() if (rss := _vm_rss(pid)) is not None}

    def stats(self, http: httpx.Client) -> dict[str, Any]:
        """One worker's key-cache counters (uvicorn: *the* process's), via ``/_stats``."""
        body: dict[str, Any] = http.get(self.url + "/_stats").json()
        return body

    def stop(self) -> dict[int, dict[str, Any]]:
        """Stop gracefully (SIGTERM), then collect every worker's final counters.

        :returns: pid → the ``JwksStats`` of that worker's key cache at exit.
        """
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                _kill_group(self.proc)
        for path in sorted(self.marks.glob("stats-*.json")):
            mark = json.loads(path.read_text())
            self.final_stats[mark["pid"]] = mark["stats"]
        if self._saved_log is None and self.log_path.exists():
            self._saved_log = self.log_path.read_text(errors="replace")
        return self.final_stats


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            # pid (comm) state ppid …: comm may hold spaces and parentheses.
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                found.append(int(entry.name))
    return sorted(found)


def _vm_rss(pid: int) -> int | None:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    # The server was started in a session of its own: its group is exactly its
    # processes (gunicorn's master and workers), nothing else.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)


def _environment(
    clerk: MockClerk, policy: Mapping[str, float], warm_up: bool, marks: Path
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLERK_")}
    env.update(
        CLERK_SECRET_KEY=clerk.secret_key,
        CLERK_API_URL=clerk.url,
        CLERK_ISSUER=clerk.issuer,
        CLERK_AUTHORIZED_PARTIES=clerk.origin,
        CLERK_AUTH_TEST_POLICY=json.dumps(dict(policy)),
        CLERK_AUTH_TEST_WARM_UP="1" if warm_up else "0",
        CLERK_AUTH_TEST_STATS_DIR=str(marks),
        PYTHONUNBUFFERED="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    # The servers import the very clerk-auth this test process imported (a checkout's
    # src/ or an installed copy); the apps' own modules come from --chdir / --app-dir.
    library = str(Path(clerk_auth_core.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (library, env.get("PYTHONPATH")) if p)
    return env


def _gunicorn_command(
    workers: int, threads: int, preload: bool, app: str = "flask_app:app"
) -> list[str]:
    pytest.importorskip("gunicorn", reason="gunicorn is a test dependency")
    from gunicorn.config import KNOWN_SETTINGS

    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--chdir",
        str(APPS),
        "-c",
        str(APPS / "gunicorn_conf.py"),
        "-k",
        "gthread",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--bind",
        "127.0.0.1:0",
        "--graceful-timeout",
        "5",
        "--timeout",
        "30",
        "--log-level",
        "info",
    ]
    if any(setting.name == "control_socket_disable" for setting in KNOWN_SETTINGS):
        # gunicorn ≥ 25 opens a control socket in ~/.gunicorn, one path for every
        # instance: parallel test servers must not share it.
        command.append("--no-control-socket")
    if preload:
        command.append("--preload")
    return [*command, app]


def _uvicorn_command() -> list[str]:
    pytest.importorskip("uvicorn")
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--app-dir",
        str(APPS),
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--no-access-log",
        "--log-level",
        "info",
        "--lifespan",
        "on",
        "--ws",
        "none",
        "starlette_app:app",
    ]


_LISTENING = {
    "flask-gunicorn": re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)"),
    "starlette-uvicorn": re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)"),
    "django-gunicorn": re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)"),
}


def _wait_until_ready(served: Served, ready_marks: int, deadline: float) -> None:
    port: str | None = None
    while time.monotonic() < deadline:
        if served.proc.poll() is not None:
            raise RuntimeError(f"{served.kind} exited at start:\n{served.log()[-3000:]}")
        if port is None and (match := _LISTENING[served.kind].search(served.log())):
            port = match.group(1)
            served.url = f"http://127.0.0.1:{port}"
        if port is not None and len(list(served.marks.glob("ready-*.json"))) >= ready_marks:
            return
        time.sleep(0.02)
    raise RuntimeError(f"{served.kind} did not start in time:\n{served.log()[-3000:]}")


@contextlib.contextmanager
def serve(
    kind: str,
    clerk: MockClerk,
    *,
    policy: Mapping[str, float] | None = None,
    warm_up: bool = False,
    preload: bool = False,
    workers: int = 3,
    threads: int = 4,
) -> Iterator[Served]:
    """Run the test app of ``kind`` against ``clerk`` until the block ends.

    Yields once every worker has loaded the app (and, with ``warm_up``, made its
    start-up fetch). ``policy`` holds ``JwksPolicy`` arguments. On exit the server is
    stopped and its workers' final counters land in :attr:`Served.final_stats`.
    """
    policy = dict(policy or {})
    with tempfile.TemporaryDirectory(prefix="clerk-auth-server-") as folder:
        marks = Path(folder) / "marks"
        marks.mkdir()
        log_path = Path(folder) / "server.log"
        if kind == "flask-gunicorn":
            command, processes = _gunicorn_command(workers, threads, preload), workers
        elif kind == "starlette-uvicorn":
            command, processes = _uvicorn_command(), 1
        elif kind == "django-gunicorn":
            pytest.importorskip("django.http")
            command = _gunicorn_command(workers, threads, preload, "django_app:app")
            processes = workers
        else:
            raise ValueError(kind)
        hits_before = clerk.jwks_hits
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=_environment(clerk, policy, warm_up, marks),
                start_new_session=True,  # its own process group: killpg reaches only it
            )
        served = Served(kind, "", proc, processes, log_path, marks, policy)
        try:
            deadline = time.monotonic() + _START_TIMEOUT
            _wait_until_ready(served, processes, deadline)
            if warm_up:
                # One start-up fetch per key cache (the master's only, with --preload).
                expected = hits_before + (1 if preload else processes)
                while clerk.jwks_hits < expected and time.monotonic() < deadline:
                    time.sleep(0.02)
            yield served
        finally:
            served.stop()
            _kill_group(proc)  # a worker that outlived its master
