"""The fields a field selector may name for each core kind, and their values, as kube-apiserver's
``GetAttrs`` of each kind exposes them (``kubectl describe`` finds a VM's events with
``involvedObject.name=…,involvedObject.uid=…``)."""

from __future__ import annotations

from typing import Any, Callable

from virtctl.model import kinds
from virtctl.model.kinds import Kind

Fields = Callable[[dict[str, Any]], dict[str, str]]


def _s(value: Any) -> str:
    return "" if value is None else str(value)


def _meta(obj: dict[str, Any]) -> dict[str, str]:
    m = obj.get("metadata") or {}
    return {"metadata.name": _s(m.get("name")), "metadata.namespace": _s(m.get("namespace"))}


def _namespace(obj: dict[str, Any]) -> dict[str, str]:
    return {**_meta(obj), "status.phase": _s((obj.get("status") or {}).get("phase"))}


def _secret(obj: dict[str, Any]) -> dict[str, str]:
    return {**_meta(obj), "type": _s(obj.get("type"))}


def _service(obj: dict[str, Any]) -> dict[str, str]:
    spec = obj.get("spec") or {}
    return {**_meta(obj), "spec.clusterIP": _s(spec.get("clusterIP")), "spec.type": _s(spec.get("type"))}


def _event(obj: dict[str, Any]) -> dict[str, str]:
    ref = obj.get("involvedObject") or {}
    source = obj.get("source") or {}
    out = {**_meta(obj), "reason": _s(obj.get("reason")), "reportingComponent": _s(obj.get("reportingComponent")),
           "source": _s(source.get("component")), "type": _s(obj.get("type"))}
    for key in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"):
        out[f"involvedObject.{key}"] = _s(ref.get(key))
    return out


BY_KIND: dict[Kind, Fields] = {kinds.NAMESPACE: _namespace, kinds.SECRET: _secret, kinds.CONFIGMAP: _meta,
                               kinds.SERVICE: _service, kinds.EVENT: _event, kinds.EVENT_V1: _event}

# the same names, for checking a selector before any object is at hand
SELECTABLE: dict[Kind, frozenset[str]] = {
    k: frozenset(fn({"metadata": {}, "involvedObject": {}, "source": {}, "spec": {}, "status": {}}))
    for k, fn in BY_KIND.items()}
