"""``snapshot create|list|restore|delete`` (beyond Go virtctl,
docs/compatibility.md#beyond-go-virtctl):
VirtualMachineSnapshot and VirtualMachineRestore objects (snapshot.kubevirt.io/v1beta1), with
``--wait``/``--timeout``."""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from virtctl.cli.args import exact_args
from virtctl.cli.getting import server_error
from virtctl.cli.ops.lifecycle import wait_limit
from virtctl.cli.state import current
from virtctl.cli.wait import wait_until
from virtctl.errors import APIError, UsageError, VirtctlError
from virtctl.model import kinds
from virtctl.model.status import get_condition


def _get(kv: Any, kind: kinds.Kind, name: str) -> dict:
    try:
        return kv.get(kind, name)
    except APIError as e:
        raise server_error(e) from None


def _create(kv: Any, kind: kinds.Kind, name: str, generate: str, spec: dict) -> dict:
    meta = {"name": name} if name else {"generateName": generate}
    try:
        return kv.create(kind, {"apiVersion": kind.api_version, "kind": kind.kind, "metadata": meta, "spec": spec})
    except APIError as e:
        raise server_error(e) from None


def _condition(obj: dict, ctype: str) -> dict:
    return get_condition(obj, ctype) or {}


def create(args: list[str], name: str, wait: bool, timeout: str, changed: frozenset[str]) -> None:
    (vm,) = exact_args(args, 1)
    limit = wait_limit(changed, wait, timeout)
    kv = current().client()
    _get(kv, kinds.VM, vm)                     # a clear "not found" now rather than a snapshot that waits
    snap = _create(kv, kinds.VMSNAPSHOT, name, f"{vm}-snapshot-",
                   {"source": {"apiGroup": kinds.KUBEVIRT, "kind": kinds.VM.kind, "name": vm}})
    snap_name = snap["metadata"]["name"]
    sys.stdout.write(f"VirtualMachineSnapshot {snap_name} of VM {vm} was created\n")
    sys.stdout.flush()
    if limit:
        def check() -> tuple[bool, str]:
            s = _get(kv, kinds.VMSNAPSHOT, snap_name).get("status") or {}
            if s.get("phase") == "Failed":
                raise VirtctlError(f"snapshot {snap_name} failed: {(s.get('error') or {}).get('message', '')}")
            return s.get("phase") == "Succeeded" and bool(s.get("readyToUse")), s.get("phase") or ""
        wait_until(check, what=f"snapshot {snap_name}", target="Succeeded", timeout=limit)


def list_(args: list[str], changed: frozenset[str]) -> None:
    from virtctl.cli.render import format_table, table_header, table_rows

    words = list(args or [])
    if len(words) > 1:
        raise UsageError(f"accepts at most 1 arg(s), received {len(words)}")
    inv = current()
    try:
        items = inv.client().list(kinds.VMSNAPSHOT).get("items") or []
    except APIError as e:
        raise server_error(e) from None
    if words:
        items = [s for s in items if ((s.get("spec") or {}).get("source") or {}).get("name") == words[0]]
    if not items:
        sys.stderr.write(f"No resources found in {inv.namespace} namespace.\n")
        return
    sys.stdout.write(format_table(table_header(kinds.VMSNAPSHOT), table_rows(kinds.VMSNAPSHOT, items)))


def restore(args: list[str], name: str, wait: bool, timeout: str, changed: frozenset[str]) -> None:
    (snap_name,) = exact_args(args, 1)
    limit = wait_limit(changed, wait, timeout)
    kv = current().client()
    snap = _get(kv, kinds.VMSNAPSHOT, snap_name)
    vm = ((snap.get("spec") or {}).get("source") or {}).get("name") or ""
    restore_obj = _create(kv, kinds.VMRESTORE, name, f"{snap_name}-restore-",
                          {"target": {"apiGroup": kinds.KUBEVIRT, "kind": kinds.VM.kind, "name": vm},
                           "virtualMachineSnapshotName": snap_name})
    restore_name = restore_obj["metadata"]["name"]
    sys.stdout.write(f"VirtualMachineRestore {restore_name} of VM {vm} from snapshot {snap_name} was created\n")
    sys.stdout.flush()
    if limit:
        def check() -> tuple[bool, str]:
            r = _get(kv, kinds.VMRESTORE, restore_name)
            failure = _condition(r, "Failure")
            if failure.get("status") == "True":
                raise VirtctlError(f"restore {restore_name} failed: {failure.get('reason', '')}")
            return bool((r.get("status") or {}).get("complete")), _condition(r, "Ready").get("reason", "")
        wait_until(check, what=f"restore {restore_name}", target="complete", timeout=limit)


def delete(args: list[str], changed: frozenset[str]) -> None:
    (snap_name,) = exact_args(args, 1)
    try:
        current().client().delete(kinds.VMSNAPSHOT, snap_name)
    except APIError as e:
        raise server_error(e) from None
    k = kinds.VMSNAPSHOT
    sys.stdout.write(f'{k.singular}.{k.group} "{snap_name}" deleted\n')
