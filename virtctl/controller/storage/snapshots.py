"""Volume snapshot files: full qcow2 copies of persistent volumes, kept under the state dir.

A copy is written to a temporary name and renamed into place, so a file that exists is complete
and a retried reconcile can skip it. ``qemu-img convert`` opens the source with QEMU's image
locking, so a volume that a running QEMU writes is refused rather than copied torn.
"""

from __future__ import annotations

import os
from pathlib import Path

from virtctl.controller.settings import Settings
from virtctl.controller.storage import qemu_img
from virtctl.controller.storage.layout import VOLUME_SUFFIX, VolumeNotFound, persistent_volume_path


def snapshots_dir(settings: Settings, namespace: str) -> Path:
    return Path(settings.state_dir) / "snapshots" / namespace


def snapshot_path(settings: Settings, namespace: str, volume_snapshot_name: str) -> Path:
    # the name is ours (vmsnapshot-<uid>-volume-<volume>), validated like a volume name
    persistent_volume_path(settings, namespace, volume_snapshot_name)
    return snapshots_dir(settings, namespace) / f"{volume_snapshot_name}{VOLUME_SUFFIX}"


def _copy(src: Path, dst: Path, *, overwrite: bool = False) -> None:
    if dst.is_file() and not overwrite:
        return
    dst.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = dst.with_name(f".{dst.name}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        qemu_img.convert(src, tmp, dst_format="qcow2", src_format=qemu_img.detect_format(src))
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


def save_volume(settings: Settings, namespace: str, claim: str, volume_snapshot_name: str) -> Path:
    """Copy volume ``claim`` to the snapshot file (a no-op when that file exists)."""
    src = persistent_volume_path(settings, namespace, claim)
    if not src.is_file():
        raise VolumeNotFound(f"PVC {namespace}/{claim} does not exist", kind="persistentVolumeClaim",
                             name=claim, namespace=namespace)
    dst = snapshot_path(settings, namespace, volume_snapshot_name)
    _copy(src, dst)
    return dst


def restore_volume(settings: Settings, namespace: str, volume_snapshot_name: str, claim: str, *,
                   overwrite: bool = False) -> Path:
    """Create volume ``claim`` from a snapshot file; an existing one is kept unless ``overwrite``
    (the replacement is atomic, so a repeated restore leaves the same data)."""
    src = snapshot_path(settings, namespace, volume_snapshot_name)
    if not src.is_file():
        raise VolumeNotFound(f"volume snapshot {namespace}/{volume_snapshot_name} does not exist",
                             kind="VolumeSnapshot", name=volume_snapshot_name, namespace=namespace)
    dst = persistent_volume_path(settings, namespace, claim)
    _copy(src, dst, overwrite=overwrite)
    return dst


def delete_snapshot_file(settings: Settings, namespace: str, volume_snapshot_name: str) -> bool:
    try:
        snapshot_path(settings, namespace, volume_snapshot_name).unlink()
        return True
    except FileNotFoundError:
        return False


def pending_copy(settings: Settings, namespace: str, volume_snapshot_name: str) -> tuple[Path, Path]:
    """(final, temporary) paths for a copy someone else writes (the hypervisor's online backup of a
    running VM's volume); the temporary file is cleared first, :func:`commit_copy` renames it."""
    final = snapshot_path(settings, namespace, volume_snapshot_name)
    final.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = final.with_name(f".{final.name}.tmp")
    tmp.unlink(missing_ok=True)
    return final, tmp


def commit_copy(tmp: Path, final: Path) -> None:
    os.replace(tmp, final)
