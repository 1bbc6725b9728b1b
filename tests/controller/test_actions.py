"""The lifecycle subresource actions: every rule with virt-api's status code and message."""

from __future__ import annotations

import pytest

from virtctl.controller import actions
from virtctl.controller.server.subresource_routes import SUBRESOURCES
from virtctl.controller.subresource import ActionContext
from virtctl.errors import APIError
from virtctl.model import kinds

from .reconcile.conftest import Env, wait_for

pytest.importorskip("libvirt", reason="libvirt-python is not installed")


@pytest.fixture
def env(tmp_path):
    e = Env(tmp_path)
    yield e
    e.cleanup()


def call(env, plural, name, sub, body=None):
    ctx = ActionContext(runtime=env.runtime, namespace=env.ns, name=name, subresource=sub, method="PUT",
                        body=body if body is not None else {})
    return SUBRESOURCES.actions[(plural, sub)](ctx)


def vm_call(env, sub, body=None, name="vm1"):
    return call(env, "virtualmachines", name, sub, body)


def vmi_call(env, sub, body=None, name="vm1"):
    return call(env, "virtualmachineinstances", name, sub, body)


def fails(fn, code, message):
    with pytest.raises(APIError) as ei:
        fn()
    assert (ei.value.code, ei.value.message) == (code, message)
    assert ei.value.to_status()["code"] == code
    return ei.value


def conflict(name, msg, resource="virtualmachine"):
    return f'Operation cannot be fulfilled on {resource}.kubevirt.io "{name}": {msg}'


def test_declared_with_the_routes():
    for sub in ("start", "stop", "restart", "migrate"):
        assert SUBRESOURCES.actions[("virtualmachines", sub)] is getattr(actions, sub)
    for sub in ("pause", "unpause", "softreboot", "reset"):
        assert SUBRESOURCES.actions[("virtualmachineinstances", sub)] is getattr(actions, sub)


# --- start -----------------------------------------------------------------------------------------------
def test_start_missing_vm_is_404(env):
    e = fails(lambda: vm_call(env, "start"), 404, 'virtualmachine.kubevirt.io "vm1" not found')
    assert e.reason == "NotFound" and e.details == {"name": "vm1", "group": "kubevirt.io", "kind": "virtualmachine"}


def test_start_halted_sets_always_and_runs(env):
    env.start()
    env.vm(strategy="Halted")
    assert vm_call(env, "start").code == 202
    assert env.get_vm()["spec"]["runStrategy"] == "Always"
    env.wait_vm_status("Running")
    e = fails(lambda: vm_call(env, "start"), 409, conflict("vm1", "VM is already running"))
    assert e.reason == "Conflict"


def test_start_dry_run_changes_nothing(env):
    env.vm(strategy="Halted")
    assert vm_call(env, "start", {"dryRun": ["All"]}).code == 202
    assert env.get_vm()["spec"]["runStrategy"] == "Halted"


def test_start_legacy_running_false(env):
    env.vm(running=False)
    vm_call(env, "start")
    assert env.get_vm()["spec"]["running"] is True


@pytest.mark.parametrize("strategy", ["Always", "Once"])
def test_start_always_once_refused(env, strategy):
    env.vm(strategy=strategy)
    fails(lambda: vm_call(env, "start"), 409, conflict("vm1", f"{strategy} does not support manual start requests"))


def test_start_paused_on_halted_adds_a_change_request(env):
    env.vm(strategy="Halted")
    vm_call(env, "start", {"paused": True})
    assert env.get_vm()["status"]["stateChangeRequests"] == [{"action": "Start", "data": {"paused": "true"}}]
    assert env.get_vm()["spec"]["runStrategy"] == "Halted"


def test_start_manual_adds_start_request_then_underway(env):
    env.vm(strategy="Manual")
    vm_call(env, "start")
    assert env.get_vm()["status"]["stateChangeRequests"] == [{"action": "Start"}]
    fails(lambda: vm_call(env, "start"), 500,
          "Internal error occurred: unable to complete request: stop/start already underway")


def test_start_rerun_on_failure_from_failed_refused_and_manual_restarts_final(env):
    env.start()
    env.vm(strategy="Manual")
    vm_call(env, "start")
    env.wait_vm_status("Running")
    env.stop_manager()
    uid = env.get_vmi()["metadata"]["uid"]
    env.host.shutdown(env.domain())
    env.store.mutate(kinds.VMI, env.ns, "vm1", lambda o: o["status"].__setitem__("phase", "Succeeded"),
                     subresource="status")
    vm_call(env, "start")
    assert env.get_vm()["status"]["stateChangeRequests"] == [{"action": "Stop", "uid": uid}, {"action": "Start"}]
    env.store.patch(kinds.VM, env.ns, "vm1", "application/merge-patch+json",
                    {"spec": {"runStrategy": "RerunOnFailure"}})
    env.store.patch(kinds.VM, env.ns, "vm1", "application/merge-patch+json",
                    {"status": {"stateChangeRequests": None}}, subresource="status")
    env.store.mutate(kinds.VMI, env.ns, "vm1", lambda o: o["status"].__setitem__("phase", "Failed"),
                     subresource="status")
    fails(lambda: vm_call(env, "start"), 409,
          conflict("vm1", "RerunOnFailure does not support starting VM from failed state"))


def test_bad_body_is_400(env):
    env.vm(strategy="Halted")
    fails(lambda: vm_call(env, "start", ["x"]), 400,
          "Can not unmarshal Request body to struct, error: json: cannot unmarshal list into Go value of type struct")


# --- stop ------------------------------------------------------------------------------------------------------
def test_stop_always_sets_halted(env):
    env.start()
    env.vm()
    env.wait_vm_status("Running")
    assert vm_call(env, "stop").code == 202
    assert env.get_vm()["spec"]["runStrategy"] == "Halted"
    env.wait_vm_status("Stopped")
    assert env.our_domains() == {}


def test_stop_with_grace_period_patches_the_vmi(env):
    env.start()
    env.vm(strategy="Manual")
    vm_call(env, "start")
    env.wait_vm_status("Running")
    uid = env.get_vmi()["metadata"]["uid"]
    env.stop_manager()
    vm_call(env, "stop", {"gracePeriod": 0})
    assert env.get_vmi()["spec"]["terminationGracePeriodSeconds"] == 0
    assert env.get_vm()["status"]["stateChangeRequests"] == [{"action": "Stop", "uid": uid}]
    env.start()
    env.wait_vm_status("Stopped")
    wait_for(lambda: env.get_vmi() is None, what="VMI gone")


def test_stop_not_running(env):
    env.vm(strategy="Manual")
    fails(lambda: vm_call(env, "stop"), 409, conflict("vm1", "VM is not running"))
    env.store.patch(kinds.VM, env.ns, "vm1", "application/merge-patch+json", {"spec": {"runStrategy": "Halted"}})
    fails(lambda: vm_call(env, "stop"), 409, conflict("vm1", "VM is not running"))


def test_stop_halted_with_live_vmi_needs_shorter_grace(env):
    env.start()
    env.vm()
    env.wait_vm_status("Running")
    env.stop_manager()
    env.store.patch(kinds.VM, env.ns, "vm1", "application/merge-patch+json", {"spec": {"runStrategy": "Halted"}})
    fails(lambda: vm_call(env, "stop"), 409,
          conflict("vm1", "Halted only supports manual stop requests with a shorter graceperiod"))
    env.store.patch(kinds.VMI, env.ns, "vm1", "application/merge-patch+json",
                    {"spec": {"terminationGracePeriodSeconds": 10}})
    fails(lambda: vm_call(env, "stop", {"gracePeriod": 20}), 409,
          conflict("vm1", "Halted only supports manual stop requests with a shorter graceperiod"))
    assert vm_call(env, "stop", {"gracePeriod": 1}).code == 202
    assert env.get_vm()["status"]["stateChangeRequests"][0]["action"] == "Stop"


# --- restart ------------------------------------------------------------------------------------------------------
def test_restart_validation(env):
    fails(lambda: vm_call(env, "restart", {"gracePeriodSeconds": 5}), 400,
          "For force restart, only gracePeriod=0 is supported for now")
    fails(lambda: vm_call(env, "restart", {"gracePeriodSeconds": -1}), 400,
          "gracePeriod has to be greater or equal to 0")
    fails(lambda: vm_call(env, "restart"), 404, 'virtualmachine.kubevirt.io "vm1" not found')
    env.vm(strategy="Halted")
    fails(lambda: vm_call(env, "restart"), 409,
          conflict("vm1", "RunStategy Halted does not support manual restart requests"))
    env.store.patch(kinds.VM, env.ns, "vm1", "application/merge-patch+json", {"spec": {"runStrategy": "Once"}})
    fails(lambda: vm_call(env, "restart"), 409,
          conflict("vm1", "RunStategy Once does not support manual restart requests"))
    env.store.patch(kinds.VM, env.ns, "vm1", "application/merge-patch+json", {"spec": {"runStrategy": "Manual"}})
    fails(lambda: vm_call(env, "restart"), 409, conflict("vm1", "VM is not running: Halted"))


@pytest.mark.parametrize("body", [{}, {"gracePeriodSeconds": 0}])
def test_restart_gives_a_new_vmi(env, body):
    env.start()
    env.vm()
    env.wait_vm_status("Running")
    first = env.get_vmi()["metadata"]["uid"]
    assert vm_call(env, "restart", body).code == 202
    wait_for(lambda: (v := env.get_vmi()) and v["metadata"]["uid"] != first and v.get("status", {}).get("phase") == "Running",
             what="new VMI")
    wait_for(lambda: not env.get_vm()["status"].get("stateChangeRequests"), what="requests done")
    assert env.get_vm()["spec"]["runStrategy"] == "Always"
    assert len(env.our_domains()) == 1


# --- migrate --------------------------------------------------------------------------------------------------------
def test_migrate(env):
    fails(lambda: vm_call(env, "migrate"), 404, 'virtualmachine.kubevirt.io "vm1" not found')
    env.vm(strategy="Halted")
    fails(lambda: vm_call(env, "migrate"), 404, 'virtualmachineinstance.kubevirt.io "vm1" not found')
    env.start()
    env.store.patch(kinds.VM, env.ns, "vm1", "application/merge-patch+json", {"spec": {"runStrategy": "Always"}})
    env.wait_vm_status("Running")
    assert vm_call(env, "migrate", {"dryRun": ["All"]}).code == 202
    assert env.store.list(kinds.VMIM, env.ns)[0] == []
    assert vm_call(env, "migrate").code == 202
    (mig,), _ = env.store.list(kinds.VMIM, env.ns)
    assert mig["metadata"]["name"].startswith("kubevirt-migrate-vm-")
    assert mig["spec"] == {"vmiName": "vm1"}
    assert mig["metadata"]["labels"] == {"kubevirt.io/vmi-name": "vm1"}


def test_migrate_not_running(env):
    env.vmi_obj("vm1")
    env.vm(strategy="Manual")
    fails(lambda: vm_call(env, "migrate"), 409, conflict("vm1", "VM is not running"))


# --- pause / unpause ----------------------------------------------------------------------------------------------------
def test_pause_unpause(env):
    env.start()
    env.vm()
    env.wait_vm_status("Running")
    fails(lambda: vmi_call(env, "unpause"), 409, conflict("vm1", "VMI is not paused", "virtualmachineinstance"))
    assert vmi_call(env, "pause", {"dryRun": ["All"]}).code == 200
    assert env.our_domains()[env.domain()].state.value == "running"
    assert vmi_call(env, "pause").code == 200
    env.wait_vm_status("Paused")
    fails(lambda: vmi_call(env, "pause"), 409, conflict("vm1", "VMI is already paused", "virtualmachineinstance"))
    fails(lambda: vmi_call(env, "softreboot"), 409, conflict("vm1", "VMI is paused", "virtualmachineinstance"))
    assert vmi_call(env, "unpause").code == 200
    env.wait_vm_status("Running")
    wait_for(lambda: "Paused" not in {c["type"] for c in env.get_vmi()["status"]["conditions"]}, what="unpaused")


def test_pause_unpause_not_running(env):
    fails(lambda: vmi_call(env, "pause"), 404, 'virtualmachineinstance.kubevirt.io "vm1" not found')
    env.vmi_obj("vm1")
    fails(lambda: vmi_call(env, "pause"), 409, conflict("vm1", "VM is not running", "virtualmachineinstance"))
    fails(lambda: vmi_call(env, "unpause"), 409, conflict("vm1", "VMI is not running", "virtualmachineinstance"))
    fails(lambda: vmi_call(env, "softreboot"), 409, conflict("vm1", "VM is not running", "virtualmachineinstance"))


# --- softreboot / reset --------------------------------------------------------------------------------------------------
def test_softreboot_and_reset_running(env):
    env.start()
    env.vmi_obj("vm1")
    env.wait_vmi_phase("Running")
    assert vmi_call(env, "softreboot").code == 200
    assert vmi_call(env, "reset").code == 200
    assert env.our_domains()[env.domain()].state.value == "running"


def test_softreboot_without_acpi_refused(env):
    env.start()
    env.vmi_obj("vm1", domain={"devices": {}, "features": {"acpi": {"enabled": False}},
                               "resources": {"requests": {"memory": "64Mi"}}})
    env.wait_vmi_phase("Running")
    fails(lambda: vmi_call(env, "softreboot"), 409,
          conflict("vm1", "VMI neither have the agent connected nor the ACPI feature enabled", "virtualmachineinstance"))


def test_reset_non_running(env):
    fails(lambda: vmi_call(env, "reset"), 404, 'virtualmachineinstance.kubevirt.io "vm1" not found')
    env.vmi_obj("vm1")
    fails(lambda: vmi_call(env, "reset"), 400,
          "Failed to reset non-running VMI with phase : Unable to connect to VirtualMachineInstance because phase "
          "is  instead of Running or Scheduled")
