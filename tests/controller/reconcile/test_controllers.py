"""VM and VMI controllers on a real store and libvirt's test driver."""

from __future__ import annotations

import time

from virtctl.controller.virt.hypervisor import DomainState
from virtctl.model import kinds

from .conftest import wait_for


def test_always_vm_gets_a_running_vmi(env):
    env.start()
    env.vm()
    vm = env.wait_vm_status("Running")
    vmi = env.get_vmi()
    assert vmi["status"]["phase"] == "Running"
    assert vmi["status"]["nodeName"] == "node01"
    assert vmi["metadata"]["labels"] == {"app": "vm1", "kubevirt.io/nodeName": "node01"}
    ref = vmi["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["name"], ref["uid"], ref["controller"]) == \
        ("VirtualMachine", "vm1", vm["metadata"]["uid"], True)
    assert set(vmi["metadata"]["finalizers"]) == {"kubevirt.io/virtualMachineControllerFinalize",
                                                  "foregroundDeleteVirtualMachine"}
    assert [t["phase"] for t in vmi["status"]["phaseTransitionTimestamps"]] == ["Pending", "Scheduled", "Running"]
    ready = {c["type"]: c for c in vmi["status"]["conditions"]}["Ready"]
    assert ready["status"] == "True"
    assert vm["status"]["ready"] is True and vm["status"]["created"] is True
    assert vm["status"]["runStrategy"] == "Always"
    assert vm["metadata"]["finalizers"] == ["kubevirt.io/virtualMachineControllerFinalize"]
    assert {c["type"]: c["status"] for c in vm["status"]["conditions"]}["Ready"] == "True"
    assert env.our_domains()[env.domain()].state == DomainState.RUNNING
    assert env.our_domains()[env.domain()].vmi_uid == vmi["metadata"]["uid"]


def test_status_settles_and_reconcile_is_idempotent(env):
    m = env.start()
    env.vm()
    env.wait_vm_status("Running")
    assert m.wait_idle(5)
    rv_vm, rv_vmi = env.get_vm()["metadata"]["resourceVersion"], env.get_vmi()["metadata"]["resourceVersion"]
    for _ in range(3):                       # reconciling again changes nothing
        m.vm_controller.reconcile((env.ns, "vm1"))
        m.vmi_controller.reconcile((env.ns, "vm1"))
    assert env.get_vm()["metadata"]["resourceVersion"] == rv_vm
    assert env.get_vmi()["metadata"]["resourceVersion"] == rv_vmi
    assert len(env.our_domains()) == 1


def test_halted_stops_and_deletes_the_vmi(env):
    env.start()
    env.vm()
    env.wait_vm_status("Running")
    env.store.patch(kinds.VM, env.ns, "vm1", "application/merge-patch+json", {"spec": {"runStrategy": "Halted"}})
    env.wait_vm_status("Stopped")
    wait_for(lambda: env.get_vmi() is None, what="VMI gone")
    assert env.our_domains() == {}
    # once the VMI is gone the VM says so
    vm = wait_for(lambda: (v := env.get_vm())["status"]["created"] is False and v, what="created false")
    assert vm["status"]["created"] is False and vm["status"]["ready"] is False
    ready = {c["type"]: c for c in vm["status"]["conditions"]}["Ready"]
    assert (ready["status"], ready["reason"], ready["message"]) == ("False", "VMINotExists", "VMI does not exist")


def test_guest_poweroff_always_restarts_with_a_new_vmi(env):
    env.start()
    env.vm()
    env.wait_vm_status("Running")
    first = env.get_vmi()["metadata"]["uid"]
    env.host.shutdown(env.domain())          # the test driver powers off at once, reason "shutdown"
    new = wait_for(lambda: (v := env.get_vmi()) and v["metadata"]["uid"] != first
                   and v.get("status", {}).get("phase") == "Running" and v, what="a new running VMI")
    assert env.our_domains()[env.domain()].vmi_uid == new["metadata"]["uid"]
    env.wait_vm_status("Running")


def test_guest_poweroff_rerun_on_failure_stays_off(env):
    env.start()
    env.vm(strategy="RerunOnFailure")
    env.wait_vm_status("Running")
    env.host.shutdown(env.domain())
    vm = env.wait_vm_status("Stopped")
    wait_for(lambda: env.get_vmi() is None, what="succeeded VMI removed")
    time.sleep(0.5)
    assert env.get_vmi() is None and env.our_domains() == {}
    assert env.get_vm()["status"]["printableStatus"] == "Stopped"
    assert vm["status"]["runStrategy"] == "RerunOnFailure"


def test_unexpected_destroy_fails_the_vmi_and_rerun_on_failure_restarts(env):
    env.start()
    env.vm(strategy="RerunOnFailure")
    env.wait_vm_status("Running")
    first = env.get_vmi()["metadata"]["uid"]
    env.host.destroy(env.domain())
    wait_for(lambda: (v := env.get_vmi()) and v["metadata"]["uid"] != first and v.get("status", {}).get("phase") == "Running",
             what="rerun after failure")
    assert env.get_vm()["status"].get("stateChangeRequests") is None


def test_vmi_phase_failed_with_reason_on_unexpected_destroy(env):
    env.start()
    env.vmi_obj("solo")
    env.wait_vmi_phase("Running", "solo")
    env.host.destroy(env.domain("solo"))
    vmi = env.wait_vmi_phase("Failed", "solo")
    assert vmi["status"]["reason"] == "DomainDestroyed"
    assert {c["type"]: c["status"] for c in vmi["status"]["conditions"]}["Ready"] == "False"


def test_standalone_vmi_guest_poweroff_succeeds(env):
    env.start()
    env.vmi_obj("solo")
    env.wait_vmi_phase("Running", "solo")
    env.host.shutdown(env.domain("solo"))
    vmi = env.wait_vmi_phase("Succeeded", "solo")
    assert "reason" not in vmi["status"]


def test_pause_and_unpause_follow_libvirt(env):
    env.start()
    env.vm()
    env.wait_vm_status("Running")
    env.host.suspend(env.domain())
    vm = env.wait_vm_status("Paused")
    vmi = env.get_vmi()
    paused = {c["type"]: c for c in vmi["status"]["conditions"]}["Paused"]
    assert (paused["status"], paused["reason"], paused["message"]) == ("True", "PausedByUser", "VMI was paused by user")
    assert {c["type"]: c["status"] for c in vmi["status"]["conditions"]}["Ready"] == "False"
    assert {c["type"]: c["status"] for c in vm["status"]["conditions"]}["Paused"] == "True"
    env.host.resume(env.domain())
    vm = env.wait_vm_status("Running")
    assert "Paused" not in {c["type"] for c in env.get_vmi()["status"]["conditions"]}
    assert "Paused" not in {c["type"] for c in vm["status"]["conditions"]}


def test_manual_start_and_stop_requests(env):
    env.start()
    env.vm(strategy="Manual")
    env.wait_vm_status("Stopped")
    assert env.get_vmi() is None
    env.store.patch(kinds.VM, env.ns, "vm1", "application/merge-patch+json",
                    {"status": {"stateChangeRequests": [{"action": "Start"}]}}, subresource="status")
    env.wait_vm_status("Running")
    wait_for(lambda: not env.get_vm()["status"].get("stateChangeRequests"), what="start request trimmed")
    uid = env.get_vmi()["metadata"]["uid"]
    env.store.patch(kinds.VM, env.ns, "vm1", "application/merge-patch+json",
                    {"status": {"stateChangeRequests": [{"action": "Stop", "uid": uid}]}}, subresource="status")
    env.wait_vm_status("Stopped")
    wait_for(lambda: env.get_vmi() is None and not env.get_vm()["status"].get("stateChangeRequests"),
             what="stopped and stop request trimmed")
    assert env.our_domains() == {}


def test_start_paused_request_on_halted(env):
    env.start()
    env.vm(strategy="Halted")
    env.wait_vm_status("Stopped")
    env.store.patch(kinds.VM, env.ns, "vm1", "application/merge-patch+json",
                    {"status": {"stateChangeRequests": [{"action": "Start", "data": {"paused": "true"}}]}},
                    subresource="status")
    env.wait_vm_status("Paused")
    assert env.get_vm()["spec"]["runStrategy"] == "Always"
    assert env.get_vmi()["spec"]["startStrategy"] == "Paused"
    assert env.our_domains()[env.domain()].state == DomainState.PAUSED


def test_deprecated_running_field(env):
    env.start()
    env.vm(running=True)
    env.wait_vm_status("Running")
    env.store.patch(kinds.VM, env.ns, "vm1", "application/merge-patch+json", {"spec": {"running": False}})
    env.wait_vm_status("Stopped")


def test_deleting_a_vmi_removes_its_domain_then_the_object(env):
    env.start()
    env.vmi_obj("solo", terminationGracePeriodSeconds=5)
    env.wait_vmi_phase("Running", "solo")
    env.store.delete(kinds.VMI, env.ns, "solo")
    wait_for(lambda: env.get(kinds.VMI, "solo") is None, what="VMI gone")
    assert env.our_domains() == {}


def test_deleting_a_vm_stops_its_vmi_first(env):
    env.start()
    env.vm()
    env.wait_vm_status("Running")
    env.store.delete(kinds.VM, env.ns, "vm1")
    wait_for(lambda: env.get_vm() is None and env.get_vmi() is None, what="VM and VMI gone")
    assert env.our_domains() == {}


def test_start_failure_gives_failed_vmi_and_crash_loop_backoff(env):
    env.start()
    bad = {"domain": {"devices": {"sound": {"name": "s"}}, "resources": {"requests": {"memory": "64Mi"}}}}
    env.vm(template_spec=bad)
    env.wait_vm_status("CrashLoopBackOff")
    wait_for(lambda: env.get_vmi() is None, what="failed VMI removed")   # the restart then waits
    vm = env.wait_vm_status("CrashLoopBackOff")
    sf = vm["status"]["startFailure"]
    assert sf["consecutiveFailCount"] == 1 and sf["retryAfterTimestamp"]
    time.sleep(0.3)
    assert env.get_vmi() is None
    assert env.our_domains() == {}


def test_failed_vmi_reports_why(env):
    env.start()
    env.vmi_obj("solo", domain={"devices": {"sound": {"name": "s"}}, "resources": {"requests": {"memory": "64Mi"}}})
    vmi = env.wait_vmi_phase("Failed", "solo")
    sync = {c["type"]: c for c in vmi["status"]["conditions"]}["Synchronized"]
    assert vmi["status"]["reason"] == "FailedCreate"
    assert sync["status"] == "False" and "sound" in sync["message"]


def test_restart_of_the_controller_readopts_running_domains(env):
    env.start()
    env.vm()
    env.vmi_obj("solo")
    env.wait_vm_status("Running")
    env.wait_vmi_phase("Running", "solo")
    uids = {n: env.get_vmi(n)["metadata"]["uid"] for n in ("vm1", "solo")}
    env.stop_manager()
    m = env.start()
    time.sleep(0.3)
    assert m.wait_idle(5)
    assert {n: env.get_vmi(n)["metadata"]["uid"] for n in ("vm1", "solo")} == uids
    doms = env.our_domains()
    assert set(doms) == {env.domain("vm1"), env.domain("solo")}
    assert {d.vmi_uid for d in doms.values()} == set(uids.values())
    assert env.get_vm()["status"]["printableStatus"] == "Running"


def test_orphan_domain_is_destroyed_after_restart(env):
    env.start()
    env.vmi_obj("solo")
    env.wait_vmi_phase("Running", "solo")
    env.stop_manager()
    # the object disappears while no controller runs
    env.store.mutate(kinds.VMI, env.ns, "solo", lambda o: o["metadata"].__setitem__("finalizers", []))
    env.store.delete(kinds.VMI, env.ns, "solo")
    assert env.domain("solo") in env.our_domains()
    env.start()
    wait_for(lambda: env.domain("solo") not in env.our_domains(), what="orphan destroyed")


def test_domain_vanished_while_controller_down_fails_and_always_restarts(env):
    env.start()
    env.vm()
    env.wait_vm_status("Running")
    first = env.get_vmi()["metadata"]["uid"]
    env.stop_manager()
    env.host.destroy(env.domain())
    env.start()
    new = wait_for(lambda: (v := env.get_vmi()) and v["metadata"]["uid"] != first
                   and v.get("status", {}).get("phase") == "Running" and v, what="restarted VMI")
    assert list(env.our_domains().values())[0].vmi_uid == new["metadata"]["uid"]
