"""Boot the busybox guest on real QEMU (TCG) through the converter and LibvirtHost.

Every wait has a watchdog: a guest that never prints its marker fails the test in bounded time
(a hung guest never says so: docs/standalone.md#measured-libvirt-and-qemu-facts), and every domain
is destroyed afterwards.
"""

from __future__ import annotations

import glob
import socket
import struct
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.e2e.conftest import DOMAIN_PREFIX, Guest
from virtctl.controller.virt.converter import vmi_to_domain
from virtctl.controller.virt.hypervisor import DomainState
from virtctl.controller.storage.sources import DiskSource, KernelBootFiles

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

BOOT_TIMEOUT = 60.0
GOLDEN = Path(__file__).resolve().parents[1] / "controller" / "virt" / "golden"


def kernel_boot_vmi(name: str, guest: Guest, volumes: list[dict] | None = None,
                    disks: list[dict] | None = None) -> dict:
    return {
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
        "metadata": {"name": name, "namespace": DOMAIN_PREFIX, "uid": f"uid-{name}"},
        "spec": {"domain": {
            "memory": {"guest": "128Mi"},
            "devices": {"disks": disks or []},
            "firmware": {"kernelBoot": {"kernelArgs": guest.cmdline,
                                        "container": {"image": "localhost/test-guest:latest"}}},
        }, "volumes": volumes or []},
    }


def start(host, vmi: dict, guest: Guest, sources: dict[str, DiskSource] | None = None):
    dom = vmi_to_domain(vmi, host=host.host_info(), disks=sources or {},
                        kernel_boot=KernelBootFiles(guest.kernel, guest.initrd, guest.cmdline))
    host.start(dom.to_xml())
    return dom, host.open_console(dom.name)


def wait_state(host, domain: str, state: DomainState, timeout: float) -> object:
    deadline = time.monotonic() + timeout
    while True:
        st = host.status(domain)
        if st.state == state or time.monotonic() > deadline:
            return st
        time.sleep(0.05)


def test_boot_console_roundtrip_and_acpi_shutdown(libvirt_host, guest, vmi_name):
    t0 = time.monotonic()
    dom, console = start(libvirt_host, kernel_boot_vmi(vmi_name, guest), guest)
    try:
        assert console.wait_for(b"GUEST-BOOT-OK", BOOT_TIMEOUT) is not None, console.output()[-500:]
        boot_s = time.monotonic() - t0
        assert console.wait_for(b"guest# ", 10) is not None
        mark = console.offset
        console.write(b"echo hello-$((6*7))\n")
        assert console.wait_for(b"hello-42", 10, since=mark) is not None, console.output()[-300:]
        assert libvirt_host.status(dom.name).state == DomainState.RUNNING
        libvirt_host.shutdown(dom.name)                      # ACPI power button → guest acpid → poweroff
        st = wait_state(libvirt_host, dom.name, DomainState.SHUTOFF, 30)
        assert (st.state, st.reason, st.vmi_uid) == (DomainState.SHUTOFF, "shutdown", f"uid-{vmi_name}")
        assert b"GUEST-ACPI-POWEROFF" in console.output()
        print(f"\ncreate → GUEST-BOOT-OK: {boot_s:.2f} s")
    finally:
        console.close()
        libvirt_host.destroy(dom.name)


def test_vnc_banner_and_screenshot(libvirt_host, guest, vmi_name):
    dom, console = start(libvirt_host, kernel_boot_vmi(vmi_name, guest), guest)
    try:
        assert console.wait_for(b"GUEST-BOOT-OK", BOOT_TIMEOUT) is not None, console.output()[-500:]
        fd = libvirt_host.open_graphics_fd(dom.name)
        with socket.socket(fileno=fd) as vnc:
            vnc.settimeout(10)
            assert vnc.recv(12) == b"RFB 003.008\n"
        png = libvirt_host.screenshot(dom.name)
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
        width, height = struct.unpack(">II", png[16:24])
        assert width >= 320 and height >= 200
    finally:
        console.close()
        libvirt_host.destroy(dom.name)


def make_cidata_iso(path: Path, user_data: str) -> None:
    import io

    import pycdlib
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, rock_ridge="1.09", vol_ident="cidata")
    for name, body in (("user-data", user_data), ("meta-data", "instance-id: test\nlocal-hostname: t\n")):
        data = body.encode()
        iso.add_fp(io.BytesIO(data), len(data), f"/{name.upper().replace('-', '_')}.;1",
                   rr_name=name, joliet_path=f"/{name}")
    iso.write(str(path))
    iso.close()


def test_cloud_init_user_data_and_data_disk_survive_restart(libvirt_host, guest, vmi_name, tmp_path):
    iso = tmp_path / "cidata.iso"
    make_cidata_iso(iso, "#!/bin/sh\necho USERDATA-RAN-$((40+2))\n")
    data = tmp_path / "data.raw"
    data.write_bytes(b"\0" * (1 << 20))
    volumes = [{"name": "cloudinitdisk", "cloudInitNoCloud": {"userData": "#!/bin/sh\n"}},
               {"name": "datadisk", "emptyDisk": {"capacity": "1Mi"}}]
    disks = [{"name": "cloudinitdisk", "disk": {"bus": "virtio"}}, {"name": "datadisk", "disk": {"bus": "virtio"}}]
    sources = {"cloudinitdisk": DiskSource("cloudinitdisk", str(iso), format="raw", readonly=True),
               "datadisk": DiskSource("datadisk", str(data), format="raw")}
    vmi = kernel_boot_vmi(vmi_name, guest, volumes, disks)
    dom, console = start(libvirt_host, vmi, guest, sources)
    try:
        assert console.wait_for(b"GUEST-BOOT-OK", BOOT_TIMEOUT) is not None, console.output()[-800:]
        out = console.output()
        assert b"USERDATA-RAN-42" in out and b"CLOUD-INIT-DONE /dev/vda" in out, out[-800:]
        assert console.wait_for(b"guest# ", 10) is not None
        mark = console.offset
        console.write(b"echo DATA-MARKER-7 | dd of=/dev/vdb conv=fsync 2>/dev/null; echo WROTE-$((1+1))\n")
        assert console.wait_for(b"WROTE-2", 10, since=mark) is not None, console.output()[-300:]
    finally:
        console.close()
        libvirt_host.destroy(dom.name)
    assert data.read_bytes().startswith(b"DATA-MARKER-7\n")
    dom, console = start(libvirt_host, vmi, guest, sources)  # a fresh QEMU on the same disk
    try:
        assert console.wait_for(b"guest# ", BOOT_TIMEOUT) is not None, console.output()[-500:]
        mark = console.offset
        console.write(b"dd if=/dev/vdb bs=14 count=1 2>/dev/null; echo\n")
        assert console.wait_for(b"DATA-MARKER-7", 10, since=mark + 10) is not None, console.output()[-300:]
    finally:
        console.close()
        libvirt_host.destroy(dom.name)


@pytest.mark.parametrize("golden", sorted(p.name for p in GOLDEN.glob("*.xml")))
def test_golden_xml_is_accepted_by_this_libvirt(libvirt_host, golden):
    import libvirt
    root = ET.parse(GOLDEN / golden).getroot()
    root.find("name").text = f"{DOMAIN_PREFIX}_validate-{Path(golden).stem}"
    conn = libvirt_host.conn()
    dom = conn.defineXMLFlags(ET.tostring(root, encoding="unicode"), libvirt.VIR_DOMAIN_DEFINE_VALIDATE)
    dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)


def test_console_survives_a_qemu_restart_by_snapshot_revert(libvirt_host, guest, vmi_name, tmp_path):
    """Reverting to a snapshot restarts QEMU and ends the libvirt console stream; the console
    re-opens it, so an attached client keeps its session and the ring keeps recording."""
    import libvirt

    disk = tmp_path / "state.qcow2"                    # internal snapshots need every disk in qcow2
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "16M"], check=True)
    vmi = kernel_boot_vmi(vmi_name, guest, volumes=[{"name": "state", "emptyDisk": {"capacity": "16Mi"}}],
                          disks=[{"name": "state", "disk": {"bus": "virtio"}}])
    dom, console = start(libvirt_host, vmi, guest, {"state": DiskSource("state", str(disk), "qcow2")})
    seen = bytearray()
    attachment = console.attach(seen.extend)
    try:
        assert console.wait_for(b"guest# ", BOOT_TIMEOUT) is not None, console.output()[-500:]
        conn = libvirt.open(libvirt_host.uri)
        try:
            d = conn.lookupByName(libvirt_host.libvirt_name(dom.name))
            snap = d.snapshotCreateXML("<domainsnapshot><name>before</name></domainsnapshot>", 0)
            mark = console.offset
            attachment.write(b"echo after-snapshot-$((2+3))\n")
            assert console.wait_for(b"after-snapshot-5", 10, since=mark) is not None
            reopens = console.reopens
            d.revertToSnapshot(snap, 0)                    # QEMU restarts: the stream hits EOF
            deadline = time.monotonic() + 30
            while console.reopens == reopens and time.monotonic() < deadline:
                time.sleep(0.1)
            assert console.reopens > reopens, "the console did not re-open after the revert"
            mark = console.offset
            for _ in range(20):                            # the restored guest answers once it runs again
                attachment.write(b"echo back-$((4+4))\n")
                if console.wait_for(b"back-8", 1, since=mark) is not None:
                    break
            else:
                raise AssertionError(console.output()[-500:])
            assert b"back-8" in bytes(seen), "the attached client lost the session"
            snap.delete(0)
        finally:
            conn.close()
    finally:
        console.close()
        libvirt_host.destroy(dom.name)
