"""``pause``/``unpause`` (vm|vmi NAME), ``soft-reboot`` and ``reset``
(docs/compatibility.md#lifecycle-actions): flags and help; what they do is in :mod:`virtctl.cli.ops.pause`."""

from __future__ import annotations

from typing import Optional

import typer

from virtctl.cli.args import call_params
from virtctl.cli.commands.lifecycle import DEFAULT_TIMEOUT, DRY_RUN_HELP, TIMEOUT_HELP
from virtctl.cli.lazy import CobraCommand, new_app
from virtctl.cli.ops import pause as ops

app = new_app()


@app.command("pause", cls=CobraCommand, short_help="Pause a virtual machine",
             help="Pauses a virtual machine by freezing it. Machine state is kept in memory.",
             epilog="  # Pause a virtualmachine called 'myvm':\n  {{ProgramName}} pause vm myvm\n\n"
                    "  # Pause a virtualmachineinstance called 'myvmi':\n  {{ProgramName}} pause vmi myvmi")
def pause(ctx: typer.Context,
          args: Optional[list[str]] = typer.Argument(None, metavar="vm|vmi (VM)|(VMI)"),
          dry_run: bool = typer.Option(False, "--dry-run", help=DRY_RUN_HELP),
          wait: bool = typer.Option(False, "--wait", help="Wait until the VMI is paused (beyond Go virtctl)."),
          timeout: str = typer.Option(DEFAULT_TIMEOUT, "--timeout", help=TIMEOUT_HELP)) -> None:
    ops.pause(**call_params(ctx))


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
    ops.unpause(**call_params(ctx))


@app.command("soft-reboot", cls=CobraCommand, short_help="Soft reboot a virtual machine instance",
             help="Soft reboot a virtual machine instance",
             epilog="  # Soft reboot a virtual machine instance called 'myvmi':\n  {{ProgramName}} soft-reboot myvmi")
def soft_reboot(ctx: typer.Context, args: Optional[list[str]] = typer.Argument(None, metavar="(VMI)")) -> None:
    ops.soft_reboot(**call_params(ctx))


@app.command("reset", cls=CobraCommand, short_help="Reset a virtual machine instance.",
             help="Reset a virtual machine instance.",
             epilog="  # Reset a virtual machine instance called 'myvmi':\n  {{ProgramName}} reset myvmi")
def reset(ctx: typer.Context, args: Optional[list[str]] = typer.Argument(None, metavar="(VMI)")) -> None:
    ops.reset(**call_params(ctx))
