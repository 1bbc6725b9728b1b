"""KubeVirt's swagger 2 document rewritten piece by piece as OpenAPI 3.0 (for ``/openapi/v3``).

* ``schema(node)``: one swagger schema; ``$ref`` points into ``#/components/schemas/``, a ``$ref``
  with sibling keys is wrapped in ``allOf`` (3.0 ignores a ``$ref``'s siblings), and a list of
  types becomes ``nullable`` / ``anyOf`` (3.0 allows one type only).
* ``components(roots, gvks)``: the named definitions and every one they reach, converted.
* ``path_item(item)``: a swagger path with its operations (body parameter → ``requestBody``,
  response ``schema`` → ``content``).
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from typing import Any, Iterable, Iterator, Mapping

from virtctl.controller.schema.swagger import SPEC_PATH

SWAGGER_REF = "#/definitions/"
SCHEMA_REF = "#/components/schemas/"
PARAMETER_REF = "#/parameters/"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch")
# what a swagger non-body parameter says about its value; OpenAPI 3 moves these into ``schema``
PARAMETER_SCHEMA_KEYS = ("type", "format", "items", "default", "enum", "minimum", "maximum", "uniqueItems")


@lru_cache(maxsize=1)
def spec() -> dict[str, Any]:
    """The swagger document as shipped (``swagger.definitions()`` is adjusted for validation)."""
    return json.loads(SPEC_PATH.read_text())


def _ref(value: str) -> str:
    if not value.startswith(SWAGGER_REF):
        raise ValueError(f"unexpected $ref {value!r}")
    return SCHEMA_REF + value[len(SWAGGER_REF):]


def _types(out: dict[str, Any], types: list[str]) -> None:
    if "null" in types:
        out["nullable"] = True
    rest = [t for t in types if t != "null"]
    if len(rest) == 1:
        out["type"] = rest[0]
    else:
        out["anyOf"] = [{"type": t} for t in rest]


def schema(node: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$ref":
            out[key] = _ref(value)
        elif key == "properties":
            out[key] = {name: schema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = schema(value)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [schema(sub) for sub in value]
        elif key == "type" and isinstance(value, list):
            _types(out, value)
        else:
            out[key] = copy.deepcopy(value)
    if "$ref" in out and len(out) > 1:
        out["allOf"] = [{"$ref": out.pop("$ref")}]
    return out


def refs(node: Any) -> Iterator[str]:
    """The schema names every ``$ref`` in an OpenAPI 3 fragment points at."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(SCHEMA_REF):
                yield value[len(SCHEMA_REF):]
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def components(roots: Iterable[str], gvks: Mapping[str, list[dict[str, str]]]) -> dict[str, Any]:
    """``components.schemas``: ``roots`` and everything they reference; ``gvks`` tags the kinds'
    definitions with ``x-kubernetes-group-version-kind`` (how kubectl finds a kind's schema)."""
    definitions = spec()["definitions"]
    out: dict[str, Any] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in out:
            continue
        converted = schema(definitions[name])
        if name in gvks:
            converted["x-kubernetes-group-version-kind"] = gvks[name]
        out[name] = converted
        todo.extend(refs(converted))
    return dict(sorted(out.items()))


def _resolve(param: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in param:
        return spec()["parameters"][param["$ref"][len(PARAMETER_REF):]]
    return param


def _parameter(param: dict[str, Any]) -> dict[str, Any]:
    param = _resolve(param)
    out: dict[str, Any] = {k: param[k] for k in ("name", "in", "description", "required") if k in param}
    out["schema"] = {k: copy.deepcopy(param[k]) for k in PARAMETER_SCHEMA_KEYS if k in param}
    return out


def _content(types: list[str], node: dict[str, Any]) -> dict[str, Any]:
    return {t: {"schema": schema(node)} for t in types}


def operation(op: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {k: copy.deepcopy(op[k]) for k in ("tags", "summary", "description", "operationId")
                           if k in op}
    params = [_resolve(p) for p in op.get("parameters", [])]
    body = next((p for p in params if p.get("in") == "body"), None)
    others = [_parameter(p) for p in params if p.get("in") != "body"]
    if others:
        out["parameters"] = others
    if body is not None:
        out["requestBody"] = {"content": _content(op.get("consumes") or ["application/json"], body["schema"]),
                              "required": bool(body.get("required"))}
    responses = {}
    for code, resp in op.get("responses", {}).items():
        entry = {"description": resp.get("description", "")}
        if "schema" in resp:
            entry["content"] = _content(op.get("produces") or ["application/json"], resp["schema"])
        responses[code] = entry
    out["responses"] = responses
    return out


def path_item(item: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {m: operation(item[m]) for m in METHODS if m in item}
    if item.get("parameters"):
        out["parameters"] = [_parameter(p) for p in item["parameters"]]
    return out
