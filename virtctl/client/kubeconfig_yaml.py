"""Read the YAML that kubeconfig writers emit, without importing PyYAML (≈ 20 ms per process here).

kubectl, client-go, kind, minikube and our own ``local up`` write kubeconfigs as block mappings and
sequences of plain or quoted scalars. :func:`load` parses exactly that subset and returns what
``yaml.safe_load`` would; on anything outside it (anchors, tags, block or multi-line scalars, flow
collections, YAML 1.1 scalars such as ``yes`` or ``0o17``, tabs, several documents, …) it returns
``None`` and the caller uses PyYAML. tests/client/test_kubeconfig_yaml.py checks the equivalence
on generated documents.
"""

from __future__ import annotations

import re  # already loaded by ssl: free here

# plain scalars YAML 1.1 would read as numbers, timestamps or merge keys (a superset: matching one
# only means "let PyYAML decide"); tokens such as "0i8tUs…" stay strings
_MAYBE_TYPED = re.compile(r"[-+]?[0-9_.:]*[0-9][0-9_.:]*(?:[eE][-+]?[0-9]+)?|[-+]?0[bx][0-9a-fA-F_]+"
                          r"|[0-9]{4}-.*|[-+]?\.(?:inf|nan)|<<|=", re.IGNORECASE)


class _StepAside(Exception):
    """Outside the subset: let PyYAML read it."""


_NOT_PLAIN_START = set("-?:,[]{}#&*!|>'\"%@`")
_RISKY_PLAIN_START = set("+-.0123456789~<=")
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_NULLS = {"null", "Null", "NULL", "~"}
_YAML11_WORDS = {"yes", "no", "on", "off", "y", "n"}    # lower-cased; y/n only to be safe
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "n": "\n", "t": "\t", "r": "\r", "0": "\0", " ": " "}


def load(text: str):
    """The document as ``yaml.safe_load`` gives it, or None when the text is outside the subset."""
    if not text.strip(" \n"):
        return {}
    try:
        lines = _lines(text)
        if not lines:
            return None
        value, end = _block(lines, 0, lines[0][0])
        if end != len(lines) or not isinstance(value, dict):
            return None
        return value
    except _StepAside:
        return None


def _lines(text: str) -> list[list]:
    # ASCII without control characters (PyYAML rejects some, and reads others its own way)
    if not text.isascii() or "\x7f" in text or min(text.replace("\n", " ")) < " ":
        raise _StepAside
    out: list[list] = []
    for number, raw in enumerate(text.split("\n")):
        content = raw.lstrip(" ")
        if not content or content.startswith("#"):
            continue
        if content.rstrip() == "---" and number == 0 and raw == content:
            continue
        if raw.startswith(("---", "...", "%")):
            raise _StepAside
        out.append([len(raw) - len(content), content.rstrip(" ")])
    return out


def _is_item(content: str) -> bool:
    return content == "-" or content.startswith("- ")


def _block(lines: list[list], i: int, indent: int):
    if _is_item(lines[i][1]):
        return _sequence(lines, i, indent)
    return _mapping(lines, i, indent)


def _mapping(lines: list[list], i: int, indent: int):
    result: dict = {}
    while i < len(lines) and lines[i][0] == indent and not _is_item(lines[i][1]):
        key, rest = _split_entry(lines[i][1])
        if key in result:
            raise _StepAside
        i += 1
        if rest:
            result[key] = _scalar(rest)
        elif i < len(lines) and (lines[i][0] > indent or (lines[i][0] == indent and _is_item(lines[i][1]))):
            result[key], i = _block(lines, i, lines[i][0])
        else:
            result[key] = None
    if i < len(lines) and lines[i][0] > indent:
        raise _StepAside
    return result, i


def _sequence(lines: list[list], i: int, indent: int):
    items: list = []
    while i < len(lines) and lines[i][0] == indent and _is_item(lines[i][1]):
        after = lines[i][1][1:]
        body = after.lstrip(" ")
        if not body:
            i += 1
            if i < len(lines) and lines[i][0] > indent:
                value, i = _block(lines, i, lines[i][0])
            else:
                value = None
        elif _is_item(body):
            raise _StepAside                      # "- - x": nested inline sequences
        elif _entry_like(body):
            # "- key: value" opens a mapping whose other keys sit under "key"
            lines[i] = [indent + 1 + len(after) - len(body), body]
            value, i = _mapping(lines, i, lines[i][0])
        else:
            value = _scalar(body)
            i += 1
        items.append(value)
    return items, i


def _entry_like(content: str) -> bool:
    if content[0] in "'\"":
        return False
    return ": " in content.split(" #", 1)[0] or content.endswith(":")


def _split_entry(content: str) -> tuple[str, str]:
    if content[0] in _NOT_PLAIN_START:
        raise _StepAside
    if content.endswith(":") and ": " not in content:
        key, rest = content[:-1], ""
    else:
        key, sep, rest = content.partition(": ")
        if not sep:
            raise _StepAside
    if not key or key != key.strip() or "#" in key or ":" in key or not isinstance(_plain(key), str):
        raise _StepAside
    rest = rest.strip(" ")
    if rest.startswith("#"):
        rest = ""
    return key, rest


def _scalar(text: str):
    first = text[0]
    if first == "'":
        return _single_quoted(text)
    if first == '"':
        return _double_quoted(text)
    if text in ("{}", "[]"):
        return {} if text == "{}" else []
    if first in _NOT_PLAIN_START and not (first == "-" and text[1:2] not in ("", " ")):
        raise _StepAside                          # "-x" is plain (1 token in 64 starts with "-")
    value = text.split(" #", 1)[0].rstrip(" ")
    if ": " in value or value.endswith(":"):
        raise _StepAside
    return _plain(value)


def _plain(value: str):
    """A plain scalar resolved as PyYAML's YAML 1.1 resolver would (or step aside)."""
    if value in _BOOLS:
        return _BOOLS[value]
    if value in _NULLS:
        return None
    if value.isascii() and value.isdigit() and (value == "0" or value[0] != "0"):
        return int(value)
    if value.lower() in _YAML11_WORDS or (value[0] in _RISKY_PLAIN_START and _MAYBE_TYPED.fullmatch(value)):
        raise _StepAside                          # YAML 1.1 booleans, numbers, dates, sexagesimals…
    return value


def _after_quote(rest: str) -> None:
    rest = rest.lstrip(" ")
    if rest and not rest.startswith("#"):
        raise _StepAside


def _single_quoted(text: str) -> str:
    out, i = [], 1
    while True:
        j = text.find("'", i)
        if j < 0:
            raise _StepAside                      # continues on the next line
        out.append(text[i:j])
        if text[j + 1:j + 2] == "'":
            out.append("'")
            i = j + 2
            continue
        _after_quote(text[j + 1:])
        return "".join(out)


def _double_quoted(text: str) -> str:
    out: list[str] = []
    i = 1
    while i < len(text):
        c = text[i]
        if c == '"':
            _after_quote(text[i + 1:])
            return "".join(out)
        if c != "\\":
            out.append(c)
            i += 1
            continue
        code = text[i + 1:i + 2]
        if code in _ESCAPES:
            out.append(_ESCAPES[code])
            i += 2
        elif code in ("x", "u", "U"):
            width = {"x": 2, "u": 4, "U": 8}[code]
            digits = text[i + 2:i + 2 + width]
            if len(digits) != width or not all(d in "0123456789abcdefABCDEF" for d in digits):
                raise _StepAside
            out.append(chr(int(digits, 16)))
            i += 2 + width
        else:
            raise _StepAside
    raise _StepAside                              # continues on the next line
