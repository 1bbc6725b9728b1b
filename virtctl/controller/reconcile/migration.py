"""VirtualMachineInstanceMigration controller: live migration between the controller's libvirt
hosts ("nodes").

A migration of a running VMI goes Pending → Scheduling → Running → Succeeded (or Failed, with
``status.migrationState.failureReason``); the VMI carries the same ``migrationState`` meanwhile, so
its VM shows ``Migrating``. With no other node there is no target: KubeVirt's migration would wait
in Scheduling until its unschedulable timeout; here it fails at once, saying why.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Sequence

from virtctl.controller.virt.hypervisor import DomainState, Hypervisor, domain_name
from virtctl.errors import NotFound, VirtctlError
from virtctl.model import kinds
from virtctl.model import status as st

log = logging.getLogger(__name__)

FINAL = ("Succeeded", "Failed")
LIVE = (DomainState.RUNNING, DomainState.PAUSED)


def failure_reason(vmi: dict | None, vmi_name: str, nodes: Sequence[str]) -> str:
    """Why this migration cannot start, or "" if it can."""
    if vmi is None:
        return f"VMI {vmi_name} does not exist"
    status = vmi.get("status") or {}
    if status.get("phase") != st.RUNNING:
        return f"VMI {vmi_name} is not running"
    if st.is_migrating(vmi):
        return f"VMI {vmi_name} is already migrating"
    source = status.get("nodeName") or ""
    if not [n for n in nodes if n != source]:
        return (f"no node can take VMI {vmi_name}: {source or 'its node'} is the only node "
                "(configure more libvirt hosts in libvirtURIs)")
    return ""


class MigrationController:
    kind = kinds.VMIM

    def __init__(self, store: Any, hosts: Sequence[Hypervisor]):
        self.store = store
        self.hosts = list(hosts)

    def reconcile(self, key: tuple[str, str]) -> None:
        namespace, name = key
        try:
            vmim = self.store.get(self.kind, namespace, name)
        except NotFound:
            return
        status = vmim.get("status") or {}
        if status.get("phase") in FINAL:
            return
        vmi_name = (vmim.get("spec") or {}).get("vmiName") or ""
        try:
            vmi = self.store.get(kinds.VMI, namespace, vmi_name)
        except NotFound:
            vmi = None
        if status.get("phase") == "Running":
            self._interrupted(vmim, vmi)            # the controller restarted during the migration
            return
        reason = failure_reason(vmi, vmi_name, [h.node_name for h in self.hosts])
        if reason:
            self._end(vmim, None, failed=reason, source=((vmi or {}).get("status") or {}).get("nodeName", ""))
            return
        assert vmi is not None
        source = self._host((vmi.get("status") or {}).get("nodeName"))
        target = next(h for h in self.hosts if h is not source)
        state = {"startTimestamp": st.now_iso(), "sourceNode": source.node_name,
                 "targetNode": target.node_name, "migrationUid": (vmim.get("metadata") or {}).get("uid"),
                 "mode": "PreCopy", "completed": False, "failed": False}
        def running(s: dict) -> None:
            _phases(s, "Pending", "Scheduling", "Running")
            s["migrationState"] = state

        self._write(vmim, running)
        self._write(vmi, lambda s: s.update(migrationState=dict(state)))
        try:
            source.migrate(domain_name(namespace, vmi_name), target)
        except VirtctlError as e:
            self._end(vmim, vmi, failed=e.message)
            return
        self._end(vmim, vmi, node=target.node_name)

    def _host(self, node: str | None) -> Hypervisor:
        return next((h for h in self.hosts if h.node_name == node), self.hosts[0])

    def _interrupted(self, vmim: dict, vmi: dict | None) -> None:
        state = (vmim.get("status") or {}).get("migrationState") or {}
        target = self._host(state.get("targetNode"))
        uid = ((vmi or {}).get("metadata") or {}).get("uid")
        vmi_name = (vmim.get("spec") or {}).get("vmiName") or ""
        ds = target.status(domain_name((vmim.get("metadata") or {}).get("namespace") or "", vmi_name))
        if vmi is not None and ds.state in LIVE and ds.vmi_uid == uid:
            self._end(vmim, vmi, node=target.node_name)
        else:
            self._end(vmim, vmi, failed="the controller restarted during the migration")

    def _end(self, vmim: dict, vmi: dict | None, *, node: str = "", failed: str = "", source: str = "") -> None:
        now = st.now_iso()

        def finish(state: dict) -> dict:
            state = dict(state)
            state.setdefault("startTimestamp", now)
            if source:
                state.setdefault("sourceNode", source)
            state.update(endTimestamp=now, completed=not failed, failed=bool(failed))
            if failed:
                state["failureReason"] = failed
            return state

        def on_vmim(s: dict) -> None:
            _phases(s, "Pending", "Failed" if failed else "Succeeded")
            s["migrationState"] = finish(s.get("migrationState") or {})

        def on_vmi(s: dict) -> Any:
            if not s.get("migrationState"):
                return False
            s["migrationState"] = finish(s["migrationState"])
            if node:
                s["nodeName"] = node
            return None

        if failed:
            m = vmim.get("metadata") or {}
            log.info("migration %s/%s failed: %s", m.get("namespace"), m.get("name"), failed)
        self._write(vmim, on_vmim)
        if vmi is not None:
            self._write(vmi, on_vmi)

    def _write(self, obj: dict, change: Callable[[dict], Any]) -> None:
        m = obj.get("metadata") or {}
        kind = kinds.VMIM if obj.get("kind") == kinds.VMIM.kind else kinds.VMI

        def fn(current: dict) -> Any:
            if (current.get("metadata") or {}).get("uid") != m.get("uid"):
                return False                        # replaced meanwhile: not ours to touch
            return change(current.setdefault("status", {}))

        self.store.mutate(kind, m.get("namespace"), m.get("name"), fn, subresource="status")


def _phases(status: dict, *phases: str) -> None:
    """Walk ``status.phase`` through ``phases`` (those already passed are kept once)."""
    now = st.now_iso()
    seen = {t.get("phase") for t in status.get("phaseTransitionTimestamps") or []}
    for phase in phases:
        if phase not in seen or phase == phases[-1]:
            st.set_phase(status, phase, now)
