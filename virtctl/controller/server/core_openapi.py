"""OpenAPI 3 documents of the Kubernetes groups served beside KubeVirt's (``api/v1``,
``events.k8s.io/v1``): KubeVirt's swagger does not describe them, so each kind gets its paths tagged
with its group/version/kind and the Kubernetes schemas bundled in ``virtctl.controller.schema``
(what ``kubectl explain secret`` reads; the server validates, ``fieldValidation`` is offered;
docs/compatibility.md#core-api)."""

from __future__ import annotations

from typing import Any

import virtctl
from virtctl.controller.schema import kubernetes_openapi
from virtctl.model import kinds

WRITE = [{"name": n, "in": "query", "schema": {"type": "string"}} for n in ("dryRun", "fieldManager",
                                                                              "fieldValidation")]


def _schema_name(kind: kinds.Kind) -> str:
    return f"io.k8s.api.{kind.group.split('.')[0] or 'core'}.{kind.version}.{kind.kind}"


def document(group: str, version: str) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    roots: list[str] = []
    for k in kinds.SERVED_KINDS:
        if k.group != group or k.version != version:
            continue
        gvk = {"group": k.group, "version": k.version, "kind": k.kind}
        ref = {"$ref": f"#/components/schemas/{_schema_name(k)}"}
        roots += [_schema_name(k), _schema_name(k) + "List"]
        body = {"content": {"application/json": {"schema": ref}}}
        ok = {"200": {"description": "OK", "content": {"application/json": {"schema": ref}}}}
        collection = k.collection_path("{namespace}" if k.namespaced else None)
        paths[collection] = {
            "get": {"x-kubernetes-action": "list", "x-kubernetes-group-version-kind": gvk, "responses": ok},
            "post": {"x-kubernetes-action": "post", "x-kubernetes-group-version-kind": gvk, "parameters": WRITE,
                     "requestBody": body, "responses": ok}}
        paths[collection + "/{name}"] = {
            "get": {"x-kubernetes-action": "get", "x-kubernetes-group-version-kind": gvk, "responses": ok},
            "put": {"x-kubernetes-action": "put", "x-kubernetes-group-version-kind": gvk, "parameters": WRITE,
                    "requestBody": body, "responses": ok},
            "patch": {"x-kubernetes-action": "patch", "x-kubernetes-group-version-kind": gvk, "parameters": WRITE,
                      "requestBody": {"content": {"application/merge-patch+json": {"schema": {"type": "object"}}}},
                      "responses": ok},
            "delete": {"x-kubernetes-action": "delete", "x-kubernetes-group-version-kind": gvk, "responses": ok}}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": f"v{virtctl.__version__}"},
            "paths": paths, "components": {"schemas": kubernetes_openapi.components(roots)}}
