"""VirtualMachineInstanceMigration controller.

KubeVirt moves a VMI to another node. Here a node is a libvirt host of the controller; with no
other host there is no target, and the migration ends Failed with the reason in
``status.migrationState.failureReason`` instead of waiting forever (KubeVirt's migration would
stay Scheduling until its unschedulable timeout). Moving a guest between two libvirt hosts is not
implemented yet: such a migration also fails, saying so.
"""

from __future__ import annotations

import logging
from typing import Any, Sequence

from virtctl.errors import NotFound
from virtctl.model import kinds
from virtctl.model import status as st

log = logging.getLogger(__name__)

FINAL = ("Succeeded", "Failed")


def target_nodes(source: str, nodes: Sequence[str]) -> list[str]:
    return [n for n in nodes if n != source]


def failure_reason(vmi: dict | None, vmi_name: str, nodes: Sequence[str]) -> str:
    """Why this migration cannot run, or "" if it could."""
    if vmi is None:
        return f"VMI {vmi_name} does not exist"
    status = vmi.get("status") or {}
    if status.get("phase") != st.RUNNING:
        return f"VMI {vmi_name} is not running"
    source = status.get("nodeName") or ""
    if not target_nodes(source, nodes):
        return (f"no node can take VMI {vmi_name}: {source or 'its node'} is the only node "
                "(configure more libvirt hosts in libvirtURIs)")
    return "live migration between libvirt hosts is not supported yet"


class MigrationController:
    kind = kinds.VMIM

    def __init__(self, store: Any, hosts: Sequence[Any]):
        self.store = store
        self.nodes = [h.node_name for h in hosts]

    def reconcile(self, key: tuple[str, str]) -> None:
        namespace, name = key
        try:
            vmim = self.store.get(self.kind, namespace, name)
        except NotFound:
            return
        if (vmim.get("status") or {}).get("phase") in FINAL:
            return
        vmi_name = (vmim.get("spec") or {}).get("vmiName") or ""
        try:
            vmi = self.store.get(kinds.VMI, namespace, vmi_name)
        except NotFound:
            vmi = None
        reason = failure_reason(vmi, vmi_name, self.nodes)
        source = ((vmi or {}).get("status") or {}).get("nodeName") or ""
        uid = (vmim.get("metadata") or {}).get("uid")

        def fail(obj: dict) -> Any:
            if (obj.get("metadata") or {}).get("uid") != uid:
                return False
            s = obj.setdefault("status", {})
            if s.get("phase") in FINAL:
                return False
            now = st.now_iso()
            st.set_phase(s, "Pending", now)
            st.set_phase(s, "Failed", now)
            state = {"startTimestamp": now, "endTimestamp": now, "completed": False, "failed": True,
                     "failureReason": reason}
            if source:
                state["sourceNode"] = source
            s["migrationState"] = state
            return None

        log.info("migration %s/%s of %s failed: %s", namespace, name, vmi_name, reason)
        self.store.mutate(self.kind, namespace, name, fail, subresource="status")
