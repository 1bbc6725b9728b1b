"""The manifests of a VM's VirtualMachineExport, built as KubeVirt's export server builds them:
the pure builder (cleaned VM, HTTP-sourced DataVolumes, CA ConfigMap, header Secret, JSON List or
YAML documents), and the export server's decisions for the manifest paths on a real SQLite store
(no sockets)."""

from __future__ import annotations

import base64
import json
import subprocess

import pytest
import yaml

from tests.controller.reconcile.test_export import BASE, env, export, get, volume  # noqa: F401  (fixture)
from virtctl.controller.reconcile import export_manifests as em
from virtctl.controller.server.export import Answer, Manifest, decide
from virtctl.model import kinds

pytestmark = pytest.mark.skipif(subprocess.run(["which", "qemu-img"], capture_output=True).returncode != 0,
                                reason="qemu-img is not installed")

VM = {
    "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
    "metadata": {"name": "vm1", "namespace": "ns", "uid": "u-1", "resourceVersion": "7", "generation": 3,
                 "creationTimestamp": "2026-01-01T00:00:00Z", "labels": {"app": "a"},
                 "finalizers": ["kubevirt.io/virtualMachineControllerFinalize"]},
    "spec": {"runStrategy": "Halted",
             "dataVolumeTemplates": [{"metadata": {"name": "root"}, "spec": {
                 "source": {"registry": {"url": "docker://x"}}, "storage": {"resources": {"requests": {
                     "storage": "1Gi"}}}}}],
             "template": {"spec": {"domain": {"devices": {}}, "volumes": [
                 {"name": "root", "dataVolume": {"name": "root"}},
                 {"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
                 {"name": "cd", "containerDisk": {"image": "y"}}]}}},
    "status": {"printableStatus": "Stopped", "ready": False},
}
DATA_SPEC = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}},
             "volumeMode": "Filesystem", "volumeName": "pv-1", "storageClassName": "local",
             "dataSource": {"kind": "PersistentVolumeClaim", "name": "origin"}}
URLS = {"root": "https://h/volumes/root/disk.img.gz", "data": "https://h/volumes/data/disk.img.gz"}


def test_all_manifest_is_ca_configmap_cleaned_vm_and_datavolumes():
    cm, vm, *dvs = em.all_manifests(VM, {"root": {}, "data": DATA_SPEC}, URLS, "CA-PEM", "exp1")
    assert cm == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "export-ca-cm-exp1"},
                  "data": {"ca.pem": "CA-PEM"}}
    assert "status" not in vm
    assert vm["metadata"] == {"name": "vm1", "namespace": "ns", "labels": {"app": "a"}}
    http = {"http": {"url": URLS["root"], "certConfigMap": "export-ca-cm-exp1",
                     "secretExtraHeaders": ["header-secret-exp1"]}}
    template = vm["spec"]["dataVolumeTemplates"][0]
    assert template["spec"]["source"] == http
    assert template["spec"]["storage"] == {"resources": {"requests": {"storage": "1Gi"}}}
    assert [dv["metadata"] for dv in dvs] == [{"name": "data", "namespace": "ns"}]   # root has a template
    assert dvs[0]["apiVersion"] == "cdi.kubevirt.io/v1beta1" and dvs[0]["kind"] == "DataVolume"
    assert dvs[0]["spec"]["source"]["http"]["url"] == URLS["data"]
    assert dvs[0]["spec"]["pvc"] == {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}},
                                     "volumeMode": "Filesystem"}
    assert VM["status"] and VM["spec"]["dataVolumeTemplates"][0]["spec"]["source"] == {
        "registry": {"url": "docker://x"}}                  # the stored VM is left alone


def test_a_claim_without_a_known_spec_gets_no_datavolume():
    _, _, *dvs = em.all_manifests(VM, {}, URLS, "CA", "e")
    assert dvs == []


def test_header_secret_and_both_renderings():
    secret = em.secret_manifests("tok123", "exp1")
    assert secret == [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "header-secret-exp1"},
                       "stringData": {"token": "x-kubevirt-export-token:tok123"}}]
    body, ctype = em.render(secret, "application/yaml")
    assert ctype == "application/yaml" and body.decode().endswith("---\n")
    assert [d for d in yaml.safe_load_all(body) if d] == secret
    for accept in ("application/json", None, "application/yaml; q=1"):
        body, ctype = em.render(secret, accept)
        assert ctype == "application/json" and body.startswith(b'{\n    "kind": "List"')
        assert json.loads(body) == {"kind": "List", "apiVersion": "v1", "metadata": {}, "items": secret}
    pem = "-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----"
    body, _ = em.render(em.all_manifests(VM, {}, URLS, pem, "e")[:1], "application/yaml")
    assert "ca.pem: |-\n" in body.decode()                  # a literal block, as sigs.k8s.io/yaml writes it
    assert next(yaml.safe_load_all(body))["data"]["ca.pem"] == pem


def test_links_list_manifests_for_vm_exports_only():
    links = em.manifest_links("https://h/api/export.kubevirt.io/v1/namespaces/n/virtualmachineexports/e", "internal")
    assert links == [
        {"type": "all", "url": "https://h/api/export.kubevirt.io/v1/namespaces/n/virtualmachineexports/e/internal/"
                               "manifests/all"},
        {"type": "auth-header-secret", "url": "https://h/api/export.kubevirt.io/v1/namespaces/n/"
                                              "virtualmachineexports/e/internal/manifests/secret"}]


def test_server_serves_the_manifests_of_a_ready_vm_export(env):  # noqa: F811
    runtime, ctl = env
    volume(runtime, "data")
    runtime.store.create(kinds.PVC, "default", {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                                "metadata": {"name": "data"}, "spec": DATA_SPEC})
    runtime.store.create(kinds.VM, "default", {
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {"name": "vm1"},
        "spec": {"runStrategy": "Halted", "template": {"spec": {"domain": {"devices": {}}, "volumes": [
            {"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]}}}})
    export(runtime, "ev", "VirtualMachine", "vm1")
    volume(runtime, "other")
    export(runtime, "ep", "PersistentVolumeClaim", "other")
    ctl.reconcile("default", "ev")
    ctl.reconcile("default", "ep")
    status = get(runtime, "ev")["status"]
    assert status["phase"] == "Ready"
    prefix = f"{BASE}/api/export.kubevirt.io/v1/namespaces/default/virtualmachineexports/ev"
    for link_type in ("internal", "external"):
        assert status["links"][link_type]["manifests"] == [
            {"type": "all", "url": f"{prefix}/{link_type}/manifests/all"},
            {"type": "auth-header-secret", "url": f"{prefix}/{link_type}/manifests/secret"}]
    assert "manifests" not in get(runtime, "ep")["status"]["links"]["external"]

    secret = runtime.store.get(kinds.SECRET, "default", status["tokenSecretRef"])
    token = base64.b64decode(secret["data"]["token"]).decode()
    path = prefix.removeprefix(BASE)
    assert decide(runtime, "GET", f"{path}/external/manifests/all", "wrong") == Answer(401, "Unauthorized")
    got = decide(runtime, "GET", f"{path}/external/manifests/all", token, "application/yaml")
    assert isinstance(got, Manifest) and got.content_type == "application/yaml"
    cm, vm, dv = [d for d in yaml.safe_load_all(got.body) if d]
    assert cm["data"]["ca.pem"] == "CA-PEM" and vm["metadata"]["name"] == "vm1" and "status" not in vm
    assert dv["spec"]["source"]["http"]["url"] == f"{prefix}/volumes/data/disk.img.gz"
    got = decide(runtime, "GET", f"{path}/internal/manifests/secret", token)
    assert isinstance(got, Manifest)
    assert json.loads(got.body)["items"][0]["stringData"] == {"token": f"x-kubevirt-export-token:{token}"}
    ep_token = base64.b64decode(runtime.store.get(kinds.SECRET, "default", get(runtime, "ep")["status"][
        "tokenSecretRef"])["data"]["token"]).decode()
    assert decide(runtime, "GET", f"{path[:-2]}ep/external/manifests/all", ep_token).status == 404
    assert decide(runtime, "GET", f"{path}/elsewhere/manifests/all", token).status == 404
