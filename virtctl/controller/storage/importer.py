"""dataVolumeTemplates: persistent volumes created from blank, http, registry or pvc sources.

Each volume is created once, under a lock and a temp name renamed into place; an existing one is
kept as it is.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import lzma
import os
import shutil
import uuid
from pathlib import Path
from typing import Callable, Iterator

from virtctl.controller.settings import Settings
from virtctl.controller.storage import http, qemu_img
from virtctl.controller.storage.checks import check_image, parse_size
from virtctl.controller.storage.images import ImageCache, ImageContentError, default_pull_policy
from virtctl.controller.storage.layout import (
    VolumeError,
    VolumeNotFound,
    check_label,
    check_volume_name,
    persistent_volume_path,
)
from virtctl.controller.storage.registry import Progress
from virtctl.errors import field_invalid

UNSUPPORTED_DV_SOURCES = ("s3", "gcs", "imageio", "vddk", "snapshot", "upload")


def ensure_data_volumes(vm: dict, settings: Settings, namespace: str, progress: Progress | None = None,
                        *, images: ImageCache | None = None) -> dict[str, Path]:
    """Create the persistent volumes of a VM's ``spec.dataVolumeTemplates`` that do not exist yet.

    Sources: blank, http (qcow2/raw, optionally gzip/xz), registry (a containerDisk image), pvc
    (a copy of another local volume). An existing volume is kept as it is. Returns name → path.
    """
    templates = (vm.get("spec") or {}).get("dataVolumeTemplates") or []
    if not isinstance(templates, list):
        raise field_invalid("spec.dataVolumeTemplates", "must be a list")
    check_label(namespace, "metadata.namespace")
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
        raise field_invalid(base, "must be an object")
    name = check_volume_name((template.get("metadata") or {}).get("name"), f"{base}.metadata.name")
    spec = template.get("spec") or {}
    path = persistent_volume_path(settings, namespace, name)
    if spec.get("sourceRef"):
        raise field_invalid(f"{base}.spec.sourceRef", "DataSource references are not supported in standalone mode",
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
        raise field_invalid(f"{base}.spec.source", "must have exactly one source", "FieldValueRequired")
    kind, src = next(iter(source.items()))
    src_path = f"{base}.spec.source.{kind}"
    if kind in UNSUPPORTED_DV_SOURCES:
        raise field_invalid(src_path, f"{kind} data volume sources are not supported in standalone mode "
                                f"(supported: blank, http, registry, pvc)", "FieldValueNotSupported")
    if not isinstance(src, dict):
        raise field_invalid(src_path, "must be an object")
    for unsupported in ("secretRef", "certConfigMap", "secretExtraHeaders", "imageStream"):
        if src.get(unsupported):
            raise field_invalid(f"{src_path}.{unsupported}", "needs Kubernetes objects, which standalone mode "
                                                       "does not have", "FieldValueNotSupported")

    if kind == "blank":
        if size is None:
            raise field_invalid(f"{base}.spec.storage.resources.requests.storage", "Required value: a blank volume "
                                                                             "needs a size", "FieldValueRequired")
        return name, path, lambda tmp, _cache, _progress: qemu_img.create(tmp, size, fmt="qcow2")

    if kind == "http":
        url = src.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise field_invalid(f"{src_path}.url", f'Invalid value: "{url}": must be an http or https URL')
        headers = src.get("extraHeaders") or []
        http_url: str = url

        def from_http(tmp: Path, _cache: ImageCache, progress: Progress | None) -> None:
            download = tmp.with_name(tmp.name + ".download")
            _download(http_url, download, headers, progress)
            _import_image(download, tmp, size, f'data volume "{name}" ({http_url})')
        return name, path, from_http

    if kind == "registry":
        url = src.get("url")
        if not isinstance(url, str) or not url.startswith("docker://"):
            raise field_invalid(f"{src_path}.url", f'Invalid value: "{url}": must be docker://<image reference>')
        image = check_image(url[len("docker://"):], f"{src_path}.url")

        def from_registry(tmp: Path, cache: ImageCache, progress: Progress | None) -> None:
            disk = cache.container_disk(image, policy=default_pull_policy(image), progress=progress)
            _import_image(disk.path, tmp, size, f'data volume "{name}" ({image})', src_format=disk.format)
        return name, path, from_registry

    if kind == "pvc":
        src_ns = src.get("namespace") or namespace
        check_label(src_ns, f"{src_path}.namespace")
        src_name = check_volume_name(src.get("name"), f"{src_path}.name")
        src_volume = persistent_volume_path(settings, src_ns, src_name)

        def from_pvc(tmp: Path, _cache: ImageCache, _progress: Progress | None) -> None:
            if not src_volume.is_file():
                raise VolumeNotFound(f"PVC {src_ns}/{src_name} does not exist", kind="persistentVolumeClaim",
                                     name=src_name, namespace=src_ns)
            _import_image(src_volume, tmp, size, f'data volume "{name}" (clone of {src_ns}/{src_name})')
        return name, path, from_pvc

    raise field_invalid(src_path, f"unknown data volume source {kind!r}", "FieldValueNotSupported")


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
    headers: dict[str, str] = {}
    for h in extra_headers:
        if isinstance(h, str) and ":" in h:
            k, _, v = h.partition(":")
            headers[k.strip()] = v.strip()
    try:
        resp = http.open_url("GET", url, headers)
    except http.HTTPFailure as e:
        raise VolumeError(f"downloading {url}: {e}".splitlines()[0]) from None
    if resp.status >= 300:
        resp.close()
        raise VolumeError(f"downloading {url}: HTTP {resp.status} {resp.reason}")
    total = int(resp.headers.get("Content-Length") or 0)
    compressed = dest.with_name(dest.name + ".raw")
    try:
        with open(compressed, "wb") as out:
            def on_chunk(_chunk: bytes, so_far: int) -> None:
                if progress:
                    progress(url, so_far, total)
            try:
                done = http.copy_body(resp, out, on_chunk)
            finally:
                resp.close()
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
    except (OSError, http.HTTPFailure) as e:
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
