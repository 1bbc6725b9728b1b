#!/usr/bin/env python3
"""Build a one-layer OCI image layout from host files, with the standard library only.

    oci_layout.py --out DIR --tag latest --file /boot/vmlinuz=/path/vmlinuz [--file IMAGE_PATH=HOST_PATH ...]

The layer is reproducible (mtime 0, root-owned, gzip without a timestamp), so the same inputs give
the same digest and pushing twice changes nothing. Files are owned 107:107 (the qemu user),
as KubeVirt's containerDisk convention asks. Copy the result with
``skopeo copy oci:DIR:TAG docker://…``.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile
from pathlib import Path

QEMU_UID = 107


def _add_dirs(tar: tarfile.TarFile, image_path: str, seen: set[str]) -> None:
    parts = image_path.strip("/").split("/")[:-1]
    for depth in range(1, len(parts) + 1):
        d = "/".join(parts[:depth])
        if d not in seen:
            seen.add(d)
            info = tarfile.TarInfo(d)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 0
            tar.addfile(info)


def layer_tar(files: list[tuple[str, Path]]) -> bytes:
    buf = io.BytesIO()
    seen: set[str] = set()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for image_path, host_path in sorted(files):
            _add_dirs(tar, image_path, seen)
            info = tarfile.TarInfo(image_path.strip("/"))
            info.size, info.mode, info.mtime = host_path.stat().st_size, 0o444, 0
            info.uid = info.gid = QEMU_UID
            with open(host_path, "rb") as f:
                tar.addfile(info, f)
    return buf.getvalue()


def _write_blob(out: Path, data: bytes) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    (out / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (out / "blobs" / "sha256" / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def build(out: Path, tag: str, files: list[tuple[str, Path]]) -> str:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    tar = layer_tar(files)
    layer = gzip.compress(tar, compresslevel=6, mtime=0)
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(tar).hexdigest()]},
        "config": {},
    }, sort_keys=True).encode()
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **_write_blob(out, config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **_write_blob(out, layer)}],
    }, sort_keys=True).encode()
    desc = _write_blob(out, manifest)
    (out / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    (out / "index.json").write_text(json.dumps({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", **desc,
                       "annotations": {"org.opencontainers.image.ref.name": tag}}],
    }))
    return desc["digest"]


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--tag", default="latest")
    ap.add_argument("--file", action="append", required=True, metavar="IMAGE_PATH=HOST_PATH")
    args = ap.parse_args(argv)
    files = []
    for spec in args.file:
        image_path, sep, host_path = spec.partition("=")
        if not sep or not image_path.startswith("/") or ".." in image_path.split("/"):
            ap.error(f"--file {spec!r}: expected /absolute/path/in/image=HOST_PATH")
        if not os.path.isfile(host_path):
            ap.error(f"--file {spec!r}: {host_path} is not a file")
        files.append((image_path, Path(host_path)))
    print(build(args.out, args.tag, files))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
