"""Real kubectl (1.30, and 1.28 and 1.33 for the same flow) against the embedded API server's core group:
namespaces, secrets, config maps, services, events (``get -w``, ``describe vm``), and
apiserver's messages for bad input. The kubernetes Python client's DynamicClient discovers and
lists the core kinds."""

from __future__ import annotations

import base64
import queue
import threading

import pytest
import yaml

from tests.kubectl.test_kubectl import VM_FILE, Kubectl, kubectl_binary
from virtctl.controller.reconcile.events import Recorder
from virtctl.model import kinds

pytestmark = pytest.mark.kubectl


# 1.33 sends the objects of `kubectl create ns|secret|configmap|service` as protobuf
@pytest.fixture(params=["1.30", "1.28", "1.33"])
def kubectl(request, api_server, tmp_path):
    return Kubectl(kubectl_binary(request.param), api_server, tmp_path / "home")


def test_namespace_secret_configmap_service(kubectl, api_server, tmp_path):
    assert kubectl("create", "ns", "team-a").stdout.strip() == "namespace/team-a created"
    lines = kubectl("get", "ns").stdout.splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "AGE"]
    assert ["team-a", "Active"] == next(line.split()[:2] for line in lines if line.startswith("team-a "))
    r = kubectl("create", "secret", "generic", "db", "--from-literal=password=s3cr3t-value", "-n", "team-a")
    assert r.stdout.strip() == "secret/db created"
    got = yaml.safe_load(kubectl("get", "secret", "db", "-n", "team-a", "-o", "yaml").stdout)
    assert got["type"] == "Opaque" and base64.b64decode(got["data"]["password"]) == b"s3cr3t-value"
    assert kubectl("get", "secret", "-n", "team-a").stdout.split()[:7] == ["NAME", "TYPE", "DATA", "AGE", "db",
                                                                          "Opaque", "1"]
    assert kubectl("create", "configmap", "cfg", "--from-literal=a=1", "--from-literal=b=2").stdout.strip() == \
        "configmap/cfg created"
    assert kubectl("get", "cm", "cfg").stdout.split()[:5] == ["NAME", "DATA", "AGE", "cfg", "2"]
    assert kubectl("label", "cm", "cfg", "tier=web").stdout.strip() == "configmap/cfg labeled"
    assert kubectl("create", "service", "nodeport", "web", "--tcp=8080:80", "--node-port=30123").returncode == 0
    row = kubectl("get", "svc", "web").stdout.splitlines()[1].split()
    assert row[0] == "web" and row[1] == "NodePort" and row[3] == "<none>" and row[4] == "8080:30123/TCP"
    assert "service/web" in kubectl("get", "all").stdout
    r = kubectl("create", "service", "nodeport", "web2", "--tcp=8081:80", "--node-port=30123", check=False)
    assert r.returncode == 1
    assert r.stderr.strip() == ('error: failed to create NodePort service: Service "web2" is invalid: '
                                "spec.ports[0].nodePort: Invalid value: 30123: provided port is already allocated")
    manifest = tmp_path / "svc.yaml"
    manifest.write_text("apiVersion: v1\nkind: Service\nmetadata: {name: big}\nspec:\n  ports: [{port: 70000}]\n")
    r = kubectl("create", "-f", str(manifest), check=False)
    assert r.returncode == 1
    assert r.stderr.strip() == ('The Service "big" is invalid: \n* spec.ports[0].port: Invalid value: 70000: must be '
                                "between 1 and 65535, inclusive\n* spec.ports[0].targetPort: Invalid value: 70000: "
                                "must be between 1 and 65535, inclusive")
    manifest.write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: junk}\ndata: {key: '%%%'}\n")
    r = kubectl("create", "-f", str(manifest), check=False)
    assert r.returncode == 1
    assert r.stderr.strip() == (f'Error from server (BadRequest): error when creating "{manifest}": Secret in version '
                                '"v1" cannot be handled as a Secret: illegal base64 data at input byte 0')
    r = kubectl("create", "ns", "Not_A_Label", check=False)
    assert r.returncode == 1 and r.stderr.startswith('The Namespace "Not_A_Label" is invalid: metadata.name: '
                                                     'Invalid value: "Not_A_Label": a lowercase RFC 1123 label')
    r = kubectl("delete", "ns", "default", check=False)
    assert r.returncode == 1 and r.stderr.strip() == \
        'Error from server (Forbidden): namespaces "default" is forbidden: this namespace may not be deleted'
    r = kubectl("create", "secret", "generic", "x", "--from-literal=a=b", "-n", "nowhere", check=False)
    assert r.returncode == 1 and r.stderr.strip() == 'error: failed to create secret namespaces "nowhere" not found'
    assert api_server.store.list(kinds.SECRET, "nowhere")[0] == []


def test_get_events_watch_and_describe_vm(kubectl, api_server):
    kubectl("create", "-f", VM_FILE)
    vm = api_server.store.get(kinds.VM, "default", "vm-cirros")
    recorder = Recorder(api_server.store, "virtualmachine-controller")
    recorder.normal(vm, "SuccessfulCreate", "Started the virtual machine by creating the new virtual machine "
                                            "instance vm-cirros")
    proc = kubectl.popen("get", "events", "-w")
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    try:
        header = lines.get(timeout=20).split()
        assert header == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
        first = lines.get(timeout=20).split()
        assert first[1:4] == ["Normal", "SuccessfulCreate", "virtualmachine/vm-cirros"]
        recorder.warning(vm, "FailedCreate", "Failure while starting VMI: image 127.0.0.1:5000/nope not found")
        streamed = lines.get(timeout=20)
        assert "Warning" in streamed and "FailedCreate" in streamed and "127.0.0.1:5000/nope" in streamed
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    out = kubectl("describe", "vm", "vm-cirros").stdout
    events = out[out.index("Events:"):]
    assert "Normal   SuccessfulCreate" in events and "virtualmachine-controller" in events
    assert "Warning  FailedCreate" in events and "image 127.0.0.1:5000/nope not found" in events
    listed = kubectl("get", "events", "--field-selector", "type=Warning").stdout
    assert "FailedCreate" in listed and "SuccessfulCreate" not in listed


def test_dynamic_client_discovers_and_lists_core_kinds(api_server):
    kubernetes = pytest.importorskip("kubernetes")
    from kubernetes.dynamic import DynamicClient

    api_client = kubernetes.config.new_client_from_config(config_file=str(api_server.kubeconfig_path))
    client = DynamicClient(api_client)
    api_server.store.create(kinds.SERVICE, "default", {"metadata": {"name": "web"},
                                                       "spec": {"ports": [{"port": 80}], "selector": {"a": "b"}}})
    Recorder(api_server.store, "virt-handler").normal(api_server.store.get(kinds.SERVICE, "default", "web"),
                                                      "Checked", "checked")
    services = client.resources.get(api_version="v1", kind="Service")
    assert [s.metadata.name for s in services.get(namespace="default").items] == ["web"]
    namespaces = client.resources.get(api_version="v1", kind="Namespace")
    assert "default" in [n.metadata.name for n in namespaces.get().items]
    events = client.resources.get(api_version="v1", kind="Event")
    assert [e.reason for e in events.get(namespace="default").items] == ["Checked"]
    events_v1 = client.resources.get(api_version="events.k8s.io/v1", kind="Event")
    assert [e.note for e in events_v1.get(namespace="default").items] == ["checked"]
    created = client.resources.get(api_version="v1", kind="ConfigMap").create(
        body={"metadata": {"name": "dyn"}, "data": {"k": "v"}}, namespace="default")
    assert created.data.k == "v"


def test_protobuf_bodies_of_kubectl_133(api_server, tmp_path):
    """What kubectl 1.33 writes as protobuf arrives whole: maps, bytes, int-or-string ports, and no
    zero values Go's JSON would have left out."""
    k = Kubectl(kubectl_binary("1.33"), api_server, tmp_path / "home")
    (tmp_path / "blob").write_bytes(bytes(range(256)))
    k("create", "secret", "generic", "bin", f"--from-file=blob={tmp_path / 'blob'}", "--type=example.com/raw")
    secret = api_server.store.get(kinds.SECRET, "default", "bin")
    assert base64.b64decode(secret["data"]["blob"]) == bytes(range(256)) and secret["type"] == "example.com/raw"
    # no generation: kube-apiserver's Secret strategy never sets one
    assert set(secret["metadata"]) == {"name", "namespace", "uid", "creationTimestamp", "resourceVersion"}
    k("create", "service", "clusterip", "named", "--tcp=80:http", "--tcp=443:8443")
    spec = api_server.store.get(kinds.SERVICE, "default", "named")["spec"]
    assert [(p["port"], p["targetPort"], p["name"]) for p in spec["ports"]] == [(80, "http", "80-http"),
                                                                                  (443, 8443, "443-8443")]
    assert spec["type"] == "ClusterIP" and spec["sessionAffinity"] == "None" and spec["selector"] == {"app": "named"}
    r = api_server.request("POST", "/api/v1/namespaces/default/configmaps", b"k8s\x00\x0a\xff",
                           headers={"Content-Type": "application/vnd.kubernetes.protobuf"})
    assert r.status == 400 and r.json()["message"].startswith(
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: proto: ')
    r = api_server.request("POST", "/apis/kubevirt.io/v1/namespaces/default/virtualmachines", b"k8s\x00",
                           headers={"Content-Type": "application/vnd.kubernetes.protobuf"})
    assert r.status == 415
