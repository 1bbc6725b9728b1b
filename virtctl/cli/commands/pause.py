"""``pause``/``unpause`` (vm|vmi NAME), ``soft-reboot`` and ``reset``
(docs/compatibility.md#lifecycle-actions): flags and help; what they do is in :mod:`virtctl.cli.ops.pause`."""

from __future__ import annotations

from virtctl.cli.commands.lifecycle import wait_params
from virtctl.cli.lazy import add_command, new_app
from virtctl.cli.ops import pause as ops

app = new_app()

add_command(app, "pause", ops.pause, wait_params("Wait until the VMI is paused (beyond Go virtctl)."),
            metavar="vm|vmi (VM)|(VMI)", short_help="Pause a virtual machine",
            help="Pauses a virtual machine by freezing it. Machine state is kept in memory.",
            epilog="  # Pause a virtualmachine called 'myvm':\n  {{ProgramName}} pause vm myvm\n\n"
                   "  # Pause a virtualmachineinstance called 'myvmi':\n  {{ProgramName}} pause vmi myvmi")
add_command(app, "unpause", ops.unpause, wait_params("Wait until the VMI is no longer paused (beyond Go virtctl)."),
            metavar="vm|vmi (VM)|(VMI)", short_help="Unpause a virtual machine", help="Unpauses a virtual machine.",
            epilog="  # Unpause a virtualmachine called 'myvm':\n  {{ProgramName}} unpause vm myvm\n\n"
                   "  # Unpause a virtualmachineinstance called 'myvmi':\n  {{ProgramName}} unpause vmi myvmi")
add_command(app, "soft-reboot", ops.soft_reboot, metavar="(VMI)", short_help="Soft reboot a virtual machine instance",
            epilog="  # Soft reboot a virtual machine instance called 'myvmi':\n  {{ProgramName}} soft-reboot myvmi")
add_command(app, "reset", ops.reset, metavar="(VMI)", short_help="Reset a virtual machine instance.",
            epilog="  # Reset a virtual machine instance called 'myvmi':\n  {{ProgramName}} reset myvmi")
