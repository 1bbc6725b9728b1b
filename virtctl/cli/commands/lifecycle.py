"""VM lifecycle: ``start``, ``stop``, ``restart``, ``migrate``, ``migrate-cancel``
(docs/compatibility.md#lifecycle-actions), plus ``--wait``/``--timeout`` (beyond Go virtctl). The
flags and help live here; what each command does is in :mod:`virtctl.cli.ops.lifecycle`."""

from __future__ import annotations

from typing import Optional

import typer

from virtctl.cli.args import call_params
from virtctl.cli.lazy import CobraCommand, new_app
from virtctl.cli.ops import lifecycle as ops
from virtctl.cli.wait import DEFAULT_TIMEOUT

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


@app.command("start", cls=CobraCommand, short_help="Start a virtual machine.", help="Start a virtual machine.",
             epilog="  # Start a virtual machine called 'myvm':\n  {{ProgramName}} start myvm")
def start(ctx: typer.Context,
          args: Optional[list[str]] = typer.Argument(None, metavar="(VM)"),
          paused: bool = typer.Option(False, "--paused", help="--paused=false: If set to true, start virtual "
                                      "machine in paused state"),
          dry_run: bool = typer.Option(False, "--dry-run", help=DRY_RUN_HELP),
          wait: bool = typer.Option(False, "--wait", help=WAIT_HELP),
          timeout: str = typer.Option(DEFAULT_TIMEOUT, "--timeout", help=TIMEOUT_HELP)) -> None:
    ops.start(**call_params(ctx))


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
    ops.stop(**call_params(ctx))


@app.command("restart", cls=CobraCommand, short_help="Restart a virtual machine.", help="Restart a virtual machine.",
             epilog="  # Restart a virtual machine called 'myvm':\n  {{ProgramName}} restart myvm")
def restart(ctx: typer.Context,
            args: Optional[list[str]] = typer.Argument(None, metavar="(VM)"),
            force: bool = typer.Option(False, "--force", help=FORCE_HELP),
            grace_period: int = typer.Option(-1, "--grace-period", help=GRACE_HELP),
            dry_run: bool = typer.Option(False, "--dry-run", help=DRY_RUN_HELP),
            wait: bool = typer.Option(False, "--wait", help=WAIT_HELP),
            timeout: str = typer.Option(DEFAULT_TIMEOUT, "--timeout", help=TIMEOUT_HELP)) -> None:
    ops.restart(**call_params(ctx))


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
    ops.migrate(**call_params(ctx))


@app.command("migrate-cancel", cls=CobraCommand, short_help="Cancel migration of a virtual machine.",
             help="Cancel migration of a virtual machine.",
             epilog="  # Cancel the migration of a virtual machine called 'myvm':\n  {{ProgramName}} migrate-cancel myvm")
def migrate_cancel(ctx: typer.Context,
                   args: Optional[list[str]] = typer.Argument(None, metavar="(VM)"),
                   dry_run: bool = typer.Option(False, "--dry-run", help=DRY_RUN_HELP),
                   wait: bool = typer.Option(False, "--wait", help="Wait until the migration object is gone "
                                             "(beyond Go virtctl)."),
                   timeout: str = typer.Option(DEFAULT_TIMEOUT, "--timeout", help=TIMEOUT_HELP)) -> None:
    ops.migrate_cancel(**call_params(ctx))
