"""Strict JSON (spec §3.1, "Edge cases, pinned"): what ``json.loads`` lets through."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from clerk_auth_core import _json
from clerk_auth_core._json import MAX_DEPTH, StrictJSONError, loads_object, loads_strict


def _as_object(text: str | bytes) -> Any:
    """``loads_object``, which takes bytes (a decoded token segment)."""
    return loads_object(text.encode("utf-8") if isinstance(text, str) else text)


#: Both entry points; ``loads_object`` takes the orjson path first.
PARSERS = [pytest.param(loads_strict, id="strict"), pytest.param(_as_object, id="object")]


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
            pytest.param('{"a":1E2,"b":-0}', {"a": 100.0, "b": 0}, id="non-canonical-numbers"),
            pytest.param(
                '{"a":18446744073709551616}', {"a": 2**64}, id="int-beyond-64-bits-stays-int"
            ),
            pytest.param('{"a":1.0,"b":0.1}', {"a": 1.0, "b": 0.1}, id="doubles"),
        ],
    )
    @pytest.mark.parametrize("parse", PARSERS)
    def test_accepts(
        self, parse: Callable[[str | bytes], Any], text: str | bytes, expected: Any
    ) -> None:
        value = parse(text)
        assert value == expected
        # The same types too: 1 and 1.0 are equal, but not the same claim.
        assert json.dumps(value) == json.dumps(expected)

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
            pytest.param(b'{"a":"\xed\xa0\x80"}', id="utf8-encoded-surrogate"),
            pytest.param('{"a":1,"b":{"c":2,"c":2}}', id="duplicate-nested-compact"),
            pytest.param('{"a":{"b":{"c":{"d":1,"d":1}}}}', id="duplicate-deep"),
        ],
    )
    @pytest.mark.parametrize("parse", PARSERS)
    def test_refuses(self, parse: Callable[[str | bytes], Any], text: str | bytes) -> None:
        with pytest.raises(StrictJSONError):
            parse(text)

    def test_top_level_non_object_allowed_on_request(self) -> None:
        assert loads_strict("[1,2]", require_object=False) == [1, 2]

    def test_message_never_quotes_the_input(self) -> None:
        with pytest.raises(StrictJSONError) as info:
            loads_strict('{"secret-value":1,"secret-value":2}')
        assert "secret-value" not in str(info.value)


def _reference(data: bytes) -> Any:
    """The exact path alone: ``json`` with the strict hooks, then the walk."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise StrictJSONError("not UTF-8") from None
    if text.startswith("\ufeff"):
        raise StrictJSONError("byte order mark")
    try:
        value = _json._decoder.decode(text)
    except StrictJSONError:
        raise
    except (ValueError, RecursionError):
        raise StrictJSONError("not JSON") from None
    if not isinstance(value, dict):
        raise StrictJSONError("top level is not an object")
    _json._check(value)
    return value


def _assert_same_answer(data: bytes) -> None:
    """loads_object refuses what the exact path refuses, else answers the same value
    with the same types (1 and 1.0 are equal, but not the same claim)."""
    try:
        expected = _reference(data)
    except StrictJSONError:
        with pytest.raises(StrictJSONError):
            loads_object(data)
        return
    got = loads_object(data)
    assert got == expected
    assert json.dumps(got) == json.dumps(expected)


_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6)
)
#: Member names as they appear in the document: plain, escaped, a lone surrogate escape,
#: non-ASCII, with a space.
_names = st.sampled_from(["a", "b", "sub", "o", r"\u00e9", r"\ud800", "é", "x y"])
_members = st.lists(st.tuples(_names, st.deferred(lambda: _values)), max_size=4)
_values: st.SearchStrategy[str] = st.recursive(
    _scalars.map(json.dumps)
    | st.sampled_from(["1E2", "-0", "1.", "01", "1e400", "NaN", "2e-400", "0.1e1", '"\\/"']),
    lambda inner: (
        st.lists(inner, max_size=3).map(lambda xs: "[" + ",".join(xs) + "]")
        | st.lists(st.tuples(_names, inner), max_size=4).map(
            lambda kv: "{" + ",".join(f'"{k}":{v}' for k, v in kv) + "}"
        )
    ),
    max_leaves=12,
)
#: JSON-like documents: duplicate names, escapes, odd numbers, a little whitespace.
_documents = st.tuples(
    st.lists(st.tuples(_names, _values), max_size=5), st.sampled_from(["", " ", "\n"])
).map(lambda doc: doc[1] + "{" + ",".join(f'"{k}":{v}' for k, v in doc[0]) + "}")


class TestLoadsObjectAgreesWithTheExactPath:
    """The orjson path may only take a shortcut: on every input it answers what the
    exact path answers (the same value, the same types), or refuses when it refuses."""

    @settings(max_examples=400, deadline=None)
    @given(st.one_of(_documents, _documents.map(lambda d: d.replace(":", ": ", 1))))
    @example('{"a":1,"a":1}')
    @example('{"o":{"id":"x","id":"x"}}')
    @example('{"a":123456789012345678901234567890}')
    @example('{"a":"\\ud800"}')
    @example('{"a":5e-324,"b":1.7976931348623157e308}')
    def test_same_answer(self, document: str) -> None:
        _assert_same_answer(document.encode("utf-8"))

    @settings(max_examples=200, deadline=None)
    @given(st.binary(max_size=40).map(lambda b: b'{"a":' + b + b"}"))
    def test_same_answer_on_bytes(self, data: bytes) -> None:
        _assert_same_answer(data)

    def test_a_clerk_payload_takes_the_orjson_path(self, monkeypatch: pytest.MonkeyPatch) -> None:
        def must_not_run(_: bytes) -> Any:
            raise AssertionError("a Clerk payload left the orjson path")

        monkeypatch.setattr(_json, "loads_strict", must_not_run)
        data = (
            b'{"azp":"https://app.example.com","exp":1795697328,"fva":[7,-1],"v":2,"o":{"id":"o"}}'
        )
        assert loads_object(data) == json.loads(data)

    @pytest.mark.parametrize(
        "document",
        [
            '{"a":1,"a":2}',
            '{"o":{"x":1,"x":1}}',
            '{"a":18446744073709551616}',
            '{"a":1E2}',
            '{"a" :1}',
            '{"a":"\\u00e9"}',
            '{"a":' + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "}",
        ],
    )
    def test_what_orjson_cannot_prove_goes_on(
        self, document: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        seen: list[bytes] = []

        def exactly(data: bytes) -> dict[str, Any]:
            seen.append(data)
            return {}

        monkeypatch.setattr(_json, "loads_strict", exactly)
        loads_object(document.encode("utf-8"))
        assert seen == [document.encode("utf-8")]
