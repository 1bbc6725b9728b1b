"""VMI volumes → local files, with real qemu-img, a real registry and real ISOs."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pycdlib
import pytest
import yaml

from tests.controller.storage.registry_fixture import LocalRegistry, local_registry, make_tar  # noqa: F401
from tests.controller.storage.volume_fixtures import EXAMPLES, MARKER, NS, UID, blank_template, disk_image, \
    read_at_zero, vmi_with, volume_settings  # noqa: F401
from virtctl.controller.storage import qemu_img
from virtctl.controller.storage.importer import ensure_data_volumes
from virtctl.controller.storage.layout import VolumeNotFound, ephemeral_dir
from virtctl.controller.storage.plan import prepare_volumes, release_volumes
from virtctl.errors import Invalid

pytestmark = pytest.mark.skipif(shutil.which("qemu-img") is None, reason="qemu-img is not installed")


# --- containerDisk ------------------------------------------------------------------------------


def test_container_disk_gets_an_ephemeral_overlay(disk_image: str, tmp_path: Path) -> None:
    settings = volume_settings(tmp_path)
    prepared = prepare_volumes(vmi_with([{"name": "containerdisk", "containerDisk": {"image": disk_image}}]),
                               settings, namespace=NS)
    disk = prepared.disks["containerdisk"]
    run_dir = settings.run_dir / NS / f"vmi-a-{UID}"
    assert prepared.ephemeral_dir == run_dir
    assert Path(disk.path) == run_dir / "containerdisk.qcow2" and disk.format == "qcow2" and disk.ephemeral
    info = qemu_img.info(Path(disk.path))
    assert info["backing-filename-format"] == "qcow2"
    assert Path(info["backing-filename"]).is_relative_to(settings.images_dir)
    assert read_at_zero(Path(disk.path), "qcow2") == MARKER
    # idempotent for the same uid: the same overlay, not a new one
    inode = Path(disk.path).stat().st_ino
    again = prepare_volumes(vmi_with([{"name": "containerdisk", "containerDisk": {"image": disk_image}}]),
                            settings, namespace=NS)
    assert Path(again.disks["containerdisk"].path).stat().st_ino == inode
    release_volumes(settings, NS, "vmi-a", UID)
    assert not run_dir.exists()
    assert Path(info["backing-filename"]).is_file()               # the cached image stays


def test_real_manifest_vmi_ephemeral(disk_image: str, tmp_path: Path) -> None:
    vmi = yaml.safe_load((EXAMPLES / "vmi-ephemeral.yaml").read_text())
    vmi["metadata"]["uid"] = UID
    vmi["spec"]["volumes"][0]["containerDisk"]["image"] = disk_image
    prepared = prepare_volumes(vmi, volume_settings(tmp_path), namespace=NS)
    assert list(prepared.disks) == ["containerdisk"] and prepared.kernel_boot is None


# --- persistent volumes --------------------------------------------------------------------------


def test_pvc_persists_across_vmi_runs(tmp_path: Path) -> None:
    settings = volume_settings(tmp_path)
    created = ensure_data_volumes({"spec": {"dataVolumeTemplates": [blank_template("disk-alpine")]}},
                                  settings, NS)
    volume = created["disk-alpine"]
    assert volume == settings.volumes_dir / NS / "disk-alpine.qcow2"
    assert qemu_img.virtual_size(volume) == 64 << 20
    vmi = yaml.safe_load((EXAMPLES / "vmi-pvc.yaml").read_text())
    vmi["metadata"]["uid"] = UID
    for run in range(2):
        prepared = prepare_volumes(vmi, settings, namespace=NS)
        disk = prepared.disks["pvcdisk"]
        assert Path(disk.path) == volume and disk.format == "qcow2" and not disk.ephemeral
        if run == 0:     # the "guest" writes; the next run must see it
            subprocess.run(["qemu-io", "-f", "qcow2", "-c", f"write -P 0x5a 0 {len(MARKER)}", str(volume)],
                           check=True, capture_output=True)
        else:
            assert read_at_zero(volume, "qcow2") == b"\x5a" * len(MARKER)
        release_volumes(settings, NS, vmi["metadata"]["name"], UID)
        assert volume.is_file()


def test_ephemeral_pvc_is_an_overlay_and_leaves_the_volume_alone(tmp_path: Path) -> None:
    settings = volume_settings(tmp_path)
    volume = ensure_data_volumes({"spec": {"dataVolumeTemplates": [blank_template("base")]}}, settings, NS)["base"]
    before = volume.read_bytes()
    eph = {"name": "eph", "ephemeral": {"persistentVolumeClaim": {"claimName": "base"}}}
    prepared = prepare_volumes(vmi_with([eph]), settings, namespace=NS)
    overlay = Path(prepared.disks["eph"].path)
    assert prepared.disks["eph"].ephemeral and overlay.parent == prepared.ephemeral_dir
    assert qemu_img.info(overlay)["backing-filename"] == str(volume)
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0x11 0 4k", str(overlay)], check=True,
                   capture_output=True)
    assert volume.read_bytes() == before


@pytest.mark.parametrize("volume, kind, message", [
    ({"name": "pvcdisk", "persistentVolumeClaim": {"claimName": "nope"}}, "persistentVolumeClaim",
     "PVC default/nope does not exist"),
    ({"name": "dv", "dataVolume": {"name": "nope-dv"}}, "dataVolume", "DataVolume default/nope-dv does not exist"),
])
def test_missing_claim_is_volume_not_found(tmp_path: Path, volume: dict, kind: str, message: str) -> None:
    settings = volume_settings(tmp_path)
    with pytest.raises(VolumeNotFound) as e:
        prepare_volumes(vmi_with([{"name": "e", "emptyDisk": {"capacity": "1Mi"}}, volume]), settings, namespace=NS)
    assert str(e.value) == message and e.value.kind == kind and e.value.namespace == NS
    assert not ephemeral_dir(settings, NS, "vmi-a", UID).exists()        # the emptyDisk made first is gone


# --- cloud-init, emptyDisk, kernel boot ------------------------------------------------------------


def test_cloud_init_nocloud_iso_in_the_run_dir(tmp_path: Path) -> None:
    vmi = yaml.safe_load((EXAMPLES / "vmi-nocloud.yaml").read_text())
    vmi["metadata"]["uid"] = UID
    vmi["spec"]["volumes"] = [v for v in vmi["spec"]["volumes"] if "containerDisk" not in v]
    vmi["spec"]["domain"]["devices"]["disks"][1] = {"name": "cloudinitdisk", "cdrom": {"bus": "sata"}}
    settings = volume_settings(tmp_path)
    prepared = prepare_volumes(vmi, settings, namespace=NS)
    ci = prepared.disks["cloudinitdisk"]
    assert ci.format == "raw" and ci.media == "cdrom" and ci.readonly and ci.ephemeral
    iso = pycdlib.PyCdlib()
    iso.open(ci.path)
    try:
        assert iso.pvd.volume_identifier.decode().strip() == "cidata"
        user, meta = io.BytesIO(), io.BytesIO()
        iso.get_file_from_iso_fp(user, rr_path="/user-data")
        iso.get_file_from_iso_fp(meta, rr_path="/meta-data")
    finally:
        iso.close()
    assert user.getvalue() == vmi["spec"]["volumes"][0]["cloudInitNoCloud"]["userData"].encode()
    assert meta.getvalue() == f"instance-id: {UID}\nlocal-hostname: vmi-nocloud\n".encode()
    empty = prepared.disks["emptydisk"]
    assert empty.ephemeral and qemu_img.virtual_size(Path(empty.path)) == 2 << 30
    release_volumes(settings, NS, "vmi-nocloud", UID)
    assert not Path(ci.path).exists() and not Path(empty.path).exists()


def test_config_drive_uses_spec_hostname(tmp_path: Path) -> None:
    prepared = prepare_volumes(vmi_with([{"name": "cd", "cloudInitConfigDrive": {"userData": "#cloud-config\n"}}],
                                    hostname="my-host"), volume_settings(tmp_path), namespace=NS)
    iso = pycdlib.PyCdlib()
    iso.open(prepared.disks["cd"].path)
    try:
        meta = io.BytesIO()
        iso.get_file_from_iso_fp(meta, rr_path="/openstack/latest/meta_data.json")
        assert iso.pvd.volume_identifier.decode().strip() == "config-2"
    finally:
        iso.close()
    assert b'"hostname": "my-host"' in meta.getvalue() and UID.encode() in meta.getvalue()


def test_kernel_boot_container(local_registry: LocalRegistry, tmp_path: Path) -> None:  # noqa: F811
    local_registry.push_image("vol/kernel", "v1", [make_tar([("boot/vmlinuz-virt", b"K"),
                                                             ("boot/initramfs-virt", b"I")])])
    vmi = yaml.safe_load((EXAMPLES / "vmi-kernel-boot.yaml").read_text())
    vmi["metadata"]["uid"] = UID
    vmi["spec"]["domain"]["firmware"]["kernelBoot"]["container"]["image"] = f"{local_registry.host}/vol/kernel:v1"
    prepared = prepare_volumes(vmi, volume_settings(tmp_path), namespace=NS)
    kb = prepared.kernel_boot
    assert kb is not None and kb.cmdline == "console=ttyS0"
    assert Path(kb.kernel).read_bytes() == b"K" and Path(kb.initrd).read_bytes() == b"I"
    assert prepared.disks == {}


# --- hostDisk ----------------------------------------------------------------------------------


def test_host_disk_allowed(tmp_path: Path) -> None:
    allowed = tmp_path / "hostdisks"
    allowed.mkdir()
    existing = allowed / "existing.img"
    existing.write_bytes(b"\0" * 4096)
    settings = volume_settings(tmp_path, host_disk_dirs=[str(allowed)])
    prepared = prepare_volumes(vmi_with([
        {"name": "new", "hostDisk": {"path": str(allowed / "sub" / "new.img"), "type": "DiskOrCreate",
                                     "capacity": "1Gi"}},
        {"name": "old", "hostDisk": {"path": str(existing), "type": "Disk"}},
    ]), settings, namespace=NS)
    created = allowed / "sub" / "new.img"
    assert prepared.disks["new"].path == str(created) and prepared.disks["new"].format == "raw"
    assert created.stat().st_size == 1 << 30 and created.stat().st_blocks == 0          # sparse
    assert not prepared.disks["new"].ephemeral
    release_volumes(settings, NS, "vmi-a", UID)
    assert created.exists() and existing.exists()                   # host disks are never removed


def test_host_disk_missing_disk(tmp_path: Path) -> None:
    settings = volume_settings(tmp_path, host_disk_dirs=[str(tmp_path)])
    with pytest.raises(VolumeNotFound, match=r"^hostDisk .*/absent\.img does not exist$"):
        prepare_volumes(vmi_with([{"name": "h", "hostDisk": {"path": str(tmp_path / "absent.img"), "type": "Disk"}}]),
                        settings, namespace=NS)


def test_host_disk_denied(tmp_path: Path) -> None:
    allowed = tmp_path / "hostdisks"
    allowed.mkdir()
    (allowed / "escape").symlink_to(tmp_path / "elsewhere")
    settings = volume_settings(tmp_path, host_disk_dirs=[str(allowed)])
    for path in (str(tmp_path / "outside.img"), str(allowed / "escape" / "x.img"), str(allowed / ".." / "x.img"),
                 str(allowed)):
        with pytest.raises(Invalid) as e:
            prepare_volumes(vmi_with([{"name": "h", "hostDisk": {"path": path, "type": "DiskOrCreate",
                                                              "capacity": "1Mi"}}]), settings, namespace=NS)
        assert str(e.value) == (f'spec.volumes[0].hostDisk.path: Forbidden: "{path}" is not under an allowed host '
                                f'disk directory (hostDiskDirs: {allowed})')
        assert e.value.code == 422 and e.value.details["causes"][0]["field"] == "spec.volumes[0].hostDisk.path"
    assert not (tmp_path / "elsewhere").exists() and not (tmp_path / "outside.img").exists()


def test_host_disk_from_the_example_is_denied_without_host_disk_dirs(tmp_path: Path) -> None:
    vmi = yaml.safe_load((EXAMPLES / "vmi-host-disk.yaml").read_text())
    vmi["metadata"]["uid"] = UID
    with pytest.raises(Invalid) as e:
        prepare_volumes(vmi, volume_settings(tmp_path), namespace=NS)
    assert str(e.value) == ('spec.volumes[0].hostDisk.path: Forbidden: "/var/data/disk.img" is not under an allowed '
                            'host disk directory (hostDiskDirs: none configured)')


# --- refused specs -----------------------------------------------------------------------------


@pytest.mark.parametrize("volume, message", [
    ({"name": "sa", "serviceAccount": {"serviceAccountName": "default"}},
     "spec.volumes[1].serviceAccount: serviceAccount volumes are not supported in standalone mode: there are no "
     "Kubernetes service accounts"),
    ({"name": "m", "downwardMetrics": {}},
     "spec.volumes[1].downwardMetrics: downwardMetrics volumes are not supported in standalone mode: there is no "
     "metrics collector on this host"),
    ({"name": "sp", "sysprep": {"configMap": {"name": "x"}}},
     "spec.volumes[1].sysprep: sysprep volumes are not supported in standalone mode: they need a ConfigMap or "
     "Secret"),
    ({"name": "md", "memoryDump": {"claimName": "x"}},
     "spec.volumes[1].memoryDump: memoryDump volumes are not supported in standalone mode"),
    ({"name": "x", "nfs": {"server": "h"}}, "spec.volumes[1].nfs: unknown volume type 'nfs'"),
    ({"name": "x"}, "spec.volumes[1]: must have exactly one volume source (none given)"),
    ({"name": "x", "emptyDisk": {"capacity": "1Mi"}, "containerDisk": {"image": "a"}},
     "spec.volumes[1]: must have exactly one volume source (got emptyDisk, containerDisk)"),
    ({"name": "Bad_Name", "emptyDisk": {"capacity": "1Mi"}},
     'spec.volumes[1].name: Invalid value: "Bad_Name": a lowercase RFC 1123 label'),
    ({"name": "first", "emptyDisk": {"capacity": "1Mi"}}, 'spec.volumes[1].name: Duplicate value: "first"'),
    ({"name": "x", "persistentVolumeClaim": {"claimName": "../../etc/passwd"}},
     'spec.volumes[1].persistentVolumeClaim.claimName: Invalid value: "../../etc/passwd": a lowercase RFC 1123 '
     'subdomain'),
    ({"name": "x", "containerDisk": {"image": "Not A Ref"}},
     'spec.volumes[1].containerDisk.image: invalid reference format: "Not A Ref"'),
    ({"name": "x", "containerDisk": {"image": "a/b", "imagePullSecret": "creds"}},
     "spec.volumes[1].containerDisk.imagePullSecret: image pull secrets are not supported in standalone mode"),
    ({"name": "x", "emptyDisk": {"capacity": "-1Gi"}},
     'spec.volumes[1].emptyDisk.capacity: Invalid value: "-1Gi": must be greater than zero'),
    ({"name": "x", "hostDisk": {"path": "relative.img", "type": "Disk"}},
     'spec.volumes[1].hostDisk.path: Invalid value: "relative.img": must be an absolute path'),
    ({"name": "x", "hostDisk": {"path": "/x.img", "type": "Directory"}},
     'spec.volumes[1].hostDisk.type: Unsupported value: "Directory": supported values: "Disk", "DiskOrCreate"'),
])
def test_refused_volumes_are_422_and_write_nothing(tmp_path: Path, volume: dict, message: str) -> None:
    settings = volume_settings(tmp_path)
    with pytest.raises(Invalid) as e:
        prepare_volumes(vmi_with([{"name": "first", "emptyDisk": {"capacity": "1Mi"}}, volume]), settings,
                        namespace=NS)
    assert str(e.value).startswith(message)
    assert e.value.code == 422 and "\n" not in str(e.value)
    assert not settings.state_dir.exists()
