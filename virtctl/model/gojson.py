"""Decode JSON the way Go's encoding/json (as the Kubernetes apiserver uses it) does, where Python differs:

* a lone UTF-16 surrogate (``"\\ud800"``) becomes U+FFFD instead of a string that cannot be encoded
  as UTF-8 (and would fail later, when the object is stored or sent);
* ``NaN``, ``Infinity`` and ``-Infinity`` are not JSON (Python accepts them): a syntax error;
* numbers become int64 when they fit, else float64; a number beyond float64's range is refused
  (``json: cannot unmarshal number … into Go value of type float64``) instead of becoming ``inf``
  or a 4,000-digit integer;
* nesting is limited before anything is decoded (``MAX_DEPTH``), so a hostile body cannot exhaust
  the interpreter's stack; Go refuses depth beyond 10000 with ``exceeded max depth``, and the
  server needs a lower bound because every later pass over the value (validation, copies,
  encoding) recurses (see docs/standalone.md, "Limits").
"""

from __future__ import annotations

import json
import math
import re
from array import array
from itertools import accumulate
from typing import Any

MAX_DEPTH = 100
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
# after strings are cut out: brackets become +1 / -1 (as signed bytes), everything else disappears
_BRACKETS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[{]}")


class DecodeError(ValueError):
    """The text is not JSON that Go would decode; the message is Go's."""


def without_lone_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {without_lone_surrogates(k): without_lone_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_lone_surrogates(v) for v in value]
    return value


def nesting_depth(data: bytes) -> tuple[int, int]:
    """(deepest nesting of arrays/objects, byte offset where it is first reached) of a JSON text,
    without decoding it; strings are skipped, so brackets inside them do not count."""
    stripped = _STRING.sub(b"", data).translate(_BRACKETS, _NOT_BRACKETS)
    if not stripped:
        return 0, 0
    levels = list(accumulate(array("b", stripped)))
    deepest = max(levels)
    return deepest, levels.index(deepest)


def check_depth(data: bytes, limit: int = MAX_DEPTH) -> None:
    deepest, _ = nesting_depth(data)
    if deepest > limit:
        opener = data.lstrip()[:1].decode("latin-1") or "["
        raise DecodeError(f"invalid character '{opener}' exceeded max depth")


def _number(text: str) -> int | float:
    """A JSON number as Go decodes it into interface{} with integers preserved (int64, else float64)."""
    if len(text) <= 20 and "." not in text and "e" not in text and "E" not in text:
        value = int(text)
        if INT64_MIN <= value <= INT64_MAX:
            return value
    try:
        f = float(text)
    except (ValueError, OverflowError):
        f = math.inf
    if math.isinf(f):
        shown = text if len(text) <= 40 else text[:40] + "…"
        raise DecodeError(f"json: cannot unmarshal number {shown} into Go value of type float64")
    return f


def _constant(name: str) -> Any:
    raise DecodeError(f"invalid character '{name[0] if name[0] != '-' else 'I'}' "
                      + ("looking for beginning of value" if name[0] != "-" else "in numeric literal"))


def loads(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Decode like Go: refuses NaN/Infinity, out-of-range numbers and nesting beyond ``max_depth``
    (``DecodeError``, a ``ValueError``); malformed JSON raises ``ValueError`` as ``json.loads`` does."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    check_depth(raw, max_depth)
    text = raw.decode("utf-8", "replace")
    try:
        value = json.loads(text, parse_int=_number, parse_float=_number, parse_constant=_constant)
    except json.JSONDecodeError as e:
        raise DecodeError(syntax_error(e)) from None
    if "\\u" in text and _LONE_SURROGATE.search(json.dumps(value, ensure_ascii=False, default=str)):
        value = without_lone_surrogates(value)
    return value


def _quote_char(c: str) -> str:
    """Go's quoteChar: the offending byte as the scanner names it."""
    if c == "'":
        return "'\\''"
    if c == '"':
        return "'\"'"
    escapes = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\b": "\\b", "\f": "\\f"}
    if c in escapes:
        return f"'{escapes[c]}'"
    if c.isascii() and c.isprintable():
        return f"'{c}'"
    if c.isascii():
        return f"'\\x{ord(c):02x}'"
    return f"'{c}'"


def _container(text: str, pos: int) -> str:
    """Whether ``pos`` is inside an object or an array (strings skipped)."""
    stack: list[str] = []
    for m in re.finditer(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', text[:pos]):
        token = m.group()
        if token in "[{":
            stack.append(token)
        elif token in "]}" and stack:
            stack.pop()
    return "object" if stack and stack[-1] == "{" else "array"


# Python's message prefix -> where encoding/json says the offending character stands
_AT_CHARACTER = (
    ("Expecting value", "looking for beginning of value"),
    ("Expecting property name", "looking for beginning of object key string"),
    ("Expecting ':'", "after object key"),
    ("Extra data", "after top-level value"),
    ("Invalid control character", "in string literal"),
)


def syntax_error(err: json.JSONDecodeError) -> str:
    """encoding/json's SyntaxError text for what Python's decoder reports."""
    text, pos, msg = err.doc, err.pos, err.msg
    if pos >= len(text) or msg.startswith("Unterminated string"):
        return "unexpected end of JSON input"
    c = _quote_char(text[pos])
    for prefix, where in _AT_CHARACTER:
        if msg.startswith(prefix):
            return f"invalid character {c} {where}"
    if msg.startswith("Expecting ','"):
        where = "object key:value pair" if _container(text, pos) == "object" else "array element"
        return f"invalid character {c} after {where}"
    if msg.startswith("Invalid \\u"):
        start = text.find("u", pos) + 1
        digits = text[start:start + 4]
        bad = next((ch for ch in digits if ch not in "0123456789abcdefABCDEF"), None)
        if bad is None:
            return "unexpected end of JSON input"
        return f"invalid character {_quote_char(bad)} in \\u hexadecimal character escape"
    if msg.startswith("Invalid \\escape"):
        bad = text[pos + 1] if pos + 1 < len(text) else text[pos]
        return f"invalid character {_quote_char(bad)} in string escape code"
    return msg
