"""VM lifecycle: ``start``, ``stop``, ``restart``, ``migrate``, ``migrate-cancel``
(docs/compatibility.md#lifecycle-actions), plus ``--wait``/``--timeout`` (beyond Go virtctl). The
flags and help live here; what each command does is in :mod:`virtctl.cli.ops.lifecycle`."""

from __future__ import annotations

import typer

from virtctl.cli.lazy import Params, add_command, new_app
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

PAUSED = {"paused": (bool, typer.Option(False, "--paused", help="--paused=false: If set to true, start virtual "
                                        "machine in paused state"))}
FORCE = {"force": (bool, typer.Option(False, "--force", help=FORCE_HELP)),
         "grace_period": (int, typer.Option(-1, "--grace-period", help=GRACE_HELP))}
SELECTOR = {"added_node_selector": (list[str], typer.Option([], "--addedNodeSelector", metavar="stringToString",
                                                            help="--addedNodeSelector=key1=value1,key2=value2: "
                                                            "Additional node selector terms for the migration "
                                                            "target pod."))}


def wait_params(wait_help: str = WAIT_HELP) -> Params:
    """``--dry-run``, ``--wait`` (helped by ``wait_help``) and ``--timeout``."""
    return {"dry_run": (bool, typer.Option(False, "--dry-run", help=DRY_RUN_HELP)),
            "wait": (bool, typer.Option(False, "--wait", help=wait_help)),
            "timeout": (str, typer.Option(DEFAULT_TIMEOUT, "--timeout", help=TIMEOUT_HELP))}


add_command(app, "start", ops.start, PAUSED, wait_params(), metavar="(VM)", short_help="Start a virtual machine.",
            epilog="  # Start a virtual machine called 'myvm':\n  {{ProgramName}} start myvm")
add_command(app, "stop", ops.stop, FORCE, wait_params(), metavar="(VM)", short_help="Stop a virtual machine.",
            epilog="  # Stop a virtual machine called 'myvm':\n  {{ProgramName}} stop myvm\n\n"
                   "  # Force stop a virtual machine called 'myvm':\n"
                   "  {{ProgramName}} stop myvm --force --grace-period 0")
add_command(app, "restart", ops.restart, FORCE, wait_params(), metavar="(VM)",
            short_help="Restart a virtual machine.",
            epilog="  # Restart a virtual machine called 'myvm':\n  {{ProgramName}} restart myvm")
add_command(app, "migrate", ops.migrate, SELECTOR, wait_params("Wait until the migration has succeeded (beyond Go "
                                                               "virtctl)."),
            metavar="(VM)", short_help="Migrate a virtual machine.",
            epilog="  # Migrate a virtual machine called 'myvm':\n  {{ProgramName}} migrate myvm")
add_command(app, "migrate-cancel", ops.migrate_cancel, wait_params("Wait until the migration object is gone "
                                                                   "(beyond Go virtctl)."),
            metavar="(VM)", short_help="Cancel migration of a virtual machine.",
            epilog="  # Cancel the migration of a virtual machine called 'myvm':\n"
                   "  {{ProgramName}} migrate-cancel myvm")
