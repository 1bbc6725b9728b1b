"""addvolume's body and checks, as Go virtctl builds them (no server needed)."""

from __future__ import annotations

import pytest

from virtctl.cli.commands.volumes import add_volume_options
from virtctl.errors import VirtctlError

PVC = {"persistentVolumeClaim": {"claimName": "p", "hotpluggable": True}}


def opts(**kw):
    args = dict(disk_name="", serial="", cache="", disk_type="disk", bus="scsi", dry_run=False)
    args.update(kw)
    return add_volume_options("p", PVC, **args)


def test_default_body_matches_go():
    assert opts() == {"name": "p", "disk": {"name": "", "disk": {"bus": "scsi"}, "serial": "p"}, "volumeSource": PVC}


def test_flags_in_the_body():
    body = opts(disk_name="d", serial="123", cache="none", bus="virtio", dry_run=True)
    assert body == {"name": "d", "disk": {"name": "", "disk": {"bus": "virtio"}, "serial": "123", "cache": "none"},
                    "volumeSource": PVC, "dryRun": ["All"]}
    assert opts(disk_type="lun")["disk"]["lun"] == {"bus": "scsi"}


@pytest.mark.parametrize("kw, message", [
    ({"bus": "sata"}, "Invalid bus type 'sata' for disk. Only 'scsi' and 'virtio' are supported."),
    ({"disk_type": "lun", "bus": "virtio"}, "Invalid bus type 'virtio' for LUN disk. Only 'scsi' bus is supported."),
    ({"disk_type": "cdrom"}, "Invalid disk type 'cdrom'. Only LUN and Disk are supported."),
    ({"cache": "unsafe"}, "error adding volume, invalid cache value unsafe"),
    ({"disk_name": "x" * 64}, f"Invalid disk name {'x' * 64}, must not exceed 63 characters"),
])
def test_refused(kw, message):
    with pytest.raises(VirtctlError) as ei:
        opts(**kw)
    assert ei.value.message == message
