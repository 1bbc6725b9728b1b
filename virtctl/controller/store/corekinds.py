"""What the apiserver's REST storage of the core kinds does around a write, inside the store's lock:
the system namespaces, a namespace's finalizer and ``Terminating`` phase on delete, and the
allocation of Service cluster IPs and node ports with their "already allocated" checks
(docs/compatibility.md#core-api). Validation itself is ``schema.core``."""

from __future__ import annotations

import copy
import ipaddress
import random
from typing import TYPE_CHECKING, Any

from virtctl.controller.schema import Problem, invalid_error
from virtctl.controller.schema import core as core_schema
from virtctl.controller.schema.core import common
from virtctl.errors import AlreadyExists, Forbidden
from virtctl.model import kinds
from virtctl.model.kinds import Kind

if TYPE_CHECKING:
    from virtctl.controller.store.protocol import Store

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
IMMORTAL_NAMESPACES = ("default", "kube-system", "kube-public")
SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")           # kubeadm's default service subnet
NODE_PORT_RANGE = (30000, 32767)


def ensure_system_namespaces(store: Store) -> None:
    """``default`` and the other namespaces every cluster has (created once, kept forever)."""
    for name in SYSTEM_NAMESPACES:
        try:
            store.create(kinds.NAMESPACE, None, {"metadata": {"name": name}})
        except AlreadyExists:
            pass


def before_create(store: Store, kind: Kind, obj: dict[str, Any]) -> None:
    if kind is kinds.NAMESPACE:
        core_schema.namespace.prepare_create(obj)
    elif kind is kinds.PVC:
        core_schema.pvc.prepare_create(obj)
    elif kind is kinds.SERVICE:
        obj["status"] = {"loadBalancer": {}}
        _allocate(store, obj, None)


def before_update(store: Store, kind: Kind, old: dict[str, Any], new: dict[str, Any]) -> None:
    core_schema.check_update(kind, old, new)
    if kind is kinds.SERVICE:
        _allocate(store, new, old)


def drop_type_dependent_fields(kind: Kind, old: dict[str, Any], new: dict[str, Any]) -> None:
    """A Service changing to a type that has no use for them loses its allocated node ports (and,
    for ExternalName, its cluster IP) unless the update changed them itself, as the apiserver's
    service strategy does."""
    if kind is not kinds.SERVICE:
        return
    old_spec, new_spec = old.get("spec") or {}, new.get("spec")
    if not isinstance(new_spec, dict) or not isinstance(new_spec.get("ports", []), list):
        return
    new_type = new_spec.get("type") or "ClusterIP"
    if new_type == old_spec.get("type"):
        return
    needs_node_ports = new_type == "NodePort" or (new_type == "LoadBalancer"
                                                   and new_spec.get("allocateLoadBalancerNodePorts") is not False)
    old_ports = {p.get("port"): p.get("nodePort") for p in old_spec.get("ports") or [] if isinstance(p, dict)}
    if not needs_node_ports:
        for port in new_spec.get("ports") or []:
            if isinstance(port, dict) and port.get("nodePort") and old_ports.get(port.get("port")) == port["nodePort"]:
                del port["nodePort"]
    if new_type == "ExternalName":
        for key in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
            if new_spec.get(key) == old_spec.get(key):
                new_spec.pop(key, None)


def mark_terminating(kind: Kind, obj: dict[str, Any], now: str) -> dict[str, Any] | None:
    """A namespace delete: the namespace marked ``Terminating`` (its finalizer keeps it until the
    namespace controller has emptied it), or None when nothing holds it any more."""
    name = obj["metadata"]["name"]
    if name in IMMORTAL_NAMESPACES:
        raise Forbidden(f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                        details={"name": name, "kind": "namespaces"})
    if not (obj.get("spec") or {}).get("finalizers") and not obj["metadata"].get("finalizers"):
        return None
    new = copy.deepcopy(obj)
    new["metadata"].setdefault("deletionTimestamp", now)
    new["metadata"].setdefault("deletionGracePeriodSeconds", 0)
    new.setdefault("status", {})["phase"] = "Terminating"
    return new


# ---------------------------------------------------------------- Service allocation
def _services(store: Store, skip_uid: str | None) -> list[dict[str, Any]]:
    items, _ = store.list(kinds.SERVICE)
    return [s for s in items if s["metadata"].get("uid") != skip_uid]


def pick_node_port(taken: set[Any]) -> int | None:
    """A free node port chosen at random, as kube-apiserver's allocator does: from the upper band
    first, the lowest ``min(max(16, size/32), 128)`` ports being kept for Services that ask for one.
    (At random, two controllers on one machine rarely want the same 127.0.0.1 port.)"""
    lo, hi = NODE_PORT_RANGE
    offset = min(max(16, (hi - lo + 1) // 32), 128)
    for band in (range(lo + offset, hi + 1), range(lo, lo + offset)):
        free = [n for n in band if n not in taken]
        if free:
            return random.choice(free)
    return None


def _allocate(store: Store, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    spec = obj["spec"]
    others = _services(store, obj["metadata"].get("uid") if old is not None else None)
    problems: list[Problem] = []
    if spec.get("type") == "ExternalName":
        for key in ("clusterIP", "clusterIPs"):
            spec.pop(key, None)
    else:
        problems += _cluster_ip(spec, others, old)
    used = {(p.get("nodePort"), p.get("protocol")) for s in others for p in (s.get("spec") or {}).get("ports") or []
            if p.get("nodePort")}
    wants_node_ports = spec.get("type") == "NodePort" or (spec.get("type") == "LoadBalancer"
                                                         and spec.get("allocateLoadBalancerNodePorts") is not False)
    lo, hi = NODE_PORT_RANGE
    for i, port in enumerate(spec.get("ports") or []):
        node_port = port.get("nodePort")
        if not wants_node_ports:
            continue
        if node_port in (None, 0):
            free = pick_node_port({n for n, _ in used})
            if free is None:
                problems.append(common.invalid(f"spec.ports[{i}].nodePort", 0,
                                               "range is full"))
                continue
            port["nodePort"] = free
            used.add((free, port.get("protocol")))
            continue
        was_ours = old is not None and any(p.get("nodePort") == node_port for p in
                                           (old.get("spec") or {}).get("ports") or [])
        if not lo <= node_port <= hi:
            if not was_ours:
                problems.append(common.invalid(f"spec.ports[{i}].nodePort", node_port,
                                               "provided port is not in the valid range. The range of valid ports "
                                               f"is {lo}-{hi}"))
        elif (node_port, port.get("protocol")) in used:
            problems.append(common.invalid(f"spec.ports[{i}].nodePort", node_port,
                                           "provided port is already allocated"))
        used.add((node_port, port.get("protocol")))
    if problems:
        raise invalid_error(kinds.SERVICE, obj["metadata"].get("name") or "", problems)


def _cluster_ip(spec: dict[str, Any], others: list[dict[str, Any]], old: dict[str, Any] | None) -> list[Problem]:
    old_ip = ((old or {}).get("spec") or {}).get("clusterIP")
    wanted = spec.get("clusterIP") or (spec.get("clusterIPs") or [None])[0] or old_ip
    used = {(s.get("spec") or {}).get("clusterIP") for s in others}
    if wanted == "None":
        spec["clusterIP"], spec["clusterIPs"] = "None", ["None"]
    elif wanted and wanted != old_ip:
        quoted = f'[]string{{"{wanted}"}}'
        ip = ipaddress.ip_address(wanted)          # syntax checked by validation
        if ip not in SERVICE_CIDR or ip in (SERVICE_CIDR.network_address, SERVICE_CIDR.broadcast_address):
            return [common.Problem("spec.clusterIPs", "FieldValueInvalid",
                                   f"Invalid value: {quoted}: failed to allocate IP {wanted}: the provided IP "
                                   f"({wanted}) is not in the valid range. The range of valid IPs is {SERVICE_CIDR}")]
        if wanted in used:
            return [common.Problem("spec.clusterIPs", "FieldValueInvalid",
                                   f"Invalid value: {quoted}: failed to allocate IP {wanted}: provided IP is "
                                   "already allocated")]
        spec["clusterIP"], spec["clusterIPs"] = wanted, [wanted]
    elif wanted:
        spec["clusterIP"], spec["clusterIPs"] = wanted, [wanted]
    else:
        # the first address is the apiserver's own "kubernetes" Service in a cluster; start after it
        for offset in range(10, SERVICE_CIDR.num_addresses - 1):
            candidate = str(SERVICE_CIDR.network_address + offset)
            if candidate not in used:
                spec["clusterIP"], spec["clusterIPs"] = candidate, [candidate]
                break
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")
    return []
