"""``addvolume VMI`` / ``removevolume VMI``: hotplug a DataVolume or PVC into a running VM, with Go
virtctl's flags, body (``AddVolumeOptions`` / ``RemoveVolumeOptions``), VM-then-VMI fallback,
retries and messages (docs/compatibility.md#volume-hot-plug)."""

from __future__ import annotations

import random
import sys
import time
from typing import Any

import typer

from virtctl.cli.args import exact_args
from virtctl.cli.commands.lifecycle import DRY_RUN_HELP
from virtctl.cli.go_errors import go_error
from virtctl.cli.lazy import CobraCommand, new_app
from virtctl.cli.state import current
from virtctl.errors import APIError, ConnectionFailed, NotFound, UsageError, VirtctlError
from virtctl.model import kinds
from virtctl.model.names import DNS1035_LABEL_MAX

app = new_app()

CONCURRENT_ERROR = "the server rejected our request due to an error in our request"
MAX_RETRIES = 15
CACHE_MODES = ("none", "writethrough", "writeback")

ADD_EXAMPLE = """	#Dynamically attach a volume to a running VM giving it a serial number to identify the volume inside the guest.
  {{ProgramName}} addvolume fedora-dv --volume-name=example-dv --serial=1234567890

  #Dynamically attach a volume to a running VM giving it an explicit disk name to be used in the disk/volume section of the VM spec.
  {{ProgramName}} addvolume fedora-dv --volume-name=example-dv --disk-name=example-disk

  #Dynamically attach a volume to a running VM, persisting it in the VM spec. At next VM restart the volume will be attached like any other volume.
  {{ProgramName}} addvolume fedora-dv --volume-name=example-dv

  #[deprecated]: Dynamically attach a volume to a running VM and persisting it in the VM spec. At next VM restart the volume will be attached like any other volume.
  --persist flag has no effect and will be removed in future release. New default behavior will be to persist in VM spec even if flag is not provided.
  {{ProgramName}} addvolume fedora-dv --volume-name=example-dv --persist

  #Dynamically attach a volume with 'none' cache attribute to a running VM.
  {{ProgramName}} addvolume fedora-dv --volume-name=example-dv --cache=none
  """  # noqa: E501

REMOVE_EXAMPLE = """  #Remove volume that was dynamically attached to a running VM.
  {{ProgramName}} removevolume fedora-dv --volume-name=example-dv

  #Remove volume dynamically attached to a running VM and persisting it in the VM spec.
  {{ProgramName}} removevolume fedora-dv --volume-name=example-dv --persist
  """


def volume_source(kv: Any, namespace: str, volume: str) -> dict[str, Any]:
    """The hotplug volume source for ``volume``: a DataVolume if there is one, else a PVC."""
    for path, source in ((f"/apis/cdi.kubevirt.io/v1beta1/namespaces/{namespace}/datavolumes/{volume}",
                          {"dataVolume": {"name": volume, "hotpluggable": True}}),
                         (f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/{volume}",
                          {"persistentVolumeClaim": {"claimName": volume, "hotpluggable": True}})):
        try:
            kv.call("GET", path)
            return source
        except (APIError, ConnectionFailed):
            continue
    raise VirtctlError(f"error adding volume, Volume {volume} is not a DataVolume or PersistentVolumeClaim")


def add_volume_options(volume: str, source: dict[str, Any], *, disk_name: str, serial: str, cache: str,
                       disk_type: str, bus: str, dry_run: bool) -> dict[str, Any]:
    """Go virtctl's ``AddVolumeOptions`` body, with its checks and messages."""
    name = disk_name or volume
    if len(name) > DNS1035_LABEL_MAX:
        if disk_name:
            raise VirtctlError(f"Invalid disk name {disk_name}, must not exceed {DNS1035_LABEL_MAX} characters")
        raise VirtctlError(f"Invalid volume name {volume}, must not exceed {DNS1035_LABEL_MAX} characters. Use in "
                           "conjunction with --disk-name to specify a shorter name")
    disk: dict[str, Any] = {"name": ""}
    if disk_type == "disk":
        if bus not in ("scsi", "virtio"):
            raise VirtctlError(f"Invalid bus type '{bus}' for disk. Only 'scsi' and 'virtio' are supported.")
        disk["disk"] = {"bus": bus}
    elif disk_type == "lun":
        if bus != "scsi":
            raise VirtctlError(f"Invalid bus type '{bus}' for LUN disk. Only 'scsi' bus is supported.")
        disk["lun"] = {"bus": bus}
    else:
        raise VirtctlError(f"Invalid disk type '{disk_type}'. Only LUN and Disk are supported.")
    disk["serial"] = serial or name
    if cache:
        if cache not in CACHE_MODES:
            raise VirtctlError(f"error adding volume, invalid cache value {cache}")
        disk["cache"] = cache
    body: dict[str, Any] = {"name": name, "disk": disk, "volumeSource": source}
    if dry_run:
        body["dryRun"] = ["All"]
    return body


def _submit(kv: Any, namespace: str, name: str, sub: str, body: dict[str, Any], what: str) -> None:
    """PUT on the VM, on the VMI when there is no VM; retried while another change races ours."""
    for attempt in range(1, MAX_RETRIES + 1):
        try:
            try:
                kv.put_subresource(kinds.VM, namespace, name, sub, body)
            except NotFound:
                kv.put_subresource(kinds.VMI, namespace, name, sub, body)
            return
        except (APIError, ConnectionFailed) as e:
            if not isinstance(e, APIError) or e.message != CONCURRENT_ERROR:
                raise VirtctlError(f"error {what} volume, {go_error(e)}") from None
        if attempt < MAX_RETRIES:
            time.sleep(attempt * random.randrange(5) / 1000)
    raise VirtctlError(f"error {what} volume after {MAX_RETRIES} retries")


@app.command("addvolume", cls=CobraCommand, short_help="add a volume to a running VM", epilog=ADD_EXAMPLE)
def addvolume(args: list[str] = typer.Argument(None, metavar="VMI", show_default=False),
              volume_name: str = typer.Option(None, "--volume-name", help="name of the volume source, either DV or "
                                              "PVC", show_default=False),
              disk_name: str = typer.Option("", "--disk-name", help="name used in the disk/volume section of spec",
                                            show_default=False),
              serial: str = typer.Option("", "--serial", help="serial number you want to assign to the disk",
                                         show_default=False),
              cache: str = typer.Option("", "--cache", help="caching options attribute control the cache mechanism",
                                        show_default=False),
              persist: bool = typer.Option(False, "--persist", help="[deprecated] this flag has no effect and will be "
                                           "removed in a future release"),
              dry_run: bool = typer.Option(False, "--dry-run", help=DRY_RUN_HELP),
              disk_type: str = typer.Option("disk", "--disk-type", help="specifies disk type to be hotplugged "
                                            "(disk/lun). Disk by default."),
              bus: str = typer.Option("scsi", "--bus", help="specifies disk bus. scsi by default.")) -> None:
    name = exact_args(args, 1)[0]
    if volume_name is None:
        raise UsageError('required flag(s) "volume-name" not set')
    inv = current()
    kv = inv.client()
    source = volume_source(kv, inv.namespace, volume_name)
    body = add_volume_options(volume_name, source, disk_name=disk_name, serial=serial, cache=cache,
                              disk_type=disk_type, bus=bus, dry_run=dry_run)
    _submit(kv, inv.namespace, name, "addvolume", body, "adding")
    sys.stdout.write(f"Successfully submitted add volume request to VM {name} for volume {volume_name}\n")


@app.command("removevolume", cls=CobraCommand, short_help="remove a volume from a running VM",
             epilog=REMOVE_EXAMPLE)
def removevolume(args: list[str] = typer.Argument(None, metavar="VMI", show_default=False),
                 volume_name: str = typer.Option(None, "--volume-name", help="name used in volumes section of spec",
                                                 show_default=False),
                 persist: bool = typer.Option(False, "--persist", help="[deprecated] this flag has no effect and "
                                              "will be removed in a future release"),
                 dry_run: bool = typer.Option(False, "--dry-run", help=DRY_RUN_HELP)) -> None:
    name = exact_args(args, 1)[0]
    if volume_name is None:
        raise UsageError('required flag(s) "volume-name" not set')
    inv = current()
    body: dict[str, Any] = {"name": volume_name}
    if dry_run:
        body["dryRun"] = ["All"]
    _submit(inv.client(), inv.namespace, name, "removevolume", body, "removing")
    sys.stdout.write(f"Successfully submitted remove volume request to VM {name} for volume {volume_name}\n")
