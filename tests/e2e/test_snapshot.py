"""Snapshot and restore end to end on real QEMU: what the guest wrote to its persistent volume
before the snapshot comes back after the restore, although it was overwritten in between; for a
stopped VM and for a running one whose guest keeps writing through the snapshot."""

from __future__ import annotations

import re
import time
import uuid

import yaml

from tests.controller.storage.registry_fixture import local_registry  # noqa: F401  (fixture)
from tests.e2e.test_standalone import busybox_vm, kernel_image, standalone  # noqa: F401  (fixtures)

READ = "dd if=/dev/vda bs=512 count=1 2>/dev/null | head -c 12; echo"


def write(env, name: str, text: str) -> None:
    env.console(name, f"echo {text} | dd of=/dev/vda bs=512 count=1 conv=sync && sync")


def boot(env, name: str) -> None:
    env.run("start", name, "--wait", "--timeout", "3m")
    env.wait_log(name, "GUEST-BOOT-OK")


def restore_and_read_state_a(env, name: str) -> None:
    """Restore the stopped VM ``name`` from its snapshot ``<name>-s``; booted again, its volume holds
    STATE-A (written before the snapshot), not STATE-B (after). Then the VM and snapshot go."""
    out = env.run("snapshot", "restore", f"{name}-s", "--name", f"{name}-r", "--wait", "--timeout", "2m")
    assert f"VirtualMachineRestore {name}-r of VM {name} from snapshot {name}-s was created" in out.stdout
    assert env.obj("vmrestore", f"{name}-r")["status"]["complete"] is True
    boot(env, name)
    out = env.console(name, READ)
    assert "STATE-A-42" in out and "STATE-B-42" not in out
    env.run("stop", name, "--wait", "--timeout", "2m")
    env.run("snapshot", "delete", f"{name}-s")
    env.run("delete", "vm", name)


def test_snapshot_restore_brings_back_the_volume(standalone, kernel_image, tmp_path):  # noqa: F811
    name = f"snap-{uuid.uuid4().hex[:6]}"
    manifest = tmp_path / "vm.yaml"
    manifest.write_text(yaml.safe_dump(busybox_vm(name, kernel_image)))
    standalone.run("apply", "-f", str(manifest))

    boot(standalone, name)
    write(standalone, name, "STATE-A-$((6*7))")
    standalone.run("stop", name, "--wait", "--timeout", "2m")

    out = standalone.run("snapshot", "create", name, "--name", f"{name}-s", "--wait", "--timeout", "2m")
    assert f"VirtualMachineSnapshot {name}-s of VM {name} was created" in out.stdout
    assert f"{name}-s" in standalone.run("snapshot", "list", name).stdout

    boot(standalone, name)
    write(standalone, name, "STATE-B-$((6*7))")
    assert "STATE-B-42" in standalone.console(name, READ)
    standalone.run("stop", name, "--wait", "--timeout", "2m")

    restore_and_read_state_a(standalone, name)


def test_online_snapshot_while_the_guest_writes(standalone, kernel_image, tmp_path):  # noqa: F811
    """A running VM is snapshotted while its guest keeps writing; it never stops; after a stop, a
    restore brings back what the volume held at the snapshot."""
    name = f"osnap-{uuid.uuid4().hex[:6]}"
    manifest = tmp_path / "vm.yaml"
    manifest.write_text(yaml.safe_dump(busybox_vm(name, kernel_image)))
    standalone.run("apply", "-f", str(manifest))
    boot(standalone, name)
    write(standalone, name, "STATE-A-$((6*7))")
    # a writer that keeps going through the snapshot (sector 100, away from the marker)
    standalone.console(name, "(i=0; while true; do i=$((i+1)); echo W$i | dd of=/dev/vda bs=512 seek=100 count=1 "
                             "conv=sync 2>/dev/null; done) &")
    deadline = time.monotonic() + 120
    while not any(c.get("type") == "AgentConnected" and c.get("status") == "True"
                  for c in standalone.obj("vmi", name).get("status", {}).get("conditions", [])):
        assert time.monotonic() < deadline, "the guest agent never connected"
        time.sleep(1)
    uid = standalone.obj("vmi", name)["metadata"]["uid"]

    out = standalone.run("snapshot", "create", name, "--name", f"{name}-s", "--wait", "--timeout", "2m")
    assert f"VirtualMachineSnapshot {name}-s of VM {name} was created" in out.stdout
    snap = standalone.obj("vmsnapshot", f"{name}-s")
    assert snap["status"]["phase"] == "Succeeded" and snap["status"]["readyToUse"] is True
    assert snap["status"]["indications"] == ["GuestAgent", "Online"]
    assert snap["status"]["sourceIndications"] == [
        {"indication": "GuestAgent", "message": "Guest agent was active and attempted to quiesce the filesystem for "
                                                "application consistency."},
        {"indication": "Online", "message": "Snapshot taken while the VM was running. Consistency depends on "
                                            "guest-agent quiescing."}]
    assert snap["status"]["snapshotVolumes"]["includedVolumes"] == ["data"]

    # the guest kept running (same VMI, never paused) and still writes
    vmi = standalone.obj("vmi", name)
    assert vmi["metadata"]["uid"] == uid and vmi["status"]["phase"] == "Running"
    assert not any(c.get("type") == "Paused" for c in vmi["status"].get("conditions", []))
    write(standalone, name, "STATE-B-$((6*7))")
    assert "STATE-B-42" in standalone.console(name, READ)
    assert re.search(r"\bW\d+", standalone.console(name, "dd if=/dev/vda bs=512 skip=100 count=1 2>/dev/null | "
                                                         "head -c 8; echo"))

    standalone.run("stop", name, "--wait", "--timeout", "2m")
    restore_and_read_state_a(standalone, name)


def test_snapshot_waits_while_a_volume_is_being_uploaded(standalone, kernel_image, tmp_path):  # noqa: F811
    """A VM whose DataVolume still waits for its upload: the snapshot stays InProgress with KubeVirt's
    not-populated message, and completes once the upload is done."""
    name = f"usnap-{uuid.uuid4().hex[:6]}"
    dv = f"{name}-up"
    manifest = busybox_vm(name, kernel_image)
    manifest["spec"].pop("dataVolumeTemplates")
    manifest["spec"]["template"]["spec"]["volumes"][0] = {"name": "data", "dataVolume": {"name": dv}}
    docs = [{"apiVersion": "cdi.kubevirt.io/v1beta1", "kind": "DataVolume", "metadata": {"name": dv},
             "spec": {"source": {"upload": {}}, "storage": {"resources": {"requests": {"storage": "8Mi"}}}}},
            manifest]
    path = tmp_path / "objs.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    standalone.run("apply", "-f", str(path))
    standalone.run("snapshot", "create", name, "--name", f"{name}-s")
    deadline = time.monotonic() + 60
    want = f"Source not locked source default/{name} volume not populated: {dv}"
    while True:
        snap = standalone.obj("vmsnapshot", f"{name}-s")
        reasons = [c.get("reason") for c in (snap.get("status") or {}).get("conditions", [])]
        if want in reasons:
            break
        assert time.monotonic() < deadline, f"snapshot never waited for the upload: {snap.get('status')}"
        time.sleep(0.5)
    assert snap["status"]["phase"] == "InProgress" and snap["status"]["readyToUse"] is False

    image = tmp_path / "disk.raw"
    image.write_bytes(b"UPLOADED".ljust(1 << 20, b"\0"))
    standalone.run("image-upload", "dv", dv, "--no-create", f"--image-path={image}")
    deadline = time.monotonic() + 60
    while standalone.obj("vmsnapshot", f"{name}-s")["status"].get("phase") != "Succeeded":
        assert time.monotonic() < deadline, "the snapshot did not complete after the upload"
        time.sleep(0.5)
    standalone.run("snapshot", "delete", f"{name}-s")
    standalone.run("delete", "vm", name)
