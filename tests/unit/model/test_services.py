"""Services and VMIs without I/O: launcher labels, selection, target ports, and the Service
``virtctl expose`` builds (Go virtctl's body)."""

from __future__ import annotations

import hashlib

import pytest

from virtctl.errors import VirtctlError
from virtctl.model import services as s


def vmi(name="web", labels=None, ports=None, uid="u1"):
    spec = {"domain": {"devices": {"interfaces": [{"name": "default", "masquerade": {}, "ports": ports or []}]}},
            "networks": [{"name": "default", "pod": {}}]}
    return {"metadata": {"name": name, "uid": uid, "labels": labels or {}}, "spec": spec}


def svc(type_="NodePort", ports=None, selector=None):
    return {"spec": {"type": type_, "selector": selector or {"app": "a"}, "ports": ports or []}}


def test_vmi_id_is_the_name_or_a_hashed_prefix():
    assert s.vmi_id("a" * 63) == "a" * 63
    long = "b" * 70
    assert s.vmi_id(long) == "b" * 54 + "-" + hashlib.sha1(long.encode()).hexdigest()[:8]
    assert len(s.vmi_id(long)) == 63


def test_launcher_labels_add_kubevirts_own_to_the_vmis():
    got = s.launcher_labels(vmi(labels={"app": "a", "kubevirt.io": "x"}))
    assert got == {"app": "a", "kubevirt.io": "virt-launcher", "kubevirt.io/created-by": "u1",
                   "vm.kubevirt.io/name": "web", "vmi.kubevirt.io/id": "web"}


def test_selection_needs_every_pair_and_a_non_empty_selector():
    labels = {"app": "a", "tier": "web"}
    assert s.selects({"app": "a"}, labels)
    assert not s.selects({"app": "a", "tier": "db"}, labels)
    assert not s.selects({}, labels) and not s.selects(None, labels)


def test_publications_resolve_target_ports():
    v = vmi(ports=[{"name": "http", "port": 80}, {"name": "dns", "port": 53, "protocol": "UDP"}])
    ports = [{"port": 8080, "targetPort": 80, "nodePort": 30080, "protocol": "TCP"},
             {"port": 8081, "nodePort": 30081, "protocol": "TCP"},                          # target = port
             {"port": 8082, "targetPort": "http", "nodePort": 30082, "protocol": "TCP"},    # named
             {"port": 53, "targetPort": "dns", "nodePort": 30053, "protocol": "UDP"},
             {"port": 8083, "targetPort": "nope", "nodePort": 30083, "protocol": "TCP"},    # unknown name
             {"port": 9, "nodePort": 30009, "protocol": "SCTP"}]
    got = s.publications(svc(ports=ports), v)
    assert got == [s.Publication("tcp", 30080, 80), s.Publication("tcp", 30081, 8081),
                   s.Publication("tcp", 30082, 80), s.Publication("udp", 30053, 53)]
    assert s.publications(svc("ClusterIP", ports=ports), v) == []
    assert s.publications(svc("LoadBalancer", ports=ports[:1]), v) == [s.Publication("tcp", 30080, 80)]


def expose(word, obj, **kw):
    args = dict(name="svc", namespace="ns", port=0, protocol="TCP", target_port=None, service_type="ClusterIP",
                port_name="", cluster_ip="", external_ip="", families=[], family_policy="")
    args.update(kw)
    return s.build_service(word, obj, **args)


def test_expose_vm_selects_the_vmi_id_and_owns_the_service():
    vm = {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {"name": "vm1", "uid": "u"},
          "spec": {"template": {"spec": vmi(ports=[{"port": 22}, {"port": 80, "protocol": "TCP"}])["spec"]}}}
    got = expose("vm", vm, service_type="NodePort")
    assert got["spec"] == {"ports": [{"name": "port-1", "protocol": "TCP", "port": 22},
                                     {"name": "port-2", "protocol": "TCP", "port": 80}],
                           "selector": {"vmi.kubevirt.io/id": "vm1"}, "type": "NodePort"}
    assert got["metadata"]["ownerReferences"] == [{"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
                                                   "name": "vm1", "uid": "u", "controller": True,
                                                   "blockOwnerDeletion": False}]
    one = expose("vm", vm, port=8080, target_port=80, port_name="web", external_ip="1.2.3.4",
                 families=["IPv4", "IPv6"], family_policy="PreferDualStack", cluster_ip="None")
    assert one["spec"] == {"ports": [{"name": "web", "protocol": "TCP", "port": 8080, "targetPort": 80}],
                           "selector": {"vmi.kubevirt.io/id": "vm1"}, "type": "ClusterIP", "clusterIP": "None",
                           "ipFamilies": ["IPv4", "IPv6"], "ipFamilyPolicy": "PreferDualStack",
                           "externalIPs": ["1.2.3.4"]}


def test_expose_errors_are_go_virtctls():
    bare = {"metadata": {"name": "v"}, "spec": {"domain": {}}}
    with pytest.raises(VirtctlError, match="^couldn't find port via --port flag or introspection$"):
        expose("vmi", bare)
    with pytest.raises(VirtctlError, match="^cannot expose VirtualMachineInstanceReplicaSet without any selector"):
        expose("vmirs", {"metadata": {"name": "rs"}, "spec": {"selector": {}}}, port=80)
    with pytest.raises(VirtctlError, match="^cannot expose VirtualMachineInstanceReplicaSet with match expressions$"):
        expose("vmirs", {"metadata": {"name": "rs"}, "spec": {"selector": {
            "matchLabels": {"a": "b"}, "matchExpressions": [{"key": "x", "operator": "Exists"}]}}}, port=80)
    rs = expose("vmirs", {"metadata": {"name": "rs"}, "spec": {"selector": {"matchLabels": {"a": "b"}}}}, port=80)
    assert rs["spec"]["selector"] == {"a": "b"}


def test_flag_conversions():
    assert s.convert_choice("udp", ("TCP", "UDP"), "protocol") == "UDP"
    with pytest.raises(ValueError, match="^unknown protocol: SCTP$"):
        s.convert_choice("SCTP", ("TCP", "UDP"), "protocol")
    assert s.target_port("80") == 80 and s.target_port("http") == "http" and s.target_port("") is None
    assert s.ip_families("ipv6,IPv4") == ["IPv6", "IPv4"]
    assert s.ip_family_policy("", ["IPv4", "IPv6"]) == "PreferDualStack"
    with pytest.raises(ValueError, match="^unknown IPFamilyPolicy/s: x$"):
        s.ip_family_policy("x", [])
