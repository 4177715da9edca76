"""``verify_webhook``: the Svix scheme, checked against vectors computed here."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from webhook_helpers import NOW, SECRET, headers_for, sign

from clerk_auth_core import (
    REASONS,
    ClerkAuthError,
    HttpAnswer,
    Reason,
    WebhookEvent,
    WebhookVerificationError,
    verify_webhook,
    webhook_answer,
)

BODY = json.dumps(
    {
        "data": {"id": "user_29w83sxmDNGwOuEthce5gg56FcC", "first_name": "Ada"},
        "instance_id": "ins_123",
        "object": "event",
        "timestamp": 1654012591835,
        "type": "user.created",
    },
    separators=(",", ":"),
).encode()


def refused(headers: Any, body: bytes = BODY, secret: str = SECRET, **kw: Any) -> str:
    """The reason ``verify_webhook`` refuses with (fails the test when it accepts)."""
    with pytest.raises(WebhookVerificationError) as caught:
        verify_webhook(headers, body, secret, now=kw.pop("now", NOW), **kw)
    return caught.value.reason


class TestValid:
    def test_svix_published_vector(self) -> None:
        # The example of Svix's documentation and test suites: secret, id, timestamp,
        # payload and the expected v1 signature, as published.
        headers = {
            "svix-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "svix-timestamp": "1614265330",
            "svix-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        }
        body = b'{"test": 2432232314}'
        secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        # Not an event (no type), so the payload is refused, but only after the
        # signature passed: with one byte changed it is the signature that fails.
        assert refused(headers, body, secret, now=1614265330) == Reason.WEBHOOK_PAYLOAD_INVALID
        assert refused(headers, body[:-1] + b"5", secret, now=1614265330) == (
            Reason.WEBHOOK_SIGNATURE_INVALID
        )

    def test_independent_vector(self) -> None:
        event = verify_webhook(headers_for(BODY), BODY, SECRET, now=NOW)
        assert isinstance(event, WebhookEvent)
        assert (event.type, event.object, event.id, event.timestamp) == (
            "user.created", "event", "msg_2abcDEF", NOW,
        )  # fmt: skip
        assert event.data == {"id": "user_29w83sxmDNGwOuEthce5gg56FcC", "first_name": "Ada"}
        assert event.payload["instance_id"] == "ins_123"
        assert event.body == BODY

    @pytest.mark.parametrize(
        "form",
        ["dict", "pairs", "bytes-pairs", "upper-case"],
    )
    def test_headers_in_every_form(self, form: str) -> None:
        headers = headers_for(BODY)
        given_headers: Any = {
            "dict": headers,
            "pairs": list(headers.items()),
            "bytes-pairs": [(k.encode(), v.encode()) for k, v in headers.items()],
            "upper-case": {k.upper(): v for k, v in headers.items()},
        }[form]
        assert verify_webhook(given_headers, BODY, SECRET, now=NOW).type == "user.created"

    def test_event_repr_leaves_out_data_and_body(self) -> None:
        text = repr(verify_webhook(headers_for(BODY), BODY, SECRET, now=NOW))
        assert "Ada" not in text
        assert "user.created" in text

    def test_event_is_frozen(self) -> None:
        event = verify_webhook(headers_for(BODY), BODY, SECRET, now=NOW)
        with pytest.raises(AttributeError):
            event.type = "user.deleted"  # type: ignore[misc]


class TestSignature:
    def test_tampered_body(self) -> None:
        headers = headers_for(BODY)
        assert refused(headers, BODY.replace(b"Ada", b"Eve")) == Reason.WEBHOOK_SIGNATURE_INVALID

    def test_reserialised_json_fails(self) -> None:
        # What a framework's request.json, dumped again, would give: same data, other bytes.
        again = json.dumps(json.loads(BODY)).encode()
        assert again != BODY
        assert json.loads(again) == json.loads(BODY)
        assert refused(headers_for(BODY), again) == Reason.WEBHOOK_SIGNATURE_INVALID

    def test_wrong_secret(self) -> None:
        other = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
        assert refused(headers_for(BODY, secret=other)) == Reason.WEBHOOK_SIGNATURE_INVALID

    def test_one_valid_among_several_passes(self) -> None:
        # Key rotation: Svix signs with the old and the new secret.
        other = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
        good = headers_for(BODY)["svix-signature"]
        bad = headers_for(BODY, secret=other)["svix-signature"]
        for signature in (f"{bad} {good}", f"{good} {bad}", f"v1,AAAA {bad} {good} v1,"):
            headers = {**headers_for(BODY), "svix-signature": signature}
            assert verify_webhook(headers, BODY, SECRET, now=NOW).type == "user.created"

    def test_none_valid_of_several_fails(self) -> None:
        other = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
        bad = headers_for(BODY, secret=other)["svix-signature"]
        headers = {**headers_for(BODY), "svix-signature": f"{bad} v1,AAAA v1,"}
        assert refused(headers) == Reason.WEBHOOK_SIGNATURE_INVALID

    @pytest.mark.parametrize("version", ["v2", "v1a", "V1", "v0", "", "v1 "])
    def test_other_versions_ignored(self, version: str) -> None:
        good = headers_for(BODY)["svix-signature"].removeprefix("v1,")
        headers = {**headers_for(BODY), "svix-signature": f"{version},{good}"}
        assert refused(headers) == Reason.WEBHOOK_SIGNATURE_INVALID
        headers = {**headers_for(BODY), "svix-signature": f"{version},{good} v1,{good}"}
        assert verify_webhook(headers, BODY, SECRET, now=NOW).id == "msg_2abcDEF"

    def test_other_base64_spelling_of_the_same_bytes_fails(self) -> None:
        # 32 bytes in base64 end in one character with two unused bits: another
        # character there decodes to the same digest, but it is not what was signed.
        good = headers_for(BODY)["svix-signature"]
        last = good[-2]
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        sibling = alphabet[alphabet.index(last) ^ 1]
        headers = {**headers_for(BODY), "svix-signature": good[:-2] + sibling + "="}
        assert refused(headers) == Reason.WEBHOOK_SIGNATURE_INVALID

    def test_id_and_timestamp_are_signed(self) -> None:
        headers = {**headers_for(BODY), "svix-id": "msg_other"}
        assert refused(headers) == Reason.WEBHOOK_SIGNATURE_INVALID
        headers = {**headers_for(BODY), "svix-timestamp": str(NOW + 1)}
        assert refused(headers) == Reason.WEBHOOK_SIGNATURE_INVALID


class TestTimestamp:
    @pytest.mark.parametrize("offset", [-300, -1, 0, 1, 300])
    def test_inside_tolerance_passes(self, offset: int) -> None:
        headers = headers_for(BODY, timestamp=NOW + offset)
        assert verify_webhook(headers, BODY, SECRET, now=NOW).timestamp == NOW + offset

    def test_too_old_at_the_boundary(self) -> None:
        assert refused(headers_for(BODY, timestamp=NOW - 301)) == Reason.WEBHOOK_TIMESTAMP_TOO_OLD
        assert refused(headers_for(BODY, timestamp=NOW), now=NOW + 300.5) == (
            Reason.WEBHOOK_TIMESTAMP_TOO_OLD
        )

    def test_too_new_at_the_boundary(self) -> None:
        assert refused(headers_for(BODY, timestamp=NOW + 301)) == Reason.WEBHOOK_TIMESTAMP_TOO_NEW
        assert refused(headers_for(BODY, timestamp=NOW), now=NOW - 300.5) == (
            Reason.WEBHOOK_TIMESTAMP_TOO_NEW
        )

    def test_custom_tolerance(self) -> None:
        headers = headers_for(BODY, timestamp=NOW - 61)
        assert refused(headers, tolerance=60) == Reason.WEBHOOK_TIMESTAMP_TOO_OLD
        assert verify_webhook(headers, BODY, SECRET, now=NOW, tolerance=61).id

    @pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
    def test_bad_tolerance_is_a_programming_error(self, bad: float) -> None:
        with pytest.raises(ValueError, match="tolerance"):
            verify_webhook(headers_for(BODY), BODY, SECRET, now=NOW, tolerance=bad)

    @pytest.mark.parametrize(
        "stamp", ["", "abc", "1700000000.5", "-1700000000", "1e9", "١٧٠٠٠٠٠٠٠٠", "²", "9" * 21]
    )
    def test_not_unix_seconds(self, stamp: str) -> None:
        headers = {**headers_for(BODY), "svix-timestamp": stamp}
        expected = Reason.WEBHOOK_HEADERS_MISSING if not stamp else Reason.WEBHOOK_TIMESTAMP_INVALID
        assert refused(headers) == expected


class TestHeaders:
    @pytest.mark.parametrize("name", ["svix-id", "svix-timestamp", "svix-signature"])
    def test_missing_or_empty(self, name: str) -> None:
        headers = headers_for(BODY)
        assert refused({k: v for k, v in headers.items() if k != name}) == (
            Reason.WEBHOOK_HEADERS_MISSING
        )
        assert refused({**headers, name: "  "}) == Reason.WEBHOOK_HEADERS_MISSING

    def test_no_headers(self) -> None:
        assert refused({}) == Reason.WEBHOOK_HEADERS_MISSING

    @pytest.mark.parametrize("name", ["svix-id", "svix-timestamp", "svix-signature"])
    def test_repeated(self, name: str) -> None:
        pairs = [*headers_for(BODY).items(), (name, headers_for(BODY)[name])]
        assert refused(pairs) == Reason.WEBHOOK_HEADERS_INVALID

    @pytest.mark.parametrize("msg_id", ["msg\x00x", "msg\nx", "m" * 257])
    def test_unprintable_or_long_id(self, msg_id: str) -> None:
        assert refused(headers_for(BODY, msg_id=msg_id)) == Reason.WEBHOOK_HEADERS_INVALID

    def test_webhook_headers_alone_suffice(self) -> None:
        from clerk_auth_core._webhooks import WEBHOOK_HEADERS

        noise = [("content-type", "application/json"), ("authorization", "Bearer x")]
        headers = [*noise, *headers_for(BODY).items()]
        assert set(WEBHOOK_HEADERS) == set(headers_for(BODY))
        assert verify_webhook(headers, BODY, SECRET, now=NOW).id == "msg_2abcDEF"


class TestBodyAndPayload:
    def test_oversized_body(self) -> None:
        big = b" " * 2048 + BODY
        assert refused(headers_for(big), big, max_body=2048) == Reason.WEBHOOK_BODY_TOO_LARGE
        assert verify_webhook(headers_for(big), big, SECRET, now=NOW, max_body=len(big)).id

    def test_default_cap_is_one_mib(self) -> None:
        big = BODY[:-1] + b"," + b'"pad":"' + b"x" * (1024 * 1024) + b'"}'
        assert refused(headers_for(big), big) == Reason.WEBHOOK_BODY_TOO_LARGE

    @pytest.mark.parametrize(
        "body",
        [
            b"not json",
            b"",
            b"[1, 2]",
            b'"user.created"',
            b'{"data": {}}',
            b'{"type": "", "data": {}}',
            b'{"type": 3, "data": {}}',
            b'{"type": "user.created", "data": []}',
            b'{"type": "user.created"}',
            b'{"type": "user.created", "data": {}, "object": 1}',
            b'{"type": "user.created", "data": {}, "n": NaN}',
            b'\xff{"type": "user.created", "data": {}}',
        ],
    )
    def test_not_an_event(self, body: bytes) -> None:
        # Genuinely signed, so the payload is what is refused.
        assert refused(headers_for(body), body) == Reason.WEBHOOK_PAYLOAD_INVALID

    def test_payload_checked_only_after_the_signature(self) -> None:
        headers = {**headers_for(b"not json"), "svix-signature": "v1,AAAA"}
        assert refused(headers, b"not json") == Reason.WEBHOOK_SIGNATURE_INVALID

    def test_body_must_be_bytes(self) -> None:
        with pytest.raises(TypeError, match="raw bytes"):
            verify_webhook(headers_for(BODY), BODY.decode(), SECRET, now=NOW)  # type: ignore[arg-type]


class TestSecret:
    @pytest.mark.parametrize(
        "secret",
        [
            "",
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "sk_test_abc",
            "whsec_",
            "whsec_!!!!",
            "whsec_AAAA",
        ],
        ids=["empty", "no-prefix", "secret-key", "prefix-only", "not-base64", "too-short"],
    )
    def test_unusable_secret_is_a_server_error(self, secret: str) -> None:
        with pytest.raises(WebhookVerificationError) as caught:
            verify_webhook(headers_for(BODY), BODY, secret, now=NOW)
        error = caught.value
        assert (error.reason, error.status) == (Reason.WEBHOOK_SECRET_INVALID, 500)
        if len(secret) > 6:
            assert secret not in str(error)
            assert secret not in repr(error)
            assert secret not in webhook_answer(error).body_bytes.decode()

    def test_secret_never_in_any_refusal(self) -> None:
        for headers in (headers_for(BODY, secret="whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"),
                        headers_for(BODY, timestamp=0), {}):  # fmt: skip
            with pytest.raises(WebhookVerificationError) as caught:
                verify_webhook(headers, BODY, SECRET, now=NOW)
            texts = (str(caught.value), repr(caught.value), repr(caught.value.args))
            answer = webhook_answer(caught.value).body_bytes.decode()
            assert not any(SECRET in t or SECRET[6:] in t for t in (*texts, answer))


class TestAnswer:
    @pytest.mark.parametrize(
        ("reason", "status", "code"),
        [
            (Reason.WEBHOOK_HEADERS_MISSING, 400, "bad_request"),
            (Reason.WEBHOOK_HEADERS_INVALID, 400, "bad_request"),
            (Reason.WEBHOOK_TIMESTAMP_INVALID, 400, "bad_request"),
            (Reason.WEBHOOK_PAYLOAD_INVALID, 400, "bad_request"),
            (Reason.WEBHOOK_TIMESTAMP_TOO_OLD, 401, "unauthorized"),
            (Reason.WEBHOOK_TIMESTAMP_TOO_NEW, 401, "unauthorized"),
            (Reason.WEBHOOK_SIGNATURE_INVALID, 401, "unauthorized"),
            (Reason.WEBHOOK_BODY_TOO_LARGE, 413, "payload_too_large"),
            (Reason.WEBHOOK_SECRET_INVALID, 500, "server_error"),
        ],
    )
    def test_each_reason(self, reason: str, status: int, code: str) -> None:
        error = WebhookVerificationError(reason)
        assert isinstance(error, ClerkAuthError)
        assert error.bearer_error is None
        answer = webhook_answer(error)
        assert isinstance(answer, HttpAnswer)
        assert answer.status == status == REASONS[reason].status
        assert answer.body == {"error": code, "reason": reason, "message": REASONS[reason].message}
        headers = dict(answer.headers)
        assert headers["Cache-Control"] == "no-store"
        assert headers["Content-Type"] == "application/json"
        # A 401 names the scheme that would succeed (RFC 9110 §15.5.2); never Bearer.
        assert headers.get("WWW-Authenticate") == ("Svix" if status == 401 else None)

    def test_the_webhook_reasons(self) -> None:
        webhook = {r for r in REASONS if r.startswith("webhook-")}
        assert webhook == {
            "webhook-headers-missing", "webhook-headers-invalid", "webhook-timestamp-invalid",
            "webhook-timestamp-too-old", "webhook-timestamp-too-new",
            "webhook-signature-invalid", "webhook-body-too-large", "webhook-payload-invalid",
            "webhook-secret-invalid",
        }  # fmt: skip

    def test_default_reason(self) -> None:
        assert WebhookVerificationError().reason == Reason.WEBHOOK_SIGNATURE_INVALID


# -- any edit of a signed delivery is refused -------------------------------------------

FIELDS = ("body", "svix-id", "svix-timestamp", "svix-signature")


def _edit(data: bytes, index: int, byte: int) -> bytes:
    index %= len(data)
    if data[index] == byte:
        byte = (byte + 1) % 256
    return data[:index] + bytes([byte]) + data[index + 1 :]


@settings(max_examples=400, deadline=None)
@given(
    field=st.sampled_from(FIELDS),
    index=st.integers(min_value=0, max_value=10_000),
    byte=st.integers(min_value=0, max_value=255),
    data=st.dictionaries(st.text(max_size=8), st.text(max_size=16), max_size=4),
)
def test_any_single_byte_edit_is_refused(
    field: str, index: int, byte: int, data: dict[str, str]
) -> None:
    body = json.dumps({"type": "user.updated", "data": data}).encode()
    headers = {k.encode(): v.encode() for k, v in headers_for(body).items()}  # as ASGI
    assert verify_webhook(list(headers.items()), body, SECRET, now=NOW).type == "user.updated"
    if field == "body":
        body = _edit(body, index, byte)
    else:
        headers[field.encode()] = _edit(headers[field.encode()], index, byte)
    with pytest.raises(WebhookVerificationError) as caught:
        verify_webhook(list(headers.items()), body, SECRET, now=NOW)
    assert caught.value.reason != Reason.WEBHOOK_SECRET_INVALID


def test_sign_helper_matches_the_svix_vector() -> None:
    # The helper these tests sign with is itself held to the published vector.
    assert sign(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330",
        b'{"test": 2432232314}',
    ) == "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    pairs=st.lists(
        st.tuples(
            st.sampled_from(["svix-id", "SVIX-ID", "Svix-Timestamp", "svix-signature",
                             "svix-idx", "x-svix-id", "content-type", "svix-ıd"]),
            st.text(max_size=6),
        ),
        max_size=6,
    ),
    as_bytes=st.booleans(),
)  # fmt: skip
def test_header_scan_is_get_header(pairs: list[tuple[str, str]], as_bytes: bool) -> None:
    """The one-pass scan of the three headers agrees with ``get_header``."""
    from clerk_auth_core._extract import get_header
    from clerk_auth_core._webhooks import WEBHOOK_HEADERS, _svix_headers

    headers: Any = [(k.encode("utf-8"), v.encode("utf-8")) for k, v in pairs] if as_bytes else pairs
    values = [get_header(headers, name) for name in WEBHOOK_HEADERS]
    try:
        got: Any = _svix_headers(headers)
    except WebhookVerificationError as error:
        got = error.reason
    expected: Any = tuple(v[0].strip() for v in values if v)
    for v in values:  # the first header at fault, in the order of WEBHOOK_HEADERS
        if not v or not v[0].strip():
            expected = Reason.WEBHOOK_HEADERS_MISSING
            break
        if len(v) > 1:
            expected = Reason.WEBHOOK_HEADERS_INVALID
            break
    assert got == expected
