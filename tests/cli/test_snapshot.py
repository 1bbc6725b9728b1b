"""``snapshot create|list|restore|delete`` against the embedded API server with the controllers
running on libvirt's test driver and real qcow2 volume files."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest

from virtctl.controller.schema import validate
from virtctl.controller.storage.layout import persistent_volume_path
from virtctl.model import kinds

pytestmark = pytest.mark.skipif(shutil.which("qemu-img") is None, reason="qemu-img is not installed")


@pytest.fixture
def controllers(api_server):
    libvirt_host = pytest.importorskip("virtctl.controller.virt.libvirt_host")
    from virtctl.controller.reconcile import manager

    host = libvirt_host.LibvirtHost("test:///default", "node01")
    m = manager.start(api_server.store, api_server.settings, [host], resync_seconds=0.5)
    yield m
    m.stop()
    host.close()


def volume(api_server, claim: str, text: str, tmp_path) -> None:
    raw = tmp_path / "v.raw"
    raw.write_bytes(text.encode().ljust(1 << 20, b"\0"))
    path = persistent_volume_path(api_server.settings, "default", claim)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(path)], check=True)


def read(api_server, claim: str, tmp_path) -> str:
    out = tmp_path / "out.raw"
    subprocess.run(["qemu-img", "convert", "-O", "raw", str(persistent_volume_path(api_server.settings, "default",
                                                                                      claim)), str(out)], check=True)
    return out.read_bytes()[:64].rstrip(b"\0").decode()


def vm(api_server, name="vm1", claim="data1", strategy="Halted") -> dict:
    return api_server.store.create(kinds.VM, "default", {
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {"name": name},
        "spec": {"runStrategy": strategy, "template": {"spec": {
            "domain": {"devices": {"disks": [{"name": "data", "disk": {"bus": "virtio"}}]},
                       "resources": {"requests": {"memory": "64Mi"}}},
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]}}}})


def test_create_list_restore_delete(kcli, api_server, controllers, tmp_path) -> None:
    volume(api_server, "data1", "STATE-A", tmp_path)
    vm(api_server)
    r = kcli(["snapshot", "create", "vm1", "--name", "s1", "--wait", "--timeout", "20s"])
    assert (r.code, r.out, r.err) == (0, "VirtualMachineSnapshot s1 of VM vm1 was created\n", "")
    snap = api_server.store.get(kinds.VMSNAPSHOT, "default", "s1")
    assert snap["status"]["phase"] == "Succeeded" and validate("v1beta1.VirtualMachineSnapshot", snap) == []

    r = kcli(["snapshot", "list", "vm1"])
    header, row = r.out.splitlines()
    assert header.split() == ["NAME", "SOURCEKIND", "SOURCENAME", "PHASE", "READYTOUSE", "CREATIONTIME", "ERROR"]
    assert row.split()[:5] == ["s1", "VirtualMachine", "vm1", "Succeeded", "true"]
    r = kcli(["snapshot", "list", "other-vm"])
    assert (r.code, r.out, r.err) == (0, "", "No resources found in default namespace.\n")

    volume(api_server, "data1", "STATE-B", tmp_path)
    r = kcli(["snapshot", "restore", "s1", "--name", "r1", "--wait", "--timeout", "20s"])
    assert (r.code, r.out, r.err) == (0, "VirtualMachineRestore r1 of VM vm1 from snapshot s1 was created\n", "")
    restore = api_server.store.get(kinds.VMRESTORE, "default", "r1")
    assert validate("v1beta1.VirtualMachineRestore", restore) == []
    claim = restore["status"]["restores"][0]["persistentVolumeClaim"]
    assert read(api_server, claim, tmp_path) == "STATE-A"

    r = kcli(["snapshot", "delete", "s1"])
    assert (r.code, r.out) == (0, 'virtualmachinesnapshot.snapshot.kubevirt.io "s1" deleted\n')


def test_a_snapshot_that_fails_says_why_on_one_line(kcli, api_server, controllers, tmp_path) -> None:
    """A running VM is snapshotted online (libvirt's backup job); libvirt's test driver has no backup
    API, so the snapshot fails, and ``--wait`` prints libvirt's reason."""
    volume(api_server, "data2", "X", tmp_path)
    vm(api_server, "up", claim="data2", strategy="Always")
    deadline = time.monotonic() + 10
    while (api_server.store.get(kinds.VM, "default", "up").get("status") or {}).get("printableStatus") != "Running":
        assert time.monotonic() < deadline, "VM did not run"
        time.sleep(0.05)
    r = kcli(["snapshot", "create", "up", "--name", "s2", "--wait", "--timeout", "20s"])
    assert r.code == 1 and r.out == "VirtualMachineSnapshot s2 of VM up was created\n"
    assert r.err.startswith("snapshot s2 failed: backup of default_up: ") and "virDomainBackupBegin" in r.err
    assert r.err.count("\n") == 1
    api_server.store.mutate(kinds.VM, "default", "up", lambda o: o["spec"].update(runStrategy="Halted"))


def test_restore_of_a_running_vm_times_out_saying_it_waits(kcli, api_server, controllers, tmp_path) -> None:
    volume(api_server, "data3", "X", tmp_path)
    vm(api_server, "vm3", claim="data3")
    assert kcli(["snapshot", "create", "vm3", "--name", "s3", "--wait"]).code == 0
    api_server.store.mutate(kinds.VM, "default", "vm3", lambda o: o["spec"].update(runStrategy="Always"))
    r = kcli(["snapshot", "restore", "s3", "--name", "r3", "--wait", "--timeout", "2s"])
    assert r.code == 1
    assert r.err == ("timed out waiting for restore r3 to be complete (last seen: Waiting for target to be "
                     "ready)\n")
    api_server.store.mutate(kinds.VM, "default", "vm3", lambda o: o["spec"].update(runStrategy="Halted"))


def test_errors_are_one_line(kcli, api_server) -> None:
    r = kcli(["snapshot", "create", "ghost"])
    assert (r.code, r.out) == (1, "")
    assert r.err == 'Error from server (NotFound): virtualmachines.kubevirt.io "ghost" not found\n'
    r = kcli(["snapshot", "restore", "nosnap"])
    assert r.err == ('Error from server (NotFound): virtualmachinesnapshots.snapshot.kubevirt.io "nosnap" '
                     'not found\n') and r.code == 1
    r = kcli(["snapshot", "delete", "nosnap"])
    assert r.code == 1 and r.err.startswith("Error from server (NotFound)")
    r = kcli(["snapshot", "create"])
    assert (r.code, r.err) == (1, "accepts 1 arg(s), received 0\n")
