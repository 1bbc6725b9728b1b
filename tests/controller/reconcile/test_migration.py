"""Migrations on one libvirt host: there is no target node, so they fail with the reason, instead
of waiting forever; the VMI keeps running where it is. On two hosts: deleting a migration under way
(migrate-cancel) aborts it, as in KubeVirt."""

from __future__ import annotations

import threading
import time

import pytest

from virtctl.controller.reconcile.migration import FINALIZER, failure_reason
from virtctl.controller.schema import validate
from virtctl.errors import InternalError
from virtctl.model import kinds

from .conftest import libvirt_host, wait_for


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


# --- cancel: two hosts, and a migration that holds until it is released or aborted ---------------

class HeldMigrations(libvirt_host.LibvirtHost):
    """node01 on the test driver, which cannot migrate: here a migration holds (like a slow live
    migration) until the test releases it, then moves the domain to the target; an abort while it
    holds makes it fail the way libvirt's does, leaving the domain running here."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.under_way = threading.Event()
        self.release = threading.Event()
        self.aborted = threading.Event()
        self.too_late = False                  # an abort arriving as the transfer ends
        self.aborts = 0

    def migrate(self, domain, target):
        self.under_way.set()
        try:
            while not self.release.wait(0.01):
                if self.aborted.is_set():
                    raise InternalError(f"migrate {domain}: operation aborted: job 'migration out' canceled by client")
            target.start(self.domain_xml(domain))
            self.destroy(domain)
        finally:
            self.under_way.clear()

    def abort_migration(self, domain):
        self.aborts += 1
        if self.too_late:
            self.release.set()
            return False
        if not self.under_way.is_set():
            return False
        self.aborted.set()
        return True


@pytest.fixture
def two_nodes(env, tmp_path):
    (tmp_path / "node02.xml").write_text("<node/>\n")
    env.host.close()
    env.host = node1 = HeldMigrations("test:///default", "node01")
    node2 = libvirt_host.LibvirtHost(f"test://{tmp_path}/node02.xml", "node02")   # a private test driver
    env.start(node1, node2)
    yield env, node1, node2
    node1.release.set()
    env.stop_manager()
    for dom in node2.list_domains():
        node2.destroy(dom)
    node2.close()


def events_until_deleted(env, name: str, timeout: float = 10.0) -> list[dict]:
    """The migration object's versions from now until it is deleted."""
    w = env.store.watch(kinds.VMIM, env.ns, field_selector=f"metadata.name={name}")
    seen: list[dict] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ev = w.get(0.1)
            if ev is None:
                continue
            seen.append(ev[1])
            if ev[0] == "DELETED":
                return seen
    finally:
        w.stop()
    raise AssertionError(f"migration {name} not deleted; last: {seen[-1:]}")


def on_node(env, node: str) -> dict:
    # the VMI controller may write the node it last saw once more before it sees the move
    return wait_for(lambda: (vmi := env.get_vmi())["status"].get("nodeName") == node and vmi,
                    what=f"the VMI on {node}")


def test_deleting_a_running_migration_aborts_it_and_the_vmi_stays(two_nodes):
    env, node1, node2 = two_nodes
    env.vm()
    env.wait_vm_status("Running")
    vmi_uid = env.get_vmi()["metadata"]["uid"]
    mig = migration(env, "vm1")
    name = mig["metadata"]["name"]
    wait_for(node1.under_way.is_set, what="the transfer to start")
    env.wait_vm_status("Migrating")
    assert env.get(kinds.VMIM, name)["metadata"]["finalizers"] == [FINALIZER]

    env.store.delete(kinds.VMIM, env.ns, name)              # what migrate-cancel does
    held = env.get(kinds.VMIM, name)
    assert held is not None and held["metadata"].get("deletionTimestamp")   # kept until aborted
    versions = events_until_deleted(env, name)

    assert node1.aborts >= 1 and node1.aborted.is_set()
    last = versions[-1]["status"]
    assert last["phase"] == "Failed"
    assert [c["type"] for c in last["conditions"]] == ["migrationAbortRequested"]
    assert (last["migrationState"]["abortRequested"], last["migrationState"]["abortStatus"]) == (True, "Succeeded")
    assert validate("v1.VirtualMachineInstanceMigration", versions[-1]) == []

    vmi = env.get_vmi()                                      # the same VMI, running where it was
    assert vmi["metadata"]["uid"] == vmi_uid
    assert vmi["status"]["phase"] == "Running" and vmi["status"]["nodeName"] == "node01"
    state = vmi["status"]["migrationState"]
    assert state["abortRequested"] is True and state["abortStatus"] == "Succeeded"
    assert state["failed"] is True and state["completed"] is False and "canceled by client" in state["failureReason"]
    assert node1.status(env.domain()).state.value == "running"
    assert node2.status(env.domain()).state.value == "missing"
    env.wait_vm_status("Running")

    node1.aborted.clear()                                    # and it can migrate again
    node1.release.set()
    done = final(env, migration(env, "vm1"))
    assert done["status"]["phase"] == "Succeeded"
    wait_for(lambda: "finalizers" not in env.get(kinds.VMIM, done["metadata"]["name"])["metadata"],
             what="the finalizer to go once finished")
    vmi = on_node(env, "node02")
    assert vmi["metadata"]["uid"] == vmi_uid and "abortRequested" not in vmi["status"]["migrationState"]
    assert node2.status(env.domain()).state.value == "running"


def test_an_abort_that_comes_too_late_leaves_the_migration_done(two_nodes):
    env, node1, node2 = two_nodes
    env.vm()
    env.wait_vm_status("Running")
    name = migration(env, "vm1")["metadata"]["name"]
    wait_for(node1.under_way.is_set, what="the transfer to start")
    node1.too_late = True
    env.store.delete(kinds.VMIM, env.ns, name)
    last = events_until_deleted(env, name)[-1]["status"]
    assert last["phase"] == "Succeeded"
    assert (last["migrationState"]["abortRequested"], last["migrationState"]["abortStatus"]) == (True, "Failed")
    assert on_node(env, "node02")["status"]["migrationState"]["abortStatus"] == "Failed"


def test_a_finished_migration_is_just_deleted(two_nodes):
    env, node1, _ = two_nodes
    node1.release.set()
    env.vm()
    env.wait_vm_status("Running")
    done = final(env, migration(env, "vm1"))
    assert done["status"]["phase"] == "Succeeded"
    env.store.delete(kinds.VMIM, env.ns, done["metadata"]["name"])
    wait_for(lambda: env.get(kinds.VMIM, done["metadata"]["name"]) is None, what="the migration to go")
    assert node1.aborts == 0
    assert "abortRequested" not in on_node(env, "node02")["status"]["migrationState"]
