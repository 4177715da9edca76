"""The Flask adapter under a threaded server and across fork: one provider per app."""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server

from clerk_auth_core import JwksPolicy
from clerk_auth_core.io import SyncKeyProvider
from clerk_auth_core.testing import MockClerk
from clerk_auth_flask import ClerkAuth, get_auth, require_auth


def _me() -> dict[str, Any]:
    claims = get_auth()
    return {"user_id": None if claims is None else claims.user_id}


def _app(clerk: MockClerk) -> Flask:
    app = Flask("threads")
    ClerkAuth(app, config=clerk.config(jwks=JwksPolicy(unknown_kid_cooldown=0.0)))
    app.get("/me")(require_auth(_me))
    return app


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


@pytest.fixture
def clerk() -> Iterator[MockClerk]:
    with MockClerk() as mock:
        yield mock
        assert not mock.errors


def test_concurrent_cold_start_fetches_once(clerk: MockClerk) -> None:
    clerk.set_fault("slow", delay=0.5)  # every request arrives while the one fetch runs
    server = make_server("127.0.0.1", 0, _app(clerk), threaded=True, request_handler=_Quiet)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    url = f"http://127.0.0.1:{server.socket.getsockname()[1]}/me"
    token = clerk.mint(sub="user_herd")
    barrier = threading.Barrier(50)
    statuses: list[int] = []

    def call(client: httpx.Client) -> None:
        barrier.wait(timeout=10)
        response = client.get(url, headers={"Authorization": f"Bearer {token}"})
        statuses.append(response.status_code)

    try:
        with httpx.Client(timeout=10, limits=httpx.Limits(max_connections=60)) as client:
            callers = [threading.Thread(target=call, args=(client,)) for _ in range(50)]
            for caller in callers:
                caller.start()
            for caller in callers:
                caller.join(15)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert statuses == [200] * 50
    assert clerk.jwks_hits == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")
@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")
def test_forked_worker_fetches_with_its_own_client(clerk: MockClerk) -> None:
    # gunicorn --preload: the app (and its warmed provider) is built, then forked.
    app = _app(clerk)
    warm = app.test_client().get("/me", headers={"Authorization": f"Bearer {clerk.mint()}"})
    assert warm.status_code == 200
    clerk.rotate(keep_old=True)
    headers = {"Authorization": f"Bearer {clerk.mint(sub='user_child')}"}  # a new kid
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: answer one request, report, and leave without cleanup
        code = 1
        try:
            response = app.test_client().get("/me", headers=headers)
            os.write(write_end, f"{response.status_code} {response.text.strip()}".encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        report = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert report == '200 {"user_id":"user_child"}'
    assert clerk.jwks_hits == 2  # the child refetched for the new kid
    assert app.test_client().get("/me", headers=headers).status_code == 200  # parent too


def test_the_provider_made_for_an_app_is_closed_with_it(clerk: MockClerk) -> None:
    app = _app(clerk)
    ok = app.test_client().get("/me", headers={"Authorization": f"Bearer {clerk.mint()}"})
    assert ok.status_code == 200
    provider = app.extensions["clerk_auth"].source
    assert isinstance(provider, SyncKeyProvider)
    client = provider._client  # made by the provider for the fetch
    assert client is not None
    assert not client.is_closed
    del app, ok
    gc.collect()
    assert client.is_closed
    assert provider._client is None
