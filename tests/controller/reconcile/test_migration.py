"""Migrations on one libvirt host: there is no target node, so they fail with the reason, instead
of waiting forever; the VMI keeps running where it is."""

from __future__ import annotations

from virtctl.controller.reconcile.migration import failure_reason
from virtctl.controller.schema import validate
from virtctl.model import kinds

from .conftest import wait_for


def migration(env, vmi_name: str) -> dict:
    return env.store.create(kinds.VMIM, env.ns, {
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceMigration",
        "metadata": {"generateName": "kubevirt-migrate-vm-", "labels": {"kubevirt.io/vmi-name": vmi_name}},
        "spec": {"vmiName": vmi_name}})


def final(env, vmim: dict) -> dict:
    name = vmim["metadata"]["name"]
    return wait_for(lambda: (m := env.get(kinds.VMIM, name)).get("status", {}).get("phase") in ("Failed", "Succeeded")
                    and m, what=f"migration {name} to end")


def test_a_migration_on_a_single_node_fails_with_the_reason(env):
    env.start()
    env.vm()
    env.wait_vm_status("Running")
    vmi_uid = env.get_vmi()["metadata"]["uid"]
    done = final(env, migration(env, "vm1"))
    status = done["status"]
    assert status["phase"] == "Failed"
    assert [t["phase"] for t in status["phaseTransitionTimestamps"]] == ["Pending", "Failed"]
    state = status["migrationState"]
    assert state["failed"] is True and state["completed"] is False and state["sourceNode"] == "node01"
    assert "node01 is the only node" in state["failureReason"]
    assert validate("v1.VirtualMachineInstanceMigration", done) == []
    vmi = env.get_vmi()                                   # untouched: same VMI, still running
    assert vmi["metadata"]["uid"] == vmi_uid and vmi["status"]["phase"] == "Running"


def test_a_migration_of_a_missing_vmi_fails(env):
    env.start()
    done = final(env, migration(env, "ghost"))
    assert done["status"]["migrationState"]["failureReason"] == "VMI ghost does not exist"


def test_failure_reasons():
    running = {"status": {"phase": "Running", "nodeName": "node01"}}
    assert failure_reason({"status": {"phase": "Scheduled"}}, "a", ["node01"]) == "VMI a is not running"
    assert "only node" in failure_reason(running, "a", ["node01"])
    assert failure_reason(running, "a", ["node01", "node02"]) == ""
