"""Strict JSON for token segments and JWKS documents.

``json.loads`` is lenient in ways an attacker can use (RFC 8725 §3.x, RFC 7515 §5.2
"duplicate Header Parameter names MUST be rejected"): it accepts duplicate member
names (last one wins, so two parsers may disagree on a claim), ``NaN``/``Infinity``,
numbers that overflow a double, lone UTF-16 surrogates, a UTF-8 BOM and UTF-16 input.
:func:`loads_strict` refuses all of them with :class:`StrictJSONError`.

Three paths, the cheapest first; each later one decides exactly what the earlier ones
could not prove:

1. orjson (a token's payload, every request): its parser is several times faster than
   ``json``'s, but it keeps the last of duplicate names and turns integers beyond 64
   bits into floats. So its answer is taken only when serialising it again gives back
   the very input bytes: a serialisation of a ``dict`` names every member once, and
   any number or string that parsed to something else would be written differently.
   A payload from Clerk (compact, no escapes) passes; anything else goes on.
2. The C scanner of ``json`` with our hooks, when :func:`_fast_ok` rules out what only
   a walk over the value could find (escapes, deep nesting, long digit runs).
3. ``json`` with our hooks, then a walk over the value (:func:`_check`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson

__all__ = ["MAX_DEPTH", "StrictJSONError", "loads_object", "loads_strict"]

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
# The fast path's decoder: the same hooks except ``parse_int``, which the C scanner then
# does not call once per integer (``_fast_ok`` has ruled out every literal it refuses).
_scan_fast: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder(
    object_pairs_hook=_pairs, parse_constant=_constant, parse_float=_float
).scan_once  # type: ignore[attr-defined]  # the C scanner, undeclared in typeshed

#: For the fast path's guard: digits become ``0``, ``{`` and ``[`` become ``{``, ``\\``
#: stays, everything else becomes a space.
_GUARD = bytes(
    0x30 if 0x30 <= b <= 0x39 else 0x7B if b in (0x7B, 0x5B) else b if b == 0x5C else 0x20
    for b in range(256)
)
_LONG_RUN = b"0" * _MAX_NUMBER_CHARS


def _fast_ok(data: bytes) -> bool:
    """True when ``data`` provably needs neither ``_check``'s walk nor ``_int``.

    No backslash at all (after a strict UTF-8 decode, an escape is the only way a lone
    surrogate gets in); at most :data:`MAX_DEPTH` brackets in all (so no deeper nesting,
    whatever the brackets are); no run of ``_MAX_NUMBER_CHARS`` digits (so no integer
    literal ``_int`` would refuse). Conservative: a string value that merely looks
    suspicious takes the slow path, which decides exactly. One translation and three
    C-speed scans instead of a Python walk over every value (a token's payload is
    parsed before its signature is checked, so this is on every request's path).
    """
    guard = data.translate(_GUARD)
    return guard.count(b"{") <= MAX_DEPTH and b"\\" not in guard and _LONG_RUN not in guard


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


_orjson_loads = orjson.loads
_orjson_dumps = orjson.dumps


def loads_object(data: bytes) -> dict[str, Any]:
    """:func:`loads_strict` for a JSON object in bytes (a token's payload), the cheapest
    path first (see the module docstring): orjson, when it writes the input back
    exactly; else :func:`loads_strict`, which takes the other two paths.

    :raises StrictJSONError: as :func:`loads_strict`.
    """
    # At most MAX_DEPTH brackets in all (counted in strings too) bounds the nesting.
    # The exact bytes back rule out whitespace, escapes (so lone surrogates), a BOM, a
    # number orjson reads differently from json (1E2, -0, an integer beyond 64 bits, a
    # double it did not round correctly), and duplicate names.
    if data.count(b"{") + data.count(b"[") <= MAX_DEPTH:
        try:
            value = _orjson_loads(data)
            if type(value) is dict and _orjson_dumps(value) == data:
                return value
        except (ValueError, TypeError):  # orjson's decode and encode errors
            pass
    result: dict[str, Any] = loads_strict(data)
    return result


def loads_strict(data: bytes | str, *, require_object: bool = True) -> Any:
    """Parse strict JSON: UTF-8 without BOM, no duplicate names, no NaN/Infinity,
    numbers that fit a double, no lone surrogates, nesting at most :data:`MAX_DEPTH`.

    :raises StrictJSONError: when any rule is broken (or the top level is not an object
        and ``require_object`` is true).
    """
    if isinstance(data, bytes | bytearray | memoryview):
        data = bytes(data)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise StrictJSONError("not UTF-8") from None
        if _fast_ok(data):
            try:
                value, end = _scan_fast(text, 0)
            except (StopIteration, ValueError, RecursionError):
                pass
            else:
                if end == len(text) and (not require_object or type(value) is dict):
                    return value
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
