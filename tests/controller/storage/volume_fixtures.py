"""Shared by the volume tests: settings in a temp dir, VMI skeletons, a containerDisk image."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.controller.storage.registry_fixture import LocalRegistry, make_tar
from virtctl.controller.settings import Settings
from virtctl.controller.storage import qemu_img

EXAMPLES = Path(__file__).resolve().parents[2] / "data" / "examples"
NS = "default"
UID = "6f1c2a6e-0d7e-4c1e-9d0b-1c2d3e4f5a6b"
MARKER = b"VIRTCTL-VOLUME-MARKER"


def volume_settings(tmp_path: Path, **kw) -> Settings:
    return Settings(state_dir=tmp_path / "state", **kw)


def vmi_with(volumes: list[dict], *, name: str = "vmi-a", uid: str = UID, disks: list[dict] | None = None,
         **spec) -> dict:
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
            "metadata": {"name": name, "namespace": NS, "uid": uid},
            "spec": {"domain": {"devices": {"disks": disks or []}}, "volumes": volumes, **spec}}


def read_at_zero(path: Path, fmt: str, n: int = len(MARKER)) -> bytes:
    """The first bytes the guest would see (through the qcow2/backing chain)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "sector"
        subprocess.run(["qemu-img", "dd", "-f", fmt, "-O", "raw", f"if={path}", f"of={out}", "bs=512", "count=1"],
                       capture_output=True, check=True)
        return out.read_bytes()[:n]


@pytest.fixture(scope="module")
def disk_image(local_registry: LocalRegistry, tmp_path_factory: pytest.TempPathFactory) -> str:  # noqa: F811
    """A containerDisk image: /disk/disk.qcow2 (32 MiB) starting with MARKER."""
    work = tmp_path_factory.mktemp("cdisk")
    raw = work / "disk.raw"
    with open(raw, "wb") as f:
        f.write(MARKER)
        f.truncate(32 << 20)
    qemu_img.convert(raw, work / "disk.qcow2", src_format="raw", dst_format="qcow2")
    local_registry.push_image("vol/container-disk", "v1", [make_tar([("disk/disk.qcow2",
                                                                      (work / "disk.qcow2").read_bytes())])])
    return f"{local_registry.host}/vol/container-disk:v1"


def blank_template(name: str, size: str = "64Mi", key: str = "storage") -> dict:
    return {"metadata": {"name": name}, "spec": {key: {"resources": {"requests": {"storage": size}}},
                                                 "source": {"blank": {}}}}
