"""Real kubectl (1.30, plus a smoke pass with 1.27 and 1.33) against the embedded API server."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import EXAMPLES
from virtctl.controller.schema import definition_for, validate
from virtctl.controller.schema.swagger import SPEC_PATH
from virtctl.model import kinds

pytestmark = pytest.mark.kubectl
KUBECTL_DIR = Path("/usr/lib/google-cloud-sdk/bin")
VM_FILE = str(EXAMPLES / "vm-cirros.yaml")
VMI_FILE = str(EXAMPLES / "vmi-fedora.yaml")


def kubectl_binary(version: str) -> Path:
    path = KUBECTL_DIR / f"kubectl.{version}"
    if not os.access(path, os.X_OK):
        print(f"skipping: {path} is not installed")
        pytest.skip(f"{path} is not installed")
    return path


class Kubectl:
    def __init__(self, binary: Path, api_server, home: Path):
        self.binary = binary
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
                    "KUBECONFIG": str(api_server.kubeconfig_path)}

    def __call__(self, *args: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
        r = subprocess.run([str(self.binary), *args], env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({r.returncode}): {r.stderr}")
        return r

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen([str(self.binary), *args], env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)


@pytest.fixture
def kubectl(api_server, tmp_path):
    return Kubectl(kubectl_binary("1.30"), api_server, tmp_path / "home")


def set_ready(store, name: str, status: str = "True") -> None:
    store.mutate(kinds.VMI, "default", name, lambda o: o.update(status={
        "phase": "Running", "nodeName": "node01", "interfaces": [{"ipAddress": "10.0.2.15"}],
        "conditions": [{"type": "Ready", "status": status}]}), subresource="status")


def test_get_create_and_yaml(kubectl, api_server):
    r = kubectl("get", "vm")
    assert r.stdout == "" and "No resources found in default namespace." in r.stderr
    assert kubectl("create", "-f", VM_FILE).stdout.strip() == "virtualmachine.kubevirt.io/vm-cirros created"
    lines = kubectl("get", "vm").stdout.splitlines()
    assert lines[0].split() == ["NAME", "AGE", "STATUS", "READY"]
    assert lines[1].split()[0] == "vm-cirros"
    obj = yaml.safe_load(kubectl("get", "vm", "vm-cirros", "-o", "yaml").stdout)
    assert obj["metadata"]["uid"] and validate(definition_for(kinds.VM), obj) == []
    assert kubectl("get", "vms", "-o", "name").stdout.strip() == "virtualmachine.kubevirt.io/vm-cirros"
    assert "vm-cirros" in kubectl("get", "virtualmachine.kubevirt.io", "-A").stdout
    r = kubectl("create", "-f", VM_FILE, check=False)
    assert r.returncode == 1
    assert r.stderr.strip() == (f'Error from server (AlreadyExists): error when creating "{VM_FILE}": '
                                'virtualmachines.kubevirt.io "vm-cirros" already exists')


def test_get_missing_is_not_found(kubectl):
    r = kubectl("get", "vm", "nosuch", check=False)
    assert r.returncode == 1
    assert r.stderr.strip() == 'Error from server (NotFound): virtualmachines.kubevirt.io "nosuch" not found'


def test_apply_twice_then_server_side(kubectl, api_server):
    assert kubectl("apply", "-f", VMI_FILE).stdout.strip() == "virtualmachineinstance.kubevirt.io/vmi-fedora created"
    assert kubectl("apply", "-f", VMI_FILE).stdout.strip() == \
        "virtualmachineinstance.kubevirt.io/vmi-fedora unchanged"
    assert kubectl("apply", "--server-side", "-f", VM_FILE).stdout.strip() == \
        "virtualmachine.kubevirt.io/vm-cirros serverside-applied"
    stored = api_server.store.get(kinds.VM, "default", "vm-cirros")
    assert stored["spec"]["runStrategy"] == "Halted"
    edited = yaml.safe_load(open(VM_FILE))
    edited["spec"]["runStrategy"] = "Manual"
    path = Path(api_server.settings.state_dir) / "edited.yaml"
    path.write_text(yaml.safe_dump(edited))
    assert kubectl("apply", "-f", str(path)).stdout.strip() == "virtualmachine.kubevirt.io/vm-cirros configured"
    assert api_server.store.get(kinds.VM, "default", "vm-cirros")["spec"]["runStrategy"] == "Manual"


def test_patch_merge_json_and_strategic(kubectl, api_server):
    kubectl("create", "-f", VM_FILE)
    assert kubectl("patch", "vm", "vm-cirros", "--type", "merge", "-p",
                   '{"spec":{"runStrategy":"Always"}}').stdout.strip() == "virtualmachine.kubevirt.io/vm-cirros patched"
    assert api_server.store.get(kinds.VM, "default", "vm-cirros")["spec"]["runStrategy"] == "Always"
    kubectl("patch", "vm", "vm-cirros", "--type", "json", "-p",
            '[{"op":"replace","path":"/spec/runStrategy","value":"Halted"}]')
    assert api_server.store.get(kinds.VM, "default", "vm-cirros")["spec"]["runStrategy"] == "Halted"
    r = kubectl("patch", "vm", "vm-cirros", "-p", '{"spec":{"runStrategy":"Always"}}', check=False)
    assert r.returncode == 1
    assert r.stderr.strip() == (
        "error: application/strategic-merge-patch+json is not supported by kubevirt.io/v1, Kind=VirtualMachine: "
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")
    kubectl("label", "vm", "vm-cirros", "team=blue")
    assert kubectl("get", "vm", "-l", "team in (blue,red)", "-o", "name").stdout.strip() == \
        "virtualmachine.kubevirt.io/vm-cirros"
    assert kubectl("get", "vm", "-l", "team!=blue", "-o", "name").stdout.strip() == ""


def test_invalid_and_conflict_messages(kubectl, api_server, tmp_path):
    bad = yaml.safe_load(open(VM_FILE))
    bad["metadata"]["name"] = "Bad_Name"
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    r = kubectl("create", "-f", str(tmp_path / "bad.yaml"), check=False)
    assert r.returncode == 1
    assert r.stderr.startswith('The VirtualMachine "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": '
                               "a lowercase RFC 1123 subdomain")
    bad["metadata"]["name"] = "typo"
    bad["spec"]["runStrateg"] = "Always"
    (tmp_path / "typo.yaml").write_text(yaml.safe_dump(bad))
    r = kubectl("create", "-f", str(tmp_path / "typo.yaml"), check=False)
    assert r.returncode == 1 and 'unknown field "spec.runStrateg"' in r.stderr
    kubectl("create", "-f", VM_FILE)
    current = json.loads(kubectl("get", "vm", "vm-cirros", "-o", "json").stdout)
    kubectl("label", "vm", "vm-cirros", "x=y")
    (tmp_path / "stale.json").write_text(json.dumps(current))
    r = kubectl("replace", "-f", str(tmp_path / "stale.json"), check=False)
    assert r.returncode == 1
    assert r.stderr.strip() == (f'Error from server (Conflict): error when replacing "{tmp_path / "stale.json"}": '
                                'Operation cannot be fulfilled on virtualmachines.kubevirt.io "vm-cirros": the object '
                                'has been modified; please apply your changes to the latest version and try again')


def test_dry_run_server_stores_nothing(kubectl, api_server):
    r = kubectl("create", "--dry-run=server", "-f", VM_FILE)
    assert "created (server dry run)" in r.stdout
    assert api_server.store.list(kinds.VM)[0] == []


def test_api_resources(kubectl):
    lines = kubectl("api-resources").stdout.splitlines()
    vm_line = next(line for line in lines if line.startswith("virtualmachines "))
    assert vm_line.split() == ["virtualmachines", "vm,vms", "kubevirt.io/v1", "true", "VirtualMachine"]
    assert any(line.startswith("virtualmachineinstances ") and "vmi,vmis" in line for line in lines)
    kubectl("get", "all")


def test_get_watch_sees_a_change(kubectl, api_server):
    kubectl("create", "-f", VMI_FILE)
    proc = kubectl.popen("get", "vmi", "-w")
    try:
        assert proc.stdout is not None
        header = proc.stdout.readline().split()
        assert header == ["NAME", "AGE", "PHASE", "IP", "NODENAME", "READY"]
        assert proc.stdout.readline().split()[0] == "vmi-fedora"
        set_ready(api_server.store, "vmi-fedora")
        changed = proc.stdout.readline().split()
        assert changed[0] == "vmi-fedora" and changed[2:] == ["Running", "10.0.2.15", "node01", "True"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_wait_for_condition(kubectl, api_server):
    kubectl("create", "-f", VMI_FILE)
    threading.Timer(0.7, set_ready, args=(api_server.store, "vmi-fedora")).start()
    t0 = time.monotonic()
    r = kubectl("wait", "--for=condition=Ready", "vmi/vmi-fedora", "--timeout=20s")
    assert r.stdout.strip() == "virtualmachineinstance.kubevirt.io/vmi-fedora condition met"
    assert time.monotonic() - t0 < 15


def test_delete_waits_for_finalizers(kubectl, api_server):
    body = yaml.safe_load(open(VM_FILE))
    body["metadata"]["finalizers"] = ["example.com/hold"]
    api_server.store.create(kinds.VM, "default", body)

    def release():
        api_server.store.mutate(kinds.VM, "default", "vm-cirros",
                                lambda o: o["metadata"].pop("finalizers", None))

    threading.Timer(1.0, release).start()
    r = kubectl("delete", "vm", "vm-cirros", "--timeout=20s")
    assert r.stdout.strip() == 'virtualmachine.kubevirt.io "vm-cirros" deleted'
    assert api_server.store.list(kinds.VM)[0] == []
    r = kubectl("delete", "vm", "vm-cirros", check=False)
    assert r.returncode == 1 and "NotFound" in r.stderr
    assert kubectl("delete", "vm", "vm-cirros", "--ignore-not-found").returncode == 0


@pytest.mark.parametrize("version", ["1.27", "1.33"])
def test_smoke_other_versions(api_server, tmp_path, version):
    k = Kubectl(kubectl_binary(version), api_server, tmp_path / "home")
    assert "created" in k("create", "-f", VM_FILE).stdout
    assert "created" in k("apply", "-f", VMI_FILE).stdout
    assert "unchanged" in k("apply", "-f", VMI_FILE).stdout
    assert "serverside-applied" in k("apply", "--server-side", "-f", VM_FILE).stdout
    assert "patched" in k("patch", "vm", "vm-cirros", "--type", "merge", "-p", '{"spec":{"runStrategy":"Manual"}}').stdout
    assert "patched" in k("patch", "vm", "vm-cirros", "--type", "json", "-p",
                          '[{"op":"replace","path":"/spec/runStrategy","value":"Halted"}]').stdout
    assert k("get", "vm").stdout.split()[:4] == ["NAME", "AGE", "STATUS", "READY"]
    set_ready(api_server.store, "vmi-fedora")
    assert "condition met" in k("wait", "--for=condition=Ready", "vmi/vmi-fedora", "--timeout=10s").stdout
    assert "deleted" in k("delete", "vm", "vm-cirros").stdout
    assert k("get", "vm", "nosuch", check=False).returncode == 1


def swagger_description(definition: str, field: str | None = None) -> str:
    """A description as the KubeVirt swagger file has it, whitespace collapsed (kubectl re-wraps it)."""
    schema = json.loads(SPEC_PATH.read_text())["definitions"][definition]
    text = schema["properties"][field]["description"] if field else schema["description"]
    return " ".join(text.split())


def collapsed(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("version", ["1.27", "1.30", "1.33"])
def test_explain_prints_the_kubevirt_schema(api_server, tmp_path, version):
    k = Kubectl(kubectl_binary(version), api_server, tmp_path / "home")
    out = k("explain", "vm.spec.runStrategy").stdout
    assert out.split("\n\n")[0].split() == ["GROUP:", "kubevirt.io", "KIND:", "VirtualMachine", "VERSION:", "v1"]
    assert "FIELD: runStrategy <string>" in out
    assert swagger_description("v1.VirtualMachineSpec", "runStrategy") in collapsed(out)

    out = k("explain", "virtualmachineinstance.spec.domain.cpu").stdout
    assert "KIND:       VirtualMachineInstance" in out and "FIELD: cpu <CPU>" in out
    assert swagger_description("v1.DomainSpec", "cpu") in collapsed(out)
    fields = out.split("FIELDS:", 1)[1]
    assert "cores\t<integer>" in fields and "sockets\t<integer>" in fields and "model\t<string>" in fields
    assert swagger_description("v1.CPU", "cores") in collapsed(fields)

    r = k("explain", "vm.spec.runStrateg", check=False)
    assert r.returncode == 1 and 'field "runStrateg" does not exist' in r.stderr


def test_explain_other_kinds_and_recursive(kubectl):
    out = kubectl("explain", "vmsnapshot").stdout
    assert "GROUP:      snapshot.kubevirt.io" in out and "KIND:       VirtualMachineSnapshot" in out
    assert swagger_description("v1beta1.VirtualMachineSnapshot") in collapsed(out)
    out = kubectl("explain", "vmcf.spec.cpu", "--recursive").stdout
    assert "KIND:       VirtualMachineClusterInstancetype" in out
    assert "guest\t<integer> -required-" in out
    out = kubectl("explain", "vmi.spec.domain.resources.requests").stdout
    assert "FIELD: requests <map[string]Quantity>" in out
