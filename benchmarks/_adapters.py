"""The adapters' per-request cost: the same route with and without authentication,
called as raw WSGI / ASGI (no server, no sockets), with the same repeated token a front
end sends; and the core's own cost for that request (``authenticate_with``)."""

from __future__ import annotations

import asyncio
import io
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Any

from clerk_auth_core import authenticate_with, authenticate_with_async
from clerk_auth_core._extract import REQUEST_HEADERS
from clerk_auth_core.io import AsyncStaticKeyProvider, StaticKeyProvider

from ._fixtures import AZP, Fixtures, copies
from ._timing import Candidate
from ._verifiers import BenchmarkError

__all__ = [
    "django_candidates",
    "drf_candidates",
    "fastapi_candidates",
    "flask_candidates",
    "starlette_candidates",
]

_HEADERS = {"Host": "api.example.com", "Accept": "application/json", "Origin": AZP}
_HEADERS["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) bench"


# -- Flask (WSGI) -------------------------------------------------------------------------


def _environ(path: str, token: str | None) -> dict[str, Any]:
    env: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "api.example.com",
        "SERVER_PORT": "443",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "https",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in _HEADERS.items():
        env["HTTP_" + name.upper().replace("-", "_")] = value
    if token is not None:
        env["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return env


def flask_candidates(fx: Fixtures, calls: int) -> list[Candidate]:
    """``/open`` and ``/protected`` (``@require_auth``): the same view, one app."""
    from flask import Flask, request

    from clerk_auth_flask import ClerkAuth, get_auth, require_auth

    config = fx.pem_config
    app = Flask("bench")
    ClerkAuth(app, config=config)

    def view() -> dict[str, bool]:
        return {"ok": True}

    source = StaticKeyProvider(config.static_keys)  # type: ignore[arg-type]
    environ_keys = [(n, "HTTP_" + n.upper().replace("-", "_")) for n in REQUEST_HEADERS]

    def by_hand() -> Any:
        # The core called directly from the view: what @require_auth does, minus the
        # adapter (no g, no decorator); refusing as plainly as possible.
        environ = request.environ
        state = authenticate_with(
            source,
            [(n, environ[k]) for n, k in environ_keys if k in environ],
            config=config,
            now=time.time(),
            method=environ.get("REQUEST_METHOD"),
        )
        if not state.signed_in:
            return {"error": state.reason}, 401
        return view()

    app.add_url_rule("/open", "open", view)
    app.add_url_rule("/core", "core", by_hand)
    app.add_url_rule("/protected", "protected", require_auth(view))

    @app.get("/whoami")
    @require_auth
    def whoami() -> dict[str, str | None]:
        claims = get_auth()
        return {"sub": None if claims is None else claims.user_id}

    wsgi = app.wsgi_app
    status: list[str] = []

    def start_response(s: str, _headers: Any, _exc: Any = None) -> Any:
        status.append(s)
        return None

    def call(env: dict[str, Any]) -> bytes:
        result = wsgi(env, start_response)
        try:
            return b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()

    token = fx.tokens[0]
    # Checked first: the right user, and a refusal for garbage and for no token.
    body = call(_environ("/whoami", token))
    if status[-1] != "200 OK" or fx.subs[0].encode() not in body:
        raise BenchmarkError(f"Flask: /whoami answered {status[-1]} {body!r}")
    for value in (fx.garbage[1].token, None):
        call(_environ("/protected", value))
        if not status[-1].startswith("401"):
            raise BenchmarkError(f"Flask: garbage answered {status[-1]}")
    for path in ("/protected", "/core", "/open"):
        call(_environ(path, token))
    if status[-3:] != ["200 OK"] * 3:
        raise BenchmarkError(f"Flask: routes answered {status[-3:]}")
    call(_environ("/core", fx.garbage[1].token))
    if not status[-1].startswith("401"):
        raise BenchmarkError("Flask: /core accepted garbage")

    def route(path: str) -> Callable[[], Callable[[], object]]:
        def prepare() -> Callable[[], object]:
            envs = [_environ(path, t) for t in copies([token] * calls)]
            status.clear()

            def batch() -> None:
                for env in envs:
                    call(env)

            return batch

        return prepare

    def core() -> Callable[[], object]:
        headers = [{**_HEADERS, "Authorization": f"Bearer {t}"} for t in copies([token] * calls)]

        def batch() -> None:
            for h in headers:
                authenticate_with(source, h, config=config, now=time.time(), method="GET")

        return batch

    state = authenticate_with(
        source, {"Authorization": f"Bearer {token}"}, config=config, now=time.time()
    )
    if not state.signed_in:
        raise BenchmarkError("core: authenticate_with refused the token")
    return [
        Candidate("Flask: route without auth", route("/open"), calls),
        Candidate("Flask: route calling the core by hand", route("/core"), calls),
        Candidate("Flask: route with @require_auth", route("/protected"), calls),
        Candidate(
            "Flask: authenticate_with alone", core, calls, note="informational: outside Flask"
        ),
    ]


# -- Starlette and FastAPI (ASGI) -------------------------------------------------------------


def _scope(path: str, token: str | None) -> dict[str, Any]:
    headers = [(k.lower().encode(), v.encode()) for k, v in _HEADERS.items()]
    if token is not None:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 443),
        "state": {},
    }


class _Asgi:
    """Calls an ASGI app on one event loop; remembers the statuses and bodies."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.status: list[int] = []
        self.body: list[bytes] = []

    async def _receive(self) -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def _send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status.append(message["status"])
        elif message["type"] == "http.response.body":
            self.body.append(message.get("body", b""))

    def call(self, app: Any, scope: dict[str, Any]) -> tuple[int, bytes]:
        self.loop.run_until_complete(app(scope, self._receive, self._send))
        return self.status[-1], self.body[-1]

    def batch(self, app: Any, path: str, tokens: list[str]) -> Callable[[], Callable[[], object]]:
        receive, send = self._receive, self._send

        def prepare() -> Callable[[], object]:
            scopes = [_scope(path, t) for t in copies(tokens)]
            self.status.clear()
            self.body.clear()

            async def run() -> None:
                for scope in scopes:
                    await app(scope, receive, send)

            return lambda: self.loop.run_until_complete(run())

        return prepare

    def coroutines(
        self,
        make: Callable[[list[tuple[bytes, bytes]]], Coroutine[Any, Any, object]],
        n: int,
        token: str,
    ) -> Callable[[], Callable[[], object]]:
        def prepare() -> Callable[[], object]:
            headers = [_scope("/", t)["headers"] for t in copies([token] * n)]

            async def run() -> None:
                for h in headers:
                    await make(h)

            return lambda: self.loop.run_until_complete(run())

        return prepare


def starlette_candidates(fx: Fixtures, calls: int) -> list[Candidate]:
    """The same Starlette app without and with ``ClerkAuthMiddleware`` (reject mode)."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from clerk_auth_starlette import ClerkAuthMiddleware

    config = fx.pem_config

    async def endpoint(request: Request) -> JSONResponse:
        user = request.scope.get("user")
        return JSONResponse({"ok": True, "sub": getattr(user, "identity", None)})

    source = AsyncStaticKeyProvider(config.static_keys)  # type: ignore[arg-type]

    class ByHand:
        """The core called from the plainest pure ASGI middleware: what
        ClerkAuthMiddleware does, minus the adapter (no request.user, no exclusions)."""

        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            state = await authenticate_with_async(
                source, scope["headers"], config=config, now=time.time(), method=scope["method"]
            )
            if state.signed_in:
                await self.app(scope, receive, send)
            else:
                await JSONResponse({"error": state.reason}, 401)(scope, receive, send)

    plain = Starlette(routes=[Route("/r", endpoint)])
    by_hand = Starlette(routes=[Route("/r", endpoint)], middleware=[Middleware(ByHand)])
    guarded = Starlette(
        routes=[Route("/r", endpoint)], middleware=[Middleware(ClerkAuthMiddleware, config=config)]
    )
    asgi = _Asgi()
    token = fx.tokens[0]
    status, body = asgi.call(guarded, _scope("/r", token))
    if status != 200 or fx.subs[0].encode() not in body:
        raise BenchmarkError(f"Starlette: answered {status} {body!r}")
    for value in (fx.garbage[1].token, None):
        status, body = asgi.call(guarded, _scope("/r", value))
        if status != 401:
            raise BenchmarkError(f"Starlette: garbage answered {status}")
    if asgi.call(plain, _scope("/r", token))[0] != 200:
        raise BenchmarkError("Starlette: the plain app failed")
    if asgi.call(by_hand, _scope("/r", token))[0] != 200:
        raise BenchmarkError("Starlette: the by-hand app refused a valid token")
    if asgi.call(by_hand, _scope("/r", fx.garbage[1].token))[0] != 401:
        raise BenchmarkError("Starlette: the by-hand app accepted garbage")

    def core(headers: list[tuple[bytes, bytes]]) -> Coroutine[Any, Any, object]:
        return authenticate_with_async(
            source, headers, config=config, now=time.time(), method="GET"
        )

    return [
        Candidate("Starlette: route without auth", asgi.batch(plain, "/r", [token] * calls), calls),
        Candidate(
            "Starlette: route behind the core by hand",
            asgi.batch(by_hand, "/r", [token] * calls),
            calls,
        ),
        Candidate(
            "Starlette: route with ClerkAuthMiddleware",
            asgi.batch(guarded, "/r", [token] * calls),
            calls,
        ),
        Candidate(
            "Starlette: authenticate_with_async alone",
            asgi.coroutines(core, calls, token),
            calls,
            note="informational: outside Starlette",
        ),
    ]


def fastapi_candidates(fx: Fixtures, calls: int, notes: list[str]) -> list[Candidate]:
    """The same FastAPI route: no dependency, ``Depends(auth.required)`` (ours, no
    middleware), and fastapi-clerk-auth's ``ClerkHTTPBearer`` (if installed)."""
    from fastapi import Depends, FastAPI

    from clerk_auth_core import SessionClaims
    from clerk_auth_starlette.fastapi import ClerkAuth

    config = fx.pem_config
    token = fx.tokens[0]
    asgi = _Asgi()

    plain = FastAPI()

    @plain.get("/r")
    async def r_plain() -> dict[str, bool]:
        return {"ok": True}

    auth = ClerkAuth(config)
    ours = FastAPI()

    @ours.get("/r")
    async def r_ours(claims: SessionClaims = Depends(auth.required)) -> dict[str, bool]:  # noqa: B008
        return {"ok": True}

    @ours.get("/whoami")
    async def whoami(claims: SessionClaims = Depends(auth.required)) -> dict[str, str]:  # noqa: B008
        return {"sub": claims.user_id}

    status, body = asgi.call(ours, _scope("/whoami", token))
    if status != 200 or fx.subs[0].encode() not in body:
        raise BenchmarkError(f"FastAPI: answered {status} {body!r}")
    for value in (fx.garbage[1].token, None):
        if asgi.call(ours, _scope("/r", value))[0] != 401:
            raise BenchmarkError("FastAPI: garbage was not refused")
    for app in (plain, ours):
        if asgi.call(app, _scope("/r", token))[0] != 200:
            raise BenchmarkError("FastAPI: a route failed")
    out = [
        Candidate("FastAPI: route without auth", asgi.batch(plain, "/r", [token] * calls), calls),
        Candidate(
            "FastAPI: Depends(auth.required)", asgi.batch(ours, "/r", [token] * calls), calls
        ),
    ]
    try:
        from fastapi_clerk_auth import ClerkConfig as FcaConfig
        from fastapi_clerk_auth import ClerkHTTPBearer, HTTPAuthorizationCredentials
    except ImportError:
        notes.append("fastapi-clerk-auth: skipped, not installed")
        return out
    bearer = ClerkHTTPBearer(FcaConfig(jwks_url=fx.clerk.jwks_url))
    theirs = FastAPI()

    @theirs.get("/r")
    async def r_theirs(
        creds: HTTPAuthorizationCredentials | None = Depends(bearer),  # noqa: B008
    ) -> dict[str, bool]:
        return {"ok": True}

    @theirs.get("/whoami")
    async def whoami_theirs(
        creds: HTTPAuthorizationCredentials | None = Depends(bearer),  # noqa: B008
    ) -> dict[str, Any]:
        return {"sub": None if creds is None or creds.decoded is None else creds.decoded["sub"]}

    status, body = asgi.call(theirs, _scope("/whoami", token))
    refused = asgi.call(theirs, _scope("/r", fx.garbage[1].token))[0]
    if status != 200 or fx.subs[0].encode() not in body or refused < 400:
        notes.append(f"fastapi-clerk-auth: skipped, its check failed ({status}, {refused})")
        return out
    out.append(
        Candidate(
            "FastAPI: fastapi-clerk-auth ClerkHTTPBearer",
            asgi.batch(theirs, "/r", [token] * calls),
            calls,
        )
    )
    return out


# -- Django and DRF (WSGI) ------------------------------------------------------------------

#: The routes the Django handlers serve (ROOT_URLCONF is this module: Django resolves
#: against the one process-wide setting, so every route of both groups lives here).
urlpatterns: list[Any] = []


def _django_handlers(fx: Fixtures) -> tuple[Any, Any, Any]:
    """Django configured once (no database, JSON only): ``(handler, with_middleware,
    auth)``, two WSGI handlers over this module's routes, the second one with
    ``ClerkAuthMiddleware`` (reject mode) in front."""
    import django
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.test.utils import override_settings

    from clerk_auth_django import ClerkAuth

    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY="bench-not-secret",
            ALLOWED_HOSTS=["*"],
            ROOT_URLCONF=__name__,
            MIDDLEWARE=[],
            INSTALLED_APPS=[],
            REST_FRAMEWORK={
                "DEFAULT_AUTHENTICATION_CLASSES": [],
                "DEFAULT_PERMISSION_CLASSES": [],
                "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
                "UNAUTHENTICATED_USER": None,
            },
        )
        django.setup()
    auth = ClerkAuth(fx.pem_config)
    handler = WSGIHandler()
    with override_settings(MIDDLEWARE=[f"{__name__}._BenchMiddleware"]):
        _BenchMiddleware.auth = auth
        with_middleware = WSGIHandler()  # loads (so instantiates) the middleware now
    return handler, with_middleware, auth


class _BenchMiddleware:
    """``ClerkAuthMiddleware`` (reject mode) with the benchmark's ClerkAuth."""

    auth: Any = None

    def __new__(cls, get_response: Any) -> Any:  # type: ignore[misc]
        from clerk_auth_django import ClerkAuthMiddleware

        return ClerkAuthMiddleware(get_response, auth=cls.auth, mode="reject")


class _Wsgi:
    """Calls a WSGI app; remembers the statuses."""

    def __init__(self) -> None:
        self.status: list[str] = []

    def start_response(self, s: str, _headers: Any, _exc: Any = None) -> Any:
        self.status.append(s)
        return None

    def call(self, app: Any, env: dict[str, Any]) -> bytes:
        result = app(env, self.start_response)
        try:
            return b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()

    def route(self, app: Any, path: str, tokens: list[str]) -> Callable[[], Callable[[], object]]:
        def prepare() -> Callable[[], object]:
            envs = [_environ(path, t) for t in copies(tokens)]
            self.status.clear()

            def batch() -> None:
                for env in envs:
                    self.call(app, env)

            return batch

        return prepare

    def check(self, label: str, app: Any, path: str, token: str | None, want: str) -> bytes:
        body = self.call(app, _environ(path, token))
        if not self.status[-1].startswith(want):
            raise BenchmarkError(f"{label}: {path} answered {self.status[-1]} {body[:200]!r}")
        return body


def _by_hand(config: Any) -> Callable[[Any], Any]:
    """The core called from a Django view, refusing as plainly as possible (what the
    adapter does, minus the adapter)."""
    source = StaticKeyProvider(config.static_keys)
    keys = [(n, "HTTP_" + n.upper().replace("-", "_")) for n in REQUEST_HEADERS]

    def state_of(request: Any) -> Any:
        meta = request.META
        return authenticate_with(
            source,
            [(n, meta[k]) for n, k in keys if k in meta],
            config=config,
            now=time.time(),
            method=request.method,
        )

    return state_of


def django_candidates(fx: Fixtures, calls: int) -> list[Candidate]:
    """``/dj/open``, ``/dj/core`` (the core by hand) and ``/dj/protected``
    (``@require_auth``) in one handler; ``/dj/open`` behind ``ClerkAuthMiddleware``."""
    from django.http import JsonResponse
    from django.urls import path

    from clerk_auth_django import require_auth

    handler, with_middleware, auth = _django_handlers(fx)
    state_of = _by_hand(fx.pem_config)

    def view(request: Any) -> JsonResponse:
        return JsonResponse({"ok": True})

    def core(request: Any) -> JsonResponse:
        state = state_of(request)
        if not state.signed_in:
            return JsonResponse({"error": state.reason}, status=401)
        return view(request)

    def whoami(request: Any) -> JsonResponse:
        claims = request.clerk_auth
        return JsonResponse({"sub": None if claims is None else claims.user_id})

    urlpatterns.extend(
        [
            path("dj/open", view),
            path("dj/core", core),
            path("dj/protected", require_auth(auth=auth)(view)),
            path("dj/whoami", require_auth(auth=auth)(whoami)),
        ]
    )
    wsgi = _Wsgi()
    token = fx.tokens[0]
    if fx.subs[0].encode() not in wsgi.check("Django", handler, "/dj/whoami", token, "200"):
        raise BenchmarkError("Django: /dj/whoami is not the token's user")
    for value in (fx.garbage[1].token, None):
        wsgi.check("Django", handler, "/dj/protected", value, "401")
        wsgi.check("Django", with_middleware, "/dj/open", value, "401")
        wsgi.check("Django", handler, "/dj/core", value, "401")
    for app, route in ((handler, "/dj/open"), (handler, "/dj/core"), (handler, "/dj/protected")):
        wsgi.check("Django", app, route, token, "200")
    wsgi.check("Django", with_middleware, "/dj/open", token, "200")
    tokens = [token] * calls
    return [
        Candidate("Django: route without auth", wsgi.route(handler, "/dj/open", tokens), calls),
        Candidate(
            "Django: route calling the core by hand",
            wsgi.route(handler, "/dj/core", tokens),
            calls,
        ),
        Candidate(
            "Django: route with @require_auth", wsgi.route(handler, "/dj/protected", tokens), calls
        ),
        Candidate(
            "Django: route behind ClerkAuthMiddleware",
            wsgi.route(with_middleware, "/dj/open", tokens),
            calls,
            note="informational: reject mode, no guard",
        ),
    ]


def drf_candidates(fx: Fixtures, calls: int) -> list[Candidate]:
    """The same ``APIView``: no authentication, the core by hand in ``get``, and
    ``ClerkAuthentication`` + ``IsClerkAuthenticated``."""
    handler, _with_middleware, auth = _django_handlers(fx)
    from django.urls import path
    from rest_framework.permissions import AllowAny
    from rest_framework.response import Response
    from rest_framework.views import APIView

    from clerk_auth_django.drf import ClerkAuthentication, IsClerkAuthenticated

    state_of = _by_hand(fx.pem_config)

    class Open(APIView):
        authentication_classes = ()
        permission_classes = (AllowAny,)

        def get(self, request: Any) -> Response:
            return Response({"ok": True})

    class ByHand(Open):
        def get(self, request: Any) -> Response:
            state = state_of(request._request)
            if not state.signed_in:
                return Response({"error": state.reason}, status=401)
            return Response({"ok": True})

    class Authentication(ClerkAuthentication):
        pass

    Authentication.auth = auth

    class Protected(Open):
        authentication_classes = (Authentication,)
        permission_classes = (IsClerkAuthenticated,)

    class WhoAmI(Protected):
        def get(self, request: Any) -> Response:
            return Response({"sub": request.user.id})

    urlpatterns.extend(
        [
            path("drf/open", Open.as_view()),
            path("drf/core", ByHand.as_view()),
            path("drf/protected", Protected.as_view()),
            path("drf/whoami", WhoAmI.as_view()),
        ]
    )
    wsgi = _Wsgi()
    token = fx.tokens[0]
    if fx.subs[0].encode() not in wsgi.check("DRF", handler, "/drf/whoami", token, "200"):
        raise BenchmarkError("DRF: /drf/whoami is not the token's user")
    for value in (fx.garbage[1].token, None):
        wsgi.check("DRF", handler, "/drf/protected", value, "401")
        wsgi.check("DRF", handler, "/drf/core", value, "401")
    for route in ("/drf/open", "/drf/core", "/drf/protected"):
        wsgi.check("DRF", handler, route, token, "200")
    tokens = [token] * calls
    return [
        Candidate("DRF: APIView without auth", wsgi.route(handler, "/drf/open", tokens), calls),
        Candidate(
            "DRF: APIView calling the core by hand", wsgi.route(handler, "/drf/core", tokens), calls
        ),
        Candidate(
            "DRF: APIView with ClerkAuthentication",
            wsgi.route(handler, "/drf/protected", tokens),
            calls,
        ),
    ]
