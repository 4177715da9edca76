"""Each adapter's helper under a real server on 127.0.0.1, receiving real signed
deliveries from the test kit's :class:`WebhookSender`."""

# No ``from __future__ import annotations``: FastAPI resolves the annotations of routes
# defined inside functions at runtime.

import json
import logging
from collections.abc import Iterator
from typing import Annotated, Any

import attrs
import httpx
import pytest

from clerk_auth_core import REASONS, Reason
from clerk_auth_core.testing import WebhookDelivery, WebhookSender, generate_webhook_secret

pytestmark = pytest.mark.slow

USER = {"id": "user_2abc", "email_addresses": [{"email_address": "ada@example.com"}]}


def flask_app(secret: str | None) -> Any:
    flask = pytest.importorskip("flask")
    from clerk_auth_flask import verify_webhook_request

    app = flask.Flask("webhooks")
    if secret is not None:
        app.config["CLERK_WEBHOOK_SIGNING_SECRET"] = secret

    @app.post("/webhooks/clerk")
    def clerk_webhook() -> Any:
        event = verify_webhook_request()
        return {"type": event.type, "id": event.id, "user": event.data["id"]}

    @app.post("/webhooks/explicit")
    def explicit() -> Any:
        event = verify_webhook_request(secret=generate_webhook_secret())
        return {"type": event.type}

    return app


def starlette_app(secret: str | None) -> Any:
    pytest.importorskip("starlette")
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from clerk_auth_starlette import WebhookRefused, verify_webhook_request, webhook_refused_handler

    async def clerk_webhook(request: Request) -> JSONResponse:
        event = await verify_webhook_request(request, secret)
        return JSONResponse({"type": event.type, "id": event.id, "user": event.data["id"]})

    async def explicit(request: Request) -> JSONResponse:
        event = await verify_webhook_request(request, generate_webhook_secret())
        return JSONResponse({"type": event.type})

    return Starlette(
        routes=[
            Route("/webhooks/clerk", clerk_webhook, methods=["POST"]),
            Route("/webhooks/explicit", explicit, methods=["POST"]),
        ],
        exception_handlers={WebhookRefused: webhook_refused_handler},
    )


def fastapi_app(secret: str | None) -> Any:
    pytest.importorskip("fastapi")
    from fastapi import Depends, FastAPI

    from clerk_auth_core import WebhookEvent
    from clerk_auth_starlette.fastapi import install_exception_handler, webhook_dependency

    app = FastAPI()
    install_exception_handler(app)

    Verified = Annotated[WebhookEvent, Depends(webhook_dependency(secret))]
    OtherSecret = Annotated[WebhookEvent, Depends(webhook_dependency(generate_webhook_secret()))]

    @app.post("/webhooks/clerk")
    async def clerk_webhook(event: Verified) -> Any:
        return {"type": event.type, "id": event.id, "user": event.data["id"]}

    @app.post("/webhooks/explicit")
    async def explicit(event: OtherSecret) -> Any:
        return {"type": event.type}

    return app


def django_app(secret: str | None) -> Any:
    pytest.importorskip("django.http")
    from django.http import HttpRequest, HttpResponse, JsonResponse
    from django.urls import path
    from django.views.decorators.csrf import csrf_exempt

    from clerk_auth_django import WebhookRefused, verify_webhook_request
    from conformance.drivers import django as driver

    driver.configure()

    @csrf_exempt
    def clerk_webhook(request: HttpRequest) -> HttpResponse:
        try:
            event = verify_webhook_request(request, secret)
        except WebhookRefused as refused:
            return refused.response
        return JsonResponse({"type": event.type, "id": event.id, "user": event.data["id"]})

    @csrf_exempt
    def explicit(request: HttpRequest) -> HttpResponse:
        try:
            event = verify_webhook_request(request, generate_webhook_secret())
        except WebhookRefused as refused:
            return refused.response
        return JsonResponse({"type": event.type})

    patterns = [path("webhooks/clerk", clerk_webhook), path("webhooks/explicit", explicit)]
    urls = driver.urlconf("webhooks_django", patterns)
    return driver.wsgi_handler((urls, lambda get_response: get_response))


APPS = {
    "flask": flask_app,
    "starlette": starlette_app,
    "fastapi": fastapi_app,
    "django": django_app,
}
#: The apps served by a WSGI server (the others by uvicorn).
WSGI = {"flask", "django"}


@pytest.fixture(scope="module", params=sorted(APPS))
def served(request: pytest.FixtureRequest, sender: WebhookSender) -> Iterator[tuple[str, str]]:
    """``(adapter, base URL)`` of an app configured with the sender's secret."""
    name = request.param
    app = APPS[name](sender.secret)
    if name in WSGI:
        from conformance.drivers import serve_wsgi

        with serve_wsgi(app) as url:
            yield name, url
    else:
        from conformance.drivers.starlette import serve_asgi

        with serve_asgi(app) as url:
            yield name, url


def _core_body(response: httpx.Response, reason: str) -> None:
    assert response.status_code == REASONS[reason].status, response.text
    assert response.json() == {
        "error": {400: "bad_request", 401: "unauthorized", 413: "payload_too_large",
                  500: "server_error"}[REASONS[reason].status],
        "reason": reason,
        "message": REASONS[reason].message,
    }  # fmt: skip
    assert response.headers["cache-control"] == "no-store"


def test_genuine_delivery_is_answered_2xx(served: tuple[str, str], sender: WebhookSender) -> None:
    _, url = served
    response = sender.deliver(url + "/webhooks/clerk", "user.created", USER)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["type"] == "user.created"
    assert body["user"] == "user_2abc"
    assert body["id"].startswith("msg_")


def _tampered(delivery: WebhookDelivery, how: str) -> WebhookDelivery:
    headers = dict(delivery.headers)
    if how == "body":
        return attrs.evolve(delivery, body=delivery.body.replace(b"ada@", b"eve@"))
    if how == "no-signature":
        del headers["svix-signature"]
    elif how == "timestamp":
        headers["svix-timestamp"] = "yesterday"
    elif how == "old":
        headers["svix-timestamp"] = str(int(headers["svix-timestamp"]) - 301)
    return attrs.evolve(delivery, headers=headers)


@pytest.mark.parametrize(
    ("how", "reason"),
    [
        ("body", Reason.WEBHOOK_SIGNATURE_INVALID),
        ("old", Reason.WEBHOOK_TIMESTAMP_TOO_OLD),
        ("no-signature", Reason.WEBHOOK_HEADERS_MISSING),
        ("timestamp", Reason.WEBHOOK_TIMESTAMP_INVALID),
    ],
)
def test_bad_delivery_gets_the_cores_answer(
    served: tuple[str, str], sender: WebhookSender, how: str, reason: str
) -> None:
    _, url = served
    delivery = _tampered(sender.sign("user.created", USER), how)
    response = sender.deliver(url + "/webhooks/clerk", delivery)
    _core_body(response, reason)
    if REASONS[reason].status == 401:
        assert response.headers["www-authenticate"] == "Svix"


def test_other_secret_is_refused(served: tuple[str, str], sender: WebhookSender) -> None:
    _, url = served
    response = sender.deliver(url + "/webhooks/explicit", "user.created", USER)
    _core_body(response, Reason.WEBHOOK_SIGNATURE_INVALID)


def test_reserialised_body_is_refused(served: tuple[str, str], sender: WebhookSender) -> None:
    # The same JSON, serialised again (as `json.dumps(request.json)` would): other bytes.
    _, url = served
    delivery = sender.sign("user.created", USER)
    again = json.dumps(json.loads(delivery.body)).encode()
    assert again != delivery.body
    with httpx.Client() as http:
        response = http.post(url + "/webhooks/clerk", content=again, headers=delivery.headers)
    _core_body(response, Reason.WEBHOOK_SIGNATURE_INVALID)


@pytest.mark.parametrize("adapter", sorted(APPS))
def test_missing_secret_is_a_500_without_leaks(
    adapter: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("CLERK_WEBHOOK_SIGNING_SECRET", raising=False)
    sender = WebhookSender()
    app = APPS[adapter](None)
    caplog.set_level(logging.DEBUG)
    if adapter in WSGI:
        from conformance.drivers import serve_wsgi as serve
    else:
        from conformance.drivers.starlette import serve_asgi as serve
    with serve(app) as url:
        response = sender.deliver(url + "/webhooks/clerk", "user.created", USER)
        _core_body(response, Reason.WEBHOOK_SECRET_INVALID)
        # Then from the environment, read at request time.
        monkeypatch.setenv("CLERK_WEBHOOK_SIGNING_SECRET", sender.secret)
        assert sender.deliver(url + "/webhooks/clerk", "user.created", USER).status_code == 200
        monkeypatch.setenv("CLERK_WEBHOOK_SIGNING_SECRET", "whsec_notbase64!!")
        response = sender.deliver(url + "/webhooks/clerk", "user.created", USER)
        _core_body(response, Reason.WEBHOOK_SECRET_INVALID)
        assert "notbase64" not in response.text
    assert sender.secret not in caplog.text
    assert sender.secret[6:] not in caplog.text
    assert "notbase64" not in caplog.text


def test_sender_repr_hides_the_secret(sender: WebhookSender) -> None:
    assert sender.secret not in repr(sender)
