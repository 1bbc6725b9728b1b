"""VM lifecycle: ``start``, ``stop``, ``restart``, ``migrate``, ``migrate-cancel`` (REFERENCE §2.1–2.5),
plus ``--wait``/``--timeout`` (beyond Go virtctl)."""

from __future__ import annotations

import sys
from typing import Any, Optional

import typer

from virtctl.cli.args import changed, exact_args, string_to_string
from virtctl.cli.lazy import CobraCommand, new_app
from virtctl.cli.state import current
from virtctl.cli.wait import DEFAULT_TIMEOUT, parse_timeout, wait_until
from virtctl.errors import APIError, NotFound, UsageError, VirtctlError
from virtctl.model import kinds

app = new_app()

DRY_RUN_HELP = ("--dry-run=false: Flag used to set whether to perform a dry run or not. If true the command will "
                "be executed without performing any changes.")
WAIT_HELP = "Wait until the VM reaches the requested state (beyond Go virtctl)."
TIMEOUT_HELP = f"How long --wait waits, e.g. 90s, 5m (default {DEFAULT_TIMEOUT})."
FORCE_HELP = ("--force=false: Only used when grace-period=0. If true, immediately remove VMI pod from API and "
              "bypass graceful deletion. Note that immediate deletion of some resources may break consistency or "
              "require reconfiguration.")
GRACE_HELP = ("--grace-period=-1: Period of time in seconds given to the VMI to terminate gracefully. Can only be "
              "set to 0 when --force is true (force deletion). Currently only setting 0 is supported.")


def dry_run_body(body: dict, dry_run: bool) -> dict:
    if dry_run:
        body["dryRun"] = ["All"]
        sys.stdout.write("Dry Run execution\n")
        sys.stdout.flush()
    return body


def _timeout(ctx: Any, wait: bool, timeout: str) -> float | None:
    if changed(ctx, "timeout") and not wait:
        wait = True                      # --timeout alone implies waiting
    return parse_timeout(timeout) if wait else None


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


def _check_force(ctx: Any, force: bool) -> None:
    if changed(ctx, "grace_period") != force:
        raise UsageError("Must both use --force=true and set --grace-period.")


@app.command("start", cls=CobraCommand, short_help="Start a virtual machine.", help="Start a virtual machine.",
             epilog="  # Start a virtual machine called 'myvm':\n  {{ProgramName}} start myvm")
def start(ctx: typer.Context,
          args: Optional[list[str]] = typer.Argument(None, metavar="(VM)"),
          paused: bool = typer.Option(False, "--paused", help="--paused=false: If set to true, start virtual "
                                      "machine in paused state"),
          dry_run: bool = typer.Option(False, "--dry-run", help=DRY_RUN_HELP),
          wait: bool = typer.Option(False, "--wait", help=WAIT_HELP),
          timeout: str = typer.Option(DEFAULT_TIMEOUT, "--timeout", help=TIMEOUT_HELP)) -> None:
    (name,) = exact_args(args, 1)
    limit = _timeout(ctx, wait, timeout)
    kv = current().client()
    body: dict = {"paused": True} if paused else {}
    try:
        kv.put_subresource(kinds.VM, None, name, "start", dry_run_body(body, dry_run))
    except APIError as e:
        raise VirtctlError(f"Error starting VirtualMachine {e.message}") from None
    sys.stdout.write(f"VM {name} was scheduled to start\n")
    sys.stdout.flush()
    if limit and not dry_run:
        target = "Paused" if paused else "Running"
        wait_until(lambda: ((s := vm_status(kv, name)) == target, s), what=f"VM {name}", target=target,
                   timeout=limit)


@app.command("stop", cls=CobraCommand, short_help="Stop a virtual machine.", help="Stop a virtual machine.",
             epilog="  # Stop a virtual machine called 'myvm':\n  {{ProgramName}} stop myvm\n\n"
                    "  # Force stop a virtual machine called 'myvm':\n"
                    "  {{ProgramName}} stop myvm --force --grace-period 0")
def stop(ctx: typer.Context,
         args: Optional[list[str]] = typer.Argument(None, metavar="(VM)"),
         force: bool = typer.Option(False, "--force", help=FORCE_HELP),
         grace_period: int = typer.Option(-1, "--grace-period", help=GRACE_HELP),
         dry_run: bool = typer.Option(False, "--dry-run", help=DRY_RUN_HELP),
         wait: bool = typer.Option(False, "--wait", help=WAIT_HELP),
         timeout: str = typer.Option(DEFAULT_TIMEOUT, "--timeout", help=TIMEOUT_HELP)) -> None:
    (name,) = exact_args(args, 1)
    _check_force(ctx, force)
    limit = _timeout(ctx, wait, timeout)
    kv = current().client()
    body: dict = {"gracePeriod": grace_period} if force else {}
    try:
        kv.put_subresource(kinds.VM, None, name, "stop", dry_run_body(body, dry_run))
    except APIError as e:
        if force:
            raise VirtctlError(f"error force stopping VirtualMachine: {e.message}") from None
        raise VirtctlError(f"error stopping VirtualMachine {e.message}") from None
    sys.stdout.write(f"VM {name} was scheduled to stop\n")
    sys.stdout.flush()
    if limit and not dry_run:
        wait_until(lambda: ((s := vm_status(kv, name)) == "Stopped", s), what=f"VM {name}", target="Stopped",
                   timeout=limit)


@app.command("restart", cls=CobraCommand, short_help="Restart a virtual machine.", help="Restart a virtual machine.",
             epilog="  # Restart a virtual machine called 'myvm':\n  {{ProgramName}} restart myvm")
def restart(ctx: typer.Context,
            args: Optional[list[str]] = typer.Argument(None, metavar="(VM)"),
            force: bool = typer.Option(False, "--force", help=FORCE_HELP),
            grace_period: int = typer.Option(-1, "--grace-period", help=GRACE_HELP),
            dry_run: bool = typer.Option(False, "--dry-run", help=DRY_RUN_HELP),
            wait: bool = typer.Option(False, "--wait", help=WAIT_HELP),
            timeout: str = typer.Option(DEFAULT_TIMEOUT, "--timeout", help=TIMEOUT_HELP)) -> None:
    (name,) = exact_args(args, 1)
    _check_force(ctx, force)
    limit = _timeout(ctx, wait, timeout)
    kv = current().client()
    old = vmi_state(kv, name) if limit and not dry_run else None
    old_uid = (old or {}).get("metadata", {}).get("uid")
    body: dict = {"gracePeriodSeconds": grace_period} if force else {}
    try:
        kv.put_subresource(kinds.VM, None, name, "restart", dry_run_body(body, dry_run))
    except APIError as e:
        if force:
            raise VirtctlError(f"error force restarting VirtualMachine: {e.message}") from None
        raise VirtctlError(f"error restarting VirtualMachine: {e.message}") from None
    sys.stdout.write(f"VM {name} was scheduled to restart\n")
    sys.stdout.flush()
    if limit and not dry_run:
        def check() -> tuple[bool, str]:
            vmi = vmi_state(kv, name)
            if vmi is None:
                return False, "no VMI"
            phase = (vmi.get("status") or {}).get("phase", "")
            fresh = vmi.get("metadata", {}).get("uid") != old_uid
            return fresh and phase == "Running", phase if fresh else f"{phase} (old VMI)"

        wait_until(check, what=f"VM {name}", target="Running again", timeout=limit)


@app.command("migrate", cls=CobraCommand, short_help="Migrate a virtual machine.", help="Migrate a virtual machine.",
             epilog="  # Migrate a virtual machine called 'myvm':\n  {{ProgramName}} migrate myvm")
def migrate(ctx: typer.Context,
            args: Optional[list[str]] = typer.Argument(None, metavar="(VM)"),
            added_node_selector: list[str] = typer.Option([], "--addedNodeSelector", metavar="stringToString",
                                                          help="--addedNodeSelector=key1=value1,key2=value2: "
                                                          "Additional node selector terms for the migration "
                                                          "target pod."),
            dry_run: bool = typer.Option(False, "--dry-run", help=DRY_RUN_HELP),
            wait: bool = typer.Option(False, "--wait", help="Wait until the migration has succeeded (beyond Go "
                                      "virtctl)."),
            timeout: str = typer.Option(DEFAULT_TIMEOUT, "--timeout", help=TIMEOUT_HELP)) -> None:
    (name,) = exact_args(args, 1)
    selector = string_to_string(added_node_selector, "addedNodeSelector")
    limit = _timeout(ctx, wait, timeout)
    kv = current().client()
    before = {m["metadata"]["name"] for m in _migrations(kv, name)} if limit and not dry_run else set()
    body: dict = {"addedNodeSelector": selector} if selector else {}
    try:
        kv.put_subresource(kinds.VM, None, name, "migrate", dry_run_body(body, dry_run))
    except APIError as e:
        raise VirtctlError(f"Error migrating VirtualMachine {e.message}") from None
    sys.stdout.write(f"VM {name} was scheduled to migrate\n")
    sys.stdout.flush()
    if limit and not dry_run:
        seen = ""

        def check() -> tuple[bool, str]:
            nonlocal seen
            new = [m for m in _migrations(kv, name) if m["metadata"]["name"] not in before]
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


def _migrations(kv: Any, vmi_name: str) -> list[dict]:
    items = kv.list(kinds.VMIM, label_selector=f"kubevirt.io/vmi-name=={vmi_name}").get("items", [])
    return sorted(items, key=lambda m: (m.get("metadata", {}).get("creationTimestamp") or "",
                                        m.get("metadata", {}).get("name", "")))


@app.command("migrate-cancel", cls=CobraCommand, short_help="Cancel migration of a virtual machine.",
             help="Cancel migration of a virtual machine.",
             epilog="  # Cancel the migration of a virtual machine called 'myvm':\n  {{ProgramName}} migrate-cancel myvm")
def migrate_cancel(ctx: typer.Context,
                   args: Optional[list[str]] = typer.Argument(None, metavar="(VM)"),
                   dry_run: bool = typer.Option(False, "--dry-run", help=DRY_RUN_HELP),
                   wait: bool = typer.Option(False, "--wait", help="Wait until the migration object is gone "
                                             "(beyond Go virtctl)."),
                   timeout: str = typer.Option(DEFAULT_TIMEOUT, "--timeout", help=TIMEOUT_HELP)) -> None:
    (name,) = exact_args(args, 1)
    limit = _timeout(ctx, wait, timeout)
    kv = current().client()
    try:
        items = kv.list(kinds.VMIM, label_selector=f"kubevirt.io/vmi-name=={name}").get("items", [])
    except APIError as e:
        raise VirtctlError(f"Error fetching virtual machine instance migration list  {e.message}") from None
    active = next((m for m in items if (m.get("status") or {}).get("phase") not in ("Succeeded", "Failed")), None)
    if active is None:
        raise VirtctlError(f"Found no migration to cancel for {name}")
    mig = active["metadata"]["name"]
    if dry_run:
        sys.stdout.write("Dry Run execution\n")
    try:
        kv.delete(kinds.VMIM, mig, dry_run=dry_run)
    except APIError as e:
        raise VirtctlError(f"Error canceling migration {mig} of a VirtualMachine {name}: {e.message}") from None
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
