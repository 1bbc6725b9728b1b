"""``pause``/``unpause`` (vm|vmi NAME), ``soft-reboot`` and ``reset`` with Go virtctl's messages."""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from virtctl.cli.args import exact_args
from virtctl.cli.go_errors import go_error
from virtctl.cli.ops.lifecycle import dry_run_option, wait_limit, with_dry_run
from virtctl.cli.state import current
from virtctl.cli.wait import wait_until
from virtctl.errors import APIError, ConnectionFailed, NotFound, VirtctlError
from virtctl.model import kinds

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


def _pause_or_unpause(args: list[str], dry_run: bool, wait: bool, timeout: str, changed: frozenset[str],
                      action: str) -> None:
    kind_word, name = exact_args(args, 2)
    limit = wait_limit(changed, wait, timeout)
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
        except (APIError, ConnectionFailed) as e:
            raise VirtctlError(f"Error getting VirtualMachine {name}: {go_error(e)}") from None
    try:
        kv.put_subresource(kinds.VMI, None, name, action, with_dry_run({}, dry_run_option(dry_run)))
    except NotFound as e:
        if vm is not None and action == "pause":
            spec = vm.get("spec") or {}
            if spec.get("runStrategy") == "Halted" or spec.get("running") is False:
                raise VirtctlError(f"Error pausing VirtualMachineInstance {name}. VirtualMachine {name} is not set "
                                   "to run") from None
            raise VirtctlError(f"Error pausing VirtualMachineInstance {name}, it was not found") from None
        raise VirtctlError(f"Error {verb} VirtualMachineInstance {name}: {e.message}") from None
    except (APIError, ConnectionFailed) as e:
        raise VirtctlError(f"Error {verb} VirtualMachineInstance {name}: {go_error(e)}") from None
    sys.stdout.write(f"VMI {name} was scheduled to {action}\n")
    sys.stdout.flush()
    if limit and not dry_run:
        want = action == "pause"
        target = "Paused" if want else "unpaused"

        def check() -> tuple[bool, str]:
            paused, state = paused_condition(kv, name)
            return paused is want, state

        wait_until(check, what=f"VMI {name}", target=target, timeout=limit)


def pause(args: list[str], dry_run: bool, wait: bool, timeout: str, changed: frozenset[str]) -> None:
    _pause_or_unpause(args, dry_run, wait, timeout, changed, "pause")


def unpause(args: list[str], dry_run: bool, wait: bool, timeout: str, changed: frozenset[str]) -> None:
    _pause_or_unpause(args, dry_run, wait, timeout, changed, "unpause")


def soft_reboot(args: list[str], changed: frozenset[str]) -> None:
    (name,) = exact_args(args, 1)
    try:
        current().client().put_subresource(kinds.VMI, None, name, "softreboot")
    except (APIError, ConnectionFailed) as e:
        raise VirtctlError(f"Error soft rebooting VirtualMachineInstance {name}: {go_error(e)}") from None
    sys.stdout.write(f"VMI {name} was scheduled to soft-reboot\n")


def reset(args: list[str], changed: frozenset[str]) -> None:
    (name,) = exact_args(args, 1)
    try:
        current().client().put_subresource(kinds.VMI, None, name, "reset")
    except (APIError, ConnectionFailed) as e:
        raise VirtctlError(f"Error reseting VirtualMachineInstance {name}: {go_error(e)}") from None   # sic, as Go
    sys.stdout.write(f"VMI {name} was scheduled to reset\n")
