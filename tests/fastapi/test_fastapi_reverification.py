"""Reverification on FastAPI: ``require(reverification=)``, ``requires_auth``, the
``reverification:<preset>`` scope, websockets, and declaration errors."""

# No ``from __future__ import annotations``: FastAPI resolves route annotations at runtime.

from collections.abc import MutableMapping
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Security, WebSocket

from clerk_auth_core import ConfigurationError, SessionClaims
from clerk_auth_core.testing import MockClerk
from clerk_auth_starlette.fastapi import ClerkAuth, install_exception_handler, requires_auth

pytestmark = pytest.mark.anyio
STRICT = (
    b'{"clerk_error":{"type":"forbidden","reason":"reverification-error",'
    b'"metadata":{"reverification":"strict"}}}'
)


def make_app(auth: ClerkAuth, *, handler: bool = True) -> FastAPI:
    app = FastAPI()
    if handler:
        install_exception_handler(app)

    @app.get("/sensitive")
    async def sensitive(
        claims: Annotated[SessionClaims, Depends(auth.require(reverification="strict"))],
    ) -> Any:
        return {"user_id": claims.user_id}

    @app.get("/scoped")
    async def scoped(
        claims: Annotated[SessionClaims, Security(auth.required, scopes=["reverification:strict"])],
    ) -> Any:
        return {"user_id": claims.user_id}

    @app.get("/custom")
    async def custom(
        claims: Annotated[
            SessionClaims,
            Depends(auth.require(reverification={"level": "multi_factor", "afterMinutes": 30})),
        ],
    ) -> Any:
        return {"user_id": claims.user_id}

    @app.websocket("/ws")
    async def ws(
        websocket: WebSocket,
        claims: Annotated[SessionClaims, Depends(auth.require(reverification="strict"))],
    ) -> None:
        await websocket.accept()
        await websocket.close()

    return app


async def _get(app: FastAPI, clerk: MockClerk, path: str, fva: list[int] | None) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        token = clerk.mint(sub="user_x", fva=fva)
        return await client.get(path, headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize("path", ["/sensitive", "/scoped"])
async def test_dependency_and_scope_answer_alike(clerk: MockClerk, path: str) -> None:
    app = make_app(ClerkAuth(clerk.pem_config()))
    assert (await _get(app, clerk, path, [30, 9])).json() == {"user_id": "user_x"}
    for fva in ([0, 10], [10, -1], [-1, -1], None):
        stale = await _get(app, clerk, path, fva)
        assert (stale.status_code, stale.content) == (403, STRICT), fva
        assert stale.headers["www-authenticate"].startswith('Bearer error="insufficient_scope"')
    assert (await _get(app, clerk, path, [9, -1])).status_code == 200


async def test_a_custom_level_is_named_in_the_answer(clerk: MockClerk) -> None:
    app = make_app(ClerkAuth(clerk.pem_config()))
    assert (await _get(app, clerk, "/custom", [29, 29])).status_code == 200
    refused = await _get(app, clerk, "/custom", [29, -1])
    assert refused.json() == {
        "clerk_error": {
            "type": "forbidden",
            "reason": "reverification-error",
            "metadata": {"reverification": {"level": "multi_factor", "afterMinutes": 30}},
        }
    }


async def test_without_the_handler_the_body_is_under_detail(clerk: MockClerk) -> None:
    app = make_app(ClerkAuth(clerk.pem_config()), handler=False)
    refused = await _get(app, clerk, "/sensitive", [0, 10])
    assert refused.status_code == 403
    assert refused.json()["detail"]["clerk_error"]["reason"] == "reverification-error"


async def test_websocket_closes_1008_with_the_reason(clerk: MockClerk) -> None:
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    headers = [(b"authorization", f"Bearer {clerk.mint(fva=[0, 10])}".encode())]
    scope = {"type": "websocket", "path": "/ws", "headers": headers, "query_string": b""}
    await make_app(ClerkAuth(clerk.pem_config()))(scope, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": "reverification-error"}]


def test_requires_auth_takes_reverification() -> None:
    dependency = requires_auth(reverification="moderate")
    assert dependency.requirements.reverification is not None
    assert dependency.requirements.reverification.after_minutes == 60


@pytest.mark.parametrize("value", ["STRICT", {"level": "second_factor", "afterMinutes": 0}])
def test_an_invalid_value_fails_when_the_dependency_is_built(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="reverification"):
        ClerkAuth().require(reverification=value)
    with pytest.raises(ConfigurationError, match="reverification"):
        requires_auth(reverification=value)
