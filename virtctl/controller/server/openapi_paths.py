"""The ``paths`` of one group version's OpenAPI 3 document: KubeVirt's swagger paths that this server
routes, plus what kubectl looks for in them (docs/compatibility.md#discovery-and-openapi): every
operation of a kind tagged with its group/version/kind, and ``fieldValidation`` on PATCH, which
tells kubectl 1.29+ that the server validates fields itself."""

from __future__ import annotations

import copy
from typing import Any

from virtctl.controller.schema import openapi3
from virtctl.controller.server import resources, subresources
from virtctl.controller.server.subresource_routes import SUBRESOURCES
from virtctl.controller.store import patches
from virtctl.model import kinds

PATCH_SCHEMA = {"$ref": openapi3.SCHEMA_REF + "k8s.io.apimachinery.pkg.apis.meta.v1.Patch"}
WRITE_PARAMETERS = (
    ("dryRun", "When present (All), the modification is validated but not persisted."),
    ("fieldManager", "The name of the actor making the change, recorded in managedFields."),
    ("fieldValidation", "How unknown or duplicate fields are handled: Ignore, Warn (the default) or Strict."),
)
FORCE = {"name": "force", "in": "query", "description": "Apply: take over fields owned by other managers.",
         "schema": {"type": "boolean"}}


def _query(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "description": description, "schema": {"type": "string"}}


def _served(group: str, rest: list[str]) -> resources.ResourcePath | bool:
    """``rest`` is a path after ``/apis/``; a ResourcePath for a kind's path, else whether it is routed."""
    if len(rest) == 2:                                   # the APIResourceList
        return True
    if group == kinds.SUBRESOURCES:
        return subresources.served(SUBRESOURCES, rest[2:])
    return resources.parse(rest) or False


def _action(method: str, collection: bool) -> str:
    if collection:
        return {"get": "list", "delete": "deletecollection"}.get(method, method)
    return method


def _tag(item: dict[str, Any], rp: resources.ResourcePath) -> None:
    gvk = {"group": rp.kind.group, "version": rp.kind.version, "kind": rp.kind.kind}
    for method, op in item.items():
        if method not in openapi3.METHODS:
            continue
        op["x-kubernetes-action"] = _action(method, rp.name is None)
        op["x-kubernetes-group-version-kind"] = dict(gvk)
        if method in ("post", "put", "patch"):
            op.setdefault("parameters", []).extend(_query(n, d) for n, d in WRITE_PARAMETERS)
        if method == "patch":
            op["parameters"].append(dict(FORCE))
            # strategic merge patch is refused (415), so it is not offered: kubectl would send it
            op["requestBody"] = {"content": {t: {"schema": dict(PATCH_SCHEMA)} for t in patches.ACCEPTED},
                                 "required": True}


def _status(item: dict[str, Any], kind: kinds.Kind) -> dict[str, Any]:
    """``…/{name}/status``, which the swagger document leaves out: the object's get, put and patch."""
    out: dict[str, Any] = {m: copy.deepcopy(item[m]) for m in ("get", "put", "patch", "parameters") if m in item}
    for method in ("get", "put", "patch"):
        if method in out:
            out[method]["operationId"] = out[method].get("operationId", method) + "Status"
            out[method]["description"] = f"{method.upper()} the status of a {kind.kind} object."
    return out


def served_paths(group: str, version: str) -> dict[str, Any]:
    prefix = f"/apis/{group}/{version}/"
    out: dict[str, Any] = {}
    for path, item in openapi3.spec()["paths"].items():
        if not path.startswith(prefix):
            continue
        rest = [p for p in path.split("/") if p][1:]     # empty segments are ignored, as by the router
        served = _served(group, rest)
        if not served:
            continue
        converted = openapi3.path_item(item)
        if isinstance(served, resources.ResourcePath):
            _tag(converted, served)
            if served.name is not None and served.kind.has_status:
                out[path + "/status"] = _status(converted, served.kind)
        out[path] = converted
    return dict(sorted(out.items()))
