"""Request bodies in Kubernetes' protobuf encoding (``application/vnd.kubernetes.protobuf``), which
kubectl 1.32+ sends when it creates or replaces a built-in object (``kubectl create ns|secret|
configmap|service``): the ``k8s\\0`` envelope around a ``runtime.Unknown`` whose ``raw`` is the
object, decoded into the JSON form the rest of the server handles. Only the core kinds served
here are described (field numbers from k8s.io/api and apimachinery's generated.proto); unknown
fields are skipped as Go's decoder skips them (docs/compatibility.md#core-api)."""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from typing import Any

from virtctl.errors import BadRequest, UnsupportedMediaType
from virtctl.model import kinds
from virtctl.model.kinds import Kind

CONTENT_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"

# message -> field number -> (json name, type, label) with label "" | "repeated" | "map"
S, B, I32, I64, BOOL = "string", "bytes", "int32", "int64", "bool"
SCHEMA: dict[str, dict[int, tuple[str, str, str]]] = {
    "Unknown": {1: ("typeMeta", "TypeMeta", ""), 2: ("raw", B, ""), 3: ("contentEncoding", S, ""),
                4: ("contentType", S, "")},
    "TypeMeta": {1: ("apiVersion", S, ""), 2: ("kind", S, "")},
    "ObjectMeta": {1: ("name", S, ""), 2: ("generateName", S, ""), 3: ("namespace", S, ""), 4: ("selfLink", S, ""),
                   5: ("uid", S, ""), 6: ("resourceVersion", S, ""), 7: ("generation", I64, ""),
                   8: ("creationTimestamp", "Time", ""), 9: ("deletionTimestamp", "Time", ""),
                   10: ("deletionGracePeriodSeconds", I64, ""), 11: ("labels", S, "map"),
                   12: ("annotations", S, "map"), 13: ("ownerReferences", "OwnerReference", "repeated"),
                   14: ("finalizers", S, "repeated")},
    "OwnerReference": {1: ("kind", S, ""), 3: ("name", S, ""), 4: ("uid", S, ""), 5: ("apiVersion", S, ""),
                       6: ("controller", BOOL, ""), 7: ("blockOwnerDeletion", BOOL, "")},
    "Time": {1: ("seconds", I64, ""), 2: ("nanos", I32, "")},
    "IntOrString": {1: ("type", I64, ""), 2: ("intVal", I32, ""), 3: ("strVal", S, "")},
    "Namespace": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "NamespaceSpec", ""),
                  3: ("status", "NamespaceStatus", "")},
    "NamespaceSpec": {1: ("finalizers", S, "repeated")},
    "NamespaceStatus": {1: ("phase", S, "")},
    "Secret": {1: ("metadata", "ObjectMeta", ""), 2: ("data", B, "map"), 3: ("type", S, ""),
               4: ("stringData", S, "map"), 5: ("immutable", BOOL, "")},
    "ConfigMap": {1: ("metadata", "ObjectMeta", ""), 2: ("data", S, "map"), 3: ("binaryData", B, "map"),
                  4: ("immutable", BOOL, "")},
    "Service": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "ServiceSpec", ""), 3: ("status", "ServiceStatus", "")},
    "ServiceSpec": {1: ("ports", "ServicePort", "repeated"), 2: ("selector", S, "map"), 3: ("clusterIP", S, ""),
                    18: ("clusterIPs", S, "repeated"), 4: ("type", S, ""), 5: ("externalIPs", S, "repeated"),
                    7: ("sessionAffinity", S, ""), 8: ("loadBalancerIP", S, ""),
                    9: ("loadBalancerSourceRanges", S, "repeated"), 10: ("externalName", S, ""),
                    11: ("externalTrafficPolicy", S, ""), 12: ("healthCheckNodePort", I32, ""),
                    13: ("publishNotReadyAddresses", BOOL, ""), 19: ("ipFamilies", S, "repeated"),
                    17: ("ipFamilyPolicy", S, ""), 20: ("allocateLoadBalancerNodePorts", BOOL, ""),
                    21: ("loadBalancerClass", S, ""), 22: ("internalTrafficPolicy", S, ""),
                    23: ("trafficDistribution", S, "")},
    "ServicePort": {1: ("name", S, ""), 2: ("protocol", S, ""), 6: ("appProtocol", S, ""), 3: ("port", I32, ""),
                    4: ("targetPort", "IntOrString", ""), 5: ("nodePort", I32, "")},
    "ServiceStatus": {},
    "ObjectReference": {1: ("kind", S, ""), 2: ("namespace", S, ""), 3: ("name", S, ""), 4: ("uid", S, ""),
                        5: ("apiVersion", S, ""), 6: ("resourceVersion", S, ""), 7: ("fieldPath", S, "")},
    "EventSource": {1: ("component", S, ""), 2: ("host", S, "")},
    "Event": {1: ("metadata", "ObjectMeta", ""), 2: ("involvedObject", "ObjectReference", ""), 3: ("reason", S, ""),
              4: ("message", S, ""), 5: ("source", "EventSource", ""), 6: ("firstTimestamp", "Time", ""),
              7: ("lastTimestamp", "Time", ""), 8: ("count", I32, ""), 9: ("type", S, ""),
              12: ("action", S, ""), 13: ("related", "ObjectReference", ""), 14: ("reportingComponent", S, ""),
              15: ("reportingInstance", S, "")},
    # the self-reviews (auth_reviews.py); their status is the server's to write, skipped
    "SelfSubjectAccessReview": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "SelfSubjectAccessReviewSpec", "")},
    "SelfSubjectAccessReviewSpec": {1: ("resourceAttributes", "ResourceAttributes", ""),
                                    2: ("nonResourceAttributes", "NonResourceAttributes", "")},
    "ResourceAttributes": {1: ("namespace", S, ""), 2: ("verb", S, ""), 3: ("group", S, ""), 4: ("version", S, ""),
                           5: ("resource", S, ""), 6: ("subresource", S, ""), 7: ("name", S, "")},
    "NonResourceAttributes": {1: ("path", S, ""), 2: ("verb", S, "")},
    "SelfSubjectRulesReview": {1: ("metadata", "ObjectMeta", ""), 2: ("spec", "SelfSubjectRulesReviewSpec", "")},
    "SelfSubjectRulesReviewSpec": {1: ("namespace", S, "")},
    "SelfSubjectReview": {1: ("metadata", "ObjectMeta", "")},
}


# fields that are pointers in Go: written only when set, so even a zero value was meant; every other
# scalar is written always, and its zero value is what encoding/json would have omitted
POINTERS = frozenset({"immutable", "allocateLoadBalancerNodePorts", "controller", "blockOwnerDeletion",
                      "deletionGracePeriodSeconds", "ipFamilyPolicy", "internalTrafficPolicy", "loadBalancerClass",
                      "trafficDistribution", "appProtocol", "targetPort"})


class _Corrupt(ValueError):
    pass


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise _Corrupt("unexpected EOF")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, pos


def _fields(buf: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, raw value) of every field in one message."""
    out: list[tuple[int, int, Any]] = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise _Corrupt("illegal tag 0")
        value: Any
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            size, pos = _varint(buf, pos)
            if pos + size > len(buf):
                raise _Corrupt("unexpected EOF")
            value, pos = buf[pos:pos + size], pos + size
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise _Corrupt(f"illegal wireType {wire} for field {number}")
        if pos > len(buf):
            raise _Corrupt("unexpected EOF")
        out.append((number, wire, value))
    return out


def _scalar(kind: str, wire: int, raw: Any) -> Any:
    if kind in (S, B):
        if wire != 2:
            raise _Corrupt(f"wrong wireType {wire} for a {kind}")
        if kind == B:
            return base64.b64encode(raw).decode()
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _Corrupt("invalid UTF-8 in a string field") from None
    if wire != 0:
        raise _Corrupt(f"wrong wireType {wire} for a {kind}")
    if kind == BOOL:
        return raw != 0
    if kind == I32:
        raw &= 0xFFFFFFFF
        return raw - (1 << 32) if raw >= 1 << 31 else raw
    return raw - (1 << 64) if raw >= 1 << 63 else raw


def _time(msg: dict[str, Any]) -> str | None:
    seconds = int(msg.get("seconds") or 0)
    if not seconds and not msg.get("nanos"):
        return None                                    # the zero Time: null in JSON
    try:
        return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        raise _Corrupt("time out of range") from None


def _decode(message: str, buf: bytes, depth: int = 0) -> dict[str, Any]:
    if depth > 32:
        raise _Corrupt("nesting too deep")
    schema = SCHEMA[message]
    out: dict[str, Any] = {}
    key: Any
    item: Any
    for number, wire, raw in _fields(buf):
        entry = schema.get(number)
        if entry is None:
            continue                                   # unknown to us: skipped, as Go skips it
        name, kind, label = entry
        if label == "map":
            if wire != 2:
                raise _Corrupt(f"wrong wireType {wire} for a map entry")
            key, item = "", ""
            for n, w, r in _fields(raw):
                if n == 1:
                    key = _scalar(S, w, r)
                elif n == 2:
                    item = _scalar(kind, w, r)
            out.setdefault(name, {})[key] = item
            continue
        value: Any
        if kind in SCHEMA:
            if wire != 2:
                raise _Corrupt(f"wrong wireType {wire} for a message")
            sub = _decode(kind, raw, depth + 1)
            if kind == "Time":
                value = _time(sub)
            elif kind == "IntOrString":
                value = sub.get("strVal", "") if sub.get("type") == 1 else sub.get("intVal", 0)
            else:
                value = sub
        else:
            value = _scalar(kind, wire, raw)
        if label == "repeated":
            out.setdefault(name, []).append(value)
        elif value is None or (value in ("", 0, False) and not isinstance(value, dict) and name not in POINTERS):
            out.pop(name, None)
        else:
            out[name] = value
    return out


def decode(kind: Kind, body: bytes) -> dict[str, Any]:
    """The JSON form of a protobuf request body for ``kind`` (400 with Go's words when it is not one)."""
    message = kinds.EVENT.kind if kind is kinds.EVENT_V1 else kind.kind
    if kind is kinds.EVENT_V1 or message not in SCHEMA:
        raise UnsupportedMediaType("the body of the request was in an unknown format - accepted media types "
                                   "include: application/json, application/yaml")
    if not body.startswith(MAGIC):
        raise BadRequest("provided data does not appear to be a protobuf message, expected prefix "
                         "[107 56 115 0]")
    try:
        unknown = _decode("Unknown", body[len(MAGIC):])
        type_meta = unknown.get("typeMeta") or {}
        raw = base64.b64decode(unknown.get("raw") or "")
        obj = _decode(message, raw)
    except _Corrupt as e:
        raise BadRequest(f"{kind.kind} in version \"{kind.version}\" cannot be handled as a {kind.kind}: "
                         f"proto: {e}") from None
    return {"apiVersion": type_meta.get("apiVersion") or kind.api_version,
            "kind": type_meta.get("kind") or kind.kind, **obj}
