"""Event (``v1`` and its ``events.k8s.io/v1`` view): apiserver's ValidateEvent essentials and the
conversion between the two shapes, so both groups serve the same stored objects."""

from __future__ import annotations

from typing import Any

from virtctl.controller.schema.core import common as c
from virtctl.controller.schema.validation import Problem
from virtctl.model import kinds
from virtctl.model.kinds import Kind

_REF = {k: True for k in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")}
TREE: dict[str, c.Tree] = {**c.TOP, "involvedObject": _REF, "reason": True, "message": True, "source": True,
                           "firstTimestamp": True, "lastTimestamp": True, "count": True, "type": True,
                           "eventTime": True, "series": True, "action": True, "related": _REF,
                           "reportingComponent": True, "reportingInstance": True}
TYPES = ("Normal", "Warning")


def admit(kind: Kind, obj: dict[str, Any]) -> list[Problem]:
    for key in ("reason", "message", "type", "action", "reportingComponent", "reportingInstance"):
        c.expect(kind, obj.get(key), str, f"Event.{key}", "string")
    c.expect(kind, obj.get("count"), int, "Event.count", "int32")
    ref = obj.get("involvedObject")
    c.expect(kind, ref, dict, "Event.involvedObject", "v1.ObjectReference")
    c.expect(kind, obj.get("source"), dict, "Event.source", "v1.EventSource")
    problems: list[Problem] = []
    namespace = obj["metadata"].get("namespace") or ""
    ref_ns = (ref or {}).get("namespace")
    if ref_ns and ref_ns != namespace:
        problems.append(c.invalid("involvedObject.namespace", ref_ns, "does not match event.namespace"))
    if obj.get("type") not in (None, "", *TYPES) and obj.get("reportingComponent"):
        problems.append(c.not_supported("type", obj.get("type"), TYPES))
    return problems


# ---------------------------------------------------------------- the events.k8s.io/v1 view
# (core Event field, its events.k8s.io/v1 name)
_V1_FIELDS = (("eventTime", "eventTime"), ("series", "series"), ("reportingComponent", "reportingController"),
              ("reportingInstance", "reportingInstance"), ("action", "action"), ("reason", "reason"),
              ("involvedObject", "regarding"), ("related", "related"), ("message", "note"), ("type", "type"),
              ("source", "deprecatedSource"), ("firstTimestamp", "deprecatedFirstTimestamp"),
              ("lastTimestamp", "deprecatedLastTimestamp"), ("count", "deprecatedCount"))


def to_v1(event: dict[str, Any]) -> dict[str, Any]:
    """A stored core Event as ``events.k8s.io/v1`` shows it."""
    out: dict[str, Any] = {"apiVersion": kinds.EVENT_V1.api_version, "kind": "Event",
                           "metadata": event.get("metadata", {})}
    for old, new in _V1_FIELDS:
        if event.get(old) not in (None, "", {}):
            out[new] = event[old]
    out.setdefault("eventTime", None)
    return out


def from_v1(event: Any) -> Any:
    """An ``events.k8s.io/v1`` body as the core Event it is stored as (anything else unchanged, for
    the decoder to refuse)."""
    if not isinstance(event, dict):
        return event
    out: dict[str, Any] = {"apiVersion": kinds.EVENT.api_version, "kind": "Event"}
    if "metadata" in event:
        out["metadata"] = event["metadata"]
    if event.get("apiVersion") not in (None, "", kinds.EVENT_V1.api_version):
        out["apiVersion"] = event["apiVersion"]
    for old, new in _V1_FIELDS:
        if new in event:
            out[old] = event[new]
    return out
