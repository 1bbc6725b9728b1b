"""Block-style YAML for JSON-like documents without PyYAML (≈ 10 ms of imports saved per command).

It writes exactly what :func:`virtctl.cli.render.to_yaml` gets from PyYAML's SafeDumper (sorted
keys, block style, indentless sequences, literal blocks for multi-line strings) for the documents a
command prints — manifests of names, quantities, numbers and booleans — and answers ``None`` for
anything whose rendering it is not certain of (floats, rare characters, strings that could read as
another type), so the caller falls back to PyYAML. tests/cli/test_yaml_emit.py compares the two on
generated documents.
"""

from __future__ import annotations

_WORDS = frozenset("yes Yes YES no No NO true True TRUE false False FALSE on On ON off Off OFF null Null NULL ~"
                   .split())
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _.-/:@+=,")
_FIRST = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_")
_NUMERIC = frozenset("0123456789_:.-+eExXoObBabcdfABCDFtTzZ ")   # what numbers and timestamps are made of
_QUOTE_FIRST = frozenset("#,[]{}&*!|>'\"%@`")
_PRINTABLE = frozenset(chr(c) for c in range(0x20, 0x7F))
_DIGITS = frozenset("0123456789")


def _digits(s: str) -> bool:
    return bool(s) and set(s) <= _DIGITS


def _is_timestamp(s: str) -> bool:
    """``2001-12-14`` or ``2001-12-14T21:59:43[.10]Z`` (RFC 3339 in UTC, as Kubernetes writes times):
    YAML 1.1 timestamps, which PyYAML quotes. Other timestamp spellings are left to PyYAML."""
    if len(s) == 10:
        return _digits(s[:4] + s[5:7] + s[8:]) and s[4] == s[7] == "-"
    if len(s) < 20 or s[10] != "T" or not s.endswith("Z") or not _is_timestamp(s[:10]):
        return False
    clock, _, fraction = s[11:-1].partition(".")
    return (len(clock) == 8 and clock[2] == clock[5] == ":" and _digits(clock[:2] + clock[3:5] + clock[6:])
            and (_digits(fraction) or "." not in s[11:]))


class _Unsure(Exception):
    pass


def _plain_or_quoted(s: str) -> str:
    """A one-line string as PyYAML writes it: plain when it reads back as this string, else single
    quotes; raise :class:`_Unsure` when the rule is not certain."""
    if not s:
        return "''"
    if not set(s) <= _PRINTABLE:
        raise _Unsure
    quoted = "'" + s.replace("'", "''") + "'"
    if (s in _WORDS or s[0] == " " or s[-1] == " " or s[-1] == ":" or ": " in s or " #" in s
            or s[0] in _QUOTE_FIRST or s[:2] in ("- ", "? ", ": ") or s in ("-", "?", ":")):
        return quoted
    if s[0] in _FIRST and set(s) <= _SAFE:
        if s[0].isdigit() and (_is_timestamp(s) or s == "0" or (s[0] != "0" and _digits(s))):
            return quoted                         # a timestamp or a decimal integer to YAML 1.1
        if s[0].isdigit() and "-" in s and ":" not in s and "." not in s and len(s.split("-")[0]) != 4:
            return s                              # no number has an inner "-", no date this first field: a uid
        if s[0].isdigit() and set(s) <= _NUMERIC:
            raise _Unsure                         # 12, 1_000, 1:30, 2001-01-01, 0x1f …
        return s
    raise _Unsure


def _literal(s: str, indent: int) -> str:
    """``|`` block for a multi-line value (PyYAML's literal style at this indentation)."""
    if not set(s) <= _PRINTABLE | {"\n"} or " \n" in s or s.endswith(" ") or s[0] in " \n" or s.endswith("\n\n"):
        raise _Unsure
    head = "|" if s.endswith("\n") else "|-"
    body = s[:-1] if s.endswith("\n") else s
    pad = " " * indent
    return head + "".join("\n" + (pad + line if line else "") for line in body.split("\n"))


def _scalar(value: object, indent: int, key: bool = False) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is int:
        return str(value)
    if type(value) is str:
        if "\n" in value:
            if key:
                raise _Unsure
            return _literal(value, indent)
        if key and len(value) > 100:
            raise _Unsure                         # long keys become "? " complex keys
        return _plain_or_quoted(value)
    raise _Unsure                                 # floats, bytes, dates …


def _mapping(obj: dict, indent: int, out: list[str], first_prefix: str | None = None) -> None:
    try:
        items = sorted(obj.items())
    except TypeError:
        raise _Unsure from None
    pad = " " * indent
    for i, (k, v) in enumerate(items):
        if type(k) is not str:
            raise _Unsure
        line = (first_prefix if i == 0 and first_prefix is not None else pad) + _scalar(k, indent, key=True) + ":"
        _value(v, indent, line, out)


def _value(v: object, indent: int, line: str, out: list[str]) -> None:
    """``line`` (a key and its colon) followed by the value ``v`` of a mapping at ``indent``."""
    if isinstance(v, dict):
        if not v:
            out.append(line + " {}")
        else:
            out.append(line)
            _mapping(v, indent + 2, out)
    elif isinstance(v, list):
        if not v:
            out.append(line + " []")
        else:
            out.append(line)
            _sequence(v, indent, out)
    else:
        out.append(line + " " + _scalar(v, indent + 2))


def _sequence(seq: list, indent: int, out: list[str], first_prefix: str | None = None) -> None:
    pad = " " * indent
    for i, item in enumerate(seq):
        dash = (first_prefix if i == 0 and first_prefix is not None else pad) + "- "
        if isinstance(item, dict):
            if not item:
                out.append(dash + "{}")
            else:
                _mapping(item, indent + 2, out, first_prefix=dash)
        elif isinstance(item, list):
            if not item:
                out.append(dash + "[]")
            else:
                _sequence(item, indent + 2, out, first_prefix=dash)
        else:
            out.append(dash + _scalar(item, indent + 2))


def dump(obj: object) -> str | None:
    """The YAML text of a dict or list document, or None when PyYAML must write it."""
    out: list[str] = []
    try:
        if isinstance(obj, dict) and obj:
            _mapping(obj, 0, out)
        elif isinstance(obj, list) and obj:
            _sequence(obj, 0, out)
        else:
            return None
    except (_Unsure, RecursionError):
        return None
    return "\n".join(out) + "\n"
