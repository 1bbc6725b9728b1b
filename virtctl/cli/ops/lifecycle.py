"""VM lifecycle: ``start``, ``stop``, ``restart``, ``migrate``, ``migrate-cancel``, with Go virtctl's
messages, plus ``--wait``/``--timeout`` (beyond Go virtctl)."""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from virtctl.cli.args import exact_args, string_to_string
from virtctl.cli.go_errors import go_error
from virtctl.cli.state import current
from virtctl.cli.wait import parse_timeout, wait_until
from virtctl.errors import APIError, ConnectionFailed, NotFound, UsageError, VirtctlError
from virtctl.model import kinds


def dry_run_option(dry_run: bool) -> list[str] | None:
    """Go's setDryRunOption: says ``Dry Run execution`` on stdout when asked for a dry run."""
    if not dry_run:
        return None
    sys.stdout.write("Dry Run execution\n")
    sys.stdout.flush()
    return ["All"]


def with_dry_run(body: dict, dry_run: list[str] | None) -> dict:
    if dry_run:
        body["dryRun"] = dry_run
    return body


def wait_limit(changed: frozenset[str], wait: bool, timeout: str) -> float | None:
    """Seconds ``--wait`` may take (``--timeout`` alone implies waiting), or None for no waiting."""
    return parse_timeout(timeout) if wait or "timeout" in changed else None


def vm_status(kv: Any, name: str) -> str:
    try:
        return (kv.get(kinds.VM, name).get("status") or {}).get("printableStatus", "")
    except NotFound:
        return "NotFound"


def vmi_state(kv: Any, name: str) -> dict | None:
    try:
        return kv.get(kinds.VMI, name)
    except NotFound:
        return None


def _vm(args: list[str], changed: frozenset[str], wait: bool, timeout: str) -> tuple[str, float | None, Any]:
    """The VM named by ``args``, the seconds ``--wait`` may take, and the client."""
    (name,) = exact_args(args, 1)
    return name, wait_limit(changed, wait, timeout), current().client()


def _forced_option(changed: frozenset[str], force: bool, dry_run: bool) -> list[str] | None:
    """The dry-run option of ``stop``/``restart``, then ``--force`` checked against ``--grace-period``
    (Go says "Dry Run execution" before checking it)."""
    option = dry_run_option(dry_run)
    if ("grace_period" in changed) != force:
        raise UsageError("Must both use --force=true and set --grace-period.")
    return option


def _wait_status(kv: Any, name: str, target: str, limit: float) -> None:
    """Wait up to ``limit`` seconds for the VM's printableStatus to be ``target``."""
    wait_until(lambda: ((s := vm_status(kv, name)) == target, s), what=f"VM {name}", target=target, timeout=limit)


def _schedule(kv: Any, name: str, verb: str, body: dict, dry_run: list[str] | None, failed: str) -> None:
    """PUT the VM's ``verb`` subresource; a refusal is ``failed`` + Go's error text, else Go's
    "was scheduled" line."""
    try:
        kv.put_subresource(kinds.VM, None, name, verb, with_dry_run(body, dry_run))
    except (APIError, ConnectionFailed) as e:
        raise VirtctlError(failed + go_error(e)) from None
    sys.stdout.write(f"VM {name} was scheduled to {verb}\n")
    sys.stdout.flush()


def start(args: list[str], paused: bool, dry_run: bool, wait: bool, timeout: str,
          changed: frozenset[str]) -> None:
    name, limit, kv = _vm(args, changed, wait, timeout)
    body: dict = {"paused": True} if paused else {}
    _schedule(kv, name, "start", body, dry_run_option(dry_run), "Error starting VirtualMachine ")
    if limit and not dry_run:
        _wait_status(kv, name, "Paused" if paused else "Running", limit)


def stop(args: list[str], force: bool, grace_period: int, dry_run: bool, wait: bool, timeout: str,
         changed: frozenset[str]) -> None:
    name, limit, kv = _vm(args, changed, wait, timeout)
    option = _forced_option(changed, force, dry_run)
    body: dict = {"gracePeriod": grace_period} if force else {}
    _schedule(kv, name, "stop", body, option,
              "error force stopping VirtualMachine: " if force else "error stopping VirtualMachine ")
    if limit and not dry_run:
        _wait_status(kv, name, "Stopped", limit)


def restart(args: list[str], force: bool, grace_period: int, dry_run: bool, wait: bool, timeout: str,
            changed: frozenset[str]) -> None:
    name, limit, kv = _vm(args, changed, wait, timeout)
    option = _forced_option(changed, force, dry_run)
    old = vmi_state(kv, name) if limit and not dry_run else None
    old_uid = (old or {}).get("metadata", {}).get("uid")
    body: dict = {"gracePeriodSeconds": grace_period} if force else {}
    _schedule(kv, name, "restart", body, option,
              "error force restarting VirtualMachine: " if force else "error restarting VirtualMachine: ")
    if limit and not dry_run:
        def check() -> tuple[bool, str]:
            vmi = vmi_state(kv, name)
            if vmi is None:
                return False, "no VMI"
            phase = (vmi.get("status") or {}).get("phase", "")
            fresh = vmi.get("metadata", {}).get("uid") != old_uid
            return fresh and phase == "Running", phase if fresh else f"{phase} (old VMI)"

        wait_until(check, what=f"VM {name}", target="Running again", timeout=limit)


def migrations(kv: Any, vmi_name: str) -> list[dict]:
    items = kv.list(kinds.VMIM, label_selector=f"kubevirt.io/vmi-name=={vmi_name}").get("items", [])
    return sorted(items, key=lambda m: (m.get("metadata", {}).get("creationTimestamp") or "",
                                        m.get("metadata", {}).get("name", "")))


def migrate(args: list[str], added_node_selector: list[str], dry_run: bool, wait: bool, timeout: str,
            changed: frozenset[str]) -> None:
    (name,) = exact_args(args, 1)
    selector = string_to_string(added_node_selector, "addedNodeSelector")
    limit = wait_limit(changed, wait, timeout)
    kv = current().client()
    before = {m["metadata"]["name"] for m in migrations(kv, name)} if limit and not dry_run else set()
    body: dict = {"addedNodeSelector": selector} if selector else {}
    _schedule(kv, name, "migrate", body, dry_run_option(dry_run), "Error migrating VirtualMachine ")
    if limit and not dry_run:
        seen = ""

        def check() -> tuple[bool, str]:
            nonlocal seen
            new = [m for m in migrations(kv, name) if m["metadata"]["name"] not in before]
            if not new:
                if seen:                         # deleted before it finished: migrate-cancel
                    raise VirtctlError(f"migration {seen} of VM {name} was canceled")
                return False, "no migration yet"
            seen = new[-1]["metadata"]["name"]
            status = new[-1].get("status") or {}
            phase = status.get("phase", "") or "Pending"
            if phase == "Failed":
                if (status.get("migrationState") or {}).get("abortRequested"):
                    raise VirtctlError(f"migration {seen} of VM {name} was canceled")
                why = (status.get("migrationState") or {}).get("failureReason")
                raise VirtctlError(f"migration {new[-1]['metadata']['name']} of VM {name} failed"
                                   + (f": {why}" if why else ""))
            return phase == "Succeeded", phase

        wait_until(check, what=f"the migration of VM {name}", target="Succeeded", timeout=limit)


def migrate_cancel(args: list[str], dry_run: bool, wait: bool, timeout: str, changed: frozenset[str]) -> None:
    name, limit, kv = _vm(args, changed, wait, timeout)
    try:
        items = kv.list(kinds.VMIM, label_selector=f"kubevirt.io/vmi-name=={name}").get("items", [])
    except (APIError, ConnectionFailed) as e:
        raise VirtctlError(f"Error fetching virtual machine instance migration list  {go_error(e)}") from None
    option = dry_run_option(dry_run)             # Go says so once the list is read, migration or not
    active = next((m for m in items if (m.get("status") or {}).get("phase") not in ("Succeeded", "Failed")), None)
    if active is None:
        raise VirtctlError(f"Found no migration to cancel for {name}")
    mig = active["metadata"]["name"]
    try:
        kv.delete(kinds.VMIM, mig, dry_run=bool(option))
    except (APIError, ConnectionFailed) as e:
        raise VirtctlError(f"Error canceling migration {mig} of a VirtualMachine {name}: {go_error(e)}") from None
    sys.stdout.write(f"VM {name} was scheduled to migrate-cancel\n")
    sys.stdout.flush()
    if limit and not dry_run:
        def gone() -> tuple[bool, str]:
            try:
                m = kv.get(kinds.VMIM, mig)
            except NotFound:
                return True, "deleted"
            return False, (m.get("status") or {}).get("phase", "") or "present"

        wait_until(gone, what=f"migration {mig}", target="deleted", timeout=limit)
