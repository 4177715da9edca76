"""Strict JSON for token segments and JWKS documents.

``json.loads`` is lenient in ways an attacker can use (RFC 8725 §3.x, RFC 7515 §5.2
"duplicate Header Parameter names MUST be rejected"): it accepts duplicate member
names (last one wins, so two parsers may disagree on a claim), ``NaN``/``Infinity``,
numbers that overflow a double, lone UTF-16 surrogates, a UTF-8 BOM and UTF-16 input.
:func:`loads_strict` refuses all of them with :class:`StrictJSONError`.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["MAX_DEPTH", "StrictJSONError", "loads_strict"]

#: Deepest nesting accepted. Clerk's claims nest three levels (``o``, ``act``).
MAX_DEPTH = 16
_MAX_NUMBER_CHARS = 40


class StrictJSONError(ValueError):
    """The input is not strict JSON (the message says why; it never quotes the input)."""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise StrictJSONError("duplicate member name")
    return obj


def _constant(_name: str) -> Any:
    raise StrictJSONError("NaN and Infinity are not JSON")


def _float(text: str) -> float:
    if len(text) > _MAX_NUMBER_CHARS:
        raise StrictJSONError("number too long")
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise StrictJSONError("number does not fit a double")
    return value


def _int(text: str) -> int:
    # Refuse before int() does quadratic work on thousands of digits.
    if len(text) > _MAX_NUMBER_CHARS:
        raise StrictJSONError("number too long")
    return int(text)


_decoder = json.JSONDecoder(
    object_pairs_hook=_pairs, parse_constant=_constant, parse_float=_float, parse_int=_int
)


def _check(value: Any) -> None:
    """Walk the parsed value: bounded depth, no lone surrogates in any string."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    raise StrictJSONError("lone surrogate in string") from None
        elif isinstance(item, dict):
            if depth > MAX_DEPTH:
                raise StrictJSONError("nesting too deep")
            for key, member in item.items():
                stack.append((key, depth))
                stack.append((member, depth + 1))
        elif isinstance(item, list):
            if depth > MAX_DEPTH:
                raise StrictJSONError("nesting too deep")
            stack.extend((member, depth + 1) for member in item)


def loads_strict(data: bytes | str, *, require_object: bool = True) -> Any:
    """Parse strict JSON: UTF-8 without BOM, no duplicate names, no NaN/Infinity,
    numbers that fit a double, no lone surrogates, nesting at most :data:`MAX_DEPTH`.

    :raises StrictJSONError: when any rule is broken (or the top level is not an object
        and ``require_object`` is true).
    """
    if isinstance(data, bytes | bytearray | memoryview):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            raise StrictJSONError("not UTF-8") from None
    else:
        text = data
    if text.startswith("\ufeff"):
        raise StrictJSONError("byte order mark")
    try:
        value = _decoder.decode(text)
    except StrictJSONError:
        raise
    except (ValueError, RecursionError):
        raise StrictJSONError("not JSON") from None
    if require_object and not isinstance(value, dict):
        raise StrictJSONError("top level is not an object")
    _check(value)
    return value
