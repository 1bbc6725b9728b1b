"""Where volumes live on this host, and the names that become part of those paths.

* persistent volumes (``persistentVolumeClaim.claimName``, ``dataVolume.name``, dataVolumeTemplates):
  ``settings.volumes_dir/<namespace>/<name>.qcow2``; they outlive VMIs, like PVCs do;
* per-VMI ephemeral files (containerDisk and ``ephemeral`` overlays, emptyDisks, cloud-init ISOs):
  ``settings.run_dir/<namespace>/<vmi>-<uid>/``.

Every name that becomes part of a path is a validated DNS-1123 name first.
"""

from __future__ import annotations

import re
from pathlib import Path

from virtctl.controller.settings import Settings
from virtctl.errors import VirtctlError, field_invalid
from virtctl.model.names import label_errors, subdomain_errors

VOLUME_SUFFIX = ".qcow2"
NAME_MAX = 255
_UID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")


class VolumeError(VirtctlError):
    """A volume cannot be made ready on this host."""


class VolumeNotFound(VolumeError):
    """A persistent volume (PVC/DataVolume) or hostDisk file that does not exist.

    For PVCs and DataVolumes the controller shows printableStatus ``ErrorPvcNotFound``.
    """

    def __init__(self, message: str, *, kind: str, name: str, namespace: str = ""):
        super().__init__(message)
        self.kind = kind              # persistentVolumeClaim | dataVolume | hostDisk
        self.name = name
        self.namespace = namespace


def check_label(value: object, field_path: str) -> str:
    if not isinstance(value, str) or not value:
        raise field_invalid(field_path, "Required value", "FieldValueRequired")
    errs = label_errors(value)
    if errs:
        raise field_invalid(field_path, f'Invalid value: "{value}": {errs[0]}')
    return value


def check_subdomain(value: object, field_path: str, *, max_len: int = NAME_MAX) -> str:
    if not isinstance(value, str) or not value:
        raise field_invalid(field_path, "Required value", "FieldValueRequired")
    errs = subdomain_errors(value)
    if errs:
        raise field_invalid(field_path, f'Invalid value: "{value}": {errs[0]}')
    if len(value) > max_len:
        raise field_invalid(field_path, f'Invalid value: "{value}": must be no more than {max_len} characters '
                                  f'to name a local volume file')
    return value


def check_volume_name(value: object, field_path: str) -> str:
    """A PVC/DataVolume name, short enough to name its volume file (``<name>.qcow2``)."""
    return check_subdomain(value, field_path, max_len=NAME_MAX - len(VOLUME_SUFFIX))


def persistent_volume_path(settings: Settings, namespace: str, name: str) -> Path:
    """The file behind a PVC/DataVolume ``name`` (validated names only)."""
    check_label(namespace, "metadata.namespace")
    check_volume_name(name, "name")
    return Path(settings.volumes_dir) / namespace / f"{name}{VOLUME_SUFFIX}"


def ephemeral_dir(settings: Settings, namespace: str, vmi_name: object, vmi_uid: object) -> Path:
    """A VMI's run dir; its namespace, name and uid are checked first (422 if not valid)."""
    check_label(namespace, "metadata.namespace")
    vmi_name = check_subdomain(vmi_name, "metadata.name")
    if not isinstance(vmi_uid, str) or not _UID_RE.match(vmi_uid):
        raise field_invalid("metadata.uid", f'Invalid value: "{vmi_uid}": not a UID')
    # the uid makes it unique; the name (cut to fit a file name) is for people looking at the dir
    return Path(settings.run_dir) / namespace / f"{vmi_name[:NAME_MAX - 1 - len(vmi_uid)]}-{vmi_uid}"


def delete_volume(settings: Settings, namespace: str, name: str) -> bool:
    """Delete a persistent volume (a DataVolume owned by a deleted VM). True if there was one."""
    path = persistent_volume_path(settings, namespace, name)
    try:
        path.unlink()
        return True
    except FileNotFoundError:
        return False
