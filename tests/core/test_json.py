"""Strict JSON (spec §3.1, "Edge cases, pinned"): what ``json.loads`` lets through."""

from __future__ import annotations

import json
from typing import Any

import pytest

from clerk_auth_core._json import MAX_DEPTH, StrictJSONError, loads_strict


def nested(depth: int, *, kind: str = "object") -> str:
    """``depth`` containers, one inside the other (depth 1 = ``{}``)."""
    if kind == "object":
        return '{"a":' * (depth - 1) + "{}" + "}" * (depth - 1)
    return '{"a":' + "[" * (depth - 1) + "]" * (depth - 1) + "}"


class TestLoadsStrict:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            pytest.param('{"a":1}', {"a": 1}, id="object"),
            pytest.param(b'{"a":"\\u00e9"}', {"a": "é"}, id="escaped-bmp"),
            pytest.param('{"a":"\\ud83d\\ude00"}', {"a": "😀"}, id="surrogate-pair"),
            pytest.param('{"a":1e308}', {"a": 1e308}, id="large-double"),
            pytest.param('{"a":1e-400}', {"a": 0.0}, id="underflow-is-zero"),
            pytest.param('{"a":' + "9" * 40 + "}", {"a": int("9" * 40)}, id="40-digit-int"),
            pytest.param(nested(MAX_DEPTH), json.loads(nested(MAX_DEPTH)), id="max-depth"),
            pytest.param(" \n{}\t", {}, id="surrounding-whitespace"),
        ],
    )
    def test_accepts(self, text: str | bytes, expected: Any) -> None:
        assert loads_strict(text) == expected

    @pytest.mark.parametrize(
        "text",
        [
            pytest.param('{"a":1,"a":2}', id="duplicate-top-level"),
            pytest.param('{"o":{"x":1,"x":1}}', id="duplicate-nested"),
            pytest.param('{"a":NaN}', id="nan"),
            pytest.param('{"a":Infinity}', id="infinity"),
            pytest.param('{"a":-Infinity}', id="minus-infinity"),
            pytest.param('{"a":1e400}', id="1e400"),
            pytest.param('{"a":-1E400}', id="minus-1e400"),
            pytest.param('{"a":' + "9" * 41 + "}", id="41-digit-int"),
            pytest.param('{"a":' + "1" * 5000 + "}", id="thousands-of-digits"),
            pytest.param('{"a":0.' + "1" * 50 + "}", id="long-float"),
            pytest.param('{"a":"\\ud800"}', id="lone-high-surrogate"),
            pytest.param('{"a":"\\udc00x"}', id="lone-low-surrogate"),
            pytest.param('{"\\ud800":1}', id="lone-surrogate-in-name"),
            pytest.param('{"a":["\\ud800"]}', id="lone-surrogate-in-list"),
            pytest.param(b'\xef\xbb\xbf{"a":1}', id="utf8-bom-bytes"),
            pytest.param('\ufeff{"a":1}', id="utf8-bom-text"),
            pytest.param('{"a":1}'.encode("utf-16"), id="utf16-with-bom"),
            pytest.param('{"a":1}'.encode("utf-16-le"), id="utf16-le"),
            pytest.param('{"a":1}'.encode("utf-32"), id="utf32"),
            pytest.param(b'{"a":"\xff"}', id="not-utf8"),
            pytest.param(nested(MAX_DEPTH + 1), id="too-deep-objects"),
            pytest.param(nested(MAX_DEPTH + 1, kind="list"), id="too-deep-lists"),
            pytest.param("[" * 100_000 + "]" * 100_000, id="recursion-bomb"),
            pytest.param("[1]", id="top-level-array"),
            pytest.param('"x"', id="top-level-string"),
            pytest.param("1", id="top-level-number"),
            pytest.param("null", id="top-level-null"),
            pytest.param("", id="empty"),
            pytest.param('{"a":1} x', id="trailing-garbage"),
            pytest.param("{'a':1}", id="single-quotes"),
            pytest.param('{"a":1,}', id="trailing-comma"),
            pytest.param('{"a":"x\ny"}', id="raw-control-char"),
        ],
    )
    def test_refuses(self, text: str | bytes) -> None:
        with pytest.raises(StrictJSONError):
            loads_strict(text)

    def test_top_level_non_object_allowed_on_request(self) -> None:
        assert loads_strict("[1,2]", require_object=False) == [1, 2]

    def test_message_never_quotes_the_input(self) -> None:
        with pytest.raises(StrictJSONError) as info:
            loads_strict('{"secret-value":1,"secret-value":2}')
        assert "secret-value" not in str(info.value)
