"""Manifest files (``-f FILE|-``) → JSON documents, read the way kubectl's resource builder reads
them: every file goes through here, and every YAML document through the one YAML → JSON decoder
(:mod:`virtctl.model.yamljson`), so no Python type, NaN or exception text gets through.

kubectl (apimachinery ``YAMLOrJSONDecoder``): a stream that starts with ``{`` is JSON (values one
after another); anything else is cut into documents at ``---`` lines (``YAMLReader``: only spaces or
a comment may follow ``---``), and each document is decoded on its own, so an error's line counts
from the start of its document. Empty and ``null`` documents are skipped. Failures read as
kubectl's: ``error: error parsing FILE: error converting YAML to JSON: yaml: line 3: …``.
See docs/compatibility.md.
"""

from __future__ import annotations

import json
import sys

from virtctl.errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

SEPARATOR = b"---"
CONVERTING = "error converting YAML to JSON: "


class ManifestError(ValueError):
    """Why a stream is not a list of JSON documents, in kubectl's words (without the file name)."""


def read_source(path: str) -> tuple[str, bytes]:
    """(name kubectl shows for it, bytes) of one ``-f`` argument; ``-`` is standard input."""
    if path == "-":
        stdin = sys.stdin
        data = stdin.buffer.read() if hasattr(stdin, "buffer") else stdin.read().encode("utf-8", "surrogateescape")
        return "STDIN", data
    try:
        with open(path, "rb") as f:
            return path, f.read()
    except FileNotFoundError:
        raise UsageError(f'error: the path "{path}" does not exist') from None
    except IsADirectoryError:
        raise UsageError(f"error: error reading {path}: is a directory") from None
    except OSError as e:
        raise UsageError(f"error: error reading {path}: {(e.strerror or str(e)).lower()}") from None


def load_file(path: str) -> tuple[str, list[Any]]:
    """The documents of one ``-f`` argument, or a :class:`UsageError` naming it as kubectl does."""
    source, data = read_source(path)
    try:
        return source, decode_stream(data)
    except ManifestError as e:
        raise UsageError(f"error: error parsing {source}: {e}") from None


def decode_stream(data: bytes) -> list[Any]:
    """Every non-empty document of a YAML or JSON stream, as JSON values."""
    if data.lstrip()[:1] == b"{":
        return [v for v in _json_values(data) if v is not None]
    from virtctl.model import yamljson

    out = []
    for chunk in split_documents(data):
        try:
            value = yamljson.loads(chunk)
        except yamljson.YAMLDecodeError as e:
            text = str(e)
            raise ManifestError(text if text.startswith(CONVERTING) else CONVERTING + text) from None
        if value is not None:
            out.append(value)
    return out


def split_documents(data: bytes) -> list[bytes]:
    """apimachinery's ``YAMLReader``: a line starting with ``---`` ends a document."""
    docs: list[bytes] = []
    current: list[bytes] = []
    for line in data.splitlines(keepends=True):
        if line.startswith(SEPARATOR):
            rest = line[len(SEPARATOR):].strip()
            if rest and not rest.startswith(b"#"):
                raise ManifestError(f"invalid Yaml document separator: {rest.decode('utf-8', 'replace')}")
            if current:
                docs.append(b"".join(current))
            current = []
        else:
            current.append(line)
    if current:
        docs.append(b"".join(current))
    return docs


def _json_values(data: bytes) -> list[Any]:
    """JSON values one after another (Go's json.Decoder), each decoded as Go decodes it."""
    from virtctl.model import gojson

    text = data.decode("utf-8", "replace")
    scanner = json.JSONDecoder()
    values: list[Any] = []
    pos, end = 0, len(text)
    while True:
        while pos < end and text[pos] in " \t\r\n":
            pos += 1
        if pos >= end:
            return values
        start = pos
        try:
            _, pos = scanner.raw_decode(text, pos)          # where this value ends (NaN included)
            values.append(gojson.loads(text[start:pos]))
        except json.JSONDecodeError as e:
            raise ManifestError(go_json_error(text, e.pos, e.msg)) from None
        except RecursionError:
            raise ManifestError(f"json: exceeded max depth of {gojson.MAX_DEPTH}") from None
        except ValueError as e:                             # gojson's refusals: NaN, depth, range
            message = str(e)
            raise ManifestError(message if message.startswith("json:") else f"json: {message}") from None


def _go_char(c: str) -> str:
    return "'\\''" if c == "'" else f"'{c}'" if c.isprintable() else json.dumps(c)


def go_json_error(text: str, pos: int, msg: str) -> str:
    """encoding/json's syntax error, with kubectl's offset, for where Python's decoder stopped."""
    if pos >= len(text.rstrip()) or msg.startswith("Unterminated string"):
        return "unexpected EOF"
    c = _go_char(text[pos])
    if msg.startswith("Expecting property name"):
        what = "looking for beginning of object key string"
    elif msg.startswith("Expecting ':'"):
        what = "after object key"
    elif msg.startswith("Expecting ','"):
        what = "after object key:value pair" if _innermost(text, pos) == "{" else "after array element"
    elif msg.startswith("Invalid control character"):
        what = "in string literal"
    elif msg.startswith("Invalid \\"):
        what = "in string escape code"
    else:
        what = "looking for beginning of value"
    return f"json: offset {pos + 1}: invalid character {c} {what}"


def _innermost(text: str, pos: int) -> str:
    """The bracket that is open at ``pos`` ("{", "[" or "")."""
    stack: list[str] = []
    in_string = escaped = False
    for c in text[:pos]:
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "[{":
            stack.append(c)
        elif c in "]}" and stack:
            stack.pop()
    return stack[-1] if stack else ""
