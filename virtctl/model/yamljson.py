"""YAML → JSON values, decoded as sigs.k8s.io/yaml (go-yaml v2 underneath) decodes them for kubectl
and the apiserver, never as PyYAML's own constructors would:

* only JSON types come out (dict with string keys, list, str, int, float, bool, None): timestamps
  stay the text they were written as (also under an explicit ``!!timestamp``), ``!!binary`` becomes
  the decoded bytes as a string, unknown tags (``!foo``, ``!!python/object``) are ignored;
* a value that does not fit its explicit tag is an error (``yaml: cannot decode !!str `abc` as a
  !!float``), and so are NaN and ±Inf (``json: unsupported value: NaN``, JSON has no such values);
* an alias inside its own anchor is refused (``yaml: anchor 'a' value contains itself``), and
  aliases that expand the document beyond go-yaml's budget are refused (``yaml: document contains
  excessive aliasing``: the billion-laughs guard of go-yaml 2.2.8);
* nesting deeper than ``MAX_DEPTH`` is refused while parsing, before any value is built.

The decoder works on the parser's event stream with an explicit stack: no recursion, so no input can
exhaust the interpreter's stack. ``loads`` decodes the first document (as ``yaml.Unmarshal`` does),
``load_all`` every document of a stream.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import math
import re
from collections.abc import Iterator
from typing import Any

import yaml

from virtctl.model.gojson import INT64_MIN, MAX_DEPTH

try:
    _Loader: Any = yaml.CSafeLoader
except AttributeError:                    # PyYAML built without libyaml
    _Loader = yaml.SafeLoader

TAG = "tag:yaml.org,2002:"
_TIMESTAMP = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:(?:[Tt]|[ \t]+)(\d{1,2}):(\d{2}):(\d{2})(?:\.\d*)?"
                        r"(?:[ \t]*(Z|[-+]\d{1,2}(?::?\d{2})?))?)?$")


class YAMLDecodeError(ValueError):
    """Not a YAML document sigs.k8s.io/yaml would turn into JSON; the message is Go's."""


def _fail(message: str) -> YAMLDecodeError:
    return YAMLDecodeError(message)


def _alias_ratio(decodes: int) -> float:
    """go-yaml's allowedAliasRatio: generous for small documents, strict for huge ones."""
    if decodes <= 400_000:
        return 0.99
    if decodes >= 4_000_000:
        return 0.10
    return 0.99 - 0.89 * (decodes - 400_000) / 3_600_000


def _int(text: str) -> int | float | str:
    plain = text.replace("_", "")
    if not plain.isascii():               # Go's strconv reads ASCII digits only
        return text
    signed = plain[:1] in ("+", "-")
    sign = -1 if plain.startswith("-") else 1
    digits = plain[1:] if signed else plain
    try:
        if len(digits) > 66:
            raise OverflowError
        if digits[:1] in ("+", "-", ""):
            raise ValueError                   # one sign at most
        if len(digits) > 1 and digits[0] == "0" and digits[1].isdigit():
            value = int(digits, 8)             # YAML 1.1 octal: 017
        else:
            value = int(digits, 0)             # 0b…, 0o…, 0x… or decimal
    except (ValueError, OverflowError):
        value = None
    if value is not None and (INT64_MIN <= sign * value < (1 << 63) or (not signed and value < (1 << 64))):
        return sign * value
    try:                                  # go-yaml: too big for (u)int64 → float64, else the text itself
        f = float(plain)
    except ValueError:
        return text
    return f if math.isfinite(f) else text


def _valid_timestamp(text: str) -> bool:
    m = _TIMESTAMP.match(text.strip())
    if not m:
        return False
    try:
        datetime.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if m.group(4) is not None:
            datetime.time(int(m.group(4)), int(m.group(5)), int(m.group(6)))
    except ValueError:
        return False
    return True


def _mismatch(found: str, value: str, tag: str) -> YAMLDecodeError:
    return _fail(f"yaml: cannot decode !!{found} `{value}` as a !!{tag}")


# go-yaml v2's resolve table (not YAML 1.1's regexes: ``y``/``n`` are booleans, ``0o17`` and ``1e3`` numbers)
_GO_WORDS: dict[str, Any] = {
    **dict.fromkeys("y Y yes Yes YES true True TRUE on On ON".split(), True),
    **dict.fromkeys("n N no No NO false False FALSE off Off OFF".split(), False),
    **dict.fromkeys(["", "~", "null", "Null", "NULL"], None),
    **dict.fromkeys(".nan .NaN .NAN".split(), math.nan),
    **dict.fromkeys(".inf .Inf .INF +.inf +.Inf +.INF".split(), math.inf),
    **dict.fromkeys("-.inf -.Inf -.INF".split(), -math.inf),
}
_GO_DOT_FLOAT = re.compile(r"\.[0-9]+(?:[eE][-+]?[0-9]+)?\Z")


def _implicit(value: str) -> Any:
    """A plain scalar without a tag, resolved as go-yaml v2's ``resolve`` does: the word table, then
    by its first character a float (``.5``) or an int, uint or float (digits and signs); timestamps
    and everything else stay the text."""
    if value in _GO_WORDS:
        return _GO_WORDS[value]
    first = value[:1]
    if first == ".":
        return float(value) if _GO_DOT_FLOAT.match(value) else value
    if first and first in "0123456789+-":
        return _int(value)
    return value


def _json_number(value: Any) -> Any:
    """What a float's JSON text (encoding/json) reads back as: 1e3 → 1000, as kubectl sends it."""
    if isinstance(value, float) and math.isfinite(value) and value == int(value) and abs(value) < 1e21:
        return int(value)
    return value


def _scalar(tag: str | None, value: str, plain: bool) -> Any:
    if tag is None or tag == "!":
        return _json_number(_implicit(value)) if plain and tag is None else value
    if not tag.startswith(TAG):
        return value                      # a local or unknown tag: go-yaml keeps the text
    kind = tag[len(TAG):]
    implicit = _implicit(value)           # go-yaml resolves the text under an explicit tag, quoted or not
    found = ("null" if implicit is None else "bool" if isinstance(implicit, bool) else
             "int" if isinstance(implicit, int) else "float" if isinstance(implicit, float) else "str")
    if kind == "str":
        return value
    if kind == "binary":
        try:
            data = base64.b64decode("".join(value.split()), validate=True)
        except (binascii.Error, ValueError):
            raise _fail("yaml: !!binary value contains invalid base64 data") from None
        return data.decode("utf-8", "replace")
    if kind == "timestamp":
        if not _valid_timestamp(value):
            raise _mismatch(found, value, "timestamp")
        return value
    if kind == "null":
        if implicit is not None:
            raise _mismatch(found, value, "null")
        return None
    if kind == "bool":
        if not isinstance(implicit, bool):
            raise _mismatch(found, value, "bool")
        return implicit
    if kind == "int":
        if isinstance(implicit, bool) or not isinstance(implicit, int):
            raise _mismatch(found, value, "int")
        return implicit
    if kind == "float":
        if isinstance(implicit, bool) or not isinstance(implicit, (int, float)):
            raise _mismatch(found, value, "float")
        return float(implicit)
    return value


def _key(key: Any) -> str:
    """sigs.k8s.io/yaml turns scalar map keys into JSON object keys."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int):
        return str(key)
    if isinstance(key, float):
        if math.isnan(key):
            return ".nan"
        if math.isinf(key):
            return ".inf" if key > 0 else "-.inf"
        return repr(key) if key != int(key) or abs(key) >= 1e21 else str(int(key))
    if key is None:
        raise _fail("error converting YAML to JSON: unsupported map key of type: <nil>, key: <nil>")
    raise _fail("yaml: invalid map key: " + ("map" if isinstance(key, dict) else "sequence"))


def _check_finite(value: Any) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise _fail(f"json: unsupported value: {'NaN' if math.isnan(value) else ('+Inf' if value > 0 else '-Inf')}")


class _Collection:
    __slots__ = ("anchor", "has_key", "key", "merge", "merges", "nodes", "value")

    def __init__(self, value: dict[str, Any] | list[Any], anchor: str | None):
        self.value = value
        self.anchor = anchor
        self.key: Any = None
        self.has_key = False
        self.merge = False
        self.nodes = 1                    # values decoded inside (for the alias budget)
        self.merges: list[dict[str, Any]] = []


class _Decoder:
    def __init__(self, max_depth: int):
        self.max_depth = max_depth
        self.stack: list[_Collection] = []
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.open_anchors: set[str] = set()
        self.decodes = 0
        self.aliased = 0
        self.result: Any = None
        self.done = False

    def _budget(self, nodes: int, aliased: bool) -> None:
        self.decodes += nodes
        if aliased:
            self.aliased += nodes
        if self.aliased > 100 and self.decodes > 1000 and self.aliased / self.decodes > _alias_ratio(self.decodes):
            raise _fail("yaml: document contains excessive aliasing")

    def _add(self, value: Any, nodes: int, is_merge_key: bool = False) -> None:
        if not self.stack:
            self.result, self.done = value, True
            return
        top = self.stack[-1]
        top.nodes += nodes
        if isinstance(top.value, list):
            top.value.append(value)
        elif not top.has_key:
            top.key, top.has_key, top.merge = value, True, is_merge_key
        else:
            top.has_key = False
            if top.merge:
                sources = value if isinstance(value, list) else [value]
                if not all(isinstance(s, dict) for s in sources):
                    raise _fail("yaml: map merge requires map or sequence of maps as the value")
                top.merges.extend(sources)
            else:
                top.value[_key(top.key)] = value

    def _open(self, value: dict[str, Any] | list[Any], anchor: str | None, mark: Any) -> None:
        if len(self.stack) >= self.max_depth:
            raise _fail(f"yaml: line {mark.line + 1 if mark else '?'}: exceeded max depth of {self.max_depth}")
        if anchor is not None:
            self.open_anchors.add(anchor)
        self.stack.append(_Collection(value, anchor))
        self._budget(1, False)

    def _close(self) -> None:
        top = self.stack.pop()
        value = top.value
        if isinstance(value, dict) and top.merges:
            merged: dict[str, Any] = {}
            for source in reversed(top.merges):     # earlier sources win, explicit keys win over all
                merged.update(source)
            merged.update(value)
            value = top.value = merged
        if top.anchor is not None:
            self.open_anchors.discard(top.anchor)
            self.anchors[top.anchor] = (value, top.nodes)
        self._add(value, top.nodes)

    def feed(self, event: Any) -> None:
        if isinstance(event, yaml.ScalarEvent):
            plain = event.implicit[0] and event.style in (None, "")
            value = _scalar(event.tag, event.value, plain)
            _check_finite(value)
            self._budget(1, False)
            if event.anchor is not None:
                self.anchors[event.anchor] = (value, 1)
            is_merge = (plain and event.tag is None and event.value == "<<" and self.stack
                        and isinstance(self.stack[-1].value, dict) and not self.stack[-1].has_key)
            self._add(value, 1, bool(is_merge))
        elif isinstance(event, yaml.MappingStartEvent):
            self._open({}, event.anchor, event.start_mark)
        elif isinstance(event, yaml.SequenceStartEvent):
            self._open([], event.anchor, event.start_mark)
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            self._close()
        elif isinstance(event, yaml.AliasEvent):
            if event.anchor in self.open_anchors:
                raise _fail(f"yaml: anchor '{event.anchor}' value contains itself")
            if event.anchor not in self.anchors:
                raise _fail(f"yaml: unknown anchor '{event.anchor}' referenced")
            value, nodes = self.anchors[event.anchor]
            self._budget(nodes, True)
            self._add(_copy(value), nodes)


def _copy(value: Any) -> Any:
    """A deep copy without recursion (anchored values are bounded by the depth limit anyway)."""
    if not isinstance(value, (dict, list)):
        return value
    root: Any = {} if isinstance(value, dict) else []
    todo: list[tuple[Any, Any]] = [(value, root)]
    while todo:
        src, dst = todo.pop()
        items = src.items() if isinstance(src, dict) else enumerate(src)
        for k, v in items:
            if isinstance(v, (dict, list)):
                child: Any = {} if isinstance(v, dict) else []
                todo.append((v, child))
            else:
                child = v
            if isinstance(dst, dict):
                dst[k] = child
            else:
                dst.append(child)
    return root


def _message(err: yaml.YAMLError) -> str:
    """go-yaml's wording, as kubectl prints it: a scanner error's line counts from 1, a parser
    error's is its 0-based mark (go-yaml's quirk), no line when that is 0; bad bytes name none."""
    if isinstance(err, yaml.reader.ReaderError):
        return f"yaml: {err.reason}"
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    problem_mark, context_mark = getattr(err, "problem_mark", None), getattr(err, "context_mark", None)
    line = 0
    if problem_mark is not None and problem_mark.line:
        line = problem_mark.line + (1 if isinstance(err, yaml.scanner.ScannerError) else 0)
    elif context_mark is not None:
        line = context_mark.line
    return f"yaml: line {line}: {problem}" if line else f"yaml: {problem}"


def _documents(data: bytes | str, max_depth: int) -> Iterator[Any]:
    decoder: _Decoder | None = None
    try:
        for event in yaml.parse(data, Loader=_Loader):
            if isinstance(event, yaml.DocumentStartEvent):
                decoder = _Decoder(max_depth)
            elif isinstance(event, yaml.DocumentEndEvent):
                if decoder is not None:
                    yield decoder.result
                decoder = None
            elif decoder is not None:
                decoder.feed(event)
    except yaml.YAMLError as e:
        raise _fail(_message(e)) from None
    except RecursionError:
        raise _fail(f"yaml: exceeded max depth of {max_depth}") from None


def loads(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """The first document as JSON values (``None`` for an empty stream); ``YAMLDecodeError`` else."""
    for document in _documents(data, max_depth):
        return document
    return None


def load_all(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> list[Any]:
    """Every document of a stream (``---``-separated), each as JSON values."""
    return list(_documents(data, max_depth))
