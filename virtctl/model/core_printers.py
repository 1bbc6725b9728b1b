"""Table columns and cells of the core kinds as kube-apiserver's printers produce them
(``kubectl get ns|secret|cm|svc|events``); the apiserver prints every column and kubectl hides
``priority: 1`` ones without ``-o wide``."""

from __future__ import annotations

from datetime import datetime

TYPE_CHECKING = False
if TYPE_CHECKING:                  # typing costs ≈ 3 ms of every table printed: annotations only
    from typing import Any

from virtctl.model import kinds
from virtctl.model.kinds import Kind
from virtctl.model.printers import human_duration, parse_time

NAME = ("Name", "string", "name", 0)
AGE = ("Age", "string", "", 0)
_COLUMNS: dict[str, tuple[tuple[str, str, str, int], ...]] = {
    "Namespace": (NAME, ("Status", "string", "", 0), AGE),
    "Secret": (NAME, ("Type", "string", "", 0), ("Data", "string", "", 0), AGE),
    "ConfigMap": (NAME, ("Data", "string", "", 0), AGE),
    "Service": (NAME, ("Type", "string", "", 0), ("Cluster-IP", "string", "", 0), ("External-IP", "string", "", 0),
                ("Port(s)", "string", "", 0), AGE, ("Selector", "string", "", 1)),
    "PersistentVolumeClaim": (NAME, ("Status", "string", "", 0), ("Volume", "string", "", 0),
                              ("Capacity", "string", "", 0), ("Access Modes", "string", "", 0),
                              ("StorageClass", "string", "", 0), ("VolumeAttributesClass", "string", "", 0), AGE,
                              ("VolumeMode", "string", "", 1)),
    "Event": (("Last Seen", "string", "", 0), ("Type", "string", "", 0), ("Reason", "string", "", 0),
              ("Object", "string", "", 0), ("Subobject", "string", "", 1), ("Source", "string", "", 1),
              ("Message", "string", "", 0), ("First Seen", "string", "", 1), ("Count", "string", "", 1),
              ("Name", "string", "name", 1)),
}


def handles(kind: Kind) -> bool:
    return kinds.is_core(kind)


def column_definitions(kind: Kind) -> list[dict[str, Any]]:
    return [{"name": n, "type": t, "format": f, "description": n, "priority": p} for n, t, f, p in _COLUMNS[kind.kind]]


def since(value: Any, now: datetime) -> str:
    """apiserver's translateTimestampSince: ``<unknown>`` for no time."""
    t = parse_time(value) if isinstance(value, str) else None
    if t is None and isinstance(value, str) and value:
        try:
            t = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            t = None
    if t is None:
        return "<unknown>"
    return human_duration((now - t).total_seconds())


def _ports(spec: dict[str, Any]) -> str:
    out = []
    for p in spec.get("ports") or []:
        if not isinstance(p, dict):
            continue
        if p.get("nodePort"):
            out.append(f"{p.get('port')}:{p.get('nodePort')}/{p.get('protocol', 'TCP')}")
        else:
            out.append(f"{p.get('port')}/{p.get('protocol', 'TCP')}")
    return ",".join(out) or "<none>"


def _external_ip(obj: dict[str, Any]) -> str:
    spec = obj.get("spec") or {}
    external = list(spec.get("externalIPs") or [])
    svc_type = spec.get("type")
    if svc_type in ("ClusterIP", "NodePort"):
        return ",".join(external) or "<none>"
    if svc_type == "ExternalName":
        return str(spec.get("externalName") or "")
    if svc_type == "LoadBalancer":
        ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        ips = [i.get("ip") or i.get("hostname") for i in ingress if isinstance(i, dict)]
        found = [x for x in ips + external if x]
        return ",".join(found) or "<pending>"
    return "<unknown>"


def _selector(spec: dict[str, Any]) -> str:
    sel = spec.get("selector") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(sel.items())) or "<none>"


def _event(obj: dict[str, Any], now: datetime) -> list[Any]:
    first = since(obj.get("firstTimestamp"), now) if obj.get("firstTimestamp") else since(obj.get("eventTime"), now)
    last = since(obj.get("lastTimestamp"), now) if obj.get("lastTimestamp") else first
    count = obj.get("count") or 0
    series = obj.get("series")
    if isinstance(series, dict):
        last = since(series.get("lastObservedTime"), now)
        count = series.get("count") or 0
    elif not count:
        count = 1
    ref = obj.get("involvedObject") or {}
    target = str(ref.get("kind") or "").lower()
    if ref.get("name"):
        target = f"{target}/{ref['name']}"
    source = obj.get("source") or {}
    src = str(source.get("component") or obj.get("reportingComponent") or "")
    host = source.get("host") or obj.get("reportingInstance")
    if host:
        src = f"{src}, {host}"
    return [last, obj.get("type") or "", obj.get("reason") or "", target, ref.get("fieldPath") or "", src,
            str(obj.get("message") or "").strip(), first, int(count), (obj.get("metadata") or {}).get("name", "")]


_MODE_ABBREVIATIONS = (("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"),
                      ("ReadWriteOncePod", "RWOP"))


def _pvc(obj: dict[str, Any], name: str, age: str) -> list[Any]:
    """kubectl 1.30's printPersistentVolumeClaim: capacity and access modes once bound."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    phase = "Terminating" if (obj.get("metadata") or {}).get("deletionTimestamp") else status.get("phase") or ""
    capacity = access = ""
    if spec.get("volumeName"):
        modes = status.get("accessModes") or []
        access = ",".join(short for mode, short in _MODE_ABBREVIATIONS if mode in modes)
        capacity = str((status.get("capacity") or {}).get("storage") or "")
    return [name, phase, spec.get("volumeName") or "", capacity, access, spec.get("storageClassName") or "",
            spec.get("volumeAttributesClassName") or "<unset>", age, spec.get("volumeMode") or "<unset>"]


_V1_TO_CORE = (("regarding", "involvedObject"), ("note", "message"), ("deprecatedSource", "source"),
               ("deprecatedFirstTimestamp", "firstTimestamp"), ("deprecatedLastTimestamp", "lastTimestamp"),
               ("deprecatedCount", "count"), ("reportingController", "reportingComponent"))


def cells(kind: Kind, obj: dict[str, Any], now: datetime) -> list[Any]:
    meta = obj.get("metadata") or {}
    if kind is kinds.EVENT_V1:
        obj = {**obj, **{core: obj[v1] for v1, core in _V1_TO_CORE if v1 in obj}}
    name, age = meta.get("name", ""), since(meta.get("creationTimestamp"), now)
    if kind is kinds.NAMESPACE:
        return [name, (obj.get("status") or {}).get("phase") or "", age]
    if kind is kinds.SECRET:
        return [name, obj.get("type") or "", len(obj.get("data") or {}), age]
    if kind is kinds.CONFIGMAP:
        return [name, len(obj.get("data") or {}) + len(obj.get("binaryData") or {}), age]
    if kind is kinds.PVC:
        return _pvc(obj, name, age)
    if kind is kinds.SERVICE:
        spec = obj.get("spec") or {}
        return [name, spec.get("type") or "", spec.get("clusterIP") or "<none>", _external_ip(obj), _ports(spec), age,
                _selector(spec)]
    return _event(obj, now)
