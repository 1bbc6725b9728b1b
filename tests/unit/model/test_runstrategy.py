"""runStrategy decisions, stateChangeRequests and crash-loop backoff (virtctl.model.runstrategy)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from virtctl.model import runstrategy as rs
from virtctl.model.runstrategy import Action

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def vm(strategy="Always", requests=None, running=None, status_rs=None, start_failure=None):
    spec = {}
    if strategy is not None:
        spec["runStrategy"] = strategy
    if running is not None:
        spec["running"] = running
    status = {}
    if requests is not None:
        status["stateChangeRequests"] = requests
    if status_rs:
        status["runStrategy"] = status_rs
    if start_failure:
        status["startFailure"] = start_failure
    return {"metadata": {"name": "vm1", "uid": "vm-uid"}, "spec": spec, "status": status}


def vmi(phase="Running", uid="u1", deleting=False, ran=False):
    o = {"metadata": {"name": "vm1", "uid": uid}, "status": {"phase": phase}}
    if deleting:
        o["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    if ran:
        o["status"]["phaseTransitionTimestamps"] = [{"phase": "Running"}]
    return o


STOP_U1 = {"action": "Stop", "uid": "u1"}
START = {"action": "Start"}
START_PAUSED = {"action": "Start", "data": {"paused": "true"}}


def test_run_strategy_mapping():
    assert rs.run_strategy(vm("Manual")) == "Manual"
    assert rs.run_strategy(vm(None, running=True)) == "Always"
    assert rs.run_strategy(vm(None, running=False)) == "Halted"
    assert rs.run_strategy(vm(None)) == "Halted"
    with pytest.raises(rs.RunStrategyError, match="mutually exclusive"):
        rs.run_strategy(vm("Always", running=True))
    with pytest.raises(rs.RunStrategyError, match="unknown runstrategy: Sometimes"):
        rs.run_strategy(vm("Sometimes"))


@pytest.mark.parametrize("the_vm,the_vmi,action", [
    # Always: keep a VMI; restart after any exit
    (vm("Always"), None, Action.CREATE),
    (vm("Always"), vmi("Running"), Action.NOTHING),
    (vm("Always"), vmi("Pending"), Action.NOTHING),
    (vm("Always"), vmi("Succeeded"), Action.DELETE),
    (vm("Always"), vmi("Failed"), Action.DELETE),
    (vm("Always"), vmi("Succeeded", deleting=True), Action.NOTHING),
    (vm("Always", [STOP_U1, START]), vmi("Running"), Action.DELETE),          # restart
    (vm("Always", [{"action": "Stop", "uid": "old"}, START]), vmi("Running"), Action.NOTHING),
    (vm("Always", [START]), None, Action.CREATE),
    # RerunOnFailure: restart only after failure
    (vm("RerunOnFailure"), None, Action.CREATE),                              # first start
    (vm("RerunOnFailure", status_rs="RerunOnFailure"), None, Action.NOTHING), # ran before: stays off
    (vm("RerunOnFailure", [START], status_rs="RerunOnFailure"), None, Action.CREATE),
    (vm("RerunOnFailure"), vmi("Succeeded"), Action.DELETE),
    (vm("RerunOnFailure"), vmi("Failed"), Action.DELETE),
    (vm("RerunOnFailure"), vmi("Failed", deleting=True), Action.NOTHING),
    (vm("RerunOnFailure", [STOP_U1]), vmi("Running"), Action.DELETE),
    (vm("RerunOnFailure"), vmi("Running"), Action.NOTHING),
    # Once: run once, never restart
    (vm("Once"), None, Action.CREATE),
    (vm("Once"), vmi("Succeeded"), Action.NOTHING),
    (vm("Once"), vmi("Failed"), Action.NOTHING),
    # Manual: only change requests
    (vm("Manual"), None, Action.NOTHING),
    (vm("Manual", [START]), None, Action.CREATE),
    (vm("Manual"), vmi("Running"), Action.NOTHING),
    (vm("Manual"), vmi("Succeeded"), Action.NOTHING),
    (vm("Manual", [STOP_U1]), vmi("Running"), Action.DELETE),
    (vm("Manual", [STOP_U1]), vmi("Running", deleting=True), Action.NOTHING),
    # Halted: no VMI; start --paused flips to Always
    (vm("Halted"), None, Action.NOTHING),
    (vm("Halted"), vmi("Running"), Action.DELETE),
    (vm("Halted"), vmi("Running", deleting=True), Action.NOTHING),
    (vm("Halted", [START_PAUSED]), None, Action.SET_ALWAYS),
    # deprecated spec.running
    (vm(None, running=True), None, Action.CREATE),
    (vm(None, running=False), vmi("Running"), Action.DELETE),
    # not supported here
    (vm("WaitAsReceiver"), None, Action.NOTHING),
])
def test_decide(the_vm, the_vmi, action):
    assert rs.decide(the_vm, the_vmi, NOW).action == action


def test_rerun_on_failure_requests_a_start_after_failure_only():
    assert rs.decide(vm("RerunOnFailure"), vmi("Failed"), NOW).add_start_request is True
    assert rs.decide(vm("RerunOnFailure"), vmi("Succeeded"), NOW).add_start_request is False


def test_start_paused():
    d = rs.decide(vm("Always", [START_PAUSED]), None, NOW)
    assert d.action == Action.CREATE and d.start_paused
    assert not rs.decide(vm("Always", [START]), None, NOW).start_paused


def test_backoff_delays_restart():
    sf = {"consecutiveFailCount": 1, "lastFailedVMIUID": "u0",
          "retryAfterTimestamp": "2026-01-01T00:00:20Z"}
    d = rs.decide(vm("Always", start_failure=sf), None, NOW)
    assert d.action == Action.WAIT and d.retry_after == 20
    assert rs.decide(vm("Always", start_failure=sf), None, NOW + timedelta(seconds=21)).action == Action.CREATE
    # Manual starts are explicit: no backoff
    assert rs.decide(vm("Manual", [START], start_failure=sf), None, NOW).action == Action.CREATE


@pytest.mark.parametrize("requests,the_vmi,trim", [
    ([], None, False),
    ([STOP_U1], None, True),                         # VMI gone: stopped
    ([STOP_U1], vmi(uid="u1"), False),               # still there
    ([STOP_U1], vmi(uid="u2"), True),                # a newer VMI: the old one was stopped
    ([{"action": "Stop"}], vmi(), True),             # no uid: cannot be acted upon
    ([START], None, False),
    ([START], vmi("Running"), True),
    ([START], vmi("Pending"), True),
    ([START], vmi("Running", deleting=True), False),
    ([START], vmi("Failed"), False),
    ([STOP_U1, START], vmi(uid="u1"), False),
])
def test_trim_first_change_request(requests, the_vmi, trim):
    assert rs.trim_first_change_request(vm("Manual", requests), the_vmi) is trim


def test_change_request_predicates():
    assert rs.has_start_request(vm(requests=[START]))
    assert not rs.has_start_request(vm(requests=[STOP_U1, START]))
    assert rs.has_stop_request_for(vm(requests=[STOP_U1]), vmi(uid="u1"))
    assert not rs.has_stop_request_for(vm(requests=[STOP_U1]), vmi(uid="u2"))
    assert not rs.has_stop_request_for(vm(requests=[STOP_U1]), None)
    assert rs.has_start_paused_request(vm(requests=[START_PAUSED]))


@pytest.mark.parametrize("the_vm,the_vmi,expected", [
    (vm("Always"), None, True), (vm("Halted"), None, False),
    (vm("Manual"), None, False), (vm("Manual", [START]), None, True),
    (vm("Manual", [STOP_U1]), vmi(), False), (vm("Manual"), vmi(), True),
    (vm("RerunOnFailure"), vmi("Succeeded"), False), (vm("RerunOnFailure"), vmi("Failed"), True),
    (vm("Once"), None, True), (vm("Once"), vmi(), False),
])
def test_is_set_to_start(the_vm, the_vmi, expected):
    assert rs.is_set_to_start(the_vm, the_vmi) is expected


def test_backoff_seconds_grow_and_cap():
    r = random.Random(1)
    delays = [rs.start_backoff_seconds(n, rng=r) for n in range(1, 8)]
    assert 10 <= delays[0] <= 15
    assert 40 <= delays[1] <= 60
    assert all(d <= 300 for d in delays) and delays[-1] == 300
    assert rs.start_backoff_seconds(0, rng=r) <= 15


def test_start_failure_counted_once_per_vmi_and_cleared_after_running():
    the_vm = vm("Always")
    failed = vmi("Failed", uid="a")
    sf = rs.next_start_failure(the_vm, failed, NOW, rng=random.Random(0))
    assert sf["consecutiveFailCount"] == 1 and sf["lastFailedVMIUID"] == "a"
    assert sf["retryAfterTimestamp"] > "2026-01-01T00:00:09Z"
    the_vm["status"]["startFailure"] = sf
    assert rs.next_start_failure(the_vm, failed, NOW) == sf                  # same VMI: not counted again
    sf2 = rs.next_start_failure(the_vm, vmi("Failed", uid="b"), NOW)
    assert sf2["consecutiveFailCount"] == 2
    the_vm["status"]["startFailure"] = sf2
    assert rs.next_start_failure(the_vm, vmi("Running", uid="c", ran=True), NOW) is None
    assert rs.next_start_failure(the_vm, vmi("Failed", uid="d", ran=True), NOW) is None   # it did run
    assert rs.next_start_failure(vm("Manual", start_failure=sf2), vmi("Failed", uid="e"), NOW) is None
    assert rs.next_start_failure(the_vm, vmi("Pending", uid="f"), NOW) == sf2
