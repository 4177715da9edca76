"""``clerk-auth mock`` as a real process: the printed lines point an app at it, the
printed curl command mints a token that verifies, and Ctrl-C stops it with exit 0."""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

pytestmark = pytest.mark.slow

#: Bound on every wait: start-up, a request, the stop after SIGINT.
TIMEOUT = 20.0


@dataclass
class Mock:
    """A running ``clerk-auth mock``: its process and what it printed."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    err: list[str] = field(default_factory=list)

    @property
    def exports(self) -> dict[str, str]:
        out = {}
        for line in self.lines:
            if line.startswith("export "):
                name, _, value = line.removeprefix("export ").partition("=")
                out[name] = shlex.split(value)[0]
        return out

    @property
    def token_url(self) -> str:
        (line,) = [line for line in self.lines if line.startswith("TOKEN=$(curl")]
        match = re.search(r"curl -s '([^']+)'", line)
        assert match, line
        return match.group(1)


def _environ(extra: dict[str, str]) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CLERK_")}
    return {**environ, **extra}


def _start(*argv: str) -> Mock:
    process = subprocess.Popen(
        [sys.executable, "-m", "clerk_auth_core", "mock", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_environ({}),
    )
    mock = Mock(process)
    ready = threading.Event()

    def read_stdout() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            mock.lines.append(line.rstrip("\n"))
            if line.startswith("TOKEN="):
                ready.set()
        ready.set()  # the process ended

    def read_stderr() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            mock.err.append(line.rstrip("\n"))

    threading.Thread(target=read_stdout, daemon=True).start()
    threading.Thread(target=read_stderr, daemon=True).start()
    assert ready.wait(TIMEOUT), "clerk-auth mock printed nothing"
    return mock


def _stop(mock: Mock) -> int:
    if mock.process.poll() is None:
        mock.process.send_signal(signal.SIGINT)
    try:
        return mock.process.wait(TIMEOUT)
    except subprocess.TimeoutExpired:
        mock.process.kill()
        mock.process.wait()
        raise


@pytest.fixture
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def mock(free_port: int) -> Iterator[Mock]:
    started = _start("--port", str(free_port), "--origin", "http://localhost:5173")
    yield started
    _stop(started)


def test_prints_what_an_app_needs_and_a_token_verifies(mock: Mock, free_port: int) -> None:
    env = mock.exports
    url = f"http://127.0.0.1:{free_port}"
    assert env == {
        "CLERK_JWKS_URL": f"{url}/.well-known/jwks.json",
        "CLERK_ISSUER": url,
        "CLERK_AUTHORIZED_PARTIES": "http://localhost:5173",
    }
    assert "unset CLERK_JWT_KEY CLERK_SECRET_KEY CLERK_PUBLISHABLE_KEY" in mock.lines
    response = httpx.get(mock.token_url, timeout=TIMEOUT)
    assert response.status_code == 200
    token = response.json()["jwt"]
    # The token on stdin ("-"), as docs/cli.md shows: not on a command line, not in ps.
    verdict = subprocess.run(
        [sys.executable, "-m", "clerk_auth_core", "verify", "-", "--json"],
        input=token,
        capture_output=True,
        text=True,
        env=_environ(env),
        timeout=TIMEOUT,
    )
    assert verdict.returncode == 0, verdict.stderr
    assert '"sub": "user_mock"' in verdict.stdout
    assert '"azp": "http://localhost:5173"' in verdict.stdout


def test_ctrl_c_stops_it_cleanly(free_port: int) -> None:
    started = _start("--port", str(free_port))
    assert httpx.get(started.token_url, timeout=TIMEOUT).status_code == 200
    assert _stop(started) == 0
    assert any("mock stopped" in line for line in started.err), started.err
    assert not any("Traceback" in line for line in started.err), started.err
    with pytest.raises(httpx.ConnectError):
        httpx.get(started.token_url, timeout=TIMEOUT)


def test_sigterm_stops_it_too() -> None:
    started = _start()
    started.process.send_signal(signal.SIGTERM)
    assert started.process.wait(TIMEOUT) == 0


def test_a_taken_port_is_a_usage_error(mock: Mock, free_port: int) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "clerk_auth_core", "mock", "--port", str(free_port)],
        capture_output=True,
        text=True,
        env=_environ({}),
        timeout=TIMEOUT,
    )
    assert result.returncode == 2
    assert f"--port {free_port}: cannot listen there" in result.stderr


def test_an_origin_that_can_never_match_is_refused() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "clerk_auth_core", "mock", "--origin", "localhost:3000"],
        capture_output=True,
        text=True,
        env=_environ({}),
        timeout=TIMEOUT,
    )
    assert result.returncode == 2
    assert "CLERK_AUTHORIZED_PARTIES" in result.stderr
    assert "did you mean http://localhost:3000?" in result.stderr
