"""The Flask app the server tests run under gunicorn (``flask_app:app``).

``GET /me`` needs a session (``{"user_id", "pid"}``); ``GET /machine`` takes any
token kind (``{"subject", "token_type", "pid"}``); ``GET /public`` needs none;
``GET /_stats`` shows this worker's key-cache counters. Every response carries
``X-Worker-Pid`` so a test can tell which worker (which key cache) answered.
"""

from __future__ import annotations

import os
from typing import Any

from _settings import config, warm_up
from flask import Flask, Response, current_app

from clerk_auth_flask import ClerkAuth, get_auth, get_verified, require_auth

app = Flask("clerk_auth_server_test")
ClerkAuth(app, config=config(), warm_up=warm_up())


def key_stats(flask_app: Flask) -> dict[str, Any]:
    """The key provider's counters (the provider ClerkAuth made for this app)."""
    stats: dict[str, Any] = flask_app.extensions["clerk_auth"].source.stats.as_dict()
    return stats


@app.after_request
def worker_pid(response: Response) -> Response:
    response.headers["X-Worker-Pid"] = str(os.getpid())
    return response


@app.get("/me")
@require_auth
def me() -> dict[str, Any]:
    claims = get_auth()
    return {"user_id": None if claims is None else claims.user_id, "pid": os.getpid()}


@app.get("/machine")
@require_auth(accepts="any")
def machine() -> dict[str, Any]:
    verified = get_verified()
    assert verified is not None
    return {"subject": verified.subject, "token_type": verified.token_type, "pid": os.getpid()}


@app.get("/public")
def public() -> dict[str, Any]:
    return {"public": True, "pid": os.getpid()}


@app.get("/_stats")
def stats() -> dict[str, Any]:
    return {"pid": os.getpid(), "stats": key_stats(current_app)}
