"""scripts/start-registry.sh + scripts/push-test-images.sh, then pulled with the image cache.

Uses the guest in $VIRTCTL_TEST_GUEST_DIR (scripts/build-guest.sh) when set, else small stand-in
files: what is checked is that the very bytes pushed come back out of the images.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.controller.storage.registry_fixture import free_loopback_port
from virtctl.controller.settings import Settings
from virtctl.controller.storage.images import ImageCache

ROOT = Path(__file__).resolve().parents[2]
START = ROOT / "scripts" / "start-registry.sh"
PUSH = ROOT / "scripts" / "push-test-images.sh"


@pytest.fixture()
def script_registry(tmp_path: Path):
    for program, package in (("docker-registry", "docker-registry"), ("skopeo", "skopeo"), ("qemu-img", "qemu-utils")):
        if shutil.which(program) is None:
            pytest.skip(f"{program} is not installed (apt-get install {package})")
    port = free_loopback_port()
    env = {**os.environ, "REGISTRY_PORT": str(port)}
    reg_dir = tmp_path / "registry"
    try:
        yield port, env, reg_dir
    finally:
        subprocess.run([str(START), "--stop", str(reg_dir)], env=env, capture_output=True, timeout=30)


def _guest_dir(tmp_path: Path) -> Path:
    env_dir = os.environ.get("VIRTCTL_TEST_GUEST_DIR")
    if env_dir and (Path(env_dir) / "vmlinuz").is_file() and (Path(env_dir) / "initramfs.cpio.gz").is_file():
        return Path(env_dir)
    guest = tmp_path / "guest"
    guest.mkdir()
    (guest / "vmlinuz").write_bytes(os.urandom(200_000))
    (guest / "initramfs.cpio.gz").write_bytes(os.urandom(30_000))
    return guest


def _run(cmd: list[str], env: dict) -> str:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_scripts_start_registry_and_push_pullable_images(script_registry, tmp_path: Path) -> None:
    port, env, reg_dir = script_registry
    out = _run([str(START), str(reg_dir)], env)
    assert f"registry running on 127.0.0.1:{port}" in out
    pid = (reg_dir / "registry.pid").read_text().strip()
    assert f"already running on 127.0.0.1:{port} (pid {pid})" in _run([str(START), str(reg_dir)], env)

    guest = _guest_dir(tmp_path)
    pushed = _run([str(PUSH), str(guest)], env)
    assert f"pushed localhost:{port}/virtctl-test/kernel-boot:latest" in pushed
    assert f"pushed localhost:{port}/virtctl-test/container-disk:latest" in pushed

    cache = ImageCache(Settings(state_dir=tmp_path / "state"))
    kernel_image = f"localhost:{port}/virtctl-test/kernel-boot:latest"
    files = cache.kernel_boot(kernel_image, kernel_path="/boot/vmlinuz", initrd_path="/boot/initramfs.cpio.gz")
    assert Path(files.kernel).read_bytes() == (guest / "vmlinuz").read_bytes()
    assert Path(files.initrd).read_bytes() == (guest / "initramfs.cpio.gz").read_bytes()
    disk = cache.container_disk(f"localhost:{port}/virtctl-test/container-disk:latest")
    assert disk.format == "qcow2" and disk.virtual_size == 64 << 20 and disk.path.name == "disk.qcow2"
    sector = tmp_path / "sector"
    subprocess.run(["qemu-img", "dd", "-f", "qcow2", "-O", "raw", f"if={disk.path}", f"of={sector}", "bs=512",
                    "count=1"], check=True, capture_output=True)
    assert sector.read_bytes().startswith(b"VIRTCTL-TEST-DISK\n")

    # pushing again is a no-op: the images are reproducible, so the digests do not move
    first = cache.pull(kernel_image).digest
    _run([str(PUSH), str(guest)], env)
    assert cache.pull(kernel_image).digest == first
