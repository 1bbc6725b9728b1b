"""Service: defaults and apiserver's ValidateService (ports, type, selector, session affinity).
Cluster IPs and node ports are allocated by the store (``store/core.py``), which owns the
"already allocated" checks."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from virtctl.controller.schema.core import common as c
from virtctl.controller.schema.validation import Problem
from virtctl.model import names
from virtctl.model.kinds import Kind

TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
PROTOCOLS = ("SCTP", "TCP", "UDP")
_PORT_TREE: dict[str, c.Tree] = {k: True for k in ("name", "protocol", "appProtocol", "port", "targetPort",
                                                   "nodePort")}
_SPEC_FIELDS = ("selector", "clusterIP", "clusterIPs", "type", "externalIPs", "sessionAffinity", "loadBalancerIP",
                "loadBalancerSourceRanges", "externalName", "externalTrafficPolicy", "healthCheckNodePort",
                "publishNotReadyAddresses", "sessionAffinityConfig", "ipFamilies", "ipFamilyPolicy",
                "allocateLoadBalancerNodePorts", "loadBalancerClass", "internalTrafficPolicy", "trafficDistribution")
TREE: dict[str, c.Tree] = {**c.TOP, "spec": {**{k: True for k in _SPEC_FIELDS}, "ports": [_PORT_TREE]},
                           "status": True}
_IANA_SVC_NAME = re.compile(r"^[-a-z0-9]+$")


def _port_range(path: str, value: Any) -> list[Problem]:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
        return [c.invalid(path, value, "must be between 1 and 65535, inclusive")]
    return []


def _target_port(path: str, value: Any) -> list[Problem]:
    if isinstance(value, str):
        errs = []
        if len(value) > 15:
            errs.append("must be no more than 15 characters")
        if not _IANA_SVC_NAME.match(value):
            errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
        elif "--" in value:
            errs.append("must not contain consecutive hyphens")
        elif not re.search("[a-z]", value):
            errs.append("must contain at least one letter (a-z)")
        elif value.startswith("-") or value.endswith("-"):
            errs.append("must not begin or end with a hyphen")
        return [c.invalid(path, value, e) for e in errs]
    return _port_range(path, value)


def _decode(kind: Kind, obj: dict[str, Any]) -> dict[str, Any]:
    spec = c.spec(kind, obj, "v1.ServiceSpec")
    ports = spec.get("ports")
    c.expect(kind, ports, list, "Service.spec.ports", "[]v1.ServicePort")
    if ports:
        spec["ports"] = ports = [{} if p is None else p for p in ports]      # null decodes as a zero ServicePort
    for port in ports or []:
        c.expect(kind, port, dict, "Service.spec.ports", "v1.ServicePort")
        c.expect(kind, port.get("port"), int, "Service.spec.ports.port", "int32")
        c.expect(kind, port.get("nodePort"), int, "Service.spec.ports.nodePort", "int32")
        c.expect(kind, port.get("name"), str, "Service.spec.ports.name", "string")
        c.expect(kind, port.get("protocol"), str, "Service.spec.ports.protocol", "v1.Protocol")
        tp = port.get("targetPort")
        if tp is not None and not isinstance(tp, (int, str)) or isinstance(tp, bool):
            raise c.decode_error(kind, "json: cannot unmarshal " + c.go_type(tp) + " into Go struct field "
                                       "Service.spec.ports.targetPort of type intstr.IntOrString")
        for key in ("port", "nodePort", "targetPort"):
            v = port.get(key)
            if isinstance(v, int) and not isinstance(v, bool) and not -2**31 <= v < 2**31:
                raise c.decode_error(kind, f"json: cannot unmarshal number {v} into Go struct field "
                                           f"ServicePort.spec.ports.{key} of type int32")
    c.string_map(kind, spec, "selector", "Service.spec.selector")
    for key in ("type", "clusterIP", "sessionAffinity", "externalName", "externalTrafficPolicy",
                "internalTrafficPolicy", "ipFamilyPolicy", "loadBalancerIP"):
        c.expect(kind, spec.get(key), str, f"Service.spec.{key}", "string")
    for key in ("clusterIPs", "externalIPs", "ipFamilies", "loadBalancerSourceRanges"):
        value = spec.get(key)
        c.expect(kind, value, list, f"Service.spec.{key}", "[]string")
        if value:
            spec[key] = value = ["" if item is None else item for item in value]
        for item in value or []:
            c.expect(kind, item, str, f"Service.spec.{key}", "string")
    return spec


def _defaults(spec: dict[str, Any]) -> None:
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if spec["type"] == "ExternalName":
        return
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port")
    spec.setdefault("internalTrafficPolicy", "Cluster")
    if spec["type"] in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if spec["type"] == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)


def _go_port(port: dict[str, Any]) -> str:
    """How field.Duplicate prints a (port, protocol) key: Go's %#v of a core.ServicePort."""
    return ('core.ServicePort{Name:"", Protocol:"' + str(port.get("protocol")) + '", AppProtocol:(*string)(nil), '
            f'Port:{port.get("port")}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:""}}, NodePort:0}}')


def admit(kind: Kind, obj: dict[str, Any]) -> list[Problem]:
    spec = _decode(kind, obj)
    _defaults(spec)
    problems: list[Problem] = []
    svc_type = spec["type"]
    if svc_type not in TYPES:
        problems.append(c.not_supported("spec.type", svc_type, TYPES))
    if spec["sessionAffinity"] not in ("ClientIP", "None"):
        problems.append(c.not_supported("spec.sessionAffinity", spec["sessionAffinity"], ("ClientIP", "None")))
    ports = spec.get("ports") or []
    if svc_type == "ExternalName":
        if not spec.get("externalName"):
            problems.append(c.required("spec.externalName"))
        if spec.get("clusterIP") not in (None, ""):
            problems.append(c.forbidden("spec.clusterIPs", "may not be set for ExternalName services"))
    elif not ports and spec.get("clusterIP") != "None":
        problems.append(c.required("spec.ports"))
    names_seen: set[str] = set()
    keys_seen: set[tuple[Any, Any]] = set()
    node_ports_seen: set[tuple[Any, Any]] = set()
    for i, port in enumerate(ports):
        path = f"spec.ports[{i}]"
        name = port.get("name") or ""
        if len(ports) > 1 and not name:
            problems.append(c.required(f"{path}.name"))
        elif name:
            problems += [c.invalid(f"{path}.name", name, e) for e in names.label_errors(name)]
            if name in names_seen:
                problems.append(c.duplicate(f"{path}.name", name))
            names_seen.add(name)
        problems += _port_range(f"{path}.port", port.get("port")) if port.get("port") is not None \
            else [c.required(f"{path}.port")]
        protocol = port.get("protocol")
        if protocol not in PROTOCOLS:
            problems.append(c.not_supported(f"{path}.protocol", protocol, PROTOCOLS))
        if svc_type != "ExternalName":
            problems += _target_port(f"{path}.targetPort", port.get("targetPort"))
        key = (port.get("port"), protocol)
        if key in keys_seen:
            problems.append(Problem(path, "FieldValueDuplicate", f"Duplicate value: {_go_port(port)}"))
        keys_seen.add(key)
        node_port = port.get("nodePort")
        if node_port not in (None, 0):
            if svc_type == "ClusterIP":
                problems.append(c.forbidden(f"{path}.nodePort", "may not be used when `type` is 'ClusterIP'"))
            elif (node_port, protocol) in node_ports_seen:
                problems.append(c.duplicate(f"{path}.nodePort", node_port))
            else:
                problems += _port_range(f"{path}.nodePort", node_port)
            node_ports_seen.add((node_port, protocol))
    for key, value in (spec.get("selector") or {}).items():
        problems += [c.invalid("spec.selector", key, e) for e in c.qualified_name_errors(key)]
        if len(value) > 63 or not re.match(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$", value):
            problems.append(c.invalid("spec.selector", value,
                                      "a valid label must be an empty string or consist of alphanumeric characters, "
                                      "'-', '_' or '.', and must start and end with an alphanumeric character "
                                      "(e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is "
                                      "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"))
    cluster_ip = spec.get("clusterIP")
    if cluster_ip not in (None, "", "None"):
        try:
            ipaddress.ip_address(cluster_ip)
        except ValueError:
            problems.append(c.invalid("spec.clusterIPs[0]", cluster_ip,
                                      "must be empty, 'None', or a valid IP address"))
    return problems
