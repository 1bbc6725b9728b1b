"""``qemu-img`` (Debian package qemu-utils) behind a few typed calls.

Every call runs the program with an argument list (never a shell) and turns a failure into a
:class:`QemuImgError` carrying qemu-img's own first error line.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from virtctl.errors import VirtctlError

SUPPORTED_FORMATS = ("qcow2", "raw")


class QemuImgError(VirtctlError):
    """qemu-img is missing or refused an operation."""


def _qemu_img() -> str:
    path = shutil.which("qemu-img")
    if path is None:
        raise QemuImgError("qemu-img not found", hint="install it: apt-get install qemu-utils")
    return path


def _run(args: list[str], what: str) -> str:
    try:
        done = subprocess.run([_qemu_img(), *args], capture_output=True, text=True, check=False)
    except OSError as e:
        raise QemuImgError(f"qemu-img {what}: {e}") from None
    if done.returncode != 0:
        lines = [ln.strip() for ln in (done.stderr or done.stdout).splitlines() if ln.strip()]
        detail = lines[0] if lines else f"exit status {done.returncode}"
        if detail.startswith("qemu-img: "):
            detail = detail[len("qemu-img: "):]
        raise QemuImgError(f"qemu-img {what} failed: {detail}")
    return done.stdout


def info(path: Path) -> dict:
    """``qemu-img info --output json`` of one image (its backing chain is not opened).

    ``--force-share`` lets it read an image a running QEMU holds locked.
    """
    out = _run(["info", "--force-share", "--output", "json", str(path)], f"info {path}")
    try:
        return json.loads(out)
    except ValueError:
        raise QemuImgError(f"qemu-img info {path}: unreadable output") from None


def detect_format(path: Path) -> str:
    return str(info(path).get("format", ""))


def virtual_size(path: Path) -> int:
    return int(info(path).get("virtual-size", 0))


def create(path: Path, size_bytes: int | None = None, *, fmt: str = "qcow2",
           backing: Path | None = None, backing_format: str | None = None) -> None:
    """Create an image; with ``backing`` a copy-on-write overlay (absolute backing path)."""
    args = ["create", "-q", "-f", fmt]
    if backing is not None:
        if not backing_format:
            raise QemuImgError("qemu-img create: a backing file needs its format")
        args += ["-F", backing_format, "-b", str(Path(backing).resolve())]
    args.append(str(path))
    if size_bytes is not None:
        args.append(str(int(size_bytes)))
    _run(args, f"create {path}")


def convert(src: Path, dst: Path, *, dst_format: str = "qcow2", src_format: str | None = None) -> None:
    args = ["convert", "-q"]
    if src_format:
        args += ["-f", src_format]
    args += ["-O", dst_format, str(src), str(dst)]
    _run(args, f"convert {src}")


def resize(path: Path, size_bytes: int, *, fmt: str = "qcow2") -> None:
    _run(["resize", "-q", "-f", fmt, str(path), str(int(size_bytes))], f"resize {path}")
