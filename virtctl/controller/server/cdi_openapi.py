"""OpenAPI 3 documents of CDI's groups (``cdi.kubevirt.io/v1beta1``, ``upload.cdi.kubevirt.io/v1beta1``):
a DataVolume's ``spec`` is described by the ``v1beta1.DataVolumeSpec`` KubeVirt's swagger carries
(for dataVolumeTemplates); its status, CDIConfig and UploadTokenRequest are open objects tagged with
their group/version/kind, so ``kubectl explain dv.spec.source`` works (docs/compatibility.md#core-api)."""

from __future__ import annotations

from typing import Any

import virtctl
from virtctl.controller.schema import openapi3
from virtctl.controller.server import core_openapi
from virtctl.model import kinds

META = "k8s.io.apimachinery.pkg.apis.meta.v1."
REF = openapi3.SCHEMA_REF
API_VERSION = ("APIVersion defines the versioned schema of this representation of an object. Servers should "
               "convert recognized schemas to the latest internal value, and may reject unrecognized values. More "
               "info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources")
KIND = ("Kind is a string value representing the REST resource this object represents. Servers may infer this "
        "from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: "
        "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds")
DESCRIPTIONS = {   # CDI's type comments
    "DataVolume": "DataVolume is an abstraction on top of PersistentVolumeClaims to allow easy population of "
                  "those PersistentVolumeClaims with relation to VirtualMachines",
    "CDIConfig": "CDIConfig provides a user configuration for CDI",
    "UploadTokenRequest": "UploadTokenRequest is the CR used to initiate a CDI upload",
}
OPEN = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
SPECS = {"DataVolume": "v1beta1.DataVolumeSpec"}


def _name(kind: kinds.Kind) -> str:
    return f"{kind.version}.{kind.kind}"


def _object(kind: kinds.Kind) -> dict[str, Any]:
    spec = SPECS.get(kind.kind)
    props: dict[str, Any] = {
        "apiVersion": {"type": "string", "description": API_VERSION},
        "kind": {"type": "string", "description": KIND},
        "metadata": {"allOf": [{"$ref": REF + META + "ObjectMeta"}], "default": {}},
        "spec": {"allOf": [{"$ref": REF + spec}], "default": {}} if spec else dict(OPEN),
    }
    if kind.has_status:
        props["status"] = dict(OPEN)
    return {"description": DESCRIPTIONS.get(kind.kind, ""), "type": "object", "properties": props,
            "x-kubernetes-group-version-kind": [{"group": kind.group, "version": kind.version, "kind": kind.kind}]}


def _list(kind: kinds.Kind) -> dict[str, Any]:
    return {"description": f"{kind.list_kind} is a list of {kind.kind}", "type": "object", "required": ["items"],
            "properties": {"apiVersion": {"type": "string", "description": API_VERSION},
                           "kind": {"type": "string", "description": KIND},
                           "metadata": {"allOf": [{"$ref": REF + META + "ListMeta"}], "default": {}},
                           "items": {"type": "array", "items": {"allOf": [{"$ref": REF + _name(kind)}]}}},
            "x-kubernetes-group-version-kind": [{"group": kind.group, "version": kind.version,
                                                 "kind": kind.list_kind}]}


def document(group: str, version: str) -> dict[str, Any]:
    served = [k for k in kinds.SERVED_KINDS if k.group == group and k.version == version]
    schemas = openapi3.components([META + "ObjectMeta", META + "ListMeta", *(SPECS[k.kind] for k in served
                                                                             if k.kind in SPECS)], {})
    for k in served:
        schemas[_name(k)] = _object(k)
        schemas[_name(k) + "List"] = _list(k)
    return {"openapi": "3.0.0", "info": {"title": "Containerized Data Importer", "version": f"v{virtctl.__version__}"},
            "paths": core_openapi.paths(served, _name), "components": {"schemas": dict(sorted(schemas.items()))}}
