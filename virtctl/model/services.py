"""Services and VMIs, without I/O: which VMIs a Service selects, which guest port each Service port
reaches, and what ``virtctl expose`` puts in the Service it creates.

In KubeVirt a Service selects the VMI's virt-launcher pod, whose labels are the VMI's labels plus
the launcher's own (``kubevirt.io: virt-launcher``, ``kubevirt.io/created-by: <uid>``,
``vm.kubevirt.io/name: <hostname>``, ``vmi.kubevirt.io/id: <id>``); standalone mode has no pod, so
a Service selects the VMIs whose labels, plus these, match (docs/standalone.md, "Services").
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from virtctl.errors import VirtctlError
from virtctl.model import kinds
from virtctl.model.names import DNS1035_LABEL_MAX

APP_LABEL = "kubevirt.io"
CREATED_BY_LABEL = "kubevirt.io/created-by"
VM_NAME_LABEL = "vm.kubevirt.io/name"
VMI_ID_LABEL = "vmi.kubevirt.io/id"
NODE_NAME_LABEL = "kubevirt.io/nodeName"
PUBLISHED_TYPES = ("NodePort", "LoadBalancer")


def vmi_id(name: str) -> str:
    """``vmi.kubevirt.io/id`` of a VMI: its name, or for names over 63 characters the first 54,
    ``-`` and 8 hex digits of the name's SHA-1 (KubeVirt's ``CalculateVirtualMachineInstanceID``)."""
    if len(name) <= DNS1035_LABEL_MAX:
        return name
    return f"{name[:DNS1035_LABEL_MAX - 9]}-{hashlib.sha1(name.encode()).hexdigest()[:8]}"


def launcher_labels(vmi: dict[str, Any]) -> dict[str, str]:
    """The labels KubeVirt's virt-launcher pod of ``vmi`` would carry."""
    meta = vmi.get("metadata") or {}
    name = str(meta.get("name") or "")
    labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
    labels[APP_LABEL] = "virt-launcher"
    labels[CREATED_BY_LABEL] = str(meta.get("uid") or "")
    labels[VM_NAME_LABEL] = str((vmi.get("spec") or {}).get("hostname") or name)
    labels[VMI_ID_LABEL] = vmi_id(name)
    return labels


def selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """A Service selector (a plain map) selects ``labels``; an empty selector selects nothing
    (the endpoints controller leaves such Services alone)."""
    if not selector:
        return False
    return all(labels.get(str(k)) == str(v) for k, v in selector.items())


@dataclass(frozen=True)
class Publication:
    """One Service port published on 127.0.0.1:<node_port> to a guest port."""

    protocol: str           # tcp | udp
    node_port: int
    guest_port: int


def _named_port(vmi: dict[str, Any], name: str, protocol: str) -> int | None:
    """The guest port a named target port means: ``interfaces[].ports[]`` of that name (what the
    launcher pod's containerPorts are named after)."""
    for iface in ((vmi.get("spec") or {}).get("domain") or {}).get("devices", {}).get("interfaces") or []:
        for p in (iface or {}).get("ports") or []:
            if p.get("name") == name and str(p.get("protocol") or "TCP").upper() == protocol.upper():
                port = p.get("port")
                return port if isinstance(port, int) else None
    return None


def publications(service: dict[str, Any], vmi: dict[str, Any]) -> list[Publication]:
    """What a NodePort/LoadBalancer Service publishes for ``vmi`` (nothing for other types, SCTP
    ports, or a named target port the VMI does not declare)."""
    spec = service.get("spec") or {}
    if spec.get("type") not in PUBLISHED_TYPES:
        return []
    out = []
    for p in spec.get("ports") or []:
        protocol = str(p.get("protocol") or "TCP")
        node_port = p.get("nodePort")
        if protocol not in ("TCP", "UDP") or not isinstance(node_port, int) or not node_port:
            continue
        guest = guest_port(p, vmi)
        if guest is not None:
            out.append(Publication(protocol.lower(), node_port, guest))
    return out


def guest_port(port: dict[str, Any], vmi: dict[str, Any]) -> int | None:
    """The guest port one Service port (``spec.ports[]``) reaches on ``vmi``: its ``targetPort`` (a
    number, or a name the VMI declares), else its ``port``; None when it does not resolve."""
    protocol = str(port.get("protocol") or "TCP")
    target = port.get("targetPort")
    if target in (None, "", 0):
        guest: int | None = port.get("port")
    elif isinstance(target, int):
        guest = target
    elif isinstance(target, str) and target.isdigit():
        guest = int(target)
    else:
        guest = _named_port(vmi, str(target), protocol)
    if isinstance(guest, int) and not isinstance(guest, bool) and 0 < guest < 65536:
        return guest
    return None


# ---------------------------------------------------------------- virtctl expose

EXPOSE_TYPES = {
    "vmi": "vmi", "vmis": "vmi", "virtualmachineinstance": "vmi", "virtualmachineinstances": "vmi",
    "vm": "vm", "vms": "vm", "virtualmachine": "vm", "virtualmachines": "vm",
    "vmirs": "vmirs", "vmirss": "vmirs", "virtualmachineinstancereplicaset": "vmirs",
    "virtualmachineinstancereplicasets": "vmirs",
}
EXPOSE_KIND_NAMES = {"vmi": "VirtualMachineInstance", "vm": "VirtualMachine",
                     "vmirs": "VirtualMachineInstanceReplicaSet"}


def pod_network_ports(vmi_spec: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The ports of the interface on the pod network, named ``port-1``, ``port-2``, … (what Go
    virtctl copies when ``--port`` is not given)."""
    spec = vmi_spec or {}
    pod_net = next((n.get("name") for n in spec.get("networks") or [] if isinstance(n, dict) and "pod" in n), None)
    if not pod_net:
        return []
    for iface in (spec.get("domain") or {}).get("devices", {}).get("interfaces") or []:
        if iface.get("name") == pod_net:
            return [{"name": f"port-{i}", "protocol": p.get("protocol") or "TCP", "port": p.get("port")}
                    for i, p in enumerate(iface.get("ports") or [], 1)]
    return []


def convert_choice(value: str, choices: tuple[str, ...], what: str) -> str:
    """Case-insensitive match of a flag value against ``choices``; Go's ``unknown <what>: <v>``."""
    for c in choices:
        if value.lower() == c.lower():
            return c
    raise ValueError(f"unknown {what}: {value}")


def target_port(text: str) -> int | str | None:
    """``intstr.Parse``: a number when the text is one, else the name; None for ""."""
    if text == "":
        return None
    try:
        return int(text)
    except ValueError:
        return text


def ip_families(text: str) -> list[str]:
    families = {"": [], "ipv4": ["IPv4"], "ipv6": ["IPv6"], "ipv4,ipv6": ["IPv4", "IPv6"],
                "ipv6,ipv4": ["IPv6", "IPv4"]}
    if text.lower() not in families:
        raise ValueError(f"unknown IPFamily/s: {text}")
    return families[text.lower()]


def ip_family_policy(text: str, families: list[str]) -> str:
    if text == "":
        return "PreferDualStack" if len(families) > 1 else ""
    try:
        return convert_choice(text, ("SingleStack", "PreferDualStack", "RequireDualStack"), "IPFamilyPolicy/s")
    except ValueError:
        raise ValueError(f"unknown IPFamilyPolicy/s: {text}") from None


def build_service(word: str, obj: dict[str, Any], *, name: str, namespace: str, port: int, protocol: str,
                  target_port: int | str | None, service_type: str, port_name: str, cluster_ip: str,
                  external_ip: str, families: list[str], family_policy: str) -> dict[str, Any]:
    """The Service Go virtctl creates for ``obj`` (of type ``word``: vm, vmi or vmirs)."""
    meta, spec = obj.get("metadata") or {}, obj.get("spec") or {}
    if word == "vmirs":
        selector_obj = spec.get("selector") or {}
        if not selector_obj.get("matchLabels"):
            raise VirtctlError("cannot expose VirtualMachineInstanceReplicaSet without any selector labels")
        if selector_obj.get("matchExpressions"):
            raise VirtctlError("cannot expose VirtualMachineInstanceReplicaSet with match expressions")
        selector = dict(selector_obj["matchLabels"])
        ports = pod_network_ports((spec.get("template") or {}).get("spec"))
    else:
        selector = {VMI_ID_LABEL: vmi_id(str(meta.get("name") or ""))}
        template = spec if word == "vmi" else (spec.get("template") or {}).get("spec")
        ports = pod_network_ports(template)
    if port != 0:
        one: dict[str, Any] = {"protocol": protocol, "port": port}
        if port_name:
            one = {"name": port_name, **one}
        if target_port is not None:
            one["targetPort"] = target_port
        ports = [one]
    if not ports:
        raise VirtctlError("couldn't find port via --port flag or introspection")
    owner = {"apiVersion": obj.get("apiVersion") or f"{kinds.KUBEVIRT}/v1",
             "kind": obj.get("kind") or EXPOSE_KIND_NAMES[word],
             "name": meta.get("name"), "uid": meta.get("uid"), "controller": True, "blockOwnerDeletion": False}
    service_spec: dict[str, Any] = {"ports": ports, "selector": selector, "type": service_type}
    if cluster_ip:
        service_spec["clusterIP"] = cluster_ip
    if families:
        service_spec["ipFamilies"] = families
    if family_policy:
        service_spec["ipFamilyPolicy"] = family_policy
    if external_ip:
        service_spec["externalIPs"] = [external_ip]
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": namespace, "ownerReferences": [owner]}, "spec": service_spec}
