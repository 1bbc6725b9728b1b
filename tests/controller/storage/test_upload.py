"""storage/upload.py on real files and real qemu-img: what an uploaded body becomes (raw, qcow2,
gzip, xz, tar archive), CDI's refusals, and that a refused or cut upload leaves the volume as it
was with no temporary file behind."""

from __future__ import annotations

import gzip
import io
import lzma
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from virtctl.controller.storage.upload import UploadError, make_volume

pytestmark = pytest.mark.skipif(shutil.which("qemu-img") is None, reason="qemu-img is not installed")

MiB = 1 << 20


def raw_image(path: Path, marker: bytes, size: int = 4 * MiB) -> bytes:
    data = marker + bytes(size - len(marker) - 5) + b"TAIL!"
    path.write_bytes(data)
    return data


def upload(body: bytes, target: Path, available: int, *, archive: bool = False, length: int | None = None) -> None:
    make_volume(io.BytesIO(body), len(body) if length is None else length, target, available, archive=archive)


def info(path: Path) -> str:
    return subprocess.run(["qemu-img", "info", str(path)], capture_output=True, text=True, check=True).stdout


def leftovers(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir() if p.name.startswith("."))


def test_raw_upload_becomes_a_raw_volume_grown_to_the_claim(tmp_path):
    data = raw_image(tmp_path / "src.raw", b"MARKER-RAW")
    target = tmp_path / "vol" / "v.qcow2"
    upload(data, target, 16 * MiB)
    assert "file format: raw" in info(target)
    assert target.stat().st_size == 16 * MiB
    with open(target, "rb") as f:
        assert f.read(len(data)) == data
        assert f.read() == bytes(12 * MiB)
    assert leftovers(target.parent) == []


def test_a_raw_upload_arrives_byte_for_byte_with_zero_blocks_as_holes(tmp_path):
    # whole chunks of data (written with O_DIRECT where the filesystem has it), an all-zero chunk and
    # a tail that is not a whole chunk
    data = os.urandom(3 * MiB) + bytes(MiB) + os.urandom(2 * MiB) + os.urandom(512 * 3)
    target = tmp_path / "vol" / "v.qcow2"
    upload(data, target, len(data))
    assert target.read_bytes() == data
    assert target.stat().st_blocks * 512 <= len(data) - MiB + 4096
    assert leftovers(target.parent) == []


@pytest.mark.parametrize("compress", [gzip.compress, lzma.compress], ids=["gzip", "xz"])
def test_compressed_uploads_are_decompressed(tmp_path, compress):
    data = raw_image(tmp_path / "src.raw", b"MARKER-COMPRESSED")
    target = tmp_path / "v.qcow2"
    upload(compress(data), target, 8 * MiB)
    assert target.read_bytes()[:len(data)] == data


def test_qcow2_is_converted_to_raw(tmp_path):
    data = raw_image(tmp_path / "src.raw", b"MARKER-QCOW2")
    subprocess.run(["qemu-img", "convert", "-O", "qcow2", str(tmp_path / "src.raw"), str(tmp_path / "src.qcow2")],
                   check=True)
    target = tmp_path / "v.qcow2"
    upload((tmp_path / "src.qcow2").read_bytes(), target, 8 * MiB)
    assert "file format: raw" in info(target)
    assert target.read_bytes()[:len(data)] == data


def test_archive_upload_takes_the_disk_image_out_of_the_tar(tmp_path):
    data = raw_image(tmp_path / "src.raw", b"MARKER-TAR")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(tmp_path / "src.raw", arcname="disk.img")
    target = tmp_path / "v.qcow2"
    upload(buf.getvalue(), target, 8 * MiB, archive=True)
    assert target.read_bytes()[:len(data)] == data


def test_a_gzip_bomb_stays_bounded_and_is_refused_by_size(tmp_path):
    body = gzip.compress(bytes(64 * MiB))
    with pytest.raises(UploadError, match=r"^Virtual image size 67108864 is larger than the reported available "
                                          r"storage 1048576\. A larger PVC is required\.$"):
        upload(body, tmp_path / "v.qcow2", MiB)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("case", ["too-large", "truncated-gzip", "not-a-disk", "cut-short", "bad-xz", "empty-tar",
                                  "backing-file"])
def test_refused_uploads_leave_the_volume_as_it_was(tmp_path, case):
    target = tmp_path / "v.qcow2"
    target.write_bytes(b"OLD VOLUME")
    data = raw_image(tmp_path / "src.raw", b"NEW")
    (tmp_path / "src.raw").unlink()
    length = None
    archive = False
    if case == "too-large":
        body, want = data, "Virtual image size 4194304 is larger than the reported available storage 2097152. " \
                           "A larger PVC is required."
    elif case == "truncated-gzip":
        body, want = gzip.compress(data)[:-100], "Saving stream failed: unexpected EOF"
    elif case == "not-a-disk":
        body, want = b"just some text, not a disk image\n", "Unable to process data: not a disk image: its size " \
                                                             "33 is not a multiple of 512 bytes"
    elif case == "cut-short":
        body, length, want = data[:MiB], len(data), "Saving stream failed: unexpected EOF"
    elif case == "bad-xz":
        body, want = b"\xfd7zXZ\x00" + b"garbage" * 100, "Saving stream failed:"
    elif case == "empty-tar":
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w"):
            pass
        body, archive, want = buf.getvalue(), True, "Saving stream failed: the archive holds no file"
    else:
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(tmp_path / "base.qcow2"), "1M"], check=True)
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(tmp_path / "base.qcow2"),
                        str(tmp_path / "top.qcow2")], check=True)
        body, want = (tmp_path / "top.qcow2").read_bytes(), "Unable to process data: Image is invalid: image has a " \
                                                            "backing file"
        (tmp_path / "top.qcow2").unlink()
        (tmp_path / "base.qcow2").unlink()
    with pytest.raises(UploadError) as e:
        upload(body, target, 4 * MiB if case != "too-large" else 2 * MiB, archive=archive, length=length)
    assert e.value.message.startswith(want), e.value.message
    assert target.read_bytes() == b"OLD VOLUME"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.qcow2"]
