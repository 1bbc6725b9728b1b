"""What the volume preparation hands to the domain converter: resolved local files.

Kept free of libvirt so that volume code and the XML converter meet on plain data.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DiskSource:
    """A VMI volume made real on this host."""

    volume: str                 # the VMI's volume name
    path: str                   # absolute path of the file the guest sees
    format: str = "qcow2"       # qcow2 | raw
    readonly: bool = False
    media: str = "disk"         # disk | cdrom (cloud-init ISOs default to cdrom when the VMI says so)
    ephemeral: bool = False     # discarded when the VMI stops (overlays, empty disks, cloud-init)


@dataclass(frozen=True)
class KernelBootFiles:
    """``spec.domain.firmware.kernelBoot``: files extracted from its container image."""

    kernel: str | None
    initrd: str | None
    cmdline: str = ""
