"""``snapshot create|list|restore|delete`` (beyond Go virtctl,
docs/compatibility.md#beyond-go-virtctl): VirtualMachineSnapshot and
VirtualMachineRestore objects (snapshot.kubevirt.io/v1beta1), with ``--wait``/``--timeout``."""

from __future__ import annotations

import typer

from virtctl.cli.lazy import Params, add_command, new_group
from virtctl.cli.ops import snapshot as ops
from virtctl.cli.wait import DEFAULT_TIMEOUT

app, snapshot_app = new_group("snapshot", help="Create, list, restore and delete snapshots of virtual machines "
                              "(VirtualMachineSnapshot / VirtualMachineRestore).",
                              short_help="Create, list, restore and delete snapshots of virtual machines.")

TIMEOUT_HELP = f"How long --wait waits, e.g. 90s, 5m (default {DEFAULT_TIMEOUT})."


def name_wait_params(what: str, wait_help: str) -> Params:
    """``--name`` of the new object (default: from the ``what`` name), ``--wait`` and ``--timeout``."""
    return {"name": (str, typer.Option("", "--name", help=f"Name of the new object (default: generated from the "
                                                          f"{what} name).")),
            "wait": (bool, typer.Option(False, "--wait", help=wait_help)),
            "timeout": (str, typer.Option(DEFAULT_TIMEOUT, "--timeout", help=TIMEOUT_HELP))}


add_command(snapshot_app, "create", ops.create, name_wait_params("VM", "Wait until the snapshot is ready to use."),
            metavar="(VM)", short_help="Create a snapshot of a virtual machine.",
            help="Create a VirtualMachineSnapshot of a virtual machine, stopped or running.",
            epilog="  {{ProgramName}} snapshot create my-vm --name my-snap --wait")
add_command(snapshot_app, "list", ops.list_, metavar="[VM]", short_help="List snapshots, of one virtual machine or all.",
            help="List the VirtualMachineSnapshots of the namespace, or only those of one VM.",
            epilog="  {{ProgramName}} snapshot list my-vm")
add_command(snapshot_app, "restore", ops.restore, name_wait_params("snapshot", "Wait until the restore is complete."),
            metavar="(SNAPSHOT)", short_help="Restore a virtual machine from a snapshot.",
            help="Create a VirtualMachineRestore that restores the snapshot's VM (spec and volumes) "
                 "from it. The VM must be stopped; the restore waits until it is.",
            epilog="  {{ProgramName}} snapshot restore my-snap --wait")
add_command(snapshot_app, "delete", ops.delete, metavar="(SNAPSHOT)", short_help="Delete a snapshot.",
            help="Delete a VirtualMachineSnapshot, with its content and volume copies unless its "
                 "deletionPolicy is Retain.",
            epilog="  {{ProgramName}} snapshot delete my-snap")
