"""Patch documents the apiserver accepts for custom resources: JSON merge patch (RFC 7386) and
JSON patch (RFC 6902). Error texts follow evanphx/json-patch, which the apiserver reports verbatim:
a malformed patch is 400 BadRequest, a patch that does not apply (or a failed ``test``) is 422."""

from __future__ import annotations

import copy
import json
from typing import Any

from virtctl.errors import BadRequest, Invalid, RequestEntityTooLarge

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"
STRATEGIC = "application/strategic-merge-patch+json"
ACCEPTED = (JSON_PATCH, MERGE, APPLY)
MAX_OPERATIONS = 10_000                    # kube-apiserver's maxJSONPatchOperations
MAX_COPY_BYTES = 3 * 1024 * 1024           # its JSONPatchMaxCopyBytes (the request body limit)
UNKNOWN_FORMAT = ("the body of the request was in an unknown format - accepted media types include: "
                  + ", ".join(ACCEPTED))


class PatchFailed(Exception):
    """A well-formed JSON patch that does not apply to the object."""


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, ``null`` deletes, everything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: unlike Python's ``==``, ``true`` is not ``1``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str):
        raise BadRequest(f"invalid JSON patch: path must be a string, not {type(path).__name__}")
    if path == "":
        return []
    if not path.startswith("/"):
        raise BadRequest(f'invalid JSON patch: path "{path}" must start with "/"')
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _index(token: str, length: int, *, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return length
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise PatchFailed(f"Unable to access invalid index: {token}: invalid index referenced")
    i = int(token)
    if i > length or (i == length and not allow_end):
        raise PatchFailed(f"Unable to access invalid index: {i}: invalid index referenced")
    return i


def _parent(doc: Any, parts: list[str], op: str, path: str) -> Any:
    cur = doc
    for token in parts[:-1]:
        if isinstance(cur, dict) and token in cur:
            cur = cur[token]
        elif isinstance(cur, list):
            cur = cur[_index(token, len(cur), allow_end=False)]
        else:
            raise PatchFailed(f'{op} operation does not apply: doc is missing path: "{path}": missing value')
    return cur


def _get(doc: Any, path: str, op: str) -> Any:
    parts = _pointer(path)
    if not parts:
        return doc
    parent = _parent(doc, parts, op, path)
    key = parts[-1]
    if isinstance(parent, dict) and key in parent:
        return parent[key]
    if isinstance(parent, list):
        return parent[_index(key, len(parent), allow_end=False)]
    raise PatchFailed(f'{op} operation does not apply: doc is missing path: "{path}": missing value')


def _add(doc: Any, path: str, value: Any, op: str = "add") -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent = _parent(doc, parts, op, path)
    key = parts[-1]
    if isinstance(parent, dict):
        parent[key] = value
    elif isinstance(parent, list):
        parent.insert(_index(key, len(parent), allow_end=True), value)
    else:
        raise PatchFailed(f'{op} operation does not apply: doc is missing path: "{path}": missing value')
    return doc


def _remove(doc: Any, path: str, op: str = "remove") -> tuple[Any, Any]:
    parts = _pointer(path)
    if not parts:
        raise PatchFailed("Unable to remove nonexistent key: : missing value")
    parent = _parent(doc, parts, op, path)
    key = parts[-1]
    if isinstance(parent, dict):
        if key not in parent:
            raise PatchFailed(f"Unable to remove nonexistent key: {key}: missing value")
        return doc, parent.pop(key)
    if isinstance(parent, list):
        return doc, parent.pop(_index(key, len(parent), allow_end=False))
    raise PatchFailed(f'{op} operation does not apply: doc is missing path: "{path}": missing value')


def json_patch(target: Any, ops: Any) -> Any:
    """RFC 6902 on a copy of ``target``. Malformed → BadRequest; not applicable → Invalid (422)."""
    if not isinstance(ops, list):
        raise BadRequest("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    for op in ops:
        if not isinstance(op, dict):
            raise BadRequest("json: cannot unmarshal into Go value of type jsonpatch.Operation")
    if len(ops) > MAX_OPERATIONS:
        raise RequestEntityTooLarge(f"The allowed maximum operations in a JSON patch is {MAX_OPERATIONS}, "
                                    f"got {len(ops)}")
    doc = copy.deepcopy(target)
    copied = 0
    try:
        for op in ops:
            kind = op.get("op")
            path = op.get("path")
            if kind in ("add", "replace", "test") and "value" not in op:
                raise BadRequest(f"invalid JSON patch: {kind} operation has no value")
            if kind == "add":
                doc = _add(doc, path, copy.deepcopy(op["value"]))
            elif kind == "remove":
                doc, _ = _remove(doc, path)
            elif kind == "replace":
                _get(doc, path, "replace")
                doc, _ = _remove(doc, path, "replace")
                doc = _add(doc, path, copy.deepcopy(op["value"]), "replace")
            elif kind == "move":
                src = op.get("from")
                value = _get(doc, src, "move")
                doc, _ = _remove(doc, src, "move")
                doc = _add(doc, path, value, "move")
            elif kind == "copy":
                source = _get(doc, op.get("from"), "copy")
                copied += len(json.dumps(source, separators=(",", ":"), ensure_ascii=False))
                if copied > MAX_COPY_BYTES:
                    raise PatchFailed(f"Unable to complete the copy, the accumulated size increase of copy is "
                                      f"{copied}, exceeding the limit {MAX_COPY_BYTES}")
                value = copy.deepcopy(source)
                doc = _add(doc, path, value, "copy")
            elif kind == "test":
                try:
                    current = _get(doc, path, "test")
                except PatchFailed:
                    current = None
                if not json_equal(current, op["value"]):
                    raise PatchFailed(f"testing value {path} failed: test failed")
            else:
                raise BadRequest(f"Unexpected kind: {kind}")
    except PatchFailed as e:
        raise Invalid("the server rejected our request due to an error in our request",
                      details={"causes": [{"reason": "UnexpectedServerResponse", "message": str(e)}]}) from None
    return doc
