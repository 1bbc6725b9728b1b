"""The image cache: pull once per digest, safe unpacking, containerDisk and kernelBoot files."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import threading
from pathlib import Path

import pytest

from tests.controller.storage.registry_fixture import (  # noqa: F401  (fixture)
    LocalRegistry, gzip_bytes, local_registry, make_tar, sha256_digest,
)
from virtctl.controller.settings import Settings
from virtctl.controller.storage import qemu_img
from virtctl.controller.storage.images import (
    PULL_IF_NOT_PRESENT, PULL_NEVER, ImageCache, ImageContentError, UnsafeLayer, apply_layer, default_pull_policy,
    resolve_in_root,
)
from virtctl.controller.storage.registry import DigestMismatch, ImagePullError

needs_qemu_img = pytest.mark.skipif(shutil.which("qemu-img") is None, reason="qemu-img is not installed")


def _settings(tmp_path: Path) -> Settings:
    return Settings(state_dir=tmp_path / "state")


def _entry(name: str, kind: bytes, linkname: str = "", mode: int = 0o755) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, linkname, mode
    return info


def _apply(root: Path, entries: list) -> None:
    apply_layer(io.BytesIO(make_tar(entries)), root, "sha256:test")


# --- unpacking safety ---------------------------------------------------------------------------


@pytest.mark.parametrize("entries, message", [
    ([("../escape", b"x")], r"path '\.\./escape' with '\.\.' refused"),
    ([("a/../../escape", b"x")], r"with '\.\.' refused"),
    ([("/etc/absolute", b"x")], r"absolute path '/etc/absolute' refused"),
    ([_entry("evil", tarfile.SYMTYPE, "../../outside")], r"symlink 'evil' -> '\.\./\.\./outside' escapes"),
    ([_entry("a/b/evil", tarfile.SYMTYPE, "../../../x")], r"escapes the image root"),
    ([_entry("dev/sda", tarfile.BLKTYPE)], r"device node 'dev/sda' refused"),
    ([_entry("dev/null", tarfile.CHRTYPE)], r"device node 'dev/null' refused"),
    ([_entry("hard", tarfile.LNKTYPE, "../outside")], r"with '\.\.' refused"),
    ([_entry("hard", tarfile.LNKTYPE, "missing")], r"has no regular file to point at"),
    ([(".wh...", b"")], r"bad whiteout"),
])
def test_unsafe_layers_are_refused(tmp_path: Path, entries: list, message: str) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "outside").write_text("keep me")
    with pytest.raises(UnsafeLayer, match=message):
        _apply(root, entries)
    assert (tmp_path / "outside").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outside", "root"]


def test_writes_never_follow_a_symlink_out_of_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    # an absolute link is rewritten relative to the root, then a file is written "through" it
    _apply(root, [_entry("etc", tarfile.SYMTYPE, str(tmp_path)), ("etc/planted", b"inside")])
    assert os.readlink(root / "etc") == os.path.relpath(str(tmp_path).lstrip("/"))
    assert not (tmp_path / "planted").exists()
    assert resolve_in_root(root, "/etc/planted").read_bytes() == b"inside"
    assert resolve_in_root(root, "/etc/planted").is_relative_to(root)


def test_whiteouts_and_opaque_dirs(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    _apply(root, [("keep/a", b"1"), ("gone/b", b"2"), ("opaque/old", b"3"), ("file", b"4")])
    _apply(root, [("opaque/new", b"5"), ("opaque/.wh..wh..opq", b""), ("gone/.wh.b", b""), (".wh.file", b""),
                  _entry("link", tarfile.SYMTYPE, "keep/a"), _entry("hard", tarfile.LNKTYPE, "keep/a")])
    assert (root / "keep" / "a").read_bytes() == b"1"
    assert not (root / "gone" / "b").exists() and (root / "gone").is_dir()
    assert sorted(p.name for p in (root / "opaque").iterdir()) == ["new"]
    assert not (root / "file").exists()
    assert (root / "link").read_bytes() == b"1" and os.readlink(root / "link") == "keep/a"
    assert os.stat(root / "hard").st_ino == os.stat(root / "keep" / "a").st_ino


def test_setuid_bits_are_dropped(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    info = tarfile.TarInfo("bin/su")
    info.mode, info.size = 0o4755, 1
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.addfile(info, io.BytesIO(b"x"))
    apply_layer(io.BytesIO(buf.getvalue()), root)
    assert (root / "bin" / "su").stat().st_mode & 0o7777 == 0o755


# --- pulling ------------------------------------------------------------------------------------


def test_pull_unpacks_read_only_and_reuses_blobs(local_registry: LocalRegistry, tmp_path: Path) -> None:
    local_registry.push_image("img/reuse", "v1", [make_tar([("etc/os", b"one"), ("data/x", b"1")]),
                                                 make_tar([("etc/os", b"two"), ("data/.wh.x", b"")])])
    cache = ImageCache(_settings(tmp_path))
    downloads: list[str] = []
    progress = lambda digest, done, total: downloads.append(digest) if done == 0 else None  # noqa: E731
    image = f"{local_registry.host}/img/reuse:v1"
    first = cache.pull(image, progress=progress)
    assert len(downloads) == 2
    assert (first.rootfs / "etc" / "os").read_bytes() == b"two" and not (first.rootfs / "data" / "x").exists()
    assert (first.rootfs / "etc" / "os").stat().st_mode & 0o222 == 0
    second = cache.pull(image, progress=progress)          # manifest re-checked, no blob fetched
    assert second == first and len(downloads) == 2
    # by digest, and through IfNotPresent/Never without any registry
    assert cache.pull(f"{local_registry.host}/img/reuse@{first.digest}").rootfs == first.rootfs
    assert cache.pull(image, policy=PULL_NEVER).digest == first.digest
    with pytest.raises(ImagePullError, match=r'is not present locally and imagePullPolicy is Never$'):
        cache.pull(f"{local_registry.host}/img/reuse:other", policy=PULL_NEVER)


def test_a_new_tag_version_is_pulled_with_always_and_not_with_if_not_present(local_registry: LocalRegistry,
                                                                              tmp_path: Path) -> None:
    image = f"{local_registry.host}/img/moving:v1"
    cache = ImageCache(_settings(tmp_path))
    old = local_registry.push_image("img/moving", "v1", [make_tar([("v", b"old")])])
    assert cache.pull(image).digest == old
    new = local_registry.push_image("img/moving", "v1", [make_tar([("v", b"new")])])
    assert cache.pull(image, policy=PULL_IF_NOT_PRESENT).digest == old
    assert cache.pull(image).digest == new
    assert default_pull_policy("a/b") == "Always" and default_pull_policy("a/b:1") == "IfNotPresent"


def test_concurrent_pulls_share_one_download(local_registry: LocalRegistry, tmp_path: Path) -> None:
    local_registry.push_image("img/concurrent", "v1", [make_tar([(f"f{i}", os.urandom(20000)) for i in range(20)])])
    cache = ImageCache(_settings(tmp_path))
    downloads: list[str] = []
    results, errors = [], []

    def pull() -> None:
        try:
            results.append(cache.pull(f"{local_registry.host}/img/concurrent:v1",
                                      progress=lambda d, done, total: downloads.append(d) if done == 0 else None))
        except Exception as e:   # noqa: BLE001 - reported below
            errors.append(e)
    threads = [threading.Thread(target=pull) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len({r.rootfs for r in results}) == 1
    assert len(downloads) == 1
    rootfs_dir = results[0].rootfs.parent
    assert [p.name for p in rootfs_dir.iterdir()] == [results[0].rootfs.name]      # no temp dirs left
    assert len(list(results[0].rootfs.iterdir())) == 20


def test_corrupt_cached_blob_is_caught_at_unpack(local_registry: LocalRegistry, tmp_path: Path) -> None:
    layer = make_tar([("payload", b"cached then corrupted " * 100)])
    local_registry.push_image("img/corrupt-cache", "v1", [layer])
    cache = ImageCache(_settings(tmp_path))
    blob = gzip_bytes(layer)
    digest = sha256_digest(blob)
    cached = cache.blobs.path(digest)
    cached.parent.mkdir(parents=True)
    cached.write_bytes(blob[:-10] + b"\0" * 10)            # as if the disk had flipped bytes
    with pytest.raises(DigestMismatch, match=rf"^blob {digest} digest mismatch$"):
        cache.pull(f"{local_registry.host}/img/corrupt-cache:v1")
    assert not cached.exists()                             # dropped: the next pull fetches it again
    assert (cache.pull(f"{local_registry.host}/img/corrupt-cache:v1").rootfs / "payload").exists()


def test_uncompressed_and_zstd_layers(local_registry: LocalRegistry, tmp_path: Path) -> None:
    cache = ImageCache(_settings(tmp_path))
    local_registry.push_image("img/plain", "v1", [make_tar([("plain", b"tar")])], compress=False)
    assert (cache.pull(f"{local_registry.host}/img/plain:v1").rootfs / "plain").read_bytes() == b"tar"
    if shutil.which("zstd") is None:
        pytest.skip("zstd program not installed: zstd layers not checked")
    tar = make_tar([("z", b"zstd layer")])
    blob = subprocess.run(["zstd", "-q", "-c"], input=tar, capture_output=True, check=True).stdout
    digest = local_registry.push_blob("img/zstd", blob)
    import json
    config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "digest": local_registry.push_blob("img/zstd", config), "size": len(config)},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+zstd", "digest": digest,
                            "size": len(blob)}]}
    local_registry.push_manifest("img/zstd", "v1", manifest, manifest["mediaType"])
    assert (cache.pull(f"{local_registry.host}/img/zstd:v1").rootfs / "z").read_bytes() == b"zstd layer"


def test_unsafe_image_leaves_no_rootfs(local_registry: LocalRegistry, tmp_path: Path) -> None:
    local_registry.push_image("img/evil", "v1", [make_tar([("ok", b"1")]), make_tar([("../../evil", b"x")])])
    cache = ImageCache(_settings(tmp_path))
    with pytest.raises(UnsafeLayer, match=r"'\.\./\.\./evil' with '\.\.' refused"):
        cache.pull(f"{local_registry.host}/img/evil:v1")
    assert list((cache.root / "rootfs" / "sha256").iterdir()) == []


# --- containerDisk and kernelBoot --------------------------------------------------------------


@needs_qemu_img
def test_container_disk_is_the_single_file_under_disk(local_registry: LocalRegistry, tmp_path: Path) -> None:
    qcow = tmp_path / "d.qcow2"
    qemu_img.create(qcow, 64 << 20)
    local_registry.push_image("img/cdisk", "v1", [make_tar([("disk/disk.qcow2", qcow.read_bytes())])])
    local_registry.push_image("img/cdisk", "raw", [make_tar([("disk/disk.img", b"\0" * 4096)])])
    local_registry.push_image("img/cdisk", "two", [make_tar([("disk/a.img", b"\0"), ("disk/b.img", b"\0")])])
    local_registry.push_image("img/cdisk", "none", [make_tar([("other/a.img", b"\0")])])
    cache = ImageCache(_settings(tmp_path))
    disk = cache.container_disk(f"{local_registry.host}/img/cdisk:v1")
    assert disk.format == "qcow2" and disk.virtual_size == 64 << 20 and disk.path.name == "disk.qcow2"
    assert cache.container_disk(f"{local_registry.host}/img/cdisk:raw").format == "raw"
    assert cache.container_disk(f"{local_registry.host}/img/cdisk:two", path="/disk/b.img").path.name == "b.img"
    with pytest.raises(ImageContentError, match=r"expected exactly one disk file under /disk/, found 2 entries$"):
        cache.container_disk(f"{local_registry.host}/img/cdisk:two")
    with pytest.raises(ImageContentError, match=r"found no file$"):
        cache.container_disk(f"{local_registry.host}/img/cdisk:none")


@needs_qemu_img
def test_container_disk_with_a_backing_file_is_refused(local_registry: LocalRegistry, tmp_path: Path) -> None:
    base = tmp_path / "base.qcow2"
    qemu_img.create(base, 1 << 20)
    overlay = tmp_path / "overlay.qcow2"
    qemu_img.create(overlay, fmt="qcow2", backing=base, backing_format="qcow2")
    local_registry.push_image("img/backing", "v1", [make_tar([("disk/d.qcow2", overlay.read_bytes())])])
    with pytest.raises(ImageContentError, match=r"disk has a backing file, which is not allowed$"):
        ImageCache(_settings(tmp_path)).container_disk(f"{local_registry.host}/img/backing:v1")


def test_kernel_boot_files(local_registry: LocalRegistry, tmp_path: Path) -> None:
    local_registry.push_image("img/kernel", "v1", [make_tar([
        ("boot/vmlinuz-6.1", b"KERNEL"), ("boot/initramfs.cpio.gz", b"INITRD"),
        _entry("boot/vmlinuz", tarfile.SYMTYPE, "vmlinuz-6.1"),
        _entry("vmlinuz", tarfile.SYMTYPE, "/boot/vmlinuz")])])
    cache = ImageCache(_settings(tmp_path))
    image = f"{local_registry.host}/img/kernel:v1"
    files = cache.kernel_boot(image, kernel_path="/vmlinuz", initrd_path="/boot/initramfs.cpio.gz",
                              cmdline="console=ttyS0")
    assert Path(files.kernel).read_bytes() == b"KERNEL" and Path(files.initrd).read_bytes() == b"INITRD"
    assert files.cmdline == "console=ttyS0"
    assert Path(files.kernel).is_relative_to(cache.root)
    only_kernel = cache.kernel_boot(image, kernel_path="/boot/vmlinuz-6.1", initrd_path=None)
    assert only_kernel.initrd is None
    with pytest.raises(ImageContentError, match=r'initrdPath /boot/missing is not a file in the image$'):
        cache.kernel_boot(image, kernel_path="/vmlinuz", initrd_path="/boot/missing")
    with pytest.raises(ImageContentError, match=r"kernelPath /boot is not a file in the image$"):
        cache.kernel_boot(image, kernel_path="/boot", initrd_path=None)
