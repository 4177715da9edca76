"""The Flask driver: ``clerk_auth_flask`` on a Flask app."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Blueprint, Flask, Response, request

from clerk_auth_core import ClerkConfig
from clerk_auth_flask import ClerkAuth, get_auth, get_verified, require_auth

from . import MACHINE_ROUTES, PERMISSION, REVERIFICATION, ROLE, serve_wsgi, verified_body


def _user_id() -> dict[str, str | None]:
    claims = get_auth()
    return {"user_id": None if claims is None else claims.user_id}


def _verified() -> dict[str, str | None]:
    return verified_body(get_verified())


def make_app(config: ClerkConfig) -> Flask:
    """The small API on Flask."""
    app = Flask("conformance")
    # The scenarios set the key cache's state themselves ("down-cold"): no warm-up.
    ClerkAuth(app, config=config, warm_up=False)

    @app.after_request
    def cors(response: Response) -> Response:
        # What flask-cors does for these origins, in three lines.
        origin = request.headers.get("Origin")
        if origin in config.authorized_parties:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Headers"] = "authorization"
            response.vary.add("Origin")
        return response

    app.get("/protected")(require_auth(_user_id))
    app.get("/optional", endpoint="optional")(require_auth(optional=True)(_user_id))
    app.get("/admin", endpoint="admin")(require_auth(role=ROLE)(_user_id))
    app.get("/reports", endpoint="reports")(require_auth(permission=PERMISSION)(_user_id))
    app.get("/pending-ok", endpoint="pending")(require_auth(allow_pending=True)(_user_id))
    app.get("/sensitive", endpoint="sensitive")(
        require_auth(reverification=REVERIFICATION)(_user_id)
    )
    for path, (accepts, role) in MACHINE_ROUTES.items():
        app.get(path, endpoint=path)(require_auth(accepts=accepts, role=role)(_verified))
    return app


@contextmanager
def serve(config: ClerkConfig) -> Iterator[str]:
    """Serve the small API with Flask."""
    with serve_wsgi(make_app(config)) as url:
        yield url


def make_pair_app(config_a: ClerkConfig, config_b: ClerkConfig) -> Flask:
    """Two ClerkAuth on one app (issue 12): ``/a/protected`` guarded by the app's
    default (A), ``/b/protected`` by B's own ``require_auth`` in a blueprint, ``/both/protected``
    by A (optional) wrapped around B (required)."""
    app = Flask("conformance-pair")
    auth_b = ClerkAuth(app, config=config_b)
    auth_a = ClerkAuth(app, config=config_a)  # initialised last: the app's default
    blueprint = Blueprint("b", __name__, url_prefix="/b")
    blueprint.get("/protected")(auth_b.require_auth(_user_id))
    app.register_blueprint(blueprint)
    app.get("/a/protected", endpoint="a")(require_auth(_user_id))
    both = auth_a.require_auth(optional=True)(auth_b.require_auth(_user_id))
    app.get("/both/protected", endpoint="both")(both)
    return app


@contextmanager
def serve_pair(config_a: ClerkConfig, config_b: ClerkConfig) -> Iterator[str]:
    """Serve the two-instance app with Flask."""
    with serve_wsgi(make_pair_app(config_a, config_b)) as url:
        yield url
