"""VM printableStatus precedence, conditions and VMI phase helpers (virtctl.model.status)."""

from __future__ import annotations

import pytest

from virtctl.model import status as st


def vm(deleting=False, start_failure=None):
    v = {"metadata": {"name": "vm1", "uid": "vm-uid"}, "spec": {"runStrategy": "Always"}, "status": {}}
    if deleting:
        v["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    if start_failure:
        v["status"]["startFailure"] = start_failure
    return v


def vmi(phase="Running", paused=False, deleting=False, sync_reason=None, migrating=False, unschedulable=False):
    o = {"metadata": {"name": "vm1", "uid": "u1"}, "status": {"phase": phase, "conditions": []}}
    if paused:
        o["status"]["conditions"].append({"type": "Paused", "status": "True", "reason": "PausedByUser"})
    if deleting:
        o["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    if sync_reason:
        o["status"]["conditions"].append({"type": "Synchronized", "status": "False", "reason": sync_reason})
    if migrating:
        o["status"]["migrationState"] = {"startTimestamp": "2026-01-01T00:00:00Z"}
    if unschedulable:
        o["status"]["conditions"].append({"type": "PodScheduled", "status": "False", "reason": "Unschedulable"})
    return o


CRASH = {"consecutiveFailCount": 2, "lastFailedVMIUID": "u0"}


@pytest.mark.parametrize("the_vm,the_vmi,kw,expected", [
    # precedence: Terminating beats everything
    (vm(deleting=True), vmi(paused=True), {}, "Terminating"),
    (vm(), vmi(deleting=True), {}, "Stopping"),
    (vm(), vmi(), {"stop_expected": True}, "Stopping"),
    (vm(), vmi(phase="Succeeded", deleting=True), {}, "Stopped"),          # final VMIs are not "stopping"
    (vm(), vmi(migrating=True, paused=True), {}, "Migrating"),
    (vm(), vmi(paused=True), {}, "Paused"),
    (vm(), vmi(phase="Scheduled", paused=True), {}, "Starting"),           # Paused needs Running
    (vm(), vmi(), {}, "Running"),
    (vm(), vmi(phase="Pending", sync_reason="FailedPvcNotFound"), {}, "ErrorPvcNotFound"),
    (vm(), vmi(phase="Pending"), {"data_volume_error": True}, "DataVolumeError"),
    (vm(), vmi(phase="Pending", unschedulable=True), {}, "ErrorUnschedulable"),
    (vm(), vmi(phase="Pending"), {"provisioning": True}, "Provisioning"),
    (vm(), vmi(phase="Pending"), {"unbound_pvc": True, "set_to_start": True}, "WaitingForVolumeBinding"),
    (vm(), vmi(phase="Pending"), {"unbound_pvc": True}, "Starting"),
    (vm(), vmi(phase="Pending", sync_reason="ErrImagePull"), {}, "ErrImagePull"),
    (vm(), vmi(phase="Pending", sync_reason="ImagePullBackOff"), {}, "ImagePullBackOff"),
    (vm(), vmi(phase=""), {}, "Starting"),
    (vm(), vmi(phase="Scheduling"), {}, "Starting"),
    (vm(), None, {"start_expected": True}, "Starting"),
    (vm(start_failure=CRASH), None, {}, "CrashLoopBackOff"),
    (vm(start_failure=CRASH), vmi(phase="Failed"), {}, "CrashLoopBackOff"),
    (vm(start_failure=CRASH), None, {"run_strategy": "Manual"}, "Stopped"),
    (vm(start_failure=CRASH), None, {"start_expected": True}, "Starting"),
    (vm(), None, {}, "Stopped"),
    (vm(), vmi(phase="Succeeded"), {}, "Stopped"),
    (vm(), vmi(phase="Failed"), {}, "Stopped"),
    (vm(), vmi(phase="Unknown"), {}, "Unknown"),
])
def test_printable_status_precedence(the_vm, the_vmi, kw, expected):
    kw = {"run_strategy": "Always", **kw}
    assert st.printable_status(the_vm, the_vmi, **kw) == expected


def test_set_condition_keeps_transition_time_while_status_unchanged():
    status: dict = {}
    st.set_condition(status, "Ready", "False", "A", "first", now="2026-01-01T00:00:00Z")
    st.set_condition(status, "Ready", "False", "B", "second", now="2026-01-01T00:05:00Z")
    (c,) = status["conditions"]
    assert (c["reason"], c["message"], c["lastTransitionTime"]) == ("B", "second", "2026-01-01T00:00:00Z")
    st.set_condition(status, "Ready", "True", now="2026-01-01T00:10:00Z")
    (c,) = status["conditions"]
    assert c["status"] == "True" and c["lastTransitionTime"] == "2026-01-01T00:10:00Z"
    assert "reason" not in c and "message" not in c


def test_set_condition_is_idempotent():
    a: dict = {}
    st.set_condition(a, "Paused", "True", "PausedByUser", "VMI was paused by user", now="2026-01-01T00:00:00Z")
    b = {"conditions": [dict(c) for c in a["conditions"]]}
    st.set_condition(b, "Paused", "True", "PausedByUser", "VMI was paused by user", now="2026-02-01T00:00:00Z")
    assert a == b


def test_remove_condition():
    s = {"conditions": [{"type": "Ready"}, {"type": "Paused"}]}
    st.remove_condition(s, "Paused")
    assert s == {"conditions": [{"type": "Ready"}]}


def test_vm_ready_without_vmi():
    s: dict = {"conditions": [{"type": "Paused", "status": "True"}]}
    st.sync_vm_conditions(s, None, now="2026-01-01T00:00:00Z")
    assert s["conditions"] == [{"type": "Ready", "status": "False", "reason": "VMINotExists",
                                "message": "VMI does not exist",
                                "lastTransitionTime": "2026-01-01T00:00:00Z"}]


def test_vm_conditions_mirror_the_vmi():
    the_vmi = {"status": {"conditions": [
        {"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:07Z"},
        {"type": "Paused", "status": "True", "reason": "PausedByUser", "message": "VMI was paused by user"},
        {"type": "LiveMigratable", "status": "True"}]}}
    s: dict = {"conditions": [{"type": "Failure", "status": "True"}, {"type": "AgentConnected", "status": "True"}]}
    st.sync_vm_conditions(s, the_vmi, now="2026-01-01T00:01:00Z")
    by = {c["type"]: c for c in s["conditions"]}
    assert set(by) == {"Ready", "Paused", "LiveMigratable"}       # Failure cleared, AgentConnected dropped
    assert by["Ready"]["status"] == "True" and by["Ready"]["lastTransitionTime"] == "2026-01-01T00:00:07Z"
    assert by["Paused"]["message"] == "VMI was paused by user"
    st.sync_vm_conditions(s, the_vmi, failure=("FailedCreate", "boom"))
    assert st.get_condition({"status": s}, "Failure")["message"] == "boom"


def test_vm_ready_when_vmi_lacks_ready():
    s: dict = {}
    st.sync_vm_conditions(s, {"status": {}})
    assert s["conditions"][0]["reason"] == "VMIConditionMissing"


def test_phase_helpers():
    v = {"status": {"phase": "Running", "phaseTransitionTimestamps": []}}
    assert st.is_running(v) and not st.is_final(v) and not st.was_running(v)
    assert st.set_phase(v["status"], "Running") is False
    assert st.set_phase(v["status"], "Succeeded", now="2026-01-01T00:00:00Z") is True
    assert st.is_final(v)
    assert v["status"]["phaseTransitionTimestamps"][-1] == {"phase": "Succeeded",
                                                            "phaseTransitionTimestamp": "2026-01-01T00:00:00Z"}
    assert st.phase(None) == "" and not st.is_final(None)
    assert st.was_running({"status": {"phaseTransitionTimestamps": [{"phase": "Running"}]}})


def test_owner_helpers():
    owner = {"metadata": {"uid": "a"}}
    obj = {"metadata": {"ownerReferences": [{"uid": "a", "controller": True, "kind": "VirtualMachine"}]}}
    assert st.owned_by(obj, owner) and not st.owned_by(obj, {"metadata": {"uid": "b"}})
    assert st.controller_ref(obj)["uid"] == "a" and st.controller_ref({}) is None
