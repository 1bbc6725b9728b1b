"""``snapshot create|list|restore|delete`` (beyond Go virtctl,
docs/compatibility.md#beyond-go-virtctl): VirtualMachineSnapshot and
VirtualMachineRestore objects (snapshot.kubevirt.io/v1beta1), with ``--wait``/``--timeout``."""

from __future__ import annotations

from typing import Optional

import typer

from virtctl.cli.args import call_params
from virtctl.cli.lazy import CobraCommand, CobraGroup, new_app
from virtctl.cli.ops import snapshot as ops
from virtctl.cli.wait import DEFAULT_TIMEOUT

app = new_app(cls=CobraGroup)
snapshot_app = new_app(cls=CobraGroup, help="Create, list, restore and delete snapshots of virtual machines "
                       "(VirtualMachineSnapshot / VirtualMachineRestore).",
                       short_help="Create, list, restore and delete snapshots of virtual machines.")
app.add_typer(snapshot_app, name="snapshot")

NAME_HELP = "Name of the new object (default: generated from the {what} name)."
TIMEOUT_HELP = f"How long --wait waits, e.g. 90s, 5m (default {DEFAULT_TIMEOUT})."


@snapshot_app.command("create", cls=CobraCommand, short_help="Create a snapshot of a virtual machine.",
                      help="Create a VirtualMachineSnapshot of a virtual machine, stopped or running.",
                      epilog="  {{ProgramName}} snapshot create my-vm --name my-snap --wait")
def create(ctx: typer.Context,
           args: Optional[list[str]] = typer.Argument(None, metavar="(VM)"),
           name: str = typer.Option("", "--name", help=NAME_HELP.format(what="VM")),
           wait: bool = typer.Option(False, "--wait", help="Wait until the snapshot is ready to use."),
           timeout: str = typer.Option(DEFAULT_TIMEOUT, "--timeout", help=TIMEOUT_HELP)) -> None:
    ops.create(**call_params(ctx))


@snapshot_app.command("list", cls=CobraCommand, short_help="List snapshots, of one virtual machine or all.",
                      help="List the VirtualMachineSnapshots of the namespace, or only those of one VM.",
                      epilog="  {{ProgramName}} snapshot list my-vm")
def list_(ctx: typer.Context, args: Optional[list[str]] = typer.Argument(None, metavar="[VM]")) -> None:
    ops.list_(**call_params(ctx))


@snapshot_app.command("restore", cls=CobraCommand, short_help="Restore a virtual machine from a snapshot.",
                      help="Create a VirtualMachineRestore that restores the snapshot's VM (spec and volumes) "
                           "from it. The VM must be stopped; the restore waits until it is.",
                      epilog="  {{ProgramName}} snapshot restore my-snap --wait")
def restore(ctx: typer.Context,
            args: Optional[list[str]] = typer.Argument(None, metavar="(SNAPSHOT)"),
            name: str = typer.Option("", "--name", help=NAME_HELP.format(what="snapshot")),
            wait: bool = typer.Option(False, "--wait", help="Wait until the restore is complete."),
            timeout: str = typer.Option(DEFAULT_TIMEOUT, "--timeout", help=TIMEOUT_HELP)) -> None:
    ops.restore(**call_params(ctx))


@snapshot_app.command("delete", cls=CobraCommand, short_help="Delete a snapshot.",
                      help="Delete a VirtualMachineSnapshot, with its content and volume copies unless its "
                           "deletionPolicy is Retain.",
                      epilog="  {{ProgramName}} snapshot delete my-snap")
def delete(ctx: typer.Context, args: Optional[list[str]] = typer.Argument(None, metavar="(SNAPSHOT)")) -> None:
    ops.delete(**call_params(ctx))
