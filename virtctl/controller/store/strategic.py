"""Strategic merge patch for the core kinds (``application/strategic-merge-patch+json``, what
``kubectl apply``, ``edit`` and ``patch`` send for built-in types; custom resources refuse it with
415). A JSON merge patch plus the directives and list merge keys the core kinds use: ``$patch``
(``delete``/``replace``), ``$retainKeys``, ``$setElementOrder/<list>``,
``$deleteFromPrimitiveList/<list>``, and lists merged by key (Service ports by ``port``, owner
references by ``uid``, conditions by ``type``) (docs/compatibility.md#core-api)."""

from __future__ import annotations

import copy
from typing import Any

from virtctl.errors import BadRequest

MERGE_KEYS = {"ports": "port", "ownerReferences": "uid", "conditions": "type", "finalizers": None}


def apply(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        raise BadRequest("json: cannot unmarshal into a strategic merge patch: the patch must be a JSON object")
    return _merge(copy.deepcopy(target), patch)


def _merge(target: Any, patch: dict[str, Any]) -> Any:
    directive = patch.get("$patch")
    if directive == "delete":
        return None
    if directive == "replace":
        return {k: v for k, v in patch.items() if k != "$patch"}
    if directive not in (None, "merge"):
        raise BadRequest(f"Unknown patch type: {directive}")
    if not isinstance(target, dict):
        target = {}
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys") or key.startswith("$setElementOrder/"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            if isinstance(target.get(field), list) and isinstance(value, list):
                target[field] = [v for v in target[field] if v not in value]
            continue
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict):
            merged = _merge(target.get(key), value)
            if merged is None:
                target.pop(key, None)
            else:
                target[key] = merged
        elif isinstance(value, list) and (merge_key := MERGE_KEYS.get(key)) and isinstance(target.get(key), list):
            target[key] = _merge_list(target[key], value, merge_key)
        else:
            target[key] = copy.deepcopy(value)
    if isinstance(retain, list):
        for key in list(target):
            if key not in retain:
                del target[key]
    return target


def _merge_list(current: list[Any], patch: list[Any], key: str) -> list[Any]:
    out = [copy.deepcopy(i) for i in current]
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            out.append(copy.deepcopy(item))
            continue
        index = next((i for i, o in enumerate(out) if isinstance(o, dict) and o.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if index is not None:
                del out[index]
        elif index is None:
            out.append({k: v for k, v in item.items() if k != "$patch"})
        else:
            out[index] = _merge(out[index], item)
    return out
