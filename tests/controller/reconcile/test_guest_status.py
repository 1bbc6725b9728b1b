"""The guest status poller: what it writes for an observation (``apply``), and that libvirt's agent
lifecycle event makes it look at once instead of at its next tick."""

from __future__ import annotations

import threading
from typing import Any, Callable

from virtctl.controller.reconcile.guest_status import GuestStatusPoller, apply, spec_nics
from virtctl.controller.store.objects import ObjectStore
from virtctl.controller.virt.hypervisor import DomainEvent
from virtctl.errors import NotFound
from virtctl.model import status as st
from virtctl.model.kinds import VMI


class EventSource:
    """The part of a hypervisor host the poller uses: its event callbacks and the live domain XML
    (here: a domain that has just gone, so each look is counted and ends there)."""

    node_name = "node01"

    def __init__(self) -> None:
        self.callbacks: list[Callable[[DomainEvent], None]] = []
        self.looked = threading.Event()

    def on_event(self, callback: Callable[[DomainEvent], None]) -> None:
        self.callbacks.append(callback)

    def domain_xml(self, domain: str) -> str:
        self.looked.set()
        raise NotFound(f"domain {domain} not found")


def running_vmi(store: ObjectStore) -> None:
    vmi: dict[str, Any] = {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
                           "metadata": {"name": "g1"}, "spec": {"domain": {"devices": {}}}}
    store.create(VMI, "default", vmi)
    store.mutate(VMI, "default", "g1", lambda o: o.setdefault("status", {}).update(
        phase=st.RUNNING, nodeName="node01") or True, subresource="status")


def test_an_agent_event_makes_the_poller_look_at_once(tmp_path):
    store = ObjectStore(tmp_path / "store.db")
    running_vmi(store)
    host = EventSource()
    poller = GuestStatusPoller(store, [host], interval=3600)     # no tick during the test
    poller.start()
    try:
        assert not host.looked.wait(0.3)
        for cb in host.callbacks:
            cb(DomainEvent("default_g1", "agent", "connected"))
        assert host.looked.wait(10)
    finally:
        poller.stop()
        store.close()


def test_other_domain_events_wait_for_the_tick(tmp_path):
    store = ObjectStore(tmp_path / "store.db")
    running_vmi(store)
    host = EventSource()
    poller = GuestStatusPoller(store, [host], interval=3600)
    poller.start()
    try:
        for cb in host.callbacks:
            cb(DomainEvent("default_g1", "reboot", ""))
        assert not host.looked.wait(0.5)
    finally:
        poller.stop()
        store.close()


def test_apply_writes_only_changes():
    status: dict = {}
    assert apply(status, True, {"name": "Debian"}, [{"name": "default", "ipAddress": "10.0.2.15"}])
    assert st.get_condition({"status": status}, "AgentConnected")["status"] == "True"
    assert not apply(status, True, {"name": "Debian"}, [{"name": "default", "ipAddress": "10.0.2.15"}])
    assert apply(status, False, None, [{"name": "default", "ipAddress": "10.0.2.15"}])
    assert status["guestOSInfo"] == {} and st.get_condition({"status": status}, "AgentConnected") is None


def test_nic_names_come_from_the_spec_in_order():
    vmi = {"spec": {"domain": {"devices": {"interfaces": [{"name": "default"}, {"name": "second"}]}}}}
    assert spec_nics(vmi, [("ua-a", "52:54:00:00:00:01"), ("ua-b", "52:54:00:00:00:02")]) == [
        ("default", "52:54:00:00:00:01"), ("second", "52:54:00:00:00:02")]
    assert spec_nics({"spec": {}}, [("ua-a", "m")]) == [("default", "m")]
