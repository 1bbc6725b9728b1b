"""KubeVirt volumes made real on one host, without Kubernetes storage.

* persistent volumes (``persistentVolumeClaim.claimName``, ``dataVolume.name``, dataVolumeTemplates):
  ``settings.volumes_dir/<namespace>/<name>.qcow2``; they outlive VMIs, like PVCs do;
* per-VMI ephemeral files (containerDisk and ``ephemeral`` overlays, emptyDisks, cloud-init ISOs):
  ``settings.run_dir/<namespace>/<vmi>-<uid>/``, removed by :func:`release_volumes`;
* hostDisk: a host file, only under one of ``settings.host_disk_dirs``.

The whole spec is checked before anything is written, so a bad VMI leaves nothing behind; every
file is created under a temp name and renamed into place. Every name that becomes part of a path
is a validated DNS-1123 name first.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import lzma
import math
import os
import re
import shutil
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from virtctl.controller.settings import Settings
from virtctl.controller.storage import cloudinit, qemu_img
from virtctl.controller.storage.images import PULL_ALWAYS, PULL_IF_NOT_PRESENT, PULL_NEVER, ImageCache, \
    ImageContentError, default_pull_policy
from virtctl.controller.storage.registry import InvalidReference, Progress, parse_reference
from virtctl.controller.storage.sources import DiskSource, KernelBootFiles
from virtctl.errors import Invalid, VirtctlError
from virtctl.model.names import label_errors, subdomain_errors
from virtctl.model.quantity import parse_quantity

VOLUME_SUFFIX = ".qcow2"
NAME_MAX = 255
_UID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")

# volume types standalone mode cannot give a meaning to, and why
UNSUPPORTED_VOLUME_TYPES = {
    "configMap": "configMap volumes are not supported in standalone mode: there are no Kubernetes ConfigMaps",
    "secret": "secret volumes are not supported in standalone mode: there are no Kubernetes Secrets",
    "serviceAccount": "serviceAccount volumes are not supported in standalone mode: there are no Kubernetes "
                      "service accounts",
    "downwardAPI": "downwardAPI volumes are not supported in standalone mode: there is no pod to take fields from",
    "downwardMetrics": "downwardMetrics volumes are not supported in standalone mode: there is no metrics "
                       "collector on this host",
    "sysprep": "sysprep volumes are not supported in standalone mode: they need a ConfigMap or Secret",
    "memoryDump": "memoryDump volumes are not supported in standalone mode",
    "containerPath": "containerPath volumes are not supported in standalone mode: there is no virt-launcher "
                     "container",
}
SUPPORTED_VOLUME_TYPES = ("containerDisk", "persistentVolumeClaim", "dataVolume", "ephemeral", "emptyDisk",
                          "hostDisk", "cloudInitNoCloud", "cloudInitConfigDrive")
UNSUPPORTED_DV_SOURCES = ("s3", "gcs", "imageio", "vddk", "snapshot", "upload")


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


@dataclass
class PreparedVolumes:
    disks: dict[str, DiskSource] = field(default_factory=dict)    # by VMI volume name
    kernel_boot: KernelBootFiles | None = None
    ephemeral_dir: Path | None = None


# --- names, sizes and paths -------------------------------------------------------------------

def _invalid(field_path: str, reason: str, cause: str = "FieldValueInvalid") -> Invalid:
    message = f"{field_path}: {reason}"
    return Invalid(message, details={"causes": [{"type": cause, "field": field_path, "message": message}]})


def _check_label(value: object, field_path: str) -> str:
    if not isinstance(value, str) or not value:
        raise _invalid(field_path, "Required value", "FieldValueRequired")
    errs = label_errors(value)
    if errs:
        raise _invalid(field_path, f'Invalid value: "{value}": {errs[0]}')
    return value


def _check_subdomain(value: object, field_path: str, *, max_len: int = NAME_MAX) -> str:
    if not isinstance(value, str) or not value:
        raise _invalid(field_path, "Required value", "FieldValueRequired")
    errs = subdomain_errors(value)
    if errs:
        raise _invalid(field_path, f'Invalid value: "{value}": {errs[0]}')
    if len(value) > max_len:
        raise _invalid(field_path, f'Invalid value: "{value}": must be no more than {max_len} characters '
                                   f'to name a local volume file')
    return value


def parse_size(value: object, field_path: str) -> int:
    """A Kubernetes resource quantity (``2Gi``, ``500M``, ``1e9``) as a whole number of bytes (rounded up)."""
    text = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    try:
        amount, _ = parse_quantity(text)
    except ValueError as e:
        raise _invalid(field_path, f'Invalid value: "{value}": {e}') from None
    if amount <= 0:
        raise _invalid(field_path, f'Invalid value: "{value}": must be greater than zero')
    return math.ceil(amount)


def persistent_volume_path(settings: Settings, namespace: str, name: str) -> Path:
    """The file behind a PVC/DataVolume ``name`` (validated names only)."""
    _check_label(namespace, "metadata.namespace")
    _check_subdomain(name, "name", max_len=NAME_MAX - len(VOLUME_SUFFIX))
    return Path(settings.volumes_dir) / namespace / f"{name}{VOLUME_SUFFIX}"


def ephemeral_dir(settings: Settings, namespace: str, vmi_name: str, vmi_uid: str) -> Path:
    _check_label(namespace, "metadata.namespace")
    _check_subdomain(vmi_name, "metadata.name")
    if not isinstance(vmi_uid, str) or not _UID_RE.match(vmi_uid):
        raise _invalid("metadata.uid", f'Invalid value: "{vmi_uid}": not a UID')
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


# --- VMI volumes ------------------------------------------------------------------------------

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
                    images: ImageCache | None = None) -> PreparedVolumes:
    """Resolve every volume of a VMI (and its kernel boot container) to local files.

    Idempotent for one VMI uid: files already in its run dir are kept (a controller restarted
    before the domain started gets the same overlays back). On error, files created by this call
    are removed and the typed error is raised.
    """
    meta = vmi.get("metadata") or {}
    spec = vmi.get("spec") or {}
    name, uid = meta.get("name"), meta.get("uid")
    run_dir = ephemeral_dir(settings, namespace, name, uid)
    hostname = spec.get("hostname") or name
    volumes = spec.get("volumes") or []
    if not isinstance(volumes, list):
        raise _invalid("spec.volumes", "must be a list")
    disk_specs = {d.get("name"): d for d in ((spec.get("domain") or {}).get("devices") or {}).get("disks") or []
                  if isinstance(d, dict)}

    # 1. check everything; nothing is written yet
    steps: list[tuple[str, _Step]] = []
    seen: set[str] = set()
    for i, volume in enumerate(volumes):
        field_path = f"spec.volumes[{i}]"
        if not isinstance(volume, dict):
            raise _invalid(field_path, "must be an object")
        vol_name = _check_label(volume.get("name"), f"{field_path}.name")
        if vol_name in seen:
            raise _invalid(f"{field_path}.name", f'Duplicate value: "{vol_name}"', "FieldValueDuplicate")
        seen.add(vol_name)
        steps.append((vol_name, _plan_volume(volume, vol_name, field_path, settings, namespace,
                                             disk_specs.get(vol_name) or {})))
    kernel_step = _plan_kernel_boot(spec)

    # 2. make it real
    ctx = _Context(settings, namespace, name, uid, hostname, run_dir, images or ImageCache(settings), progress)
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
                 disk_spec: dict) -> _Step:
    kinds = [k for k in volume if k != "name"]
    if not kinds:
        raise _invalid(field_path, "must have exactly one volume source (none given)", "FieldValueRequired")
    if len(kinds) > 1:
        raise _invalid(field_path, f"must have exactly one volume source (got {', '.join(kinds)})")
    kind = kinds[0]
    src = volume[kind]
    src_path = f"{field_path}.{kind}"
    if kind in UNSUPPORTED_VOLUME_TYPES:
        raise _invalid(src_path, UNSUPPORTED_VOLUME_TYPES[kind], "FieldValueNotSupported")
    if kind not in SUPPORTED_VOLUME_TYPES:
        raise _invalid(src_path, f"unknown volume type {kind!r}", "FieldValueNotSupported")
    if not isinstance(src, dict):
        raise _invalid(src_path, "must be an object")
    cdrom = "cdrom" in disk_spec
    media = "cdrom" if cdrom else "disk"
    disk_readonly = cdrom or bool((disk_spec.get("disk") or disk_spec.get("lun") or {}).get("readonly"))

    if kind == "containerDisk":
        image = _check_image(src.get("image"), f"{src_path}.image")
        policy = _check_pull_policy(src.get("imagePullPolicy"), image, f"{src_path}.imagePullPolicy")
        _reject_pull_secret(src, src_path)
        disk_path = src.get("path")
        if disk_path is not None and (not isinstance(disk_path, str) or not disk_path.startswith("/")):
            raise _invalid(f"{src_path}.path", "must be an absolute path inside the image")

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
                raise _invalid(f"{src_path}.persistentVolumeClaim", "Required value", "FieldValueRequired")
            claim_field, claim, ref_kind = (f"{src_path}.persistentVolumeClaim.claimName", pvc.get("claimName"),
                                            "persistentVolumeClaim")
            readonly = bool(pvc.get("readOnly"))
        elif kind == "persistentVolumeClaim":
            claim_field, claim, ref_kind = f"{src_path}.claimName", src.get("claimName"), kind
            readonly = bool(src.get("readOnly"))
        else:
            claim_field, claim, ref_kind = f"{src_path}.name", src.get("name"), kind
            readonly = False
        claim = _check_subdomain(claim, claim_field, max_len=NAME_MAX - len(VOLUME_SUFFIX))
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

    # cloudInitNoCloud | cloudInitConfigDrive
    data = cloudinit.read_cloud_init_source(src, src_path)
    writer = cloudinit.write_nocloud_iso if kind == "cloudInitNoCloud" else cloudinit.write_config_drive_iso

    def cloud_init(ctx: _Context) -> DiskSource:
        final, tmp = ctx.new_file(f"{vol_name}.iso")
        # rebuilt every time: the file is small and must match the VMI's current data
        writer(tmp, data, instance_id=ctx.vmi_uid, hostname=ctx.hostname)
        ctx.commit(tmp, final)
        return DiskSource(vol_name, str(final), "raw", readonly=disk_readonly, media=media, ephemeral=True)
    return cloud_init


def _plan_kernel_boot(spec: dict) -> _Step | None:
    kernel_boot = ((spec.get("domain") or {}).get("firmware") or {}).get("kernelBoot")
    if not kernel_boot:
        return None
    base = "spec.domain.firmware.kernelBoot"
    container = kernel_boot.get("container")
    if not isinstance(container, dict):
        raise _invalid(f"{base}.container", "Required value: a kernel boot container is needed in standalone mode",
                       "FieldValueRequired")
    image = _check_image(container.get("image"), f"{base}.container.image")
    policy = _check_pull_policy(container.get("imagePullPolicy"), image, f"{base}.container.imagePullPolicy")
    _reject_pull_secret(container, f"{base}.container")
    kernel_path, initrd_path = container.get("kernelPath"), container.get("initrdPath")
    if not kernel_path and not initrd_path:
        raise _invalid(f"{base}.container", "must contain at least one of kernelPath or initrdPath",
                       "FieldValueRequired")
    for key, value in (("kernelPath", kernel_path), ("initrdPath", initrd_path)):
        if value and (not isinstance(value, str) or not value.startswith("/")):
            raise _invalid(f"{base}.container.{key}", "must be an absolute path inside the image")
    cmdline = kernel_boot.get("kernelArgs") or ""

    def kernel(ctx: _Context) -> KernelBootFiles:
        return ctx.images.kernel_boot(image, kernel_path=kernel_path, initrd_path=initrd_path, cmdline=cmdline,
                                      policy=policy, progress=ctx.progress)
    return kernel


def _check_image(value: object, field_path: str) -> str:
    if not isinstance(value, str) or not value:
        raise _invalid(field_path, "Required value", "FieldValueRequired")
    try:
        parse_reference(value)
    except InvalidReference as e:
        raise _invalid(field_path, str(e)) from None
    return value


def _check_pull_policy(value: object, image: str, field_path: str) -> str:
    if value is None or value == "":
        return default_pull_policy(image)
    if value not in (PULL_ALWAYS, PULL_IF_NOT_PRESENT, PULL_NEVER):
        raise _invalid(field_path, f'Unsupported value: "{value}": supported values: "Always", "IfNotPresent", '
                                   f'"Never"', "FieldValueNotSupported")
    return str(value)


def _reject_pull_secret(src: dict, src_path: str) -> None:
    if src.get("imagePullSecret"):
        raise _invalid(f"{src_path}.imagePullSecret", "image pull secrets are not supported in standalone mode "
                       "(there are no Kubernetes Secrets); put registry credentials in ~/.docker/config.json",
                       "FieldValueNotSupported")


def _check_host_disk(src: dict, src_path: str, settings: Settings) -> tuple[Path, int | None]:
    raw_path = src.get("path")
    if not isinstance(raw_path, str) or not raw_path:
        raise _invalid(f"{src_path}.path", "Required value", "FieldValueRequired")
    if not raw_path.startswith("/") or "\0" in raw_path:
        raise _invalid(f"{src_path}.path", f'Invalid value: "{raw_path}": must be an absolute path')
    disk_type = src.get("type")
    if disk_type not in ("Disk", "DiskOrCreate"):
        raise _invalid(f"{src_path}.type", f'Unsupported value: "{disk_type}": supported values: "Disk", '
                                           f'"DiskOrCreate"', "FieldValueNotSupported")
    # symlinks resolved on both sides: a link inside an allowed dir cannot point out of it
    resolved = Path(os.path.realpath(raw_path))
    allowed = [Path(os.path.realpath(d)) for d in settings.host_disk_dirs]
    if not any(resolved != d and resolved.is_relative_to(d) for d in allowed):
        where = ", ".join(str(d) for d in allowed) if allowed else "none configured"
        raise _invalid(f"{src_path}.path", f'Forbidden: "{raw_path}" is not under an allowed host disk '
                                           f"directory (hostDiskDirs: {where})", "FieldValueForbidden")
    if disk_type == "DiskOrCreate":
        if src.get("capacity") is None:
            raise _invalid(f"{src_path}.capacity", "Required value: needed for type DiskOrCreate",
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


# --- dataVolumeTemplates ----------------------------------------------------------------------

def ensure_data_volumes(vm: dict, settings: Settings, namespace: str, progress: Progress | None = None,
                        *, images: ImageCache | None = None) -> dict[str, Path]:
    """Create the persistent volumes of a VM's ``spec.dataVolumeTemplates`` that do not exist yet.

    Sources: blank, http (qcow2/raw, optionally gzip/xz), registry (a containerDisk image), pvc
    (a copy of another local volume). An existing volume is kept as it is. Returns name → path.
    """
    templates = (vm.get("spec") or {}).get("dataVolumeTemplates") or []
    if not isinstance(templates, list):
        raise _invalid("spec.dataVolumeTemplates", "must be a list")
    _check_label(namespace, "metadata.namespace")
    plans = [_plan_data_volume(t, f"spec.dataVolumeTemplates[{i}]", settings, namespace)
             for i, t in enumerate(templates)]
    cache = images or ImageCache(settings)
    result: dict[str, Path] = {}
    for name, path, create in plans:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _file_lock(path.with_name(f".{path.name}.lock")):
            if not path.exists():
                tmp = path.with_name(f".tmp-{path.name}-{uuid.uuid4().hex[:8]}")
                try:
                    create(tmp, cache, progress)
                    os.replace(tmp, path)
                finally:
                    for leftover in path.parent.glob(f"{tmp.name}*"):
                        leftover.unlink(missing_ok=True)
        result[name] = path
    return result


_Create = Callable[[Path, ImageCache, "Progress | None"], None]


def _plan_data_volume(template: object, base: str, settings: Settings, namespace: str) -> tuple[str, Path, _Create]:
    if not isinstance(template, dict):
        raise _invalid(base, "must be an object")
    name = _check_subdomain((template.get("metadata") or {}).get("name"), f"{base}.metadata.name",
                            max_len=NAME_MAX - len(VOLUME_SUFFIX))
    spec = template.get("spec") or {}
    path = persistent_volume_path(settings, namespace, name)
    if spec.get("sourceRef"):
        raise _invalid(f"{base}.spec.sourceRef", "DataSource references are not supported in standalone mode",
                       "FieldValueNotSupported")
    size_field, size_value = None, None
    for key in ("storage", "pvc"):
        requested = (((spec.get(key) or {}).get("resources") or {}).get("requests") or {}).get("storage")
        if requested is not None:
            size_field, size_value = f"{base}.spec.{key}.resources.requests.storage", requested
            break
    size = parse_size(size_value, size_field) if size_field else None
    source = spec.get("source")
    if not isinstance(source, dict) or len(source) != 1:
        raise _invalid(f"{base}.spec.source", "must have exactly one source", "FieldValueRequired")
    kind, src = next(iter(source.items()))
    src_path = f"{base}.spec.source.{kind}"
    if kind in UNSUPPORTED_DV_SOURCES:
        raise _invalid(src_path, f"{kind} data volume sources are not supported in standalone mode "
                                 f"(supported: blank, http, registry, pvc)", "FieldValueNotSupported")
    if not isinstance(src, dict):
        raise _invalid(src_path, "must be an object")
    for unsupported in ("secretRef", "certConfigMap", "secretExtraHeaders", "imageStream"):
        if src.get(unsupported):
            raise _invalid(f"{src_path}.{unsupported}", "needs Kubernetes objects, which standalone mode "
                                                        "does not have", "FieldValueNotSupported")

    if kind == "blank":
        if size is None:
            raise _invalid(f"{base}.spec.storage.resources.requests.storage", "Required value: a blank volume "
                                                                              "needs a size", "FieldValueRequired")
        return name, path, lambda tmp, _cache, _progress: qemu_img.create(tmp, size, fmt="qcow2")

    if kind == "http":
        url = src.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise _invalid(f"{src_path}.url", f'Invalid value: "{url}": must be an http or https URL')
        headers = src.get("extraHeaders") or []

        def from_http(tmp: Path, _cache: ImageCache, progress: Progress | None) -> None:
            download = tmp.with_name(tmp.name + ".download")
            _download(url, download, headers, progress)
            _import_image(download, tmp, size, f'data volume "{name}" ({url})')
        return name, path, from_http

    if kind == "registry":
        url = src.get("url")
        if not isinstance(url, str) or not url.startswith("docker://"):
            raise _invalid(f"{src_path}.url", f'Invalid value: "{url}": must be docker://<image reference>')
        image = _check_image(url[len("docker://"):], f"{src_path}.url")

        def from_registry(tmp: Path, cache: ImageCache, progress: Progress | None) -> None:
            disk = cache.container_disk(image, policy=default_pull_policy(image), progress=progress)
            _import_image(disk.path, tmp, size, f'data volume "{name}" ({image})', src_format=disk.format)
        return name, path, from_registry

    if kind == "pvc":
        src_ns = src.get("namespace") or namespace
        _check_label(src_ns, f"{src_path}.namespace")
        src_name = _check_subdomain(src.get("name"), f"{src_path}.name", max_len=NAME_MAX - len(VOLUME_SUFFIX))
        src_volume = persistent_volume_path(settings, src_ns, src_name)

        def from_pvc(tmp: Path, _cache: ImageCache, _progress: Progress | None) -> None:
            if not src_volume.is_file():
                raise VolumeNotFound(f"PVC {src_ns}/{src_name} does not exist", kind="persistentVolumeClaim",
                                     name=src_name, namespace=src_ns)
            _import_image(src_volume, tmp, size, f'data volume "{name}" (clone of {src_ns}/{src_name})')
        return name, path, from_pvc

    raise _invalid(src_path, f"unknown data volume source {kind!r}", "FieldValueNotSupported")


def _import_image(src: Path, dst: Path, size: int | None, what: str, *, src_format: str | None = None) -> None:
    """Convert an image to a standalone qcow2 and grow it to ``size`` (never shrink: refuse)."""
    details = qemu_img.info(src)
    fmt = src_format or details.get("format", "")
    if fmt not in qemu_img.SUPPORTED_FORMATS:
        raise ImageContentError(f"{what}: image format {fmt or 'unknown'} is not supported (qcow2 or raw)")
    if details.get("backing-filename"):
        raise ImageContentError(f"{what}: the image has a backing file, which is not allowed")
    virtual = int(details.get("virtual-size", 0))
    if size is not None and virtual > size:
        raise VolumeError(f"{what}: the image's virtual size {virtual} is larger than the requested size {size}")
    qemu_img.convert(src, dst, src_format=fmt, dst_format="qcow2")
    if size is not None and size > virtual:
        qemu_img.resize(dst, size, fmt="qcow2")


def _download(url: str, dest: Path, extra_headers: list, progress: Progress | None) -> None:
    """Stream ``url`` to ``dest``, undoing gzip/xz compression on the way (as CDI does)."""
    headers = {"User-Agent": "virtctl"}
    for h in extra_headers:
        if isinstance(h, str) and ":" in h:
            k, _, v = h.partition(":")
            headers[k.strip()] = v.strip()
    try:
        resp = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30)
    except urllib.error.HTTPError as e:
        raise VolumeError(f"downloading {url}: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        raise VolumeError(f"downloading {url}: {reason}".splitlines()[0]) from None
    total = int(resp.headers.get("Content-Length") or 0)
    done = 0
    compressed = dest.with_name(dest.name + ".raw")
    try:
        with resp, open(compressed, "wb") as out:
            while chunk := resp.read(1 << 20):
                out.write(chunk)
                done += len(chunk)
                if progress:
                    progress(url, done, total)
        if total and done != total:
            raise VolumeError(f"downloading {url}: connection closed after {done} of {total} bytes")
        with open(compressed, "rb") as f:
            magic = f.read(6)
        opener = gzip.open if magic[:2] == b"\x1f\x8b" else lzma.open if magic == b"\xfd7zXZ\x00" else None
        if opener is None:
            os.replace(compressed, dest)
            return
        try:
            with opener(compressed, "rb") as src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
        except (OSError, EOFError, lzma.LZMAError) as e:
            raise VolumeError(f"downloading {url}: cannot decompress: {e}".splitlines()[0]) from None
    except OSError as e:
        raise VolumeError(f"downloading {url}: {e}".splitlines()[0]) from None
    finally:
        compressed.unlink(missing_ok=True)


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
