"""The local image cache: pull once per digest, unpack safely, find containerDisk/kernel files.

Layout under ``settings.images_dir``::

    blobs/sha256/<hex>          verified blobs (registry.BlobStore)
    rootfs/sha256/<hex>/        the unpacked image of manifest <hex>, read-only; present = complete
    refs/<sha256 of ref>.json   last digest seen for a reference (for imagePullPolicy IfNotPresent/Never)
    locks/<hex>.lock            flock files: one pull/unpack of a digest at a time, across threads
                                and processes

A rootfs is unpacked into a temp dir and renamed into place, so a crash never leaves half an image.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import hashlib
import json
import os
import posixpath
import shutil
import stat
import subprocess
import tarfile
import tempfile
import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator

from virtctl.controller.settings import Settings
from virtctl.controller.storage import qemu_img
from virtctl.controller.storage.registry import (
    BlobStore,
    DigestMismatch,
    ImagePullError,
    Manifest,
    Progress,
    RegistryClient,
    digest_hex,
    parse_reference,
)
from virtctl.controller.storage.sources import KernelBootFiles

CONTAINER_DISK_DIR = "disk"          # KubeVirt's containerDisk convention: the image file under /disk/
MAX_SYMLINK_HOPS = 40
WHITEOUT_PREFIX = ".wh."
OPAQUE_WHITEOUT = ".wh..wh..opq"
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

PULL_ALWAYS, PULL_IF_NOT_PRESENT, PULL_NEVER = "Always", "IfNotPresent", "Never"


class UnsafeLayer(ImagePullError):
    """A layer tries to write outside its root, or holds something we will not create."""


class ImageContentError(ImagePullError):
    """The image is fine but does not hold what the VMI asks for (disk, kernel, initrd)."""


@dataclass(frozen=True)
class PulledImage:
    reference: str      # as given
    digest: str         # the (linux/amd64) image manifest digest
    rootfs: Path        # read-only unpacked root


@dataclass(frozen=True)
class ContainerDiskImage:
    path: Path          # the disk file inside the unpacked image
    format: str         # qcow2 | raw
    virtual_size: int


def default_pull_policy(image: str) -> str:
    """Kubernetes' default: Always for ``:latest`` or no tag, else IfNotPresent."""
    ref = parse_reference(image)
    return PULL_ALWAYS if not ref.digest and ref.tag == "latest" else PULL_IF_NOT_PRESENT


class ImageCache:
    def __init__(self, settings: Settings, client: RegistryClient | None = None):
        self.root = Path(settings.images_dir)
        self.blobs = BlobStore(self.root / "blobs")
        self.client = client or RegistryClient(settings.insecure_registries)

    # --- pulling -----------------------------------------------------------------------------

    def pull(self, image: str, *, policy: str = PULL_ALWAYS, progress: Progress | None = None) -> PulledImage:
        """Make ``image`` available locally and return its unpacked root.

        ``Always`` re-checks the manifest with the registry (blobs already here are reused);
        ``IfNotPresent`` and ``Never`` use the last digest seen for this reference.
        """
        ref = parse_reference(image)
        if policy not in (PULL_ALWAYS, PULL_IF_NOT_PRESENT, PULL_NEVER):
            raise ImagePullError(f"unknown imagePullPolicy {policy!r} (Always, IfNotPresent, Never)")
        if policy != PULL_ALWAYS:
            known = self._known_digest(str(ref))
            if known and self._rootfs_path(known).is_dir():
                return PulledImage(image, known, self._rootfs_path(known))
            if policy == PULL_NEVER:
                raise ImagePullError(f'image "{image}" is not present locally and imagePullPolicy is Never')
        manifest = self.client.get_manifest(ref)
        rootfs = self._rootfs_path(manifest.digest)
        if not rootfs.is_dir():
            with self._lock(manifest.digest):
                if not rootfs.is_dir():
                    self._download_layers(ref, manifest, progress)
                    self._unpack(manifest, rootfs)
        self._remember(str(ref), manifest.digest)
        return PulledImage(image, manifest.digest, rootfs)

    def _download_layers(self, ref, manifest: Manifest, progress: Progress | None) -> None:
        for layer in manifest.layers:
            digest = layer["digest"]
            if self.blobs.has(digest):
                continue
            with self._lock(digest):
                self.client.fetch_blob(ref, digest, self.blobs, size=layer.get("size"), progress=progress)

    def _unpack(self, manifest: Manifest, rootfs: Path) -> None:
        rootfs.parent.mkdir(parents=True, exist_ok=True)
        tmp = rootfs.parent / f".tmp-{digest_hex(manifest.digest)}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            for layer in manifest.layers:
                self._apply_layer_blob(layer["digest"], tmp)
            _make_read_only(tmp)
            os.rename(tmp, rootfs)
        except BaseException:
            _remove_tree(tmp)
            raise

    def _apply_layer_blob(self, digest: str, root: Path) -> None:
        """Unpack one cached layer; its bytes are re-hashed on the way (a corrupt cache is caught)."""
        path = self.blobs.path(digest)
        failure: Exception | None = None
        with open(path, "rb") as raw:
            hashed = _HashingReader(raw)
            try:
                with _decompressed(hashed, digest) as stream:
                    apply_layer(stream, root, digest)
            except (ImagePullError, OSError, EOFError, zlib.error, tarfile.TarError) as e:
                failure = e             # a corrupt blob shows up here first: check its digest below
            hashed.drain()
        if "sha256:" + hashed.hexdigest() != digest:
            path.unlink(missing_ok=True)      # so that the next pull fetches it again
            raise DigestMismatch(f"blob {digest} digest mismatch")
        if isinstance(failure, ImagePullError):
            raise failure
        if failure is not None:
            raise ImagePullError(f"layer {digest}: cannot unpack: {failure}".splitlines()[0]) from None

    # --- what VMIs need from images ---------------------------------------------------------

    def container_disk(self, image: str, *, path: str | None = None, policy: str = PULL_ALWAYS,
                       progress: Progress | None = None) -> ContainerDiskImage:
        """The disk of a KubeVirt containerDisk: ``path`` if given, else the single file under /disk/."""
        pulled = self.pull(image, policy=policy, progress=progress)
        return find_container_disk(pulled.rootfs, image, path)

    def kernel_boot(self, image: str, *, kernel_path: str | None, initrd_path: str | None, cmdline: str = "",
                    policy: str = PULL_ALWAYS, progress: Progress | None = None) -> KernelBootFiles:
        if not kernel_path and not initrd_path:
            raise ImageContentError(f'kernel boot image "{image}": neither kernelPath nor initrdPath is set')
        pulled = self.pull(image, policy=policy, progress=progress)
        files = [None if not p else str(_regular_file_in(pulled.rootfs, p, image, what))
                 for p, what in ((kernel_path, "kernelPath"), (initrd_path, "initrdPath"))]
        return KernelBootFiles(kernel=files[0], initrd=files[1], cmdline=cmdline)

    # --- bookkeeping ---------------------------------------------------------------------------

    def _rootfs_path(self, digest: str) -> Path:
        return self.root / "rootfs" / "sha256" / digest_hex(digest)

    def _ref_path(self, ref: str) -> Path:
        return self.root / "refs" / (hashlib.sha256(ref.encode()).hexdigest() + ".json")

    def _known_digest(self, ref: str) -> str | None:
        try:
            data = json.loads(self._ref_path(ref).read_text())
            return data["digest"] if data.get("reference") == ref else None
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _remember(self, ref: str, digest: str) -> None:
        path = self._ref_path(ref)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".tmp-{path.name}-{uuid.uuid4().hex[:8]}")
        tmp.write_text(json.dumps({"reference": ref, "digest": digest}))
        os.replace(tmp, path)

    @contextlib.contextmanager
    def _lock(self, digest: str) -> Iterator[None]:
        """flock conflicts between separate open()s, so this serialises threads and processes alike."""
        locks = self.root / "locks"
        locks.mkdir(parents=True, exist_ok=True)
        with open(locks / f"{digest_hex(digest)}.lock", "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)


# --- finding files in an unpacked image -------------------------------------------------------

def find_container_disk(rootfs: Path, image: str, path: str | None = None) -> ContainerDiskImage:
    if path:
        disk = _regular_file_in(rootfs, path, image, "path")
    else:
        disk_dir = resolve_in_root(rootfs, CONTAINER_DISK_DIR)
        entries = sorted(p for p in disk_dir.iterdir()) if disk_dir.is_dir() else []
        files = [p for p in entries if p.is_file() and not p.is_symlink()]
        if len(entries) != 1 or len(files) != 1:
            found = "no file" if not entries else f"{len(entries)} entries"
            raise ImageContentError(f'containerDisk image "{image}": expected exactly one disk file under '
                                    f'/{CONTAINER_DISK_DIR}/, found {found}')
        disk = files[0]
    details = qemu_img.info(disk)
    fmt = details.get("format", "")
    if fmt not in qemu_img.SUPPORTED_FORMATS:
        raise ImageContentError(f'containerDisk image "{image}": disk format {fmt or "unknown"} is not '
                                f'supported (qcow2 or raw)')
    if details.get("backing-filename") or details.get("full-backing-filename"):
        # a backing file named inside an image would make QEMU open an arbitrary host file
        raise ImageContentError(f'containerDisk image "{image}": disk has a backing file, which is not allowed')
    return ContainerDiskImage(disk, fmt, int(details.get("virtual-size", 0)))


def _regular_file_in(rootfs: Path, path: str, image: str, field: str) -> Path:
    try:
        target = resolve_in_root(rootfs, path)
    except UnsafeLayer:
        target = None
    if target is None or not target.is_file():
        raise ImageContentError(f'image "{image}": {field} {path} is not a file in the image')
    return target


def resolve_in_root(root: Path, path: str, *, follow_last: bool = True) -> Path:
    """``path`` inside ``root`` as if ``root`` were ``/``: symlinks are followed, never out of it."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = root.joinpath(*resolved, part)
        if candidate.is_symlink() and (parts or follow_last):
            hops += 1
            if hops > MAX_SYMLINK_HOPS:
                raise UnsafeLayer(f"too many levels of symbolic links resolving {path}")
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        resolved.append(part)
    return root.joinpath(*resolved)


# --- unpacking --------------------------------------------------------------------------------

class _HashingReader:
    """A read-only stream that hashes what passes through it."""

    def __init__(self, raw: IO[bytes]):
        self.raw = raw
        self._sha = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self._sha.update(data)
        return data

    def drain(self) -> None:
        while self.read(1 << 20):
            pass

    def hexdigest(self) -> str:
        return self._sha.hexdigest()


class _PeekReader:
    def __init__(self, raw: _HashingReader):
        self.raw = raw
        self.head = raw.read(4)

    def read(self, n: int = -1) -> bytes:
        if self.head:
            if n < 0:
                data, self.head = self.head + self.raw.read(), b""
                return data
            data, self.head = self.head[:n], self.head[n:]
            return data + (self.raw.read(n - len(data)) if n > len(data) else b"")
        return self.raw.read(n)


@contextlib.contextmanager
def _decompressed(raw: _HashingReader, digest: str) -> Iterator[IO[bytes]]:
    """Layer bytes as tar: gzip and plain tar natively, zstd through the ``zstd`` program."""
    peek = _PeekReader(raw)
    if peek.head.startswith(GZIP_MAGIC):
        with gzip.GzipFile(fileobj=peek, mode="rb") as gz:  # type: ignore[call-overload]
            yield gz
            while gz.read(1 << 20):     # to the end, so the whole blob is hashed and checked
                pass
        return
    if peek.head.startswith(ZSTD_MAGIC):
        with _zstd_stream(peek, digest) as out:
            yield out
        return
    yield peek  # type: ignore[misc]


@contextlib.contextmanager
def _zstd_stream(src: _PeekReader, digest: str) -> Iterator[IO[bytes]]:
    exe = shutil.which("zstd")
    if exe is None:
        raise ImagePullError(f"layer {digest} is zstd-compressed and the zstd program is not installed",
                             hint="apt-get install zstd")
    # zstd reads a file: spool the (already hashed) compressed bytes first, then stream its output
    with tempfile.TemporaryFile() as spool:
        while chunk := src.read(1 << 20):
            spool.write(chunk)
        spool.seek(0)
        proc = subprocess.Popen([exe, "-d", "-c", "-q"], stdin=spool, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL)
        try:
            assert proc.stdout is not None
            yield proc.stdout
            while proc.stdout.read(1 << 20):
                pass
        finally:
            if proc.stdout:
                proc.stdout.close()
            if proc.wait() != 0:
                raise ImagePullError(f"layer {digest}: zstd decompression failed")


def _safe_member_path(name: str, digest: str) -> str:
    """A member name as a clean relative path, or an UnsafeLayer error."""
    if name.startswith("/"):
        raise UnsafeLayer(f"layer {digest}: absolute path {name!r} refused")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeLayer(f"layer {digest}: path {name!r} with '..' refused")
    return "/".join(parts)


def _escapes(base_dir: str, target: str) -> bool:
    """Would ``target`` (relative to the in-image directory ``base_dir``) leave the root?"""
    depth = len([p for p in base_dir.split("/") if p])
    for part in target.split("/"):
        if part in ("", "."):
            continue
        depth += -1 if part == ".." else 1
        if depth < 0:
            return True
    return False


def apply_layer(stream: IO[bytes], root: Path, digest: str = "layer") -> None:
    """Apply one (uncompressed) layer tar onto ``root`` with OCI whiteouts, refusing anything unsafe.

    Refused: absolute names, ``..``, relative links that climb out of the root, hard links to
    outside, device nodes. Absolute symlink targets are rewritten relative to their directory so
    that no link in the cache points at the host. Parents are resolved inside the root, so an
    earlier symlink can never carry a write out of it.
    """
    written: set[str] = set()        # paths created by this layer (opaque whiteouts keep them)
    try:
        tar = tarfile.open(fileobj=stream, mode="r|")
    except tarfile.TarError as e:
        raise UnsafeLayer(f"layer {digest}: not a tar archive ({e})") from None
    try:
        for member in tar:
            rel = _safe_member_path(member.name, digest)
            if not rel:
                continue
            parent_rel, base = posixpath.split(rel)
            parent = resolve_in_root(root, parent_rel)
            if base == OPAQUE_WHITEOUT:
                if parent.is_dir() and not parent.is_symlink():
                    for child in list(parent.iterdir()):
                        if posixpath.join(parent_rel, child.name) not in written:
                            _remove_tree(child)
                continue
            if base.startswith(WHITEOUT_PREFIX):
                hidden = base[len(WHITEOUT_PREFIX):]
                if hidden in ("", ".", ".."):
                    raise UnsafeLayer(f"layer {digest}: bad whiteout {member.name!r}")
                victim = parent / hidden
                if victim.exists() or victim.is_symlink():
                    _remove_tree(victim)
                continue
            if member.isdev():
                raise UnsafeLayer(f"layer {digest}: device node {member.name!r} refused")
            if member.isfifo():
                continue                # nothing to run here: a FIFO is of no use to a disk or kernel
            parent.mkdir(parents=True, exist_ok=True)
            dest = parent / base
            written.add(rel)
            if member.isdir():
                if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
                    _remove_tree(dest)
                dest.mkdir(exist_ok=True)
                dest.chmod(_mode(member) | stat.S_IWUSR | stat.S_IXUSR)
                continue
            if dest.is_symlink() or dest.exists():
                _remove_tree(dest)
            if member.issym():
                target = member.linkname
                if target.startswith("/"):
                    target = posixpath.relpath(posixpath.normpath(target).lstrip("/") or ".", parent_rel or ".")
                if _escapes(parent_rel, target):
                    raise UnsafeLayer(f"layer {digest}: symlink {member.name!r} -> {member.linkname!r} "
                                      f"escapes the image root")
                os.symlink(target, dest)
            elif member.islnk():
                link_rel = _safe_member_path(member.linkname, digest)
                source = resolve_in_root(root, link_rel, follow_last=False)
                if not source.is_file() or source.is_symlink():
                    raise UnsafeLayer(f"layer {digest}: hard link {member.name!r} -> {member.linkname!r} "
                                      f"has no regular file to point at")
                os.link(source, dest)
            elif member.isreg():
                src = tar.extractfile(member)
                assert src is not None
                with open(dest, "xb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
                dest.chmod(_mode(member))
            else:
                raise UnsafeLayer(f"layer {digest}: unsupported entry type for {member.name!r}")
    except tarfile.TarError as e:
        raise UnsafeLayer(f"layer {digest}: broken tar archive ({e})") from None
    except OSError as e:
        raise ImagePullError(f"layer {digest}: cannot unpack: {e}".splitlines()[0]) from None
    finally:
        tar.close()


def _mode(member: tarfile.TarInfo) -> int:
    return member.mode & 0o777          # no setuid/setgid/sticky in the cache


def _make_read_only(root: Path) -> None:
    for dirpath, _dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames:
            p = Path(dirpath, name)
            if not p.is_symlink():
                p.chmod(p.stat().st_mode & ~0o222)
        Path(dirpath).chmod(Path(dirpath).stat().st_mode & ~0o222)


def _remove_tree(path: Path) -> None:
    """Remove a file or tree, even one made read-only by :func:`_make_read_only`."""
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
        return
    for dirpath, _, _ in os.walk(path):
        os.chmod(dirpath, 0o700)
    shutil.rmtree(path, ignore_errors=False)
