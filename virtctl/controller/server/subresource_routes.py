"""Which handler answers each of KubeVirt's ``subresources.kubevirt.io`` paths:
``/apis/subresources.kubevirt.io/v1/namespaces/{ns}/{plural}/{name}/{subresource}``.

The handlers get an :class:`~virtctl.controller.subresource.ActionContext` whose ``runtime`` carries
the controller's parts (store, hosts, consoles, reconcile trigger). Adding a subresource: write the
handler (an ``Action`` or a ``StreamHandler``, see :mod:`virtctl.controller.subresource`) next to its
kin in ``controller/actions.py`` or ``controller/streams.py`` and add its line here.
"""

from __future__ import annotations

from virtctl.controller import actions, guest_access, streams
from virtctl.controller.subresource import SubresourceTable
from virtctl.model import kinds
from virtctl.streams import protocol

VM, VMI = kinds.VM.plural, kinds.VMI.plural

SUBRESOURCES = SubresourceTable(
    actions={
        # VM lifecycle (202)
        (VM, "start"): actions.start,
        (VM, "stop"): actions.stop,
        (VM, "restart"): actions.restart,
        (VM, "migrate"): actions.migrate,
        # volume hotplug (202)
        (VM, "addvolume"): actions.vm_addvolume,
        (VM, "removevolume"): actions.vm_removevolume,
        (VMI, "addvolume"): actions.vmi_addvolume,
        (VMI, "removevolume"): actions.vmi_removevolume,
        # memory dump (202)
        (VM, "memorydump"): actions.memorydump_action,
        (VM, "removememorydump"): actions.removememorydump_action,
        # VMI lifecycle (200)
        (VMI, "pause"): actions.pause,
        (VMI, "unpause"): actions.unpause,
        (VMI, "softreboot"): actions.softreboot,
        (VMI, "reset"): actions.reset,
        # read-only (GET)
        (VMI, "vnc/screenshot"): streams.screenshot,
        (VMI, protocol.CONSOLE_LOG_SUBRESOURCE): streams.console_log,
        (VMI, "guestosinfo"): guest_access.guestosinfo,
        (VMI, "userlist"): guest_access.userlist,
        (VMI, "filesystemlist"): guest_access.filesystemlist,
    },
    streams={
        (VMI, "console"): streams.ConsoleStream(),
        (VMI, "vnc"): streams.VNCStream(),
        (VMI, "portforward"): guest_access.PortForwardStream(VMI),
        (VM, "portforward"): guest_access.PortForwardStream(VM),
    },
)
