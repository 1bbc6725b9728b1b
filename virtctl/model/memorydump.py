"""Memory dumps as KubeVirt decides them (pure functions): the size a dump claim needs, and virt-api's
rules for ``memorydump`` / ``removememorydump`` requests on ``status.memoryDumpRequest`` with their
messages (docs/standalone.md#memory-dump).
"""

from __future__ import annotations

import math
from typing import Any

from virtctl.model.quantity import canonical, to_int

DUMP_OVERHEAD = 100 * 1024 * 1024         # KubeVirt's CalcExpectedMemoryDumpSize
FS_OVERHEAD = 0.055                       # CDI's default filesystem overhead

ASSOCIATING = "Associating"
IN_PROGRESS = "InProgress"
COMPLETED = "Completed"
DISSOCIATING = "Dissociating"
FAILED = "Failed"


class DumpRefused(Exception):
    """virt-api refuses the request; ``resource`` is what the 409 names."""

    def __init__(self, message: str, resource: str = "virtualmachine"):
        super().__init__(message)
        self.resource = resource


def guest_memory_bytes(vmi: dict) -> int:
    """``resources.requests.memory`` (what KubeVirt sizes dumps from), else ``memory.guest``."""
    domain = (vmi.get("spec") or {}).get("domain") or {}
    for value in (((domain.get("resources") or {}).get("requests") or {}).get("memory"),
                  (domain.get("memory") or {}).get("guest")):
        if value:
            try:
                return to_int(str(value))
            except ValueError:
                continue
    return 0


def expected_dump_size(vmi: dict) -> int:
    return guest_memory_bytes(vmi) + DUMP_OVERHEAD


def needed_claim_size(vmi: dict) -> int:
    """The claim size for a dump, the default filesystem overhead included (virtctl --create-claim)."""
    return math.ceil(expected_dump_size(vmi) / (1 - FS_OVERHEAD))


def check_claim(vmi: dict, claim: str, pvc: dict, requested: int) -> None:
    """virt-api's checks of the dump claim (409s on the persistentvolumeclaim)."""
    spec = pvc.get("spec") or {}
    if spec.get("volumeMode") == "Block":
        raise DumpRefused("pvc should be filesystem pvc", "persistentvolumeclaim")
    if "ReadOnlyMany" in (spec.get("accessModes") or []):
        raise DumpRefused("pvc access mode can't be read only", "persistentvolumeclaim")
    scaled_k = math.ceil(requested / 1000)
    needed = needed_claim_size(vmi)
    if scaled_k * 1000 < needed:
        raise DumpRefused(f"pvc size [{canonical(f'{scaled_k}k')}] should be bigger then [{needed}]",
                          "persistentvolumeclaim")


def claim_for(current: dict | None, requested_claim: str) -> str:
    """The claim a ``memorydump`` request dumps to (the associated one when none is named)."""
    if not requested_claim and current is None:
        raise DumpRefused("Memory dump requires claim name to be set", "")
    if current is not None and requested_claim and current.get("claimName") != requested_claim:
        raise DumpRefused(f"can't request memory dump for pvc [{requested_claim}] while pvc "
                          f"[{current.get('claimName')}] is still associated as the memory dump pvc")
    return requested_claim or str((current or {}).get("claimName") or "")


def add_request(current: dict | None, claim: str) -> dict[str, Any]:
    if current is not None:
        if current.get("phase") == DISSOCIATING:
            raise DumpRefused(f"can't dump memory for pvc [{claim}] a remove memory dump request is in progress")
        if current.get("phase") not in (COMPLETED, FAILED):
            raise DumpRefused(f"memory dump request for pvc [{claim}] already in progress")
    return {"claimName": claim, "phase": ASSOCIATING}


def remove_request(current: dict | None, vm_name: str) -> dict[str, Any]:
    if current is None:
        raise DumpRefused(f"can't remove memory dump association for vm {vm_name}, no association found")
    if current.get("remove"):
        raise DumpRefused(f"memory dump remove request for pvc [{current.get('claimName')}] already exists")
    return {"claimName": current.get("claimName"), "phase": DISSOCIATING, "remove": True}


def dump_file_name(vm_name: str, claim: str, stamp: str) -> str:
    """KubeVirt's name of the dump file (``stamp``: YYYYMMDD-HHMMSS)."""
    return f"{vm_name}-{claim}-{stamp}.memory.dump"
