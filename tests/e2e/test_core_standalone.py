"""The core API in standalone mode with a real controller process, real QEMU and real kubectl 1.30:
a namespace with a Secret and a running VM is deleted and takes the guest with it; a VM whose
containerDisk image does not exist tells why in ``kubectl get events``; the Secret's value never
reaches the controller's log."""

from __future__ import annotations

import uuid

import yaml

from tests.controller.storage.registry_fixture import local_registry  # noqa: F401  (fixture)
from tests.e2e import test_standalone as base

standalone, kernel_image = base.standalone, base.kernel_image          # the module's fixtures, shared
busybox_vm, domain_ids, libvirt_name = base.busybox_vm, base.domain_ids, base.libvirt_name
kubectl, wait_until = base.kubectl, base.wait_until


def test_deleting_a_namespace_stops_its_running_vm(standalone, kernel_image, libvirt_host, tmp_path):  # noqa: F811
    ns = f"e2e-ns-{uuid.uuid4().hex[:6]}"
    name = f"vm-{uuid.uuid4().hex[:6]}"
    secret_value = f"never-logged-{uuid.uuid4().hex}"
    kubectl(standalone, "create", "ns", ns)
    kubectl(standalone, "create", "secret", "generic", "creds", f"--from-literal=password={secret_value}", "-n", ns)
    vm = busybox_vm(name, kernel_image)
    vm["spec"]["runStrategy"] = "Always"
    manifest = tmp_path / "vm.yaml"
    manifest.write_text(yaml.safe_dump(vm))
    kubectl(standalone, "apply", "-n", ns, "-f", str(manifest))
    wait_until(lambda: "Running" in kubectl(standalone, "get", "vm", name, "-n", ns).stdout, 240, "VM Running")
    domain = libvirt_name(standalone, f"{ns}_{name}")
    assert domain_ids(libvirt_host.uri, domain)
    described = kubectl(standalone, "describe", "vm", name, "-n", ns).stdout
    assert "SuccessfulCreate" in described and "virtualmachine-controller" in described
    events = kubectl(standalone, "get", "events", "-n", ns).stdout
    assert "virtualmachineinstance/" + name in events and "Started" in events

    r = kubectl(standalone, "delete", "ns", ns, "--timeout=180s", timeout=200)
    assert r.stdout.strip() == f'namespace "{ns}" deleted'
    r = kubectl(standalone, "get", "ns", ns, check=False)
    assert r.returncode == 1 and f'namespaces "{ns}" not found' in r.stderr
    wait_until(lambda: not domain_ids(libvirt_host.uri, domain), 60, "domain gone")
    assert kubectl(standalone, "get", "vm,vmi,secrets", "-n", ns, "-o", "name").stdout == ""
    log = (standalone.state_dir / "controller.log").read_text(errors="replace")
    assert secret_value not in log


def test_missing_image_is_named_in_events(standalone, local_registry, tmp_path):  # noqa: F811
    name = f"noimg-{uuid.uuid4().hex[:6]}"
    image = f"{local_registry.host}/virtctl-test/does-not-exist:v{uuid.uuid4().hex[:4]}"
    vmi = {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance", "metadata": {"name": name},
           "spec": {"domain": {"memory": {"guest": "64Mi"}, "devices": {"disks": [{"name": "root",
                                                                                  "disk": {"bus": "virtio"}}]}},
                    "volumes": [{"name": "root", "containerDisk": {"image": image}}]}}
    manifest = tmp_path / "vmi.yaml"
    manifest.write_text(yaml.safe_dump(vmi))
    kubectl(standalone, "create", "-f", str(manifest))
    line = wait_until(lambda: next((row for row in kubectl(standalone, "get", "events", "--field-selector",
                                                           f"involvedObject.name={name}").stdout.splitlines()
                                    if "Warning" in row), None), 120, "a Warning event")
    assert "FailedCreate" in line and image in line and "manifest unknown" in line      # the registry's error
    got = yaml.safe_load(kubectl(standalone, "get", "vmi", name, "-o", "yaml").stdout)
    assert got["status"]["phase"] == "Failed"
    cond = {c["type"]: c for c in got["status"]["conditions"]}["Synchronized"]
    assert image in cond["message"]
    log = (standalone.state_dir / "controller.log").read_text(errors="replace")
    assert any("WARNING" in entry and image in entry and "FailedCreate" in entry for entry in log.splitlines())
    kubectl(standalone, "delete", "vmi", name)
