"""Write virtctl/controller/schema/kubernetes-openapi.json: OpenAPI 3 schemas of the Kubernetes kinds the
standalone controller serves (core v1 and events.k8s.io/v1), derived from the model classes of the
``kubernetes`` Python client (Apache-2.0): field names from ``attribute_map``, types from
``openapi_types``, descriptions from the property docstrings, required fields from the setters.

Run from the repository root: ``.venv/bin/python scripts/gen_kubernetes_openapi.py``.
"""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path
from typing import Any

import kubernetes
from kubernetes.client import models

OUT = Path(__file__).resolve().parent.parent / "virtctl/controller/schema/kubernetes-openapi.json"
REF = "#/components/schemas/"
META = "io.k8s.apimachinery.pkg.apis.meta.v1."
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
META_TYPES = {"ObjectMeta", "ListMeta", "ManagedFieldsEntry", "OwnerReference", "LabelSelector",
              "LabelSelectorRequirement", "Condition"}
INT64 = {"generation", "count"}   # int fields the client does not size
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
QUANTITY_MAPS = {"requests", "limits", "capacity", "allocated_resources"}   # dict(str, str) of quantities
KUBEVIRT_SWAGGER = OUT.with_name("kubevirt-swagger.json")    # carries some of the same definitions
STANDARD = {   # field descriptions the client drops next to a reference
    "metadata": "Standard object's metadata. More info: "
                "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
    "list-metadata": "Standard list metadata. More info: "
                     "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
    "Service.spec": "Spec defines the behavior of a service. "
                    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#spec-and-status",
    "Service.status": "Most recently observed status of the service. Populated by the system. Read-only. More info: "
                      "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#spec-and-status",
    "PersistentVolumeClaim.spec": "spec defines the desired characteristics of a volume requested by a pod author. "
                                  "More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#persistentvolumeclaims",
    "PersistentVolumeClaim.status": "status represents the current information/status of a persistent volume claim. "
                                    "Read-only. More info: "
                                    "https://kubernetes.io/docs/concepts/storage/persistent-volumes#persistentvolumeclaims",
    "Namespace.spec": "Spec defines the behavior of the Namespace. More info: "
                      "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#spec-and-status",
    "Namespace.status": "Status describes the current status of a Namespace. More info: "
                        "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#spec-and-status",
}

# (model class, group, version, kind, description of the kind: the one text the client does not carry)
ROOTS = [
    ("V1Namespace", "", "v1", "Namespace",
     "Namespace provides a scope for Names. Use of multiple namespaces is optional."),
    ("V1NamespaceList", "", "v1", "NamespaceList", "NamespaceList is a list of Namespaces."),
    ("V1Secret", "", "v1", "Secret",
     "Secret holds secret data of a certain type. The total bytes of the values in the Data field must be "
     "less than MaxSecretSize bytes."),
    ("V1SecretList", "", "v1", "SecretList", "SecretList is a list of Secret."),
    ("V1ConfigMap", "", "v1", "ConfigMap", "ConfigMap holds configuration data for pods to consume."),
    ("V1ConfigMapList", "", "v1", "ConfigMapList",
     "ConfigMapList is a resource containing a list of ConfigMap objects."),
    ("V1Service", "", "v1", "Service",
     "Service is a named abstraction of software service (for example, mysql) consisting of local port "
     "(for example 3306) that the proxy listens on, and the selector that determines which pods will answer "
     "requests sent through the proxy."),
    ("V1ServiceList", "", "v1", "ServiceList", "ServiceList holds a list of services."),
    ("V1PersistentVolumeClaim", "", "v1", "PersistentVolumeClaim",
     "PersistentVolumeClaim is a user's request for and claim to a persistent volume"),
    ("V1PersistentVolumeClaimList", "", "v1", "PersistentVolumeClaimList",
     "PersistentVolumeClaimList is a list of PersistentVolumeClaim items."),
    ("CoreV1Event", "", "v1", "Event",
     "Event is a report of an event somewhere in the cluster.  Events have a limited retention time and "
     "triggers and messages may evolve with time.  Event consumers should not rely on the timing of an event "
     "with a given Reason to reflect a consistent underlying trigger, or the continued existence of events "
     "with that Reason.  Events should be treated as informative, best-effort, supplementary data."),
    ("CoreV1EventList", "", "v1", "EventList", "EventList is a list of events."),
    ("EventsV1Event", "events.k8s.io", "v1", "Event",
     "Event is a report of an event somewhere in the cluster. It generally denotes some state change in the "
     "system. Events have a limited retention time and triggers and messages may evolve with time.  Event "
     "consumers should not rely on the timing of an event with a given Reason to reflect a consistent "
     "underlying trigger, or the continued existence of events with that Reason.  Events should be treated "
     "as informative, best-effort, supplementary data."),
    ("EventsV1EventList", "events.k8s.io", "v1", "EventList", "EventList is a list of Event objects."),
]


def definition_name(cls: str) -> str:
    m = re.fullmatch(r"(CoreV1|EventsV1|V1)(\w+)", cls)
    if m is None:
        raise ValueError(f"unexpected model class {cls}")
    prefix, name = m.groups()
    if name in META_TYPES:
        return META + name
    return f"io.k8s.api.{'events' if prefix == 'EventsV1' else 'core'}.v1.{name}"


def description(prop: property) -> str:
    doc = inspect.cleandoc(prop.__doc__ or "")
    paragraphs = [p for p in doc.split("\n\n") if p.strip()]
    text = paragraphs[1] if len(paragraphs) > 2 else ""
    return re.sub(r"\s*# noqa: E501", "", text).strip()


def required(prop: property) -> bool:
    return prop.fset is not None and "must not be `None`" in inspect.getsource(prop.fset)


def type_schema(t: str, attr: str, todo: list[str]) -> dict[str, Any]:
    if t == "str":
        return {"type": "string"}
    if t == "int":
        return {"type": "integer", "format": "int64" if attr in INT64 else "int32"}
    if t == "bool":
        return {"type": "boolean"}
    if t == "datetime":
        return {"allOf": [{"$ref": REF + META + ("MicroTime" if attr == "event_time" else "Time")}]}
    if t == "object":
        return {"allOf": [{"$ref": REF + INT_OR_STRING}]}
    if t == "dict(str, str)" and attr in QUANTITY_MAPS:
        return {"type": "object", "additionalProperties": {"allOf": [{"$ref": REF + QUANTITY}]}}
    if t.startswith("dict(str, "):
        return {"type": "object", "additionalProperties": type_schema(t[len("dict(str, "):-1], attr, todo)}
    if t.startswith("list["):
        return {"type": "array", "items": type_schema(t[len("list["):-1], attr, todo)}
    todo.append(t)
    return {"allOf": [{"$ref": REF + definition_name(t)}]}


def fallback_description(cls_name: str, field: str) -> str:
    """What the client left out: KubeVirt's copy of the definition, or the standard texts."""
    name = definition_name(cls_name)
    short = name.rsplit(".", 1)[1]
    swagger = json.loads(KUBEVIRT_SWAGGER.read_text())["definitions"]
    copy = swagger.get(name.replace("io.k8s.", "k8s.io.", 1), {}).get("properties", {}).get(field, {})
    if copy.get("description"):
        return str(copy["description"])
    if field == "metadata":
        return STANDARD["list-metadata" if short.endswith("List") else "metadata"]
    return STANDARD.get(f"{short}.{field}", "")


def model_schema(cls_name: str, todo: list[str]) -> dict[str, Any]:
    cls = getattr(models, cls_name)
    props: dict[str, Any] = {}
    needed = []
    for attr, t in cls.openapi_types.items():
        prop = getattr(cls, attr)
        field = type_schema(t, attr, todo)
        if "allOf" in field and t not in ("datetime", "object"):
            field["default"] = {}
        text = description(prop) or fallback_description(cls_name, cls.attribute_map[attr])
        if text:
            field["description"] = text
        props[cls.attribute_map[attr]] = field
        if required(prop):
            needed.append(cls.attribute_map[attr])
    out: dict[str, Any] = {"type": "object", "properties": dict(sorted(props.items()))}
    if needed:
        out["required"] = sorted(needed)
    return out


def build() -> dict[str, Any]:
    schemas: dict[str, Any] = {
        META + "Time": {"type": "string", "format": "date-time",
                        "description": "Time is a wrapper around time.Time which supports correct marshaling to "
                                       "YAML and JSON.  Wrappers are provided for many of the factory methods "
                                       "that the time package offers."},
        META + "MicroTime": {"type": "string", "format": "date-time",
                             "description": "MicroTime is version of Time with microsecond level precision."},
        QUANTITY: {"oneOf": [{"type": "string"}, {"type": "number"}],
                   "description": "Quantity is a fixed-point representation of a number. It provides convenient "
                                  "marshaling/unmarshaling in JSON and YAML, in addition to String() and AsInt64() "
                                  "accessors."},
        INT_OR_STRING: {"oneOf": [{"type": "integer"}, {"type": "string"}], "format": "int-or-string",
                        "description": "IntOrString is a type that can hold an int32 or a string.  When used in "
                                       "JSON or YAML marshalling and unmarshalling, it produces or consumes the "
                                       "inner type.  This allows you to have, for example, a JSON field that can "
                                       "accept a name or number."},
    }
    todo: list[str] = []
    for cls, group, version, kind, text in ROOTS:
        s = model_schema(cls, todo)
        schemas[definition_name(cls)] = {"description": text, **s,
                                         "x-kubernetes-group-version-kind": [
                                             {"group": group, "version": version, "kind": kind}]}
    while todo:
        cls = todo.pop()
        name = definition_name(cls)
        if name not in schemas:
            schemas[name] = model_schema(cls, todo)
    return {"source": f"kubernetes Python client {kubernetes.__version__} (kubernetes.client.models)",
            "schemas": dict(sorted(schemas.items()))}


if __name__ == "__main__":
    OUT.write_text(json.dumps(build(), indent=1, sort_keys=False) + "\n")
    print(f"wrote {OUT}")
