"""The domain model: XML shape, refusal of unsafe values, reading live XML back."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from virtctl.controller.virt.domain import (
    METADATA_NS, Disk, Domain, Interface, Owner, owner_from_metadata, parse_live,
)

UUID = "6c696276-6972-7431-0000-0000000000aa"


def test_xml_has_our_metadata_and_devices():
    dom = Domain(name="ns_vm", uuid=UUID, owner=Owner("ns", "vm", "uid-1"),
                 disks=[Disk(path="/d/a.qcow2", target="vda", readonly=True, boot_order=1)],
                 interfaces=[Interface(mac="52:54:00:00:00:01")])
    root = ET.fromstring(dom.to_xml())
    assert root.get("type") == "qemu"
    assert root.findtext(f"metadata/{{{METADATA_NS}}}vmi/{{{METADATA_NS}}}uid") == "uid-1"
    assert root.find("devices/disk/readonly") is not None
    assert root.find("devices/disk/boot").get("order") == "1"
    assert root.find("devices/graphics/listen").get("type") == "socket"      # never TCP
    assert root.find("devices/memballoon").get("model") == "none"
    assert root.find("devices/console/target").get("type") == "serial"
    assert root.find("features/acpi") is not None                           # ACPI shutdown works


def test_special_characters_are_data_not_markup():
    dom = Domain(name="ns_vm", uuid=UUID, disks=[Disk(path="/d/<x>&'\".qcow2", target="vda")])
    dom.os.cmdline = "console=ttyS0 a=</cmdline><evil/>"
    root = ET.fromstring(dom.to_xml())
    assert root.find("devices/disk/source").get("file") == "/d/<x>&'\".qcow2"
    assert root.findtext("os/cmdline") == "console=ttyS0 a=</cmdline><evil/>"
    assert root.find("os/evil") is None


@pytest.mark.parametrize("change,error", [
    (lambda d: setattr(d, "name", "bad name"), "invalid domain name"),
    (lambda d: setattr(d, "uuid", "nope"), "invalid domain uuid"),
    (lambda d: d.disks.append(Disk(path="relative.qcow2", target="vda")), "disk path must be absolute"),
    (lambda d: d.disks.append(Disk(path="/a", target="xvda")), "invalid disk target"),
    (lambda d: d.interfaces.append(Interface(mac="zz")), "invalid MAC address"),
    (lambda d: setattr(d.os, "kernel", "vmlinuz"), "firmware/kernel path must be absolute"),
])
def test_refuses_unsafe_values(change, error):
    dom = Domain(name="ns_vm", uuid=UUID)
    change(dom)
    with pytest.raises(ValueError, match=error):
        dom.to_xml()


def test_parse_live_xml():
    live_xml = f"""<domain type='qemu' id='7'>
  <name>ns_vm</name><uuid>{UUID}</uuid>
  <metadata><virtctl:vmi xmlns:virtctl="{METADATA_NS}"><virtctl:namespace>ns</virtctl:namespace>
    <virtctl:name>vm</virtctl:name><virtctl:uid>u</virtctl:uid></virtctl:vmi></metadata>
  <memory unit='KiB'>262144</memory><vcpu placement='static'>2</vcpu>
  <devices>
    <disk type='file' device='disk'><source file='/d/a.qcow2'/><target dev='vda' bus='virtio'/>
      <alias name='ua-a'/></disk>
    <interface type='user'><mac address='52:54:00:12:34:56'/></interface>
    <serial type='pty'><source path='/dev/pts/3'/></serial>
    <graphics type='vnc'><listen type='socket' socket='/var/lib/libvirt/qemu/domain-7-ns_vm/vnc.sock'/></graphics>
  </devices></domain>"""
    live = parse_live(live_xml)
    assert (live.name, live.uuid, live.owner, live.memory_kib, live.vcpus) == \
        ("ns_vm", UUID, Owner("ns", "vm", "u"), 262144, 2)
    assert live.disks[0].target == "vda" and live.disks[0].alias == "ua-a"
    assert live.macs == ("52:54:00:12:34:56",)
    assert live.serial_pty == "/dev/pts/3"
    assert live.vnc_socket.endswith("vnc.sock")


def test_owner_from_metadata_as_libvirt_returns_it():
    assert owner_from_metadata("<vmi><namespace>a</namespace><name>b</name><uid>c</uid></vmi>") == Owner("a", "b", "c")
    assert owner_from_metadata("<other/>") is None
    assert owner_from_metadata("not xml") is None
