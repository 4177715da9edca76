"""The FastAPI driver: ``clerk_auth_starlette.fastapi`` dependencies without the
middleware (they authenticate themselves), behind ``CORSMiddleware``; uvicorn. The
machine-token routes use ``auth.machine(...)`` where they take machine kinds only and no
role, ``auth.accepting(...)`` otherwise."""

# No ``from __future__ import annotations``: FastAPI resolves the routes' annotations,
# which name dependencies local to make_app, at runtime.

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Security
from fastapi.middleware.cors import CORSMiddleware

from clerk_auth_core import AcceptsToken, ClerkConfig, SessionClaims
from clerk_auth_starlette import ClerkAuthMiddleware
from clerk_auth_starlette.fastapi import ClerkAuth, install_exception_handler

from . import MACHINE_ROUTES, PERMISSION, REVERIFICATION, ROLE, verified_body
from .starlette import serve_asgi

__all__ = ["make_app", "make_pair_app", "serve", "serve_pair"]


def make_app(config: ClerkConfig) -> FastAPI:
    """The small API on FastAPI."""
    auth = ClerkAuth(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await auth.aclose()

    app = FastAPI(lifespan=lifespan)
    install_exception_handler(app)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(config.authorized_parties),
        allow_methods=["GET"],
        allow_headers=["authorization"],
    )
    Claims = Annotated[SessionClaims, Depends(auth.required)]
    Optional = Annotated[SessionClaims | None, Depends(auth.optional)]
    Admin = Annotated[SessionClaims, Security(auth.require(role=ROLE))]
    Reports = Annotated[SessionClaims, Security(auth.require(permission=PERMISSION))]
    Pending = Annotated[SessionClaims, Depends(auth.require(allow_pending=True))]
    Sensitive = Annotated[SessionClaims, Depends(auth.require(reverification=REVERIFICATION))]

    @app.get("/protected")
    async def protected(claims: Claims) -> dict[str, str | None]:
        return {"user_id": claims.user_id}

    @app.get("/optional")
    async def optional(claims: Optional) -> dict[str, str | None]:
        return {"user_id": None if claims is None else claims.user_id}

    @app.get("/admin")
    async def admin(claims: Admin) -> dict[str, str | None]:
        return {"user_id": claims.user_id}

    @app.get("/reports")
    async def reports(claims: Reports) -> dict[str, str | None]:
        return {"user_id": claims.user_id}

    @app.get("/pending-ok")
    async def pending(claims: Pending) -> dict[str, str | None]:
        return {"user_id": claims.user_id}

    @app.get("/sensitive")
    async def sensitive(claims: Sensitive) -> dict[str, str | None]:
        return {"user_id": claims.user_id}

    for path, (accepts, role) in MACHINE_ROUTES.items():
        machine_only = not AcceptsToken(accepts).accepts("session_token")
        dependency: Any = (
            auth.machine(accepts)
            if machine_only and role is None
            else auth.accepting(accepts, role=role)
        )
        Verified = Annotated[Any, Depends(dependency)]  # evaluated now, in this turn

        async def endpoint(verified: Verified) -> dict[str, str | None]:
            return verified_body(verified)

        app.get(path)(endpoint)

    return app


@contextmanager
def serve(config: ClerkConfig) -> Iterator[str]:
    """Serve the small API with FastAPI under uvicorn."""
    with serve_asgi(make_app(config)) as url:
        yield url


def make_pair_app(config_a: ClerkConfig, config_b: ClerkConfig) -> FastAPI:
    """A global middleware (A, annotate) and dependencies of two ClerkAuth objects
    (issue 12): ``/a/protected`` needs A's (given the middleware's config object, it
    reuses its result), ``/b/protected`` B's own stricter or other configuration,
    ``/both/protected`` a router-level ``Depends(a.optional)`` and B's required dependency."""
    auth_a, auth_b = ClerkAuth(config_a), ClerkAuth(config_b)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await auth_a.aclose()
        await auth_b.aclose()

    app = FastAPI(lifespan=lifespan)
    install_exception_handler(app)
    app.add_middleware(ClerkAuthMiddleware, config=config_a, mode="annotate")
    ClaimsA = Annotated[SessionClaims, Depends(auth_a.required)]
    ClaimsB = Annotated[SessionClaims, Depends(auth_b.required)]

    @app.get("/a/protected")
    async def protected_a(claims: ClaimsA) -> dict[str, str | None]:
        return {"user_id": claims.user_id}

    @app.get("/b/protected")
    async def protected_b(claims: ClaimsB) -> dict[str, str | None]:
        return {"user_id": claims.user_id}

    router = APIRouter(dependencies=[Depends(auth_a.optional)])

    @router.get("/both/protected")
    async def both(claims: ClaimsB) -> dict[str, str | None]:
        return {"user_id": claims.user_id}

    app.include_router(router)
    return app


@contextmanager
def serve_pair(config_a: ClerkConfig, config_b: ClerkConfig) -> Iterator[str]:
    """Serve the two-instance app with FastAPI under uvicorn."""
    with serve_asgi(make_pair_app(config_a, config_b)) as url:
        yield url
