"""docs/core.md, "Protect any WSGI app in 20 lines", under a real WSGI server.

The page's own blocks run in-process (test_examples.py); here the middleware they
define is served by wsgiref on 127.0.0.1 and called over HTTP the way a browser
would: a CORS preflight, a request without a token, one with a token.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx
import pytest
from test_examples import DOCS, _Env, _environment, parse_page

from clerk_auth_core.testing import MockClerk

FRONT_END = "http://localhost:3000"


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # no access log on the test's stderr


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, str]]:
    """The page's ``protected`` app on a real server: ``(base URL, a valid token)``."""
    blocks = parse_page(Path(DOCS / "core.md"))[:2]
    with MockClerk(origin=FRONT_END) as clerk:
        token = clerk.mint(sub="user_wsgi")
        namespace: dict[str, Any] = {"__name__": "docs_core", "token": clerk.mint(sub="user_docs")}
        with _Env(_environment(clerk, "jwks")):
            for block in blocks:
                code = "\n" * (block.line - 1) + block.code  # the page's line numbers
                exec(compile(code, str(DOCS / "core.md"), "exec"), namespace)
        server: WSGIServer = make_server(
            "127.0.0.1", 0, namespace["protected"], handler_class=_QuietHandler
        )
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}", token
        finally:
            server.shutdown()
            server.server_close()
            thread.join(5)


def test_a_preflight_reaches_the_app(served: tuple[str, str]) -> None:
    url, _ = served
    preflight = {
        "Origin": FRONT_END,
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
    }
    response = httpx.options(url + "/api/hello", headers=preflight, timeout=5)
    assert response.status_code == 204, response.text
    assert response.headers["access-control-allow-origin"] == FRONT_END
    assert "authorization" in response.headers["access-control-allow-headers"].lower()


def test_no_token_gets_one_json_401(served: tuple[str, str]) -> None:
    url, _ = served
    response = httpx.get(url + "/api/hello", headers={"Origin": FRONT_END}, timeout=5)
    assert response.status_code == 401
    assert response.headers.get_list("content-type") == ["application/json"]
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["reason"] == "session-token-and-uat-missing"


def test_a_valid_token_gets_through(served: tuple[str, str]) -> None:
    url, token = served
    headers = {"Origin": FRONT_END, "Authorization": f"Bearer {token}"}
    response = httpx.get(url + "/api/hello", headers=headers, timeout=5)
    assert response.status_code == 200
    assert response.text == "hello user_wsgi"
    assert response.headers["access-control-allow-origin"] == FRONT_END
