"""An uploaded image made into a claim's volume file, as CDI's upload server does
(docs/standalone.md#image-upload): the body is streamed to a temporary file in the volume's
directory (undoing gzip/xz on the way, or taking the disk image out of a tar archive for the
``archive`` content type), checked with ``qemu-img`` (raw or qcow2, no backing file, a virtual size
that fits the claim, with CDI's message), converted to raw and grown to the claim's size, and only
then renamed over the volume file. A failed or interrupted upload leaves the volume as it was.
Memory stays flat: the body moves in 1 MiB chunks and zero chunks become holes; a raw body is
written with O_DIRECT where the filesystem allows it (no copy through the page cache).
"""

from __future__ import annotations

import errno
import lzma
import mmap
import os
import queue
import tarfile
import threading
import uuid
import zlib
from pathlib import Path
from typing import BinaryIO, Callable, Union

from virtctl.controller.storage import qemu_img
from virtctl.errors import VirtctlError

CHUNK = 1 << 20
SECTOR = 512
WRITEBACK = 16 << 20     # how much written data waits before the kernel is asked to write it back
_ZERO = bytearray(CHUNK)      # bytearray: compared with any buffer (an mmap too) by memcmp


Buffer = Union[bytes, bytearray, memoryview, mmap.mmap]


class UploadError(VirtctlError):
    """The upload cannot become the volume (bad data, too large, cut short)."""


class _Reader:
    """At most ``length`` bytes of ``stream``; short reads are an interrupted upload."""

    def __init__(self, stream: BinaryIO, length: int):
        self.stream, self.left = stream, length

    def read(self, n: int = CHUNK) -> bytes:
        if self.left <= 0:
            return b""
        data = self.stream.read(min(n, self.left))
        if not data:
            raise UploadError("Saving stream failed: unexpected EOF")
        self.left -= len(data)
        return data

    def readinto(self, buf: bytearray | mmap.mmap) -> int:
        """Fill ``buf`` (or what is left of the body), without a new buffer per read."""
        want = min(len(buf), self.left)
        if want <= 0:
            return 0
        view = memoryview(buf)[:want]
        got = 0
        while got < want:
            n = self.stream.readinto(view[got:])      # type: ignore[attr-defined]
            if not n:
                raise UploadError("Saving stream failed: unexpected EOF")
            got += n
        self.left -= got
        return got


def _write_all(out: BinaryIO, data: Buffer) -> None:
    view = memoryview(data)
    while view:
        view = view[out.write(view):]


class _Sink:
    """Writes in whole chunks, leaving a hole for each all-zero one (the file gets its size at the end).
    Every ``WRITEBACK`` bytes the kernel is asked to start writing the pages behind (and to drop them
    once clean): the disk works while the body is still arriving, the final fsync has little left
    to do (as ``cp`` + fsync, where most of the file is written back before the fsync) and the upload
    does not fill the page cache. With ``direct`` (the file opened again with ``O_DIRECT``), whole
    chunks in page-aligned buffers go straight to the disk: no copy into the page cache, which
    costs more CPU than the TLS decryption."""

    def __init__(self, out: BinaryIO, direct: int | None = None):
        self.out, self.buf, self.direct = out, bytearray(), direct
        self.pos = self.flushed = 0

    def _chunk(self, chunk: Buffer, aligned: bool = False) -> None:
        if _ZERO == chunk:
            self.out.seek(CHUNK, os.SEEK_CUR)
        elif aligned and self.direct is not None and self._direct_write(chunk):
            self.out.seek(CHUNK, os.SEEK_CUR)
        else:
            _write_all(self.out, chunk)
        self.pos += CHUNK
        if self.pos - self.flushed >= WRITEBACK:
            os.posix_fadvise(self.out.fileno(), self.flushed, self.pos - self.flushed, os.POSIX_FADV_DONTNEED)
            self.flushed = self.pos

    def _direct_write(self, chunk: Buffer) -> bool:
        """False (and no more direct writes) where the filesystem opened the file with O_DIRECT
        but refuses the write."""
        assert self.direct is not None
        view, at = memoryview(chunk), self.pos
        try:
            while view:
                n = os.pwrite(self.direct, view, at)
                view, at = view[n:], at + n
        except OSError as e:
            if e.errno != errno.EINVAL or at != self.pos:
                raise
            self.direct = None
            return False
        return True

    def write(self, data: Buffer, aligned: bool = False) -> None:
        """``aligned``: ``data`` is a page-aligned buffer (an mmap), fit for ``O_DIRECT``."""
        if not self.buf and len(data) == CHUNK:          # the usual case: whole chunks, no copying
            self._chunk(data, aligned)
            return
        self.buf += data
        while len(self.buf) >= CHUNK:
            chunk = bytes(self.buf[:CHUNK])
            del self.buf[:CHUNK]
            self._chunk(chunk)

    def close(self) -> None:
        _write_all(self.out, self.buf)
        self.buf.clear()
        self.out.truncate()


def _copy(read: Callable[[int], bytes], sink: _Sink, first: bytes = b"") -> None:
    data = first
    while data:
        sink.write(data)
        data = read(CHUNK)


def _gunzip(read: Callable[[int], bytes], sink: _Sink, first: bytes) -> None:
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    buf = first
    try:
        while not d.eof:
            if not buf:
                buf = read(CHUNK)
                if not buf:
                    break
            sink.write(d.decompress(buf, CHUNK))      # bounded output: a gzip bomb stays 1 MiB at a time
            buf = d.unconsumed_tail
    except zlib.error as e:
        raise UploadError(f"Saving stream failed: {e}") from None
    if not d.eof:
        raise UploadError("Saving stream failed: unexpected EOF")


def _unxz(read: Callable[[int], bytes], sink: _Sink, first: bytes) -> None:
    d = lzma.LZMADecompressor()
    buf = first
    try:
        while not d.eof:
            if d.needs_input:
                if not buf:
                    buf = read(CHUNK)
                    if not buf:
                        break
                sink.write(d.decompress(buf, CHUNK))
                buf = b""
            else:
                sink.write(d.decompress(b"", CHUNK))
    except (lzma.LZMAError, EOFError) as e:
        raise UploadError(f"Saving stream failed: {e}") from None
    if not d.eof:
        raise UploadError("Saving stream failed: unexpected EOF")


def _pipe(reader: _Reader, sink: _Sink, depth: int = 4) -> None:
    """Copy the rest of a raw body: this thread receives (TLS) while another writes the chunks
    received before, through ``depth`` reused buffers."""
    buffers = [mmap.mmap(-1, CHUNK) for _ in range(depth)]        # page-aligned, for O_DIRECT
    free: queue.Queue[mmap.mmap] = queue.Queue()
    full: queue.Queue[tuple[mmap.mmap, int] | None] = queue.Queue()
    for b in buffers:
        free.put(b)
    failed: list[BaseException] = []

    def write() -> None:
        while (item := full.get()) is not None:
            buf, n = item
            if not failed:
                try:
                    if n == CHUNK:
                        sink.write(buf, aligned=True)
                    else:
                        sink.write(buf[:n])
                except BaseException as e:          # reported by the receiving thread
                    failed.append(e)
            free.put(buf)

    writer = threading.Thread(target=write, name="upload-writer", daemon=True)
    writer.start()
    try:
        while not failed:
            buf = free.get()
            n = reader.readinto(buf)
            if not n:
                break
            full.put((buf, n))
    finally:
        full.put(None)
        writer.join()
    if failed:
        raise failed[0]


def _open_direct(path: Path) -> int | None:
    """``path`` opened again for writing with ``O_DIRECT``; None where the filesystem has no direct
    I/O (tmpfs)."""
    if not hasattr(os, "O_DIRECT"):
        return None
    try:
        return os.open(path, os.O_WRONLY | os.O_DIRECT | os.O_CLOEXEC)
    except OSError:
        return None


def receive(stream: BinaryIO, length: int, tmp: Path, *, archive: bool = False) -> None:
    """Stream ``length`` bytes of the body into ``tmp``, decompressed (gzip, xz) or taken out of a
    tar archive."""
    reader = _Reader(stream, length)
    first = reader.read(CHUNK)
    with open(tmp, "wb", buffering=0) as out:
        sink = _Sink(out)
        direct = None
        if archive:
            _from_tar(reader, first, sink)
        elif first[:2] == b"\x1f\x8b":
            _gunzip(reader.read, sink, first)
        elif first[:6] == b"\xfd7zXZ\x00":
            _unxz(reader.read, sink, first)
        else:
            sink.write(first)
            sink.direct = direct = _open_direct(tmp)
            try:
                _pipe(reader, sink)
            finally:
                if direct is not None:
                    os.close(direct)
                sink.direct = None
        sink.close()
        out.flush()
        os.fsync(out.fileno())


class _Prefixed:
    def __init__(self, first: bytes, reader: _Reader):
        self.first, self.reader = first, reader

    def read(self, n: int = CHUNK) -> bytes:
        if self.first:
            data, self.first = self.first[:n], self.first[n:]
            return data
        return self.reader.read(n)


def _from_tar(reader: _Reader, first: bytes, sink: _Sink) -> None:
    try:
        with tarfile.open(fileobj=_Prefixed(first, reader), mode="r|*") as tar:   # type: ignore[call-overload]
            for member in tar:
                if member.isfile():
                    src = tar.extractfile(member)
                    assert src is not None
                    _copy(src.read, sink, src.read(CHUNK))
                    return
    except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError) as e:
        raise UploadError(f"Saving stream failed: {e}") from None
    raise UploadError("Saving stream failed: the archive holds no file")


def check_image(tmp: Path, available: int) -> str:
    """The image's format after CDI's checks (qcow2 or raw, no backing file, fits ``available``)."""
    try:
        details = qemu_img.info(tmp)
    except qemu_img.QemuImgError as e:
        raise UploadError(f"Unable to process data: {e.message}") from None
    fmt = str(details.get("format", ""))
    if fmt not in qemu_img.SUPPORTED_FORMATS:
        raise UploadError(f"Unable to process data: Invalid format {fmt or 'unknown'} for image "
                          f"(supported: qcow2, raw)")
    if details.get("backing-filename"):
        raise UploadError("Unable to process data: Image is invalid: image has a backing file")
    virtual = int(details.get("virtual-size", 0))
    size = tmp.stat().st_size              # qemu-img rounds a raw image's size up to a sector
    if fmt == "raw" and size % SECTOR:
        raise UploadError(f"Unable to process data: not a disk image: its size {size} is not a multiple of "
                          f"{SECTOR} bytes")
    if virtual > available:
        raise UploadError(f"Virtual image size {virtual} is larger than the reported available storage "
                          f"{available}. A larger PVC is required.")
    return fmt


def make_volume(stream: BinaryIO, length: int, target: Path, available: int, *, archive: bool = False) -> None:
    """The whole upload: receive into a temp file beside ``target``, check, convert to raw, grow to
    ``available`` and rename over ``target``. Temp files are removed on any failure."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:8]
    tmp = target.with_name(f".upload-{target.name}-{tag}")
    raw = target.with_name(f".upload-{target.name}-{tag}.raw")
    try:
        receive(stream, length, tmp, archive=archive)
        fmt = check_image(tmp, available)
        if fmt == "qcow2":
            qemu_img.convert(tmp, raw, src_format="qcow2", dst_format="raw")
            tmp.unlink()
        else:
            os.replace(tmp, raw)
        with open(raw, "r+b") as f:
            if os.fstat(f.fileno()).st_size < available:
                f.truncate(available)
            os.fsync(f.fileno())
        os.replace(raw, target)
    finally:
        tmp.unlink(missing_ok=True)
        raw.unlink(missing_ok=True)
