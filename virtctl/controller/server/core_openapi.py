"""OpenAPI 3 documents of the Kubernetes groups served beside KubeVirt's (``api/v1``,
``events.k8s.io/v1``): KubeVirt's swagger does not describe them, so each kind gets its paths tagged
with its group/version/kind and the Kubernetes schemas bundled in ``virtctl.controller.schema``
(what ``kubectl explain secret`` reads; the server validates, ``fieldValidation`` is offered;
docs/compatibility.md#core-api)."""

from __future__ import annotations

from typing import Any, Callable

import virtctl
from virtctl.controller.schema import kubernetes_openapi
from virtctl.model import kinds

WRITE = [{"name": n, "in": "query", "schema": {"type": "string"}} for n in ("dryRun", "fieldManager",
                                                                              "fieldValidation")]


def _schema_name(kind: kinds.Kind) -> str:
    return f"io.k8s.api.{kind.group.split('.')[0] or 'core'}.{kind.version}.{kind.kind}"


def document(group: str, version: str) -> dict[str, Any]:
    served = [k for k in kinds.SERVED_KINDS if k.group == group and k.version == version]
    roots = [name for k in served for name in (_schema_name(k), _schema_name(k) + "List")]
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": f"v{virtctl.__version__}"},
            "paths": paths(served, _schema_name), "components": {"schemas": kubernetes_openapi.components(roots)}}


def paths(served: list[kinds.Kind], schema_name: Callable[[kinds.Kind], str]) -> dict[str, Any]:
    """Each kind's collection and object paths, their bodies referring to ``schema_name(kind)``."""
    out: dict[str, Any] = {}
    for k in served:
        gvk = {"group": k.group, "version": k.version, "kind": k.kind}
        ref = {"$ref": f"#/components/schemas/{schema_name(k)}"}
        body = {"content": {"application/json": {"schema": ref}}}
        ok = {"200": {"description": "OK", "content": {"application/json": {"schema": ref}}}}
        collection = k.collection_path("{namespace}" if k.namespaced else None)
        out[collection] = {
            "get": {"x-kubernetes-action": "list", "x-kubernetes-group-version-kind": gvk, "responses": ok},
            "post": {"x-kubernetes-action": "post", "x-kubernetes-group-version-kind": gvk, "parameters": WRITE,
                     "requestBody": body, "responses": ok}}
        if k.verbs and "get" not in k.verbs:
            del out[collection]["get"]      # create-only (UploadTokenRequest)
            continue
        out[collection + "/{name}"] = {
            "get": {"x-kubernetes-action": "get", "x-kubernetes-group-version-kind": gvk, "responses": ok},
            "put": {"x-kubernetes-action": "put", "x-kubernetes-group-version-kind": gvk, "parameters": WRITE,
                    "requestBody": body, "responses": ok},
            "patch": {"x-kubernetes-action": "patch", "x-kubernetes-group-version-kind": gvk, "parameters": WRITE,
                      "requestBody": {"content": {"application/merge-patch+json": {"schema": {"type": "object"}}}},
                      "responses": ok},
            "delete": {"x-kubernetes-action": "delete", "x-kubernetes-group-version-kind": gvk, "responses": ok}}
    return out
