"""The demo: ``python -m demo`` answers every case as expected and says so; a broken
API makes it fail; ``--serve`` serves the page and stops cleanly on Ctrl-C."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from demo.cases import CASES, DEMO_USER, Answer, Case, forge, judge
from demo.main import main, render, run_checks
from demo.stack import DemoStack

ROOT = Path(__file__).resolve().parents[2]
APIS = ("flask", "starlette", "django")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLERK_")}
    return {**env, "PYTHONIOENCODING": "utf-8"}


@pytest.fixture(scope="module")
def stack() -> Iterator[DemoStack]:
    """One running demo for the in-process tests."""
    with DemoStack() as running:
        yield running


class TestCommand:
    def test_python_m_demo_prints_the_table_and_exits_0(self) -> None:
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "demo"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=60,
            env=_env(),
            check=False,
        )
        elapsed = time.monotonic() - started
        assert result.returncode == 0, result.stdout + result.stderr
        out = result.stdout
        assert f"all {len(CASES) * len(APIS)} answers as expected" in out
        for case in CASES:
            for api in APIS:
                rows = [line for line in out.splitlines() if line.startswith(case.title + " ")]
                assert any(f" {api} " in row and row.endswith("✓") for row in rows), case.key
        assert "200 user_demo (flask)" in out
        assert "200 user_demo (starlette)" in out
        assert "200 user_demo (django)" in out
        assert "401 token-invalid-authorized-parties" in out
        assert "Traceback" not in result.stderr
        assert elapsed < 30

    def test_json(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["--json"]) == 0
        doc = json.loads(capsys.readouterr().out)
        assert doc["ok"] is True
        assert doc["frontend"].startswith("http://localhost:")
        assert set(doc["apis"]) == set(APIS)
        assert all(url.startswith("http://127.0.0.1:") for url in doc["apis"].values())
        results = {(r["case"], r["api"]): r for r in doc["results"]}
        assert len(results) == len(CASES) * len(APIS)
        for api in APIS:
            assert results["valid", api]["status"] == 200
            assert results["expired", api]["reason"] == "token-expired"
            assert results["other-azp", api]["reason"] == "token-invalid-authorized-parties"
            assert results["forged", api]["reason"] == "token-invalid-signature"
            assert results["step-up-fresh", api]["status"] == 200
            stale = results["step-up-stale", api]
            assert (stale["status"], stale["reason"]) == (403, "reverification-error")
            assert stale["answer"] == "403 reverification-error (strict)"
            assert results["none", api]["reason"] == "session-token-and-uat-missing"
            assert 200 <= results["preflight", api]["status"] < 300


class TestStack:
    def test_every_answer_as_expected(self, stack: DemoStack) -> None:
        outcomes = run_checks(stack)
        assert [(o.case, o.api) for o in outcomes if not o.ok] == []
        assert {o.api for o in outcomes} == set(APIS)

    def test_the_apis_saw_the_preflights(self, stack: DemoStack) -> None:
        run_checks(stack)
        for api in APIS:
            ours = [p for p in stack.log.preflights(api) if p["origin"] == stack.frontend_origin]
            assert ours, api
            assert all(p["allow_origin"] == stack.frontend_origin for p in ours)
            assert all("authorization" in p["request_headers"] for p in ours)
            theirs = [p for p in stack.log.preflights(api) if p["origin"] != stack.frontend_origin]
            assert theirs
            assert all(p["allow_origin"] is None for p in theirs)

    def test_the_apis_fetched_their_keys_over_http(self, stack: DemoStack) -> None:
        run_checks(stack)
        assert stack.mock.hits.get("/v1/jwks", 0) >= len(APIS)  # one fetch per adapter at least
        assert stack.mock.hits.get("/v1/tokens", 0) >= 8
        assert stack.mock.errors == []

    def test_everything_is_on_loopback(self, stack: DemoStack) -> None:
        assert stack.mock.url.startswith("http://127.0.0.1:")
        ports = {stack.frontend_port, *(int(u.rsplit(":", 1)[1]) for u in stack.apis.values())}
        assert len(ports) == 1 + len(APIS)  # an origin each (and the mock one more)

    def test_page_and_config(self, stack: DemoStack) -> None:
        with httpx.Client(base_url=stack.frontend_origin.replace("localhost", "127.0.0.1")) as h:
            page = h.get("/")
            script = h.get("/app.js")
            config = h.get("/config.json").json()
            assert h.get("/../stack.py").status_code == 404
        assert page.status_code == 200
        assert '<script type="module" src="/app.js">' in page.text
        assert "Authorization: `Bearer ${await getToken()}`" in script.text
        assert config["origin"] == stack.frontend_origin
        assert config["apis"] == stack.apis
        assert config["token_url"] == stack.mock.token_url
        assert [c["key"] for c in config["cases"]] == [c.key for c in CASES]


@pytest.mark.parametrize(
    ("overrides", "failing"),
    [
        pytest.param({"authorized_parties": ()}, {"other-azp"}, id="no-authorized-parties"),
        # The issuer is checked after exp and azp (Clerk's order): only the valid tokens
        # (the step-up cases' too) show it.
        pytest.param(
            {"issuer": "https://clerk.elsewhere.test"},
            {"valid", "step-up-fresh", "step-up-stale"},
            id="wrong-issuer",
        ),
    ],
)
def test_a_misconfigured_api_fails_the_table(overrides: dict[str, Any], failing: set[str]) -> None:
    with DemoStack(config_overrides=overrides) as stack:
        outcomes = run_checks(stack)
        table = render(stack, outcomes)
    assert {o.case for o in outcomes if not o.ok} == failing
    assert "NOT as expected" in table
    assert "✗" in table or "FAIL" in table


class TestJudge:
    CASE: ClassVar[dict[str, Case]] = {case.key: case for case in CASES}
    ORIGIN = "http://localhost:1234"

    def judge(self, key: str, **answer: Any) -> bool:
        case: Case = self.CASE[key]
        return judge(case, "flask", Answer(**answer), self.ORIGIN).ok

    def test_a_401_the_browser_cannot_read_is_not_ok(self) -> None:
        body = {"reason": "token-expired"}
        assert self.judge("expired", status=401, body=body, allow_origin=self.ORIGIN)
        assert not self.judge("expired", status=401, body=body, allow_origin=None)

    def test_the_user_and_framework_must_match(self) -> None:
        good = {"user_id": DEMO_USER, "framework": "flask"}
        assert self.judge("valid", status=200, body=good, allow_origin=self.ORIGIN)
        assert not self.judge(
            "valid", status=200, body={**good, "framework": "starlette"}, allow_origin=self.ORIGIN
        )
        assert not self.judge("forged", status=200, body=good, allow_origin=self.ORIGIN)

    def test_preflights(self) -> None:
        assert self.judge(
            "preflight", status=200, allow_origin=self.ORIGIN, allow_headers="Authorization"
        )
        assert not self.judge("preflight", status=200, allow_origin=self.ORIGIN)
        assert not self.judge(
            "preflight-other", status=200, allow_origin="https://other-app.example"
        )
        assert self.judge("preflight-other", status=400)

    def test_a_step_up_403_must_name_the_level(self) -> None:
        def hint(level: Any) -> dict[str, Any]:
            error = {"type": "forbidden", "reason": "reverification-error"}
            return {"clerk_error": {**error, "metadata": {"reverification": level}}}

        origin = {"allow_origin": self.ORIGIN}
        assert self.judge("step-up-stale", status=403, body=hint("strict"), **origin)
        assert not self.judge("step-up-stale", status=403, body=hint("lax"), **origin)
        plain = {"reason": "reverification-error"}  # not Clerk's shape: clerk-js ignores it
        assert not self.judge("step-up-stale", status=403, body=plain, **origin)
        assert not self.judge("step-up-fresh", status=403, body=hint("strict"), **origin)

    def test_no_answer_is_not_ok(self) -> None:
        assert not self.judge("none", error="ConnectError: refused")

    def test_forge_keeps_header_and_signature(self) -> None:
        token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyX2RlbW8ifQ.c2ln"
        forged = forge(token)
        head, payload, signature = forged.split(".")
        assert (head, signature) == ("eyJhbGciOiJSUzI1NiJ9", "c2ln")
        assert payload != "eyJzdWIiOiJ1c2VyX2RlbW8ifQ"
        assert "=" not in payload


def _lines(stream: Any, into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(line)


def test_serve_keeps_running_and_stops_on_ctrl_c() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "demo", "--serve"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        env=_env(),
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_lines, args=(process.stdout, lines), daemon=True).start()
    try:
        url = None
        deadline = time.monotonic() + 30
        while url is None and time.monotonic() < deadline:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line.strip().startswith("http://localhost:"):
                url = line.strip()
        assert url is not None, "no URL printed"
        with httpx.Client(timeout=5) as http:
            page = http.get(url.replace("localhost", "127.0.0.1"))
            config = http.get(url.replace("localhost", "127.0.0.1") + "config.json").json()
            assert page.status_code == 200
            for api_url in config["apis"].values():  # the APIs are still up
                assert http.get(api_url + "/api/hello").status_code == 401
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
    stderr = process.stderr.read() if process.stderr else ""
    assert code == 0, stderr
    assert "Traceback" not in stderr
