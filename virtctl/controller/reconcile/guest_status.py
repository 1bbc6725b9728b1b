"""What the guest tells about itself, in the VMI's status: the ``AgentConnected`` condition,
``status.guestOSInfo`` and ``status.interfaces[]`` (docs/standalone.md, "Reaching the guest").

A poller (one daemon thread) asks the guest agent of every running VMI every few seconds, as
virt-handler's agent poller does, and at once when libvirt reports that a guest agent connected or
went away (its agent lifecycle event), so ``AgentConnected`` follows the agent within a moment.
With an agent: ``AgentConnected=True``, the OS info, and the interfaces from the agent matched by
MAC (infoSource ``domain, guest-agent``). Without one: no ``AgentConnected`` condition, and the
address QEMU's user-mode DHCP hands out (10.0.2.15) on the first NIC (infoSource ``domain``). The
status is written only when it changes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from virtctl.controller.store.protocol import Store
from virtctl.controller.virt import guest_agent as ga
from virtctl.controller.virt.domain import parse_live
from virtctl.controller.virt.hostfwd import GUEST_IP
from virtctl.controller.virt.hypervisor import DomainEvent, Hypervisor, domain_name
from virtctl.errors import VirtctlError
from virtctl.model import status as st
from virtctl.model.kinds import VMI

log = logging.getLogger(__name__)

INTERVAL = 3.0
AGENT_TIMEOUT = 2               # seconds for one agent command


def spec_nics(vmi: dict, live_nics: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """(interface name, MAC) of each NIC: names from the spec in order, MACs from libvirt."""
    spec = ((vmi.get("spec") or {}).get("domain") or {}).get("devices", {}).get("interfaces") or []
    names = [i.get("name") or "" for i in spec] or ["default"]
    return [(names[i] if i < len(names) else "", mac) for i, (_alias, mac) in enumerate(live_nics)]


def apply(status: dict, connected: bool, os_info: dict | None, interfaces: list[dict]) -> bool:
    """Put the observation into ``status``; False when nothing changed (no write then)."""
    before = (status.get("interfaces"), status.get("guestOSInfo"),
              [c for c in status.get("conditions") or [] if c.get("type") == ga.CONDITION])
    if connected:
        st.set_condition(status, ga.CONDITION, "True")
        status["guestOSInfo"] = os_info or {}
    else:
        st.remove_condition(status, ga.CONDITION)
        status["guestOSInfo"] = {}
    status["interfaces"] = interfaces
    after = (status.get("interfaces"), status.get("guestOSInfo"),
             [c for c in status.get("conditions") or [] if c.get("type") == ga.CONDITION])
    return before != after


class GuestStatusPoller:
    def __init__(self, store: Store, hosts: Sequence[Hypervisor], interval: float = INTERVAL):
        self.store = store
        self.hosts = list(hosts)
        self.interval = interval
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        for host in self.hosts:
            host.on_event(self._on_domain_event)
        self._thread = threading.Thread(target=self._run, name="guest-status", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _on_domain_event(self, event: DomainEvent) -> None:
        if event.event == "agent":
            self._wake.set()                 # look now rather than at the next tick

    def _run(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.poll()
            except Exception:
                log.exception("guest status poll failed")

    def _host(self, node: str) -> Hypervisor | None:
        found = next((h for h in self.hosts if h.node_name == node), None)
        return found or (self.hosts[0] if len(self.hosts) == 1 else None)

    def poll(self) -> None:
        vmis, _ = self.store.list(VMI)
        for vmi in vmis:
            if st.phase(vmi) != st.RUNNING:
                continue
            host = self._host((vmi.get("status") or {}).get("nodeName") or "")
            if host is not None:
                self.observe(vmi, host)

    def observe(self, vmi: dict, host: Hypervisor) -> None:
        meta = vmi.get("metadata") or {}
        ns, name = meta.get("namespace") or "", meta.get("name") or ""
        dom = domain_name(ns, name)
        try:
            nics = spec_nics(vmi, parse_live(host.domain_xml(dom)).nics)
        except VirtctlError:
            return                                      # stopped meanwhile
        agent = ga.GuestAgent(lambda d, c: host.agent_command(d, c, AGENT_TIMEOUT), dom)
        connected, os_info, agent_ifaces = False, None, None
        try:
            os_info = ga.os_info(agent.os_info())
            agent_ifaces = agent.interfaces()
            connected = True
        except ga.AgentUnavailable:
            pass
        except VirtctlError:
            return
        interfaces = ga.status_interfaces(nics, agent_ifaces, GUEST_IP)
        uid = meta.get("uid")

        def change(obj: dict) -> Any:
            if (obj.get("metadata") or {}).get("uid") != uid or st.phase(obj) != st.RUNNING:
                return False
            return apply(obj.setdefault("status", {}), connected, os_info, interfaces) or False

        try:
            self.store.mutate(VMI, ns, name, change, subresource="status")
        except VirtctlError:
            pass                                        # deleted meanwhile
