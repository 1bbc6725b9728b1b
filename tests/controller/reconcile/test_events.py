"""Events: the recorder (client-go's aggregation, components, WARNING log lines, expiry), what the
controllers report for a VM's life and for a failure, and the namespace controller emptying a
Terminating namespace. Real SQLite store, libvirt's test:///default driver."""

from __future__ import annotations

import logging
import time

import pytest

from tests.controller.reconcile.conftest import wait_for
from virtctl.controller.reconcile import events
from virtctl.controller.reconcile import manager as manager_mod
from virtctl.controller.reconcile.events import Recorder
from virtctl.errors import VirtctlError
from virtctl.model import kinds


def make_ns(store, name):
    store.create(kinds.NAMESPACE, None, {"metadata": {"name": name}})


def reasons(store, ns, kind=None):
    items, _ = store.list(kinds.EVENT, ns)
    return [(e["involvedObject"]["kind"], e["reason"], e["source"]["component"], e.get("count"))
            for e in sorted(items, key=lambda e: e["metadata"]["creationTimestamp"] + e["metadata"]["name"])
            if kind is None or e["involvedObject"]["kind"] == kind]


def test_recorder_aggregates_repeats_and_logs_warnings(env, caplog):
    make_ns(env.store, env.ns)
    vm = env.vm(strategy="Halted")
    rec = Recorder(env.store, "virt-handler", "node01")
    with caplog.at_level(logging.WARNING, logger="virtctl.controller.reconcile.events"):
        rec.warning(vm, "SyncFailed", "libvirt said no: line one\nline two")
    rec.warning(vm, "SyncFailed", "libvirt said no: line one\nline two")
    rec.normal(vm, "Started", "VirtualMachineInstance started.")
    items, _ = env.store.list(kinds.EVENT, env.ns)
    assert len(items) == 2
    failed = next(e for e in items if e["reason"] == "SyncFailed")
    assert failed["count"] == 2 and failed["type"] == "Warning"
    assert failed["lastTimestamp"] >= failed["firstTimestamp"]
    assert failed["source"] == {"component": "virt-handler", "host": "node01"}
    assert failed["involvedObject"]["uid"] == vm["metadata"]["uid"]
    assert failed["involvedObject"]["kind"] == "VirtualMachine"
    assert failed["metadata"]["name"].startswith("vm1.")
    assert any("SyncFailed: libvirt said no: line one\nline two" in r.getMessage() for r in caplog.records)


def test_no_event_in_a_missing_namespace_and_expiry(env):
    vm = env.vm(strategy="Halted")                    # env.ns has no Namespace object
    Recorder(env.store, "virtualmachine-controller").normal(vm, "SuccessfulCreate", "x")
    assert env.store.list(kinds.EVENT)[0] == []
    make_ns(env.store, env.ns)
    rec = Recorder(env.store, "virtualmachine-controller")
    rec.normal(vm, "Old", "old")
    rec.normal(vm, "New", "new")
    old = next(e for e in env.store.list(kinds.EVENT, env.ns)[0] if e["reason"] == "Old")
    env.store.mutate(kinds.EVENT, env.ns, old["metadata"]["name"],
                     lambda e: e.update(lastTimestamp="2020-01-01T00:00:00Z"))
    assert events.expire(env.store, ttl=3600) == 1
    assert [e["reason"] for e in env.store.list(kinds.EVENT, env.ns)[0]] == ["New"]


def test_vm_life_is_reported(env):
    make_ns(env.store, env.ns)
    env.start()
    env.vm()
    env.wait_vm_status("Running")
    wait_for(lambda: ("VirtualMachineInstance", "Started", "virt-handler", 1) in reasons(env.store, env.ns),
             what="Started event")
    assert ("VirtualMachine", "SuccessfulCreate", "virtualmachine-controller", 1) in reasons(env.store, env.ns)
    env.store.mutate(kinds.VM, env.ns, "vm1", lambda o: o["spec"].update(runStrategy="Halted"))
    wait_for(lambda: env.get_vmi() is None, what="VMI gone")
    got = wait_for(lambda: ("VirtualMachineInstance", "Deleted", "virt-handler", 1) in reasons(env.store, env.ns)
                   and reasons(env.store, env.ns), what="Deleted event")
    assert ("VirtualMachine", "SuccessfulDelete", "virtualmachine-controller", 1) in got
    assert ("VirtualMachineInstance", "ShuttingDown", "virt-handler", 1) in got
    started = next(e for e in env.store.list(kinds.EVENT, env.ns)[0] if e["reason"] == "Started")
    assert started["source"]["host"] == "node01" and started["message"] == "VirtualMachineInstance started."


def test_a_failure_is_in_conditions_events_and_the_log(env, caplog):
    make_ns(env.store, env.ns)

    def refuse(vmi, settings, namespace=None):
        raise VirtctlError('pulling 127.0.0.1:5000/nope:latest: registry answered 404: '
                           '{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')

    env.manager = manager_mod.start(env.store, env.settings, [env.host], prepare_volumes=refuse, resync_seconds=0.5)
    with caplog.at_level(logging.WARNING):
        env.vmi_obj("bad")
        vmi = env.wait_vmi_phase("Failed", "bad")
        wait_for(lambda: any(e["reason"] == "FailedCreate" for e in env.store.list(kinds.EVENT, env.ns)[0]),
                 what="FailedCreate event")
    cond = {c["type"]: c for c in vmi["status"]["conditions"]}["Synchronized"]
    assert "MANIFEST_UNKNOWN" in cond["message"]
    ev = next(e for e in env.store.list(kinds.EVENT, env.ns)[0] if e["reason"] == "FailedCreate")
    assert ev["type"] == "Warning" and "127.0.0.1:5000/nope:latest" in ev["message"]
    assert "registry answered 404" in ev["message"]
    logged = [r for r in caplog.records if r.levelno == logging.WARNING and "MANIFEST_UNKNOWN" in r.getMessage()]
    assert logged and "127.0.0.1:5000/nope:latest" in logged[0].getMessage()


def test_deleting_a_namespace_stops_its_vms_then_goes(env):
    make_ns(env.store, env.ns)
    env.start()
    env.vm()
    env.wait_vm_status("Running")
    env.store.create(kinds.SECRET, env.ns, {"metadata": {"name": "s"}, "stringData": {"k": "v"}})
    assert env.our_domains()
    terminating = env.store.delete(kinds.NAMESPACE, None, env.ns)
    assert terminating["status"]["phase"] == "Terminating"
    wait_for(lambda: not any(n == env.ns for n in
                             (o["metadata"]["name"] for o in env.store.list(kinds.NAMESPACE)[0])),
             timeout=20, what="namespace deleted")
    assert env.get_vm() is None and env.get_vmi() is None
    assert env.store.list(kinds.SECRET, env.ns)[0] == [] and env.store.list(kinds.EVENT, env.ns)[0] == []
    deadline = time.monotonic() + 5
    while env.our_domains() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not env.our_domains()


def test_an_unreachable_libvirt_is_reported_on_the_vmi(env):
    make_ns(env.store, env.ns)
    from virtctl.controller.virt.libvirt_host import LibvirtHost
    lost = LibvirtHost("test:///default", "node01")
    env.start(lost)
    lost.close()                                      # libvirt gone: every look at a domain fails
    env.vmi_obj("lost")
    ev = wait_for(lambda: next((e for e in env.store.list(kinds.EVENT, env.ns)[0] if e["reason"] == "SyncFailed"),
                               None), what="SyncFailed event")
    assert ev["type"] == "Warning" and ev["involvedObject"]["name"] == "lost"
    cond = {c["type"]: c for c in (env.get_vmi("lost")["status"].get("conditions") or [])}["Synchronized"]
    assert cond["status"] == "False" and cond["message"] == ev["message"]


def test_event_ttl_comes_from_config_yaml(tmp_path):
    from virtctl.controller.settings import Settings
    assert Settings(state_dir=tmp_path).event_ttl == 3600
    (tmp_path / "config.yaml").write_text("eventTTL: 60\n")
    assert Settings.load(tmp_path).event_ttl == 60
    (tmp_path / "config.yaml").write_text("eventTTL: 1h30m\n")      # kube-apiserver's --event-ttl form
    assert Settings.load(tmp_path).event_ttl == 5400


@pytest.mark.parametrize("value", ["soon", "0s", "-5", "true", "[1]"])
def test_event_ttl_that_is_not_a_positive_duration_is_refused(tmp_path, value):
    from virtctl.controller.settings import Settings
    from virtctl.errors import ConfigError
    (tmp_path / "config.yaml").write_text(f"eventTTL: {value}\n")
    with pytest.raises(ConfigError, match="eventTTL"):
        Settings.load(tmp_path)


def test_a_vm_in_crash_loop_says_why(env, caplog):
    make_ns(env.store, env.ns)

    def refuse(vmi, settings, namespace=None):
        raise VirtctlError('image "127.0.0.1:5000/nope:v1" not found: manifest unknown')

    env.manager = manager_mod.start(env.store, env.settings, [env.host], prepare_volumes=refuse, resync_seconds=0.5)
    with caplog.at_level(logging.WARNING, logger="virtctl.controller.reconcile.events"):
        vm = env.vm()
        env.wait_vm_status("CrashLoopBackOff")
        ev = wait_for(lambda: next((e for e in env.store.list(kinds.EVENT, env.ns)[0]
                                    if e["involvedObject"]["kind"] == "VirtualMachine" and e["type"] == "Warning"),
                                   None), what="a Warning event on the VM")
    assert ev["involvedObject"]["uid"] == vm["metadata"]["uid"] and ev["reason"] == "FailedCreate"
    assert "manifest unknown" in ev["message"]
    lines = [r for r in caplog.records if "manifest unknown" in r.getMessage()]
    assert all("VirtualMachineInstance" in r.getMessage() for r in lines)      # logged once per failure
