"""How big a stored object may be: etcd refuses a request over ``--max-request-bytes`` (1.5 MiB by
default) and the apiserver passes its words on; and how deep (the bound request bodies are decoded
with, which a patch could otherwise exceed). The checks run before an object is validated, so an
oversized body costs no schema walk (see docs/standalone.md, "Limits")."""

from __future__ import annotations

import json
from typing import Any, Iterable

from virtctl.errors import BadRequest, RequestEntityTooLarge
from virtctl.model.gojson import MAX_DEPTH

MAX_OBJECT_BYTES = 3 * 512 * 1024          # etcd's default --max-request-bytes
TOO_LARGE = "etcdserver: request is too large"


def encoded_size(obj: Any) -> int:
    return len(json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass"))


def depth(obj: Any) -> int:
    """How deeply objects and arrays nest in ``obj`` (walked without recursion)."""
    deepest = 0
    todo = [(obj, 1)]
    while todo:
        value, level = todo.pop()
        children: Iterable[Any]
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        deepest = max(deepest, level)
        todo.extend((child, level + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def check_size(obj: Any, limit: int = MAX_OBJECT_BYTES) -> None:
    """Raise 400 when ``obj`` nests deeper than request bodies may (a patch can build that), and 413
    when it would exceed ``limit`` bytes encoded as stored."""
    if depth(obj) > MAX_DEPTH:
        raise BadRequest(f"the resulting object exceeds the maximum nesting depth of {MAX_DEPTH}")
    if encoded_size(obj) > limit:
        raise RequestEntityTooLarge(TOO_LARGE)
