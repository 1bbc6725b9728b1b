"""Label selectors (``=``, ``==``, ``!=``, ``in``, ``notin``, ``key``, ``!key``) and the field selectors
a CRD supports (``metadata.name``, ``metadata.namespace``), parsed and matched as the apiserver does."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from virtctl.controller.store import fieldsets
from virtctl.errors import BadRequest
from virtctl.model.kinds import Kind

_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_KEY_RE = re.compile(rf"^{_KEY}$")
_VALUE_RE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
_SET_RE = re.compile(rf"^({_KEY})\s+(in|notin)\s*\((.*)\)$")
_OP_RE = re.compile(rf"^({_KEY})\s*(==|!=|=)\s*(.*)$")
FIELD_SELECTABLE = ("metadata.name", "metadata.namespace")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str                  # "=", "!=", "in", "notin", "exists", "!"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, Any]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in ("=", "in"):
            return present and value in self.values
        return not present or value not in self.values     # "!=", "notin"


def _split_top(text: str) -> list[str]:
    """Split on commas outside parentheses."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return parts


def _check_value(selector: str, value: str) -> str:
    if not _VALUE_RE.match(value) or len(value) > 63:
        raise BadRequest(f'unable to parse requirement: invalid label value: "{value}": at key: "{selector}": '
                         "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
                         "or '.', and must start and end with an alphanumeric character")
    return value


def parse_label_selector(text: str | None) -> list[Requirement]:
    """Requirements (ANDed); an empty selector matches everything. Bad syntax → 400."""
    if not text or not text.strip():
        return []
    reqs = []
    for raw in _split_top(text):
        part = raw.strip()
        if not part:
            raise BadRequest(f"unable to parse requirement: found '', expected: identifier (in selector {text!r})")
        if part.startswith("!"):
            key = part[1:].strip()
            if not _KEY_RE.match(key):
                raise BadRequest(f"unable to parse requirement: invalid label key {key!r}")
            reqs.append(Requirement(key, "!"))
            continue
        m = _SET_RE.match(part)
        if m:
            key, op, vals = m.group(1), m.group(3), m.group(4)
            values = tuple(_check_value(key, v.strip()) for v in vals.split(",")) if vals.strip() else ()
            if not values:
                raise BadRequest(f"unable to parse requirement: for '{op}' operator, values set can't be empty")
            reqs.append(Requirement(key, "in" if op == "in" else "notin", values))
            continue
        m = _OP_RE.match(part)
        if m:
            key, op, value = m.group(1), m.group(3), m.group(4).strip()
            reqs.append(Requirement(key, "!=" if op == "!=" else "=", (_check_value(key, value),)))
            continue
        if _KEY_RE.match(part):
            reqs.append(Requirement(part, "exists"))
            continue
        raise BadRequest(f"unable to parse requirement: invalid label selector {part!r}")
    return reqs


def parse_field_selector(text: str | None, kind: Kind | None = None) -> list[Requirement]:
    """``metadata.name=x,metadata.namespace!=y``; other fields → 400 as for a CRD (a core kind: the
    fields its ``fieldsets`` entry names, ``field label not supported`` otherwise)."""
    if not text or not text.strip():
        return []
    reqs = []
    for raw in _split_top(text):
        part = raw.strip()
        m = re.match(r"^([^=!]+?)\s*(==|!=|=)\s*(.*)$", part)
        if not m:
            raise BadRequest(f"invalid selector: '{text}'; can't understand '{part}'")
        key, op, value = m.group(1), m.group(2), m.group(3)
        if kind is not None and kind in fieldsets.SELECTABLE:
            if key not in fieldsets.SELECTABLE[kind]:
                raise BadRequest(f"field label not supported: {key}")
        elif key not in FIELD_SELECTABLE:
            raise BadRequest(f'"{key}" is not a known field selector: only "metadata.name", "metadata.namespace"')
        reqs.append(Requirement(key, "!=" if op == "!=" else "=", (value,)))
    return reqs


class Selector:
    """A parsed label + field selector pair."""

    def __init__(self, label_selector: str | None = None, field_selector: str | None = None,
                 kind: Kind | None = None):
        self.labels = parse_label_selector(label_selector)
        self.fields = parse_field_selector(field_selector, kind)
        self._field_values = fieldsets.BY_KIND.get(kind) if kind is not None else None

    @property
    def empty(self) -> bool:
        return not self.labels and not self.fields

    def name_equals(self) -> str | None:
        """The name when the field selector pins one (``metadata.name=x``), for a cheaper query."""
        for r in self.fields:
            if r.key == "metadata.name" and r.op == "=":
                return r.values[0]
        return None

    def matches(self, obj: dict[str, Any]) -> bool:
        meta = obj.get("metadata") or {}
        labels = meta.get("labels") or {}
        if not all(r.matches(labels) for r in self.labels):
            return False
        if self._field_values is not None:
            fields = self._field_values(obj)
        else:
            fields = {"metadata.name": meta.get("name", ""), "metadata.namespace": meta.get("namespace", "")}
        return all(r.matches(fields) for r in self.fields)
