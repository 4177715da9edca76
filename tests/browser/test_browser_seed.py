"""The seed in a real browser: headless Chromium runs Clerk's cross-origin fetch code.

``demo/static/index.html`` is served on its own origin (``http://localhost:PORT``); the
Flask, Starlette and Django APIs each on another. The page gets its tokens over HTTP from
the mock issuer's token endpoint (as ``getToken()`` does from Clerk's Frontend API) and
calls every API with ``Authorization: Bearer …``. We assert what the page received,
and, from the APIs' side, that the browser's own CORS preflight (forced by the
``Authorization`` header) was sent and allowed.

Needs Debian's ``chromium`` (``apt-get install -y chromium``) and Playwright for Python
(``pip install playwright``; never ``playwright install``: the system browser is used).
Skipped, with the reason, when either is missing.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from demo.cases import CASES, DEMO_USER
from demo.stack import DemoStack

#: Every wait is bounded; the whole test must stay under this.
BUDGET = 30.0
WAIT_MS = 10_000
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
APIS = ("flask", "starlette", "django")


def _chromium() -> str:
    found = os.environ.get("CLERK_AUTH_CHROMIUM") or next(
        (path for name in ("chromium", "chromium-browser") if (path := shutil.which(name))), None
    )
    if found is None or not Path(found).exists():
        pytest.skip("no chromium binary (Debian: apt-get install -y chromium)")
    return found


def test_the_seed_fetch_code_in_headless_chromium() -> None:
    executable = _chromium()
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright for Python is not installed"
    )
    started = time.monotonic()
    browser_cases = [case for case in CASES if case.browser]
    with (
        DemoStack() as stack,
        tempfile.TemporaryDirectory(prefix="clerk-auth-chromium-") as profile,
        sync_api.sync_playwright() as playwright,
    ):
        context = playwright.chromium.launch_persistent_context(
            profile,  # a fresh --user-data-dir
            executable_path=executable,
            headless=True,
            args=FLAGS,
            timeout=WAIT_MS,
        )
        try:
            page = context.new_page()
            page.set_default_timeout(WAIT_MS)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(stack.frontend_url, wait_until="load")
            page.wait_for_selector("body[data-ready=true]")
            assert page.evaluate("location.origin") == stack.frontend_origin
            results: list[dict[str, Any]] = page.evaluate("() => window.demo.runAll()")
            summary = page.inner_text("#summary")
            cells_ok = page.locator('#results td[data-ok="true"]').count()
            cells_bad = page.locator('#results td[data-ok="false"]').count()
        finally:
            context.close()
        preflights = stack.log.preflights()
        requests = stack.log.entries()
    assert errors == []

    by_cell = {(r["case"], r["api"]): r for r in results}
    assert set(by_cell) == {(case.key, api) for case in browser_cases for api in APIS}
    for api in APIS:
        # A valid token from getToken(): the API's data reached the page.
        valid = by_cell["valid", api]
        assert valid["status"] == 200, valid
        assert valid["raw"]["body"] == {"user_id": DEMO_USER, "framework": api}
        # Bad tokens: a 401 the page could read (CORS on the error too), with the reason.
        for key, reason in [
            ("expired", "token-expired"),
            ("other-azp", "token-invalid-authorized-parties"),
            ("forged", "token-invalid-signature"),
            ("none", "session-token-and-uat-missing"),
        ]:
            raw = by_cell[key, api]["raw"]
            assert "error" not in raw, raw
            assert (raw["status"], raw["body"]["reason"]) == (401, reason)
        # Step-up: a recent second factor passes the sensitive route; an old one gets
        # Clerk's 403, and the page read the level to ask for from clerk_error.
        assert by_cell["step-up-fresh", api]["status"] == 200
        stale = by_cell["step-up-stale", api]
        assert stale["raw"]["status"] == 403
        assert stale["raw"]["body"] == {
            "clerk_error": {
                "type": "forbidden",
                "reason": "reverification-error",
                "metadata": {"reverification": "strict"},
            }
        }
        assert stale["level"] == "strict"
        assert stale["shown"] == "403 reverification-error (strict)"
        # The preflight the browser sent on its own, and the GET it let through.
        preflight = by_cell["preflight", api]["raw"]["preflight"]
        assert preflight is not None
        assert 200 <= preflight["status"] < 300
        assert preflight["allow_origin"] == stack.frontend_origin
        assert by_cell["preflight", api]["raw"]["after"]["status"] == 200
    assert all(r["ok"] for r in results), [r for r in results if not r["ok"]]
    assert (cells_ok, cells_bad) == (len(browser_cases) * len(APIS), 0)
    assert summary == f"✓ all {len(browser_cases) * len(APIS)} answers as expected"

    # From the servers' side: every request with Authorization was preceded by a
    # preflight from the page's origin, asking for that header, and allowed.
    for api in APIS:
        sent = [p for p in preflights if p["api"] == api]
        assert sent, f"no preflight reached the {api} API"
        for p in sent:
            assert p["origin"] == stack.frontend_origin
            assert p["request_method"] == "GET"
            assert "authorization" in p["request_headers"].lower()
            assert p["allow_origin"] == stack.frontend_origin
            assert "authorization" in (p["allow_headers"] or "").lower()
        authorized = [r for r in requests if r["api"] == api and r["authorization"]]
        # valid, expired, other-azp, forged, the two step-up calls, preflight's GET
        assert len(authorized) >= 7
        assert all(r["origin"] == stack.frontend_origin for r in authorized)
    assert time.monotonic() - started < BUDGET
