"""Volume hot-plug in standalone mode, end to end: the real CLI against a real controller process
and real QEMU. A DataVolume uploaded with a marker is added to a running guest (virtio), which sees
a new /dev/vdX and reads the marker; the disk is still there after a VM restart (the VM's template
kept it); removevolume takes it out of the running guest. A scsi hotplug lands on the domain's
virtio-scsi controller and the guest reads it as /dev/sdX until it is removed. Bad input (a volume already attached, a missing one, the VM's own boot
disk) gets virt-api's message and changes nothing."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest
import yaml

from tests.controller.storage.registry_fixture import local_registry  # noqa: F401  (fixture)
from tests.e2e.test_standalone import Standalone, busybox_vm, kernel_image, libvirt_name, standalone  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]
MiB = 1 << 20


def volume_status(env: Standalone, name: str) -> dict[str, dict]:
    vmi = env.obj("vmi", name)
    return {v["name"]: v for v in (vmi.get("status") or {}).get("volumeStatus") or []}


def wait_until(fn, what: str, timeout: float = 180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if fn():
                return
        except AssertionError:         # virtctl get while the VMI is being replaced
            pass
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def wait_status(env: Standalone, name: str, pred, what: str, timeout: float = 60) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    last: dict[str, dict] = {}
    while time.monotonic() < deadline:
        last = volume_status(env, name)
        if pred(last):
            return last
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}; volumeStatus: {json.dumps(last)}")


def upload(env: Standalone, tmp_path: Path, dv: str, marker: str) -> None:
    raw = tmp_path / f"{dv}.raw"
    raw.write_bytes(marker.encode() + bytes(2 * MiB - len(marker)))
    env.run("image-upload", "dv", dv, "--size=8Mi", f"--image-path={raw}")


def boot(env: Standalone, name: str) -> None:
    env.run("start", name, "--wait", "--timeout", "3m")
    env.wait_log(name, "GUEST-BOOT-OK")


def read(env: Standalone, name: str, dev: str, marker: str) -> str:
    """What the guest reads at the start of /dev/<dev> (the marker's length)."""
    return env.console(name, f"dd if=/dev/{dev} bs=512 count=1 2>/dev/null | head -c {len(marker)}; echo; "
                             f"ls /dev/{dev} 2>&1")


def test_addvolume_removevolume_on_a_running_guest(standalone, kernel_image, tmp_path, libvirt_host):  # noqa: F811
    name = f"hp-{uuid.uuid4().hex[:6]}"
    dv, scsi_dv = f"{name}-dv", f"{name}-sc"
    marker = f"HOTPLUG-{uuid.uuid4().hex[:8]}"
    upload(standalone, tmp_path, dv, marker)
    upload(standalone, tmp_path, scsi_dv, "SCSI")
    manifest = tmp_path / "vm.yaml"
    manifest.write_text(yaml.safe_dump(busybox_vm(name, kernel_image)))
    standalone.run("apply", "-f", str(manifest))
    boot(standalone, name)

    out = standalone.run("addvolume", name, f"--volume-name={dv}", "--bus=virtio", "--serial=HP1").stdout
    assert out == f"Successfully submitted add volume request to VM {name} for volume {dv}\n"
    status = wait_status(standalone, name, lambda s: s.get(dv, {}).get("phase") == "Ready", "the virtio hotplug")
    assert status[dv]["hotplugVolume"] == {} and status[dv]["reason"] == "VolumeReady"
    dev = status[dv]["target"]
    assert dev.startswith("vd") and dev not in (status["data"]["target"], status["cloudinit"]["target"])
    assert marker in read(standalone, name, dev, marker)
    vm = standalone.obj("vm", name)
    template = vm["spec"]["template"]["spec"]
    assert {"name": dv, "dataVolume": {"name": dv, "hotpluggable": True}} in template["volumes"]
    assert {"name": dv, "disk": {"bus": "virtio"}, "serial": "HP1"} in template["domain"]["devices"]["disks"]

    # scsi: on the virtio-scsi controller every domain has
    standalone.run("addvolume", name, f"--volume-name={scsi_dv}")
    status = wait_status(standalone, name, lambda s: s.get(scsi_dv, {}).get("phase") == "Ready", "the scsi hotplug")
    assert status[scsi_dv]["target"].startswith("sd")
    import libvirt
    conn = libvirt.open(libvirt_host.uri)
    try:
        xml = conn.lookupByName(libvirt_name(standalone, f"default_{name}")).XMLDesc(0)
    finally:
        conn.close()
    sdev = status[scsi_dv]["target"]
    assert f"<target dev='{sdev}' bus='scsi'/>" in xml
    assert "SCSI" in read(standalone, name, sdev, "SCSI")          # the guest found it on its virtio-scsi bus

    # bad input: nothing changes
    r = standalone.run("addvolume", name, f"--volume-name={dv}", check=False)
    assert (r.returncode, r.stderr.strip()) == (1, f'error adding volume, Operation cannot be fulfilled on '
                                                   f'virtualmachine.kubevirt.io "{name}": Unable to add volume [{dv}] '
                                                   f'because volume with that name already exists')
    r = standalone.run("addvolume", name, "--volume-name=no-such-volume", check=False)
    assert (r.returncode, r.stderr.strip()) == (1, "error adding volume, Volume no-such-volume is not a DataVolume "
                                                   "or PersistentVolumeClaim")
    r = standalone.run("removevolume", name, "--volume-name=data", check=False)
    assert (r.returncode, r.stderr.strip()) == (1, f'error removing volume, Operation cannot be fulfilled on '
                                                   f'virtualmachine.kubevirt.io "{name}": Unable to remove volume '
                                                   f'[data] because it is not hotpluggable')
    assert standalone.obj("vm", name)["spec"]["template"]["spec"] == template | {
        "volumes": template["volumes"] + [{"name": scsi_dv, "dataVolume": {"name": scsi_dv, "hotpluggable": True}}],
        "domain": template["domain"] | {"devices": template["domain"]["devices"] | {
            "disks": template["domain"]["devices"]["disks"] + [{"name": scsi_dv, "disk": {"bus": "scsi"},
                                                               "serial": scsi_dv}]}}}

    # a restart keeps the disk: the VM's template has it
    old_uid = standalone.obj("vmi", name)["metadata"]["uid"]
    standalone.run("restart", name)
    wait_until(lambda: (lambda v: v["metadata"]["uid"] != old_uid and v.get("status", {}).get("phase") == "Running")(
        standalone.obj("vmi", name)), "the restarted VMI")
    standalone.wait_log(name, "GUEST-BOOT-OK")
    status = wait_status(standalone, name, lambda s: s.get(dv, {}).get("target") == dev, "the disk after a restart",
                         timeout=180)
    assert marker in read(standalone, name, dev, marker)

    out = standalone.run("removevolume", name, f"--volume-name={dv}").stdout
    assert out == f"Successfully submitted remove volume request to VM {name} for volume {dv}\n"
    wait_status(standalone, name, lambda s: dv not in s, "the virtio disk to go")
    assert "No such file or directory" in read(standalone, name, dev, marker)
    assert all(v.get("name") != dv for v in standalone.obj("vm", name)["spec"]["template"]["spec"]["volumes"])

    standalone.run("removevolume", name, f"--volume-name={scsi_dv}")
    wait_status(standalone, name, lambda s: scsi_dv not in s, "the scsi disk to go")
    assert "No such file or directory" in read(standalone, name, sdev, "SCSI")

    standalone.run("stop", name, "--wait", "--timeout", "2m")
    standalone.run("delete", "vm", name)


def test_addvolume_to_a_vmi_without_a_vm(standalone, kernel_image, tmp_path):  # noqa: F811
    """A VMI of its own: virtctl falls back to the VMI's subresource (no VM: 404), the disk is
    attached to the running guest and only the VMI's spec has it."""
    name = f"hpvmi-{uuid.uuid4().hex[:6]}"
    dv = f"{name}-dv"
    marker = f"VMIHP-{uuid.uuid4().hex[:8]}"
    upload(standalone, tmp_path, dv, marker)
    vm = busybox_vm(name, kernel_image)
    spec = vm["spec"]["template"]["spec"]
    spec["domain"]["devices"]["disks"] = [d for d in spec["domain"]["devices"]["disks"] if d["name"] != "data"]
    spec["volumes"] = [v for v in spec["volumes"] if v["name"] != "data"]
    vmi = {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance", "metadata": {"name": name}, "spec": spec}
    (tmp_path / "vmi.yaml").write_text(yaml.safe_dump(vmi))
    standalone.run("apply", "-f", str(tmp_path / "vmi.yaml"))
    wait_until(lambda: standalone.obj("vmi", name).get("status", {}).get("phase") == "Running", "the VMI to run")
    standalone.wait_log(name, "GUEST-BOOT-OK")

    standalone.run("addvolume", name, f"--volume-name={dv}", "--bus=virtio")
    status = wait_status(standalone, name, lambda s: s.get(dv, {}).get("phase") == "Ready", "the hotplug")
    dev = status[dv]["target"]
    assert marker in read(standalone, name, dev, marker)
    assert {"name": dv, "dataVolume": {"name": dv, "hotpluggable": True}} in standalone.obj("vmi", name)["spec"][
        "volumes"]
    assert standalone.run("get", "vm", name, check=False).returncode == 1

    standalone.run("removevolume", name, f"--volume-name={dv}")
    wait_status(standalone, name, lambda s: dv not in s, "the disk to go")
    assert "No such file or directory" in read(standalone, name, dev, marker)
    standalone.run("delete", "vmi", name)
