"""``pause``/``unpause`` (vm|vmi NAME), ``soft-reboot`` and ``reset`` (REFERENCE §2.6–2.7)."""

from __future__ import annotations

import sys
from typing import Any, Optional

import typer

from virtctl.cli.args import exact_args
from virtctl.cli.commands.lifecycle import DEFAULT_TIMEOUT, DRY_RUN_HELP, TIMEOUT_HELP, _timeout, dry_run_body
from virtctl.cli.lazy import CobraCommand, new_app
from virtctl.cli.state import current
from virtctl.cli.wait import wait_until
from virtctl.errors import APIError, NotFound, VirtctlError
from virtctl.model import kinds

app = new_app()

VM_WORDS = ("vm", "virtualmachine")
VMI_WORDS = ("vmi", "virtualmachineinstance")


def paused_condition(kv: Any, name: str) -> tuple[bool | None, str]:
    """(is paused, state text) of a VMI; None when there is no VMI."""
    try:
        vmi = kv.get(kinds.VMI, name)
    except NotFound:
        return None, "no VMI"
    status = vmi.get("status") or {}
    cond = next((c for c in status.get("conditions") or [] if c.get("type") == "Paused"), None)
    paused = bool(cond and str(cond.get("status")) == "True")
    return paused, "Paused" if paused else (status.get("phase") or "unknown")


def _pause_or_unpause(ctx: Any, args: list[str] | None, dry_run: bool, wait: bool, timeout: str,
                      action: str) -> None:
    kind_word, name = exact_args(args, 2)
    limit = _timeout(ctx, wait, timeout)
    word = kind_word.lower()
    verb = "pausing" if action == "pause" else "unpausing"
    if word not in VM_WORDS + VMI_WORDS:
        # Go quirk kept for scripts: pause claims success without a call, unpause prints nothing
        if action == "pause":
            sys.stdout.write(f"VMI {name} was scheduled to {action}\n")
        return
    kv = current().client()
    vm = None
    if word in VM_WORDS:
        try:
            vm = kv.get(kinds.VM, name)
        except APIError as e:
            raise VirtctlError(f"Error getting VirtualMachine {name}: {e.message}") from None
    try:
        kv.put_subresource(kinds.VMI, None, name, action, dry_run_body({}, dry_run))
    except NotFound as e:
        if vm is not None and action == "pause":
            spec = vm.get("spec") or {}
            if spec.get("runStrategy") == "Halted" or spec.get("running") is False:
                raise VirtctlError(f"Error pausing VirtualMachineInstance {name}. VirtualMachine {name} is not set "
                                   "to run") from None
            raise VirtctlError(f"Error pausing VirtualMachineInstance {name}, it was not found") from None
        raise VirtctlError(f"Error {verb} VirtualMachineInstance {name}: {e.message}") from None
    except APIError as e:
        raise VirtctlError(f"Error {verb} VirtualMachineInstance {name}: {e.message}") from None
    sys.stdout.write(f"VMI {name} was scheduled to {action}\n")
    sys.stdout.flush()
    if limit and not dry_run:
        want = action == "pause"
        target = "Paused" if want else "unpaused"

        def check() -> tuple[bool, str]:
            paused, state = paused_condition(kv, name)
            return paused is want, state

        wait_until(check, what=f"VMI {name}", target=target, timeout=limit)


@app.command("pause", cls=CobraCommand, short_help="Pause a virtual machine",
             help="Pauses a virtual machine by freezing it. Machine state is kept in memory.",
             epilog="  # Pause a virtualmachine called 'myvm':\n  {{ProgramName}} pause vm myvm\n\n"
                    "  # Pause a virtualmachineinstance called 'myvmi':\n  {{ProgramName}} pause vmi myvmi")
def pause(ctx: typer.Context,
          args: Optional[list[str]] = typer.Argument(None, metavar="vm|vmi (VM)|(VMI)"),
          dry_run: bool = typer.Option(False, "--dry-run", help=DRY_RUN_HELP),
          wait: bool = typer.Option(False, "--wait", help="Wait until the VMI is paused (beyond Go virtctl)."),
          timeout: str = typer.Option(DEFAULT_TIMEOUT, "--timeout", help=TIMEOUT_HELP)) -> None:
    _pause_or_unpause(ctx, args, dry_run, wait, timeout, "pause")


@app.command("unpause", cls=CobraCommand, short_help="Unpause a virtual machine",
             help="Unpauses a virtual machine.",
             epilog="  # Unpause a virtualmachine called 'myvm':\n  {{ProgramName}} unpause vm myvm\n\n"
                    "  # Unpause a virtualmachineinstance called 'myvmi':\n  {{ProgramName}} unpause vmi myvmi")
def unpause(ctx: typer.Context,
            args: Optional[list[str]] = typer.Argument(None, metavar="vm|vmi (VM)|(VMI)"),
            dry_run: bool = typer.Option(False, "--dry-run", help=DRY_RUN_HELP),
            wait: bool = typer.Option(False, "--wait", help="Wait until the VMI is no longer paused (beyond Go "
                                      "virtctl)."),
            timeout: str = typer.Option(DEFAULT_TIMEOUT, "--timeout", help=TIMEOUT_HELP)) -> None:
    _pause_or_unpause(ctx, args, dry_run, wait, timeout, "unpause")


@app.command("soft-reboot", cls=CobraCommand, short_help="Soft reboot a virtual machine instance",
             help="Soft reboot a virtual machine instance",
             epilog="  # Soft reboot a virtual machine instance called 'myvmi':\n  {{ProgramName}} soft-reboot myvmi")
def soft_reboot(args: Optional[list[str]] = typer.Argument(None, metavar="(VMI)")) -> None:
    (name,) = exact_args(args, 1)
    try:
        current().client().put_subresource(kinds.VMI, None, name, "softreboot")
    except APIError as e:
        raise VirtctlError(f"Error soft rebooting VirtualMachineInstance {name}: {e.message}") from None
    sys.stdout.write(f"VMI {name} was scheduled to soft-reboot\n")


@app.command("reset", cls=CobraCommand, short_help="Reset a virtual machine instance.",
             help="Reset a virtual machine instance.",
             epilog="  # Reset a virtual machine instance called 'myvmi':\n  {{ProgramName}} reset myvmi")
def reset(args: Optional[list[str]] = typer.Argument(None, metavar="(VMI)")) -> None:
    (name,) = exact_args(args, 1)
    try:
        current().client().put_subresource(kinds.VMI, None, name, "reset")
    except APIError as e:
        raise VirtctlError(f"Error reseting VirtualMachineInstance {name}: {e.message}") from None   # sic, as Go
    sys.stdout.write(f"VMI {name} was scheduled to reset\n")
