"""Why a VM fails, under ``virtctl get vm NAME``: when the VM's printableStatus is a failure (or it
is stuck starting), the last Warning event of the VM or its VMI is printed after the table as
``kubectl describe`` prints its Events section. Only for table output: ``-o json|yaml|name`` stay
exactly the objects (docs/compatibility.md)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, TextIO

from virtctl.errors import VirtctlError
from virtctl.model import kinds
from virtctl.model.core_printers import since
from virtctl.model.status import Printable

FAILING = (Printable.PVC_NOT_FOUND, Printable.DATAVOLUME_ERROR, Printable.UNSCHEDULABLE, Printable.ERR_IMAGE_PULL,
           Printable.IMAGE_PULL_BACKOFF, Printable.CRASH_LOOP_BACKOFF, Printable.UNKNOWN, Printable.STARTING)
OBJECT_KINDS = ("VirtualMachine", "VirtualMachineInstance")


def failing(vm: dict[str, Any]) -> bool:
    return (vm.get("status") or {}).get("printableStatus") in FAILING


def last_warning(events: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    """The Warning about VM or VMI ``name`` seen last (by lastTimestamp, then eventTime)."""
    mine = [e for e in events if e.get("type") == "Warning"
            and (e.get("involvedObject") or {}).get("kind") in OBJECT_KINDS
            and (e.get("involvedObject") or {}).get("name") == name]
    if not mine:
        return None
    return max(mine, key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or
                                       (e.get("metadata") or {}).get("creationTimestamp") or ""))


def events_section(event: dict[str, Any], now: datetime) -> str:
    """kubectl describe's Events section with one event."""
    last = since(event.get("lastTimestamp") or event.get("eventTime"), now)
    count = int(event.get("count") or 1)
    age = f"{last} (x{count} over {since(event.get('firstTimestamp'), now)})" if count > 1 else last
    source = str((event.get("source") or {}).get("component") or event.get("reportingComponent") or "")
    rows = [["Type", "Reason", "Age", "From", "Message"], ["----", "------", "----", "----", "-------"],
            [str(event.get("type") or ""), str(event.get("reason") or ""), age, source,
             str(event.get("message") or "").strip()]]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]       # describe's tabwriter: padding 2
    lines = ["  ".join([*(r[i].ljust(widths[i]) for i in range(4)), r[4]]).rstrip() for r in rows]
    return "\nEvents:\n" + "".join(f"  {line}\n" for line in lines)


def print_last_warning(kv: Any, vm: dict[str, Any], out: TextIO) -> None:
    """After ``get vm NAME``'s table: the last Warning, if the VM is failing (nothing otherwise,
    and nothing when events cannot be listed)."""
    if not failing(vm):
        return
    name = str((vm.get("metadata") or {}).get("name") or "")
    try:
        listing = kv.list(kinds.EVENT, field_selector=f"involvedObject.name={name}")
    except VirtctlError:
        return
    event = last_warning(listing.get("items") or [], name)
    if event is not None:
        out.write(events_section(event, datetime.now(timezone.utc)))
