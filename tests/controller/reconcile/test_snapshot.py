"""VM snapshots and restores on the test driver, with real qcow2 volume files."""

from __future__ import annotations

import subprocess

import pytest

from virtctl.controller.reconcile.snapshot import (DEADLINE_EXCEEDED, content_name, online_indications, parse_duration,
                                                  source_indications)
from virtctl.controller.schema import validate
from virtctl.controller.storage.snapshots import snapshot_path
from virtctl.controller.storage.layout import persistent_volume_path
from virtctl.model import kinds

from .conftest import wait_for

pytestmark = pytest.mark.skipif(subprocess.run(["which", "qemu-img"], capture_output=True).returncode != 0,
                                reason="qemu-img is not installed")


def write_volume(env, claim: str, text: str, tmp_path) -> None:
    raw = tmp_path / f"{claim}.raw"
    raw.write_bytes(text.encode().ljust(1 << 20, b"\0"))
    path = persistent_volume_path(env.settings, env.ns, claim)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".new")
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(tmp)], check=True)
    tmp.replace(path)


def read_volume(env, claim: str, tmp_path) -> str:
    out = tmp_path / f"{claim}.out.raw"
    subprocess.run(["qemu-img", "convert", "-O", "raw", str(persistent_volume_path(env.settings, env.ns, claim)),
                    str(out)], check=True)
    return out.read_bytes()[:64].rstrip(b"\0").decode()


def pvc_vm(env, claim="data1", strategy="Halted"):
    return env.vm(strategy=strategy, template_spec={
        "domain": {"devices": {"disks": [{"name": "data", "disk": {"bus": "virtio"}}]},
                   "resources": {"requests": {"memory": "64Mi"}}},
        "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]})


def snapshot(env, name="snap1", vm="vm1", **spec):
    return env.store.create(kinds.VMSNAPSHOT, env.ns, {
        "apiVersion": "snapshot.kubevirt.io/v1beta1", "kind": "VirtualMachineSnapshot",
        "metadata": {"name": name}, "spec": {"source": {"apiGroup": "kubevirt.io", "kind": "VirtualMachine",
                                                        "name": vm}, **spec}})


def restore(env, name="restore1", snap="snap1", vm="vm1", **spec):
    return env.store.create(kinds.VMRESTORE, env.ns, {
        "apiVersion": "snapshot.kubevirt.io/v1beta1", "kind": "VirtualMachineRestore",
        "metadata": {"name": name}, "spec": {"target": {"apiGroup": "kubevirt.io", "kind": "VirtualMachine",
                                                        "name": vm}, "virtualMachineSnapshotName": snap, **spec}})


def final_snapshot(env, name="snap1", timeout=10.0):
    return wait_for(lambda: (s := env.get(kinds.VMSNAPSHOT, name)).get("status", {}).get("phase")
                    in ("Succeeded", "Failed") and s, timeout, f"snapshot {name} to end")


def cond(obj, ctype):
    return next(c for c in obj["status"]["conditions"] if c["type"] == ctype)


def test_snapshot_then_restore_brings_the_volume_data_back(env, tmp_path):
    vm_events = []
    env.store.subscribe(lambda t, k, o: k is kinds.VM and vm_events.append((o.get("status") or {})
                                                                         .get("snapshotInProgress")))
    env.start()
    write_volume(env, "data1", "STATE-A", tmp_path)
    vm = pvc_vm(env)
    snap = final_snapshot(env, snapshot(env)["metadata"]["name"])
    s = snap["status"]
    assert s["phase"] == "Succeeded", s
    assert s["readyToUse"] is True and s["creationTime"]
    assert s["sourceUID"] == vm["metadata"]["uid"]
    assert s["virtualMachineSnapshotContentName"] == content_name(snap["metadata"]["uid"])
    assert s["snapshotVolumes"] == {"includedVolumes": ["data"]}
    assert cond(snap, "Ready")["status"] == "True" and cond(snap, "Progressing")["status"] == "False"
    assert validate("v1beta1.VirtualMachineSnapshot", snap) == []
    assert "snap1" in vm_events                                       # set while it worked …
    wait_for(lambda: "snapshotInProgress" not in env.get_vm()["status"], what="snapshotInProgress cleared")
    content = env.get(kinds.VMSNAPSHOTCONTENT, s["virtualMachineSnapshotContentName"])
    assert validate("v1beta1.VirtualMachineSnapshotContent", content) == []
    assert content["spec"]["source"]["virtualMachine"]["spec"] == vm["spec"]
    (backup,) = content["spec"]["volumeBackups"]
    assert backup["volumeName"] == "data" and backup["persistentVolumeClaim"]["metadata"]["name"] == "data1"
    assert snapshot_path(env.settings, env.ns, backup["volumeSnapshotName"]).is_file()

    write_volume(env, "data1", "STATE-B", tmp_path)
    r = restore(env)
    done = wait_for(lambda: (x := env.get(kinds.VMRESTORE, "restore1")).get("status", {}).get("complete") and x,
                    what="restore complete")
    assert done["status"]["restoreTime"] and cond(done, "Ready")["status"] == "True"
    assert validate("v1beta1.VirtualMachineRestore", done) == []
    new_claim = f"restore-{r['metadata']['uid']}-data"                 # RandomizeNames, as KubeVirt
    assert done["status"]["restores"] == [{"volumeName": "data", "persistentVolumeClaim": new_claim,
                                           "volumeSnapshotName": backup["volumeSnapshotName"]}]
    vm = env.get_vm()
    assert vm["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == new_claim
    assert vm["metadata"]["annotations"]["restore.kubevirt.io/lastRestoreUID"].endswith(r["metadata"]["uid"])
    assert "restoreInProgress" not in vm["status"]
    assert read_volume(env, new_claim, tmp_path) == "STATE-A"
    assert read_volume(env, "data1", tmp_path) == "STATE-B"            # the old volume is left alone

    env.store.delete(kinds.VMSNAPSHOT, env.ns, "snap1")
    wait_for(lambda: env.get(kinds.VMSNAPSHOT, "snap1") is None, what="snapshot gone")
    assert env.get(kinds.VMSNAPSHOTCONTENT, s["virtualMachineSnapshotContentName"]) is None
    assert not snapshot_path(env.settings, env.ns, backup["volumeSnapshotName"]).exists()


def test_in_place_restore_overwrites_the_volume(env, tmp_path):
    env.start()
    write_volume(env, "data1", "STATE-A", tmp_path)
    pvc_vm(env)
    assert final_snapshot(env, snapshot(env)["metadata"]["name"])["status"]["phase"] == "Succeeded"
    write_volume(env, "data1", "STATE-B", tmp_path)
    restore(env, volumeRestorePolicy="InPlace")
    wait_for(lambda: (env.get(kinds.VMRESTORE, "restore1").get("status") or {}).get("complete"), what="restore")
    assert read_volume(env, "data1", tmp_path) == "STATE-A"
    assert env.get_vm()["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == "data1"


def test_a_snapshot_of_a_running_vm_is_taken_online_with_kubevirts_indications(env, tmp_path):
    env.start()
    env.vm(strategy="Always")
    env.wait_vm_status("Running")
    snap = final_snapshot(env, snapshot(env)["metadata"]["name"])
    assert snap["status"]["phase"] == "Succeeded" and snap["status"]["readyToUse"] is True
    assert snap["status"]["indications"] == ["NoGuestAgent", "Online"]       # sorted, as KubeVirt's set
    assert snap["status"]["sourceIndications"] == [
        {"indication": "NoGuestAgent", "message": "Guest agent was not available. Snapshot is crash-consistent and "
                                                  "may not be application-consistent."},
        {"indication": "Online", "message": "Snapshot taken while the VM was running. Consistency depends on "
                                            "guest-agent quiescing."}]
    assert validate("v1beta1.VirtualMachineSnapshot", snap) == []
    assert env.get(kinds.VMSNAPSHOTCONTENT, content_name(snap["metadata"]["uid"]))["spec"]["volumeBackups"] == []
    assert env.get_vm()["status"]["printableStatus"] == "Running"


def test_a_snapshot_waits_while_a_volume_is_being_uploaded(env, tmp_path):
    env.start()
    write_volume(env, "data1", "STATE-A", tmp_path)
    pvc_vm(env)
    env.store.create(kinds.DATAVOLUME, env.ns, {
        "apiVersion": "cdi.kubevirt.io/v1beta1", "kind": "DataVolume", "metadata": {"name": "data1"},
        "spec": {"source": {"upload": {}}, "storage": {"resources": {"requests": {"storage": "1Mi"}}}}})
    snapshot(env)
    waiting = wait_for(lambda: (s := env.get(kinds.VMSNAPSHOT, "snap1")).get("status", {}).get("conditions") and s,
                       what="snapshot status")
    assert waiting["status"]["phase"] == "InProgress"
    assert cond(waiting, "Progressing")["reason"] == \
        f"Source not locked source {env.ns}/vm1 volume not populated: data1"
    assert env.get(kinds.VMSNAPSHOTCONTENT, content_name(waiting["metadata"]["uid"])) is None


def test_a_snapshot_of_a_missing_vm_waits_then_fails_at_the_deadline(env):
    env.start()
    snapshot(env, vm="ghost")
    waiting = wait_for(lambda: (s := env.get(kinds.VMSNAPSHOT, "snap1")).get("status", {}).get("conditions") and s,
                       what="snapshot status")
    assert waiting["status"]["phase"] == "InProgress"
    assert cond(waiting, "Progressing")["reason"] == "Source does not exist"
    snapshot(env, name="snap2", vm="ghost", failureDeadline="1s")
    failed = final_snapshot(env, "snap2", timeout=15)
    assert failed["status"]["phase"] == "Failed" and failed["status"]["error"]["message"] == DEADLINE_EXCEEDED
    assert env.get(kinds.VMSNAPSHOT, "snap1")["status"]["phase"] == "InProgress"


def test_a_restore_waits_for_a_running_target(env, tmp_path):
    env.start()
    write_volume(env, "data1", "STATE-A", tmp_path)
    pvc_vm(env)
    assert final_snapshot(env, snapshot(env)["metadata"]["name"])["status"]["phase"] == "Succeeded"
    env.store.mutate(kinds.VM, env.ns, "vm1", lambda vm: vm["spec"].update(runStrategy="Always"))
    env.wait_vm_status("Running")
    restore(env)
    waiting = wait_for(lambda: (x := env.get(kinds.VMRESTORE, "restore1")).get("status", {}).get("conditions")
                       and cond(x, "Ready")["reason"] == "Waiting for target to be ready" and x, what="waiting")
    assert waiting["status"]["complete"] is False
    assert env.get_vm()["status"]["restoreInProgress"] == "restore1"
    env.store.mutate(kinds.VM, env.ns, "vm1", lambda vm: vm["spec"].update(runStrategy="Halted"))
    wait_for(lambda: (env.get(kinds.VMRESTORE, "restore1").get("status") or {}).get("complete"), timeout=15,
             what="restore after stop")
    assert "restoreInProgress" not in env.get_vm()["status"]


def test_parse_duration():
    assert parse_duration("5m0s") == 300 and parse_duration("1h2m3s") == 3723 and parse_duration("0s") == 0
    assert parse_duration(None) == 300 and parse_duration("bogus") == 300
    assert parse_duration("1.5h") == 5400 and parse_duration("500ms") == 0.5
    assert parse_duration("-5m") == 300 and parse_duration("5") == 300


def test_restore_recreates_a_deleted_vm_and_retain_keeps_the_content(env, tmp_path):
    env.start()
    write_volume(env, "data1", "STATE-A", tmp_path)
    pvc_vm(env)
    snap = final_snapshot(env, snapshot(env, deletionPolicy="Retain")["metadata"]["name"])
    env.store.delete(kinds.VM, env.ns, "vm1")
    wait_for(lambda: env.get_vm() is None, what="VM gone")
    r = restore(env)
    wait_for(lambda: (env.get(kinds.VMRESTORE, "restore1").get("status") or {}).get("complete"), what="restore")
    vm = env.get_vm()
    claim = vm["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"]
    assert claim == f"restore-{r['metadata']['uid']}-data" and read_volume(env, claim, tmp_path) == "STATE-A"
    env.store.delete(kinds.VMSNAPSHOT, env.ns, "snap1")
    wait_for(lambda: env.get(kinds.VMSNAPSHOT, "snap1") is None, what="snapshot gone")
    assert env.get(kinds.VMSNAPSHOTCONTENT, snap["status"]["virtualMachineSnapshotContentName"]) is not None


def test_online_indications_are_kubevirts():
    def vmi(**conditions):
        return {"status": {"conditions": [{"type": t, "status": v} for t, v in conditions.items()]}}
    assert online_indications(None) == [] and source_indications([]) == []
    assert online_indications(vmi()) == ["NoGuestAgent", "Online"]
    assert online_indications(vmi(AgentConnected="True")) == ["GuestAgent", "Online"]
    assert online_indications(vmi(AgentConnected="True", Paused="True")) == ["Online", "Paused"]   # not frozen
    assert source_indications(["GuestAgent", "Paused", "Other"]) == [
        {"indication": "GuestAgent", "message": "Guest agent was active and attempted to quiesce the filesystem for "
                                                "application consistency."},
        {"indication": "Paused", "message": "Snapshot taken while the VM was paused. Snapshot is crash-consistent "
                                            "and may not be application-consistent."},
        {"indication": "Other", "message": "Unknown indication"}]
