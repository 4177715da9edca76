"""Requests per second under real servers: gunicorn (gthread) running the Flask app
and the Django app, uvicorn running the Starlette app, one worker each, loaded over
loopback by ``wrk`` (or ``benchmarks._load`` when wrk is missing) with a mix of tokens:
90 % valid tokens of 90 users (each sent again and again, as front ends do), 5 %
``Bearer undefined`` (a classic front-end bug), 5 % no token. ``/open`` and
``/protected`` are measured alternately, several times each; the figure is the median
of the pairs' ratios."""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import clerk_auth_core

from ._fixtures import AZP, Fixtures
from ._verifiers import BenchmarkError

__all__ = ["ServerResult", "run_servers"]

ROOT = Path(__file__).resolve().parent.parent
_GUNICORN = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")
_UVICORN = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")
#: kind → (the server's module, the app in benchmarks._serve, the label, its banner).
_KINDS = {
    "flask": ("gunicorn", "flask_app", "gunicorn + Flask", _GUNICORN),
    "starlette": ("uvicorn", "starlette_app", "uvicorn + Starlette", _UVICORN),
    # Django under gunicorn (WSGI). Under uvicorn (ASGI) a one-worker Django answers a
    # few hundred requests a second here, too few for the fixed 10 % mix to hold within
    # a short load, so that pairing is not measured.
    "django": ("gunicorn", "django_app", "gunicorn + Django", _GUNICORN),
}


@dataclass
class ServerResult:
    """Requests per second of each route, per measurement."""

    server: str
    client: str
    open_rps: list[float] = field(default_factory=list)
    protected_rps: list[float] = field(default_factory=list)
    non_2xx_share: list[float] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        """The median over the alternations of protected ÷ open (each pair measured back
        to back, so a slow moment of the machine hits both)."""
        return statistics.median(
            p / o for p, o in zip(self.protected_rps, self.open_rps, strict=True)
        )


def _command(kind: str) -> list[str]:
    server, app = _KINDS[kind][:2]
    if server == "gunicorn":
        command = [
            sys.executable, "-m", "gunicorn", "--chdir", str(ROOT),
            "-k", "gthread", "--workers", "1", "--threads", "4",
            "--bind", "127.0.0.1:0", "--log-level", "info",
        ]  # fmt: skip
        from gunicorn.config import KNOWN_SETTINGS

        if any(s.name == "control_socket_disable" for s in KNOWN_SETTINGS):
            command.append("--no-control-socket")
        return [*command, f"benchmarks._serve:{app}"]
    return [
        sys.executable, "-m", "uvicorn", "--app-dir", str(ROOT),
        "--host", "127.0.0.1", "--port", "0", "--no-access-log", "--log-level", "info",
        "--lifespan", "off", "--ws", "none", f"benchmarks._serve:{app}",
    ]  # fmt: skip


@contextmanager
def _server(kind: str, fx: Fixtures) -> Iterator[str]:
    library = str(Path(clerk_auth_core.__file__).resolve().parent.parent)
    env = dict(
        os.environ,
        BENCH_SERVER=kind,
        BENCH_JWT_KEY=fx.pem,
        BENCH_ISSUER=fx.issuer,
        BENCH_AZP=AZP,
        PYTHONPATH=os.pathsep.join(p for p in (library, str(ROOT)) if p),
    )
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(_command(kind), env=env, stdout=log, stderr=log)  # noqa: S603
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    log.seek(0)
                    raise BenchmarkError(f"{kind} server exited:\n{log.read()[-2000:]}")
                log.seek(0)
                match = _KINDS[kind][3].search(log.read())
                if match:
                    break
                time.sleep(0.05)
            else:
                raise BenchmarkError(f"{kind} server did not start")
            yield f"http://127.0.0.1:{match.group(1)}"
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _get(url: str, auth: str | None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": auth} if auth else {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _mix(fx: Fixtures) -> list[str]:
    valid = [f"Bearer {fx.tokens[i % len(fx.tokens)]}" for i in range(90)]
    return valid + ["Bearer undefined"] * 5 + [""] * 5


def _wrk_script(headers: list[str], directory: Path) -> Path:
    script = directory / "mix.lua"
    values = ",\n".join(json.dumps(h) for h in headers)
    script.write_text(
        f"local values = {{\n{values}\n}}\n"
        "local requests = {}\n"
        "init = function(args)\n"
        "  for i, v in ipairs(values) do\n"
        "    if v == '' then requests[i] = wrk.format('GET')\n"
        "    else requests[i] = wrk.format('GET', nil, {['Authorization'] = v}) end\n"
        "  end\n"
        "end\n"
        "local n = 0\n"
        "request = function()\n"
        "  n = n % #requests + 1\n"
        "  return requests[n]\n"
        "end\n",
        encoding="utf-8",
    )
    return script


def _load(
    url: str, seconds: float, headers: list[str], directory: Path, wrk: str | None
) -> tuple[float, float]:
    """Requests per second and the share of non-2xx answers."""
    if wrk is not None:
        script = _wrk_script(headers, directory)
        out = subprocess.run(  # noqa: S603
            [wrk, "-t1", "-c8", f"-d{max(1, round(seconds))}s", "-s", str(script), url],
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 30,
        ).stdout
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
        total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
        bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        return rps, (int(bad.group(1)) if bad else 0) / max(total, 1)
    values = directory / "headers.json"
    values.write_text(json.dumps(headers), encoding="utf-8")
    out = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "benchmarks._load", url, str(seconds), "8", str(values)],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 30,
        cwd=ROOT,
    ).stdout
    result = json.loads(out)
    return result["requests"] / result["seconds"], result["non_2xx"] / max(result["requests"], 1)


def run_servers(fx: Fixtures, seconds: float, repeats: int, notes: list[str]) -> list[ServerResult]:
    """Both servers, ``/open`` and ``/protected`` alternately, ``repeats`` times each."""
    wrk = shutil.which("wrk")
    client = "wrk -t1 -c8" if wrk else "benchmarks._load (8 connections)"
    if wrk is None:
        notes.append("servers: wrk not found; using the Python load client (lower ceiling)")
    headers = _mix(fx)
    results: list[ServerResult] = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind, (module, _app, label, _banner) in _KINDS.items():
            framework = "django" if kind.startswith("django") else kind
            try:
                __import__(module)
                __import__(framework)
            except ImportError:
                notes.append(f"servers: {module} or {framework} not installed, {kind} skipped")
                continue
            result = ServerResult(label, client)
            with _server(kind, fx) as base:
                # Checked first: the right answers for a valid token, garbage, none.
                status, body = _get(f"{base}/protected", f"Bearer {fx.tokens[0]}")
                if status != 200 or b"ok" not in body:
                    raise BenchmarkError(f"{label}: a valid token answered {status} {body!r}")
                for auth in ("Bearer undefined", None):
                    if _get(f"{base}/protected", auth)[0] != 401:
                        raise BenchmarkError(f"{label}: garbage was not refused")
                if _get(f"{base}/open", None)[0] != 200:
                    raise BenchmarkError(f"{label}: /open failed")
                for path in ("/open", "/protected"):  # warm-up: first sights, imports
                    _load(base + path, 1, headers, Path(tmp), wrk)
                for i in range(repeats):
                    # Each route goes first in every other pair, so a machine that
                    # speeds up or slows down within a pair favours neither.
                    for path in ("/open", "/protected")[:: 1 if i % 2 == 0 else -1]:
                        rps, bad = _load(base + path, seconds, headers, Path(tmp), wrk)
                        if path == "/open":
                            result.open_rps.append(rps)
                        else:
                            result.protected_rps.append(rps)
                            result.non_2xx_share.append(bad)
            share = statistics.median(result.non_2xx_share)
            if not 0.05 <= share <= 0.15:
                raise BenchmarkError(f"{label}: {share:.1%} refused, the mix has 10 %")
            results.append(result)
    return results
