"""A VMI's volumes made real on this host: the whole spec checked first, then files created.

Persistent volumes and ephemeral files live where :mod:`virtctl.controller.storage.layout` says;
hostDisk is a host file, only under one of ``settings.host_disk_dirs``. The whole spec is checked
before anything is written, so a bad VMI leaves nothing behind; every file is created under a temp
name and renamed into place. :func:`release_volumes` removes a VMI's ephemeral files.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from virtctl.controller.settings import Settings
from virtctl.controller.storage import cloudinit, qemu_img
from virtctl.controller.storage.checks import check_image, check_pull_policy, parse_size, reject_pull_secret
from virtctl.controller.storage.configsources import ResolvedSources
from virtctl.controller.storage.images import ImageCache
from virtctl.controller.storage.layout import (
    VolumeError,
    VolumeNotFound,
    check_label,
    check_volume_name,
    ephemeral_dir,
    persistent_volume_path,
)
from virtctl.controller.storage.registry import Progress
from virtctl.controller.storage.sources import DiskSource, KernelBootFiles
from virtctl.errors import field_invalid

# volume types standalone mode cannot give a meaning to, and why
UNSUPPORTED_VOLUME_TYPES = {
    "serviceAccount": "serviceAccount volumes are not supported in standalone mode: there are no Kubernetes "
                      "service accounts",
    "downwardMetrics": "downwardMetrics volumes are not supported in standalone mode: there is no metrics "
                       "collector on this host",
    "sysprep": "sysprep volumes are not supported in standalone mode: they need a ConfigMap or Secret",
    "memoryDump": "memoryDump volumes are not supported in standalone mode",
    "containerPath": "containerPath volumes are not supported in standalone mode: there is no virt-launcher "
                     "container",
}
SUPPORTED_VOLUME_TYPES = ("containerDisk", "persistentVolumeClaim", "dataVolume", "ephemeral", "emptyDisk",
                          "hostDisk", "cloudInitNoCloud", "cloudInitConfigDrive", "secret", "configMap",
                          "downwardAPI")
CONFIG_VOLUME_TYPES = ("secret", "configMap", "downwardAPI")


@dataclass
class PreparedVolumes:
    disks: dict[str, DiskSource] = field(default_factory=dict)    # by VMI volume name
    kernel_boot: KernelBootFiles | None = None
    ephemeral_dir: Path | None = None


_Step = Callable[["_Context"], "DiskSource | None"]


@dataclass
class _Context:
    settings: Settings
    namespace: str
    vmi_name: str
    vmi_uid: str
    hostname: str
    run_dir: Path
    images: ImageCache
    progress: Progress | None
    created: list[Path] = field(default_factory=list)

    def new_file(self, name: str) -> tuple[Path, Path]:
        """(final path, temp path) in the VMI's run dir; the temp is renamed by :meth:`commit`."""
        self.run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        final = self.run_dir / name
        return final, self.run_dir / f".tmp-{name}-{uuid.uuid4().hex[:8]}"

    def commit(self, tmp: Path, final: Path) -> None:
        os.replace(tmp, final)
        self.created.append(final)


def prepare_volumes(vmi: dict, settings: Settings, *, namespace: str, progress: Progress | None = None,
                    images: ImageCache | None = None, sources: ResolvedSources | None = None) -> PreparedVolumes:
    """Resolve every volume of a VMI (and its kernel boot container) to local files. ``sources``:
    what the VMI takes from Secrets, ConfigMaps and the downward API
    (:func:`virtctl.controller.storage.configsources.resolve`).

    Idempotent for one VMI uid: files already in its run dir are kept (a controller restarted
    before the domain started gets the same overlays back). On error, files created by this call
    are removed and the typed error is raised.
    """
    meta = vmi.get("metadata") or {}
    spec = vmi.get("spec") or {}
    name, uid = meta.get("name"), meta.get("uid")
    run_dir = ephemeral_dir(settings, namespace, name, uid)
    hostname = spec.get("hostname") or str(name)
    volumes = spec.get("volumes") or []
    if not isinstance(volumes, list):
        raise field_invalid("spec.volumes", "must be a list")
    disk_specs = {d.get("name"): d for d in ((spec.get("domain") or {}).get("devices") or {}).get("disks") or []
                  if isinstance(d, dict)}

    # 1. check everything; nothing is written yet
    steps: list[tuple[str, _Step]] = []
    seen: set[str] = set()
    for i, volume in enumerate(volumes):
        field_path = f"spec.volumes[{i}]"
        if not isinstance(volume, dict):
            raise field_invalid(field_path, "must be an object")
        vol_name = check_label(volume.get("name"), f"{field_path}.name")
        if vol_name in seen:
            raise field_invalid(f"{field_path}.name", f'Duplicate value: "{vol_name}"', "FieldValueDuplicate")
        seen.add(vol_name)
        steps.append((vol_name, _plan_volume(volume, vol_name, field_path, settings, namespace,
                                             disk_specs.get(vol_name) or {}, sources or ResolvedSources())))
    kernel_step = _plan_kernel_boot(spec)

    # 2. make it real
    ctx = _Context(settings, namespace, str(name), str(uid), hostname, run_dir, images or ImageCache(settings),
                   progress)
    prepared = PreparedVolumes(ephemeral_dir=run_dir)
    try:
        for vol_name, step in steps:
            source = step(ctx)
            if source is not None:
                prepared.disks[vol_name] = source
        if kernel_step is not None:
            prepared.kernel_boot = kernel_step(ctx)
    except BaseException:
        for path in ctx.created:
            path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            run_dir.rmdir()               # only if this call left it empty
        raise
    return prepared


def release_volumes(settings: Settings, namespace: str, vmi_name: str, vmi_uid: str) -> None:
    """Delete a VMI's ephemeral files (overlays, empty disks, cloud-init ISOs). Persistent ones stay."""
    run_dir = ephemeral_dir(settings, namespace, vmi_name, vmi_uid)
    shutil.rmtree(run_dir, ignore_errors=True)
    with contextlib.suppress(OSError):
        run_dir.parent.rmdir()            # the namespace dir, once empty


def _plan_volume(volume: dict, vol_name: str, field_path: str, settings: Settings, namespace: str,
                 disk_spec: dict, sources: ResolvedSources) -> _Step:
    kinds = [k for k in volume if k != "name"]
    if not kinds:
        raise field_invalid(field_path, "must have exactly one volume source (none given)", "FieldValueRequired")
    if len(kinds) > 1:
        raise field_invalid(field_path, f"must have exactly one volume source (got {', '.join(kinds)})")
    kind = kinds[0]
    src = volume[kind]
    src_path = f"{field_path}.{kind}"
    if kind in UNSUPPORTED_VOLUME_TYPES:
        raise field_invalid(src_path, UNSUPPORTED_VOLUME_TYPES[kind], "FieldValueNotSupported")
    if kind not in SUPPORTED_VOLUME_TYPES:
        raise field_invalid(src_path, f"unknown volume type {kind!r}", "FieldValueNotSupported")
    if not isinstance(src, dict):
        raise field_invalid(src_path, "must be an object")
    cdrom = "cdrom" in disk_spec
    media = "cdrom" if cdrom else "disk"
    disk_readonly = cdrom or bool((disk_spec.get("disk") or disk_spec.get("lun") or {}).get("readonly"))

    if kind == "containerDisk":
        image = check_image(src.get("image"), f"{src_path}.image")
        policy = check_pull_policy(src.get("imagePullPolicy"), image, f"{src_path}.imagePullPolicy")
        reject_pull_secret(src, src_path)
        disk_path = src.get("path")
        if disk_path is not None and (not isinstance(disk_path, str) or not disk_path.startswith("/")):
            raise field_invalid(f"{src_path}.path", "must be an absolute path inside the image")

        def container_disk(ctx: _Context) -> DiskSource:
            overlay = _existing_overlay(ctx, f"{vol_name}.qcow2")
            if overlay is None:
                base = ctx.images.container_disk(image, path=disk_path, policy=policy, progress=ctx.progress)
                overlay = _overlay(ctx, f"{vol_name}.qcow2", base.path, base.format)
            return DiskSource(vol_name, str(overlay), "qcow2", readonly=disk_readonly, media=media, ephemeral=True)
        return container_disk

    if kind in ("persistentVolumeClaim", "dataVolume", "ephemeral"):
        if kind == "ephemeral":
            pvc = src.get("persistentVolumeClaim")
            if not isinstance(pvc, dict):
                raise field_invalid(f"{src_path}.persistentVolumeClaim", "Required value", "FieldValueRequired")
            claim_field, claim, ref_kind = (f"{src_path}.persistentVolumeClaim.claimName", pvc.get("claimName"),
                                            "persistentVolumeClaim")
            readonly = bool(pvc.get("readOnly"))
        elif kind == "persistentVolumeClaim":
            claim_field, claim, ref_kind = f"{src_path}.claimName", src.get("claimName"), kind
            readonly = bool(src.get("readOnly"))
        else:
            claim_field, claim, ref_kind = f"{src_path}.name", src.get("name"), kind
            readonly = False
        claim = check_volume_name(claim, claim_field)
        path = persistent_volume_path(settings, namespace, claim)

        def persistent(ctx: _Context) -> DiskSource:
            if not path.is_file():
                what = "PVC" if ref_kind == "persistentVolumeClaim" else "DataVolume"
                raise VolumeNotFound(f"{what} {namespace}/{claim} does not exist", kind=ref_kind, name=claim,
                                     namespace=namespace)
            fmt = qemu_img.detect_format(path)
            if kind == "ephemeral":
                overlay = _existing_overlay(ctx, f"{vol_name}.qcow2") or _overlay(ctx, f"{vol_name}.qcow2", path, fmt)
                return DiskSource(vol_name, str(overlay), "qcow2", readonly=readonly or disk_readonly,
                                  media=media, ephemeral=True)
            return DiskSource(vol_name, str(path), fmt, readonly=readonly or disk_readonly, media=media)
        return persistent

    if kind == "emptyDisk":
        size = parse_size(src.get("capacity"), f"{src_path}.capacity")

        def empty_disk(ctx: _Context) -> DiskSource:
            final, tmp = ctx.new_file(f"{vol_name}.qcow2")
            if not final.exists():
                _create_then_commit(ctx, tmp, final, lambda p: qemu_img.create(p, size, fmt="qcow2"))
            return DiskSource(vol_name, str(final), "qcow2", readonly=disk_readonly, media=media, ephemeral=True)
        return empty_disk

    if kind == "hostDisk":
        path, create_size = _check_host_disk(src, src_path, settings)

        def host_disk(ctx: _Context) -> DiskSource:
            if not path.exists():
                if create_size is None:
                    raise VolumeNotFound(f"hostDisk {path} does not exist", kind="hostDisk", name=str(path))
                if _create_sparse(path, create_size):
                    ctx.created.append(path)
            elif not path.is_file():
                raise VolumeError(f"hostDisk {path} is not a regular file")
            return DiskSource(vol_name, str(path), "raw", readonly=disk_readonly, media=media)
        return host_disk

    if kind in CONFIG_VOLUME_TYPES:
        if vol_name not in sources.files:
            raise VolumeError(f"{src_path}: the {kind} volume's data was not resolved")
        files, label = sources.files[vol_name], sources.labels.get(vol_name, "cfgdata")

        def config_volume(ctx: _Context) -> DiskSource:
            final, tmp = ctx.new_file(f"{vol_name}.iso")
            cloudinit.write_iso(tmp, label, files)
            ctx.commit(tmp, final)
            return DiskSource(vol_name, str(final), "raw", readonly=True, media=media, ephemeral=True)
        return config_volume

    # cloudInitNoCloud | cloudInitConfigDrive
    data = cloudinit.read_cloud_init_source(src, src_path)
    from_secret = sources.cloud_init.get(vol_name)
    if from_secret is not None:
        data = cloudinit.CloudInitData(from_secret.user_data if from_secret.user_data is not None else data.user_data,
                                       from_secret.network_data if from_secret.network_data is not None
                                       else data.network_data)
    nocloud = kind == "cloudInitNoCloud"
    writer = cloudinit.write_nocloud_iso if nocloud else cloudinit.write_config_drive_iso
    keys = sources.nocloud_keys if nocloud else sources.config_drive_keys

    def cloud_init(ctx: _Context) -> DiskSource:
        final, tmp = ctx.new_file(f"{vol_name}.iso")
        # rebuilt every time: the file is small and must match the VMI's current data
        writer(tmp, data, instance_id=ctx.vmi_uid, hostname=ctx.hostname, public_keys=keys)
        ctx.commit(tmp, final)
        return DiskSource(vol_name, str(final), "raw", readonly=disk_readonly, media=media, ephemeral=True)
    return cloud_init


def _plan_kernel_boot(spec: dict) -> Callable[[_Context], KernelBootFiles] | None:
    kernel_boot = ((spec.get("domain") or {}).get("firmware") or {}).get("kernelBoot")
    if not kernel_boot:
        return None
    base = "spec.domain.firmware.kernelBoot"
    container = kernel_boot.get("container")
    if not isinstance(container, dict):
        raise field_invalid(f"{base}.container", "Required value: a kernel boot container is needed in standalone mode",
                      "FieldValueRequired")
    image = check_image(container.get("image"), f"{base}.container.image")
    policy = check_pull_policy(container.get("imagePullPolicy"), image, f"{base}.container.imagePullPolicy")
    reject_pull_secret(container, f"{base}.container")
    kernel_path, initrd_path = container.get("kernelPath"), container.get("initrdPath")
    if not kernel_path and not initrd_path:
        raise field_invalid(f"{base}.container", "must contain at least one of kernelPath or initrdPath",
                      "FieldValueRequired")
    for key, value in (("kernelPath", kernel_path), ("initrdPath", initrd_path)):
        if value and (not isinstance(value, str) or not value.startswith("/")):
            raise field_invalid(f"{base}.container.{key}", "must be an absolute path inside the image")
    cmdline = kernel_boot.get("kernelArgs") or ""

    def kernel(ctx: _Context) -> KernelBootFiles:
        return ctx.images.kernel_boot(image, kernel_path=kernel_path, initrd_path=initrd_path, cmdline=cmdline,
                                      policy=policy, progress=ctx.progress)
    return kernel


def _check_host_disk(src: dict, src_path: str, settings: Settings) -> tuple[Path, int | None]:
    raw_path = src.get("path")
    if not isinstance(raw_path, str) or not raw_path:
        raise field_invalid(f"{src_path}.path", "Required value", "FieldValueRequired")
    if not raw_path.startswith("/") or "\0" in raw_path:
        raise field_invalid(f"{src_path}.path", f'Invalid value: "{raw_path}": must be an absolute path')
    disk_type = src.get("type")
    if disk_type not in ("Disk", "DiskOrCreate"):
        raise field_invalid(f"{src_path}.type", f'Unsupported value: "{disk_type}": supported values: "Disk", '
                                          f'"DiskOrCreate"', "FieldValueNotSupported")
    # symlinks resolved on both sides: a link inside an allowed dir cannot point out of it
    resolved = Path(os.path.realpath(raw_path))
    allowed = [Path(os.path.realpath(d)) for d in settings.host_disk_dirs]
    if not any(resolved != d and resolved.is_relative_to(d) for d in allowed):
        where = ", ".join(str(d) for d in allowed) if allowed else "none configured"
        raise field_invalid(f"{src_path}.path", f'Forbidden: "{raw_path}" is not under an allowed host disk '
                                          f"directory (hostDiskDirs: {where})", "FieldValueForbidden")
    if disk_type == "DiskOrCreate":
        if src.get("capacity") is None:
            raise field_invalid(f"{src_path}.capacity", "Required value: needed for type DiskOrCreate",
                          "FieldValueRequired")
        return resolved, parse_size(src["capacity"], f"{src_path}.capacity")
    return resolved, None


def _create_sparse(path: Path, size: int) -> bool:
    """A sparse raw file of ``size`` bytes; False if one appeared meanwhile (it is never clobbered)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}-{uuid.uuid4().hex[:8]}")
    try:
        with open(tmp, "xb") as f:
            f.truncate(size)
        os.link(tmp, path)          # unlike rename, fails if the target exists
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)


def _existing_overlay(ctx: _Context, name: str) -> Path | None:
    """The overlay this VMI uid already has, if its backing file is still there.

    A VMI keeps the image it started with (as a pod keeps its pulled image), even if the tag moved.
    """
    final = ctx.run_dir / name
    if not final.is_file():
        return None
    try:
        backing = qemu_img.info(final).get("backing-filename")
    except qemu_img.QemuImgError:
        return None
    return final if backing and Path(backing).is_file() else None


def _overlay(ctx: _Context, name: str, backing: Path, backing_format: str) -> Path:
    final, tmp = ctx.new_file(name)
    _create_then_commit(ctx, tmp, final,
                        lambda p: qemu_img.create(p, fmt="qcow2", backing=backing, backing_format=backing_format))
    return final


def _create_then_commit(ctx: _Context, tmp: Path, final: Path, make: Callable[[Path], None]) -> None:
    try:
        make(tmp)
        ctx.commit(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def hotplug_source(settings: Settings, namespace: str, volume: dict) -> DiskSource:
    """The file behind a hotplugged ``dataVolume`` / ``persistentVolumeClaim`` volume of a running
    VMI (docs/standalone.md#volume-hot-plug); :class:`VolumeNotFound` while its claim is missing."""
    name = check_label(volume.get("name"), "name")
    if isinstance(volume.get("dataVolume"), dict):
        ref_kind, claim, readonly = "dataVolume", volume["dataVolume"].get("name"), False
    elif isinstance(volume.get("persistentVolumeClaim"), dict):
        src = volume["persistentVolumeClaim"]
        ref_kind, claim, readonly = "persistentVolumeClaim", src.get("claimName"), bool(src.get("readOnly"))
    else:
        raise VolumeError(f"volume {name} cannot be hotplugged: only dataVolume and persistentVolumeClaim can")
    claim = check_volume_name(claim, f"{ref_kind}.name")
    path = persistent_volume_path(settings, namespace, claim)
    if not path.is_file():
        what = "PVC" if ref_kind == "persistentVolumeClaim" else "DataVolume"
        raise VolumeNotFound(f"{what} {namespace}/{claim} does not exist", kind=ref_kind, name=claim,
                             namespace=namespace)
    return DiskSource(name, str(path), qemu_img.detect_format(path), readonly=readonly)
