"""A small model of a libvirt domain: what the converter fills in and ``to_xml()`` writes.

XML is built and read with ElementTree only, so no value can change the document's structure.
Only what standalone mode uses is modelled; :func:`parse_live` reads back the few facts we need
from a running domain's XML (owner metadata, disks, console pty, VNC socket, MACs).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

METADATA_NS = "http://kubevirt.io/virtctl-python/1"
METADATA_PREFIX = "virtctl"
GUEST_AGENT_CHANNEL = "org.qemu.guest_agent.0"
ET.register_namespace(METADATA_PREFIX, METADATA_NS)

_DOMAIN_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?_[a-z0-9]([-a-z0-9.]*[a-z0-9])?$|^[a-z0-9][-a-z0-9]*$")
_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_MAC_RE = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")
_TARGET_RE = re.compile(r"^(vd|sd|hd)[a-z]{1,2}$")


def _q(tag: str) -> str:
    return f"{{{METADATA_NS}}}{tag}"


@dataclass(frozen=True)
class Owner:
    """The VMI a domain belongs to (stored in ``<metadata>`` so a restarted controller re-adopts it)."""

    namespace: str
    name: str
    uid: str = ""
    controller: str = ""         # the controller (state dir) that runs it; others leave it alone


@dataclass
class CPU:
    sockets: int = 1
    cores: int = 1
    threads: int = 1
    mode: str = ""               # "" (hypervisor default) | host-model | host-passthrough | custom
    model: str = ""              # with mode custom

    @property
    def vcpus(self) -> int:
        return self.sockets * self.cores * self.threads


@dataclass
class OS:
    arch: str = "x86_64"
    machine: str = "q35"
    loader: str = ""             # EFI code (pflash); "" = SeaBIOS
    loader_secure: bool = False
    nvram_template: str = ""
    kernel: str = ""
    initrd: str = ""
    cmdline: str = ""


@dataclass
class Features:
    acpi: bool = True            # needed for ACPI shutdown/reboot
    apic: bool = False
    smm: bool | None = None      # None: not written
    hyperv: dict[str, str] = field(default_factory=dict)   # name -> state "on", or spinlocks retries


@dataclass
class Timer:
    name: str                    # hpet | pit | rtc | hypervclock | kvmclock
    present: bool | None = None
    tickpolicy: str = ""


@dataclass
class Clock:
    offset: str = "utc"          # utc | timezone | variable (adjustment)
    timezone: str = ""
    adjustment: int | None = None
    timers: list[Timer] = field(default_factory=list)


@dataclass
class Disk:
    path: str
    target: str                  # vda, sda, …
    bus: str = "virtio"          # virtio | sata | scsi | usb
    device: str = "disk"         # disk | cdrom
    format: str = "qcow2"        # qcow2 | raw
    readonly: bool = False
    shareable: bool = False
    cache: str = ""              # none | writethrough | writeback
    io: str = ""                 # native | threads
    boot_order: int | None = None
    serial: str = ""
    alias: str = ""              # ua-<volume>: the VMI volume name, for mapping back


@dataclass(frozen=True)
class PortForward:
    protocol: str                # tcp | udp
    port: int                    # guest port
    host_port: int               # host port (on 127.0.0.1)


@dataclass
class Interface:
    model: str = "virtio"
    mac: str = ""
    backend: str = ""            # "" (slirp) | passt
    port_forwards: list[PortForward] = field(default_factory=list)
    boot_order: int | None = None
    alias: str = ""              # ua-<interface name>


@dataclass
class Watchdog:
    model: str = "i6300esb"
    action: str = "reset"        # reset | shutdown | poweroff | …


@dataclass
class Domain:
    name: str
    uuid: str
    owner: Owner | None = None
    type: str = "qemu"           # qemu (TCG) | kvm | test
    memory_kib: int = 131072
    cpu: CPU = field(default_factory=CPU)
    os: OS = field(default_factory=OS)
    features: Features = field(default_factory=Features)
    clock: Clock = field(default_factory=Clock)
    sysinfo: dict[str, str] = field(default_factory=dict)   # SMBIOS system entries
    on_poweroff: str = "destroy"
    on_reboot: str = "restart"
    on_crash: str = "destroy"
    disks: list[Disk] = field(default_factory=list)
    interfaces: list[Interface] = field(default_factory=list)
    serial_console: bool = True
    vnc: bool = True             # VNC on a unix socket (reached with openGraphicsFD), never TCP
    video_model: str = "vga"
    rng: bool = False
    tablet_bus: str = ""         # "" (none) | usb | virtio
    watchdog: Watchdog | None = None
    scsi_controller: bool = False
    pcie_root_ports: int = 0     # q35: root ports for the devices at start and spares for hotplug
    guest_agent: bool = True     # the org.qemu.guest_agent.0 virtio-serial channel (KubeVirt always adds it)

    def validate(self) -> None:
        """Reject values that must never reach XML (names and paths are checked, not escaped)."""
        if not _DOMAIN_NAME_RE.match(self.name) or len(self.name) > 253:
            raise ValueError(f"invalid domain name {self.name!r}")
        if not _UUID_RE.match(self.uuid):
            raise ValueError(f"invalid domain uuid {self.uuid!r}")
        for d in self.disks:
            if not d.path.startswith("/") or "\x00" in d.path:
                raise ValueError(f"disk path must be absolute: {d.path!r}")
            if not _TARGET_RE.match(d.target):
                raise ValueError(f"invalid disk target {d.target!r}")
        for i in self.interfaces:
            if i.mac and not _MAC_RE.match(i.mac):
                raise ValueError(f"invalid MAC address {i.mac!r}")
        for p in (self.os.kernel, self.os.initrd, self.os.loader, self.os.nvram_template):
            if p and not p.startswith("/"):
                raise ValueError(f"firmware/kernel path must be absolute: {p!r}")

    def to_xml(self) -> str:
        self.validate()
        root = ET.Element("domain", type=self.type)
        ET.SubElement(root, "name").text = self.name
        ET.SubElement(root, "uuid").text = self.uuid
        if self.owner is not None:
            md = ET.SubElement(root, "metadata")
            vmi = ET.SubElement(md, _q("vmi"))
            ET.SubElement(vmi, _q("namespace")).text = self.owner.namespace
            ET.SubElement(vmi, _q("name")).text = self.owner.name
            ET.SubElement(vmi, _q("uid")).text = self.owner.uid
            if self.owner.controller:
                ET.SubElement(vmi, _q("controller")).text = self.owner.controller
        ET.SubElement(root, "memory", unit="KiB").text = str(self.memory_kib)
        ET.SubElement(root, "currentMemory", unit="KiB").text = str(self.memory_kib)
        ET.SubElement(root, "vcpu", placement="static").text = str(self.cpu.vcpus)
        if self.sysinfo:
            si = ET.SubElement(root, "sysinfo", type="smbios")
            system = ET.SubElement(si, "system")
            for key, value in self.sysinfo.items():
                ET.SubElement(system, "entry", name=key).text = value
        self._os_xml(root)
        self._features_xml(root)
        self._cpu_xml(root)
        self._clock_xml(root)
        ET.SubElement(root, "on_poweroff").text = self.on_poweroff
        ET.SubElement(root, "on_reboot").text = self.on_reboot
        ET.SubElement(root, "on_crash").text = self.on_crash
        self._devices_xml(root)
        ET.indent(root, space="  ")
        return ET.tostring(root, encoding="unicode") + "\n"

    # --- sections ---
    def _os_xml(self, root: ET.Element) -> None:
        os_el = ET.SubElement(root, "os")
        ET.SubElement(os_el, "type", arch=self.os.arch, machine=self.os.machine).text = "hvm"
        if self.os.loader:
            attrs = {"readonly": "yes", "type": "pflash"}
            if self.os.loader_secure:
                attrs["secure"] = "yes"
            ET.SubElement(os_el, "loader", attrs).text = self.os.loader
            if self.os.nvram_template:
                ET.SubElement(os_el, "nvram", template=self.os.nvram_template)
        if self.os.kernel:
            ET.SubElement(os_el, "kernel").text = self.os.kernel
        if self.os.initrd:
            ET.SubElement(os_el, "initrd").text = self.os.initrd
        if self.os.cmdline:
            ET.SubElement(os_el, "cmdline").text = self.os.cmdline
        if self.sysinfo:
            ET.SubElement(os_el, "smbios", mode="sysinfo")

    def _features_xml(self, root: ET.Element) -> None:
        f = self.features
        if not (f.acpi or f.apic or f.smm is not None or f.hyperv):
            return
        el = ET.SubElement(root, "features")
        if f.acpi:
            ET.SubElement(el, "acpi")
        if f.apic:
            ET.SubElement(el, "apic")
        if f.hyperv:
            hv = ET.SubElement(el, "hyperv", mode="custom")
            for name, value in f.hyperv.items():
                if name == "spinlocks":
                    ET.SubElement(hv, name, state="on", retries=value)
                elif name == "vendor_id":
                    ET.SubElement(hv, name, state="on", value=value)
                else:
                    ET.SubElement(hv, name, state=value)
        if f.smm is not None:
            ET.SubElement(el, "smm", state="on" if f.smm else "off")

    def _cpu_xml(self, root: ET.Element) -> None:
        attrs = {"mode": self.cpu.mode} if self.cpu.mode else {}
        if self.cpu.mode == "custom":
            attrs["match"] = "exact"
        el = ET.SubElement(root, "cpu", attrs)
        if self.cpu.mode == "custom" and self.cpu.model:
            ET.SubElement(el, "model", fallback="forbid").text = self.cpu.model
        ET.SubElement(el, "topology", sockets=str(self.cpu.sockets), dies="1",
                      cores=str(self.cpu.cores), threads=str(self.cpu.threads))

    def _clock_xml(self, root: ET.Element) -> None:
        attrs = {"offset": self.clock.offset}
        if self.clock.offset == "timezone":
            attrs["timezone"] = self.clock.timezone
        if self.clock.adjustment is not None:
            attrs["adjustment"] = str(self.clock.adjustment)
            attrs["basis"] = "utc"
        el = ET.SubElement(root, "clock", attrs)
        for t in self.clock.timers:
            tattrs = {"name": t.name}
            if t.tickpolicy:
                tattrs["tickpolicy"] = t.tickpolicy
            if t.present is not None:
                tattrs["present"] = "yes" if t.present else "no"
            ET.SubElement(el, "timer", tattrs)

    def _devices_xml(self, root: ET.Element) -> None:
        dev = ET.SubElement(root, "devices")
        for d in self.disks:
            dev.append(disk_element(d))
        if self.scsi_controller:
            ET.SubElement(dev, "controller", type="scsi", index="0", model="virtio-scsi")
        if self.pcie_root_ports:
            # libvirt wants the root complex named before any port it finds in the XML
            ET.SubElement(dev, "controller", type="pci", index="0", model="pcie-root")
        for _ in range(self.pcie_root_ports):
            ET.SubElement(dev, "controller", type="pci", model="pcie-root-port")
        for i in self.interfaces:
            el = ET.SubElement(dev, "interface", type="user")
            if i.mac:
                ET.SubElement(el, "mac", address=i.mac)
            ET.SubElement(el, "model", type=i.model)
            if i.backend:
                ET.SubElement(el, "backend", type=i.backend)
            by_proto: dict[str, list[PortForward]] = {}
            for p in i.port_forwards if i.backend == "passt" else []:   # slirp: added at run time
                by_proto.setdefault(p.protocol, []).append(p)
            for proto, forwards in by_proto.items():
                pf = ET.SubElement(el, "portForward", proto=proto, address="127.0.0.1")
                for p in forwards:
                    ET.SubElement(pf, "range", start=str(p.host_port), to=str(p.port))
            if i.boot_order is not None:
                ET.SubElement(el, "boot", order=str(i.boot_order))
            if i.alias:
                ET.SubElement(el, "alias", name=i.alias)
        if self.serial_console:
            serial = ET.SubElement(dev, "serial", type="pty")
            ET.SubElement(serial, "target", port="0")
            console = ET.SubElement(dev, "console", type="pty")
            ET.SubElement(console, "target", type="serial", port="0")
        if self.tablet_bus:
            ET.SubElement(dev, "input", type="tablet", bus=self.tablet_bus)
        if self.vnc:
            g = ET.SubElement(dev, "graphics", type="vnc")
            ET.SubElement(g, "listen", type="socket")
            video = ET.SubElement(dev, "video")
            ET.SubElement(video, "model", type=self.video_model)
        if self.watchdog is not None:
            ET.SubElement(dev, "watchdog", model=self.watchdog.model, action=self.watchdog.action)
        if self.guest_agent:
            channel = ET.SubElement(dev, "channel", type="unix")
            ET.SubElement(channel, "target", type="virtio", name=GUEST_AGENT_CHANNEL)
        if self.rng:
            rng = ET.SubElement(dev, "rng", model="virtio")
            ET.SubElement(rng, "backend", model="random").text = "/dev/urandom"
        ET.SubElement(dev, "memballoon", model="none")


def disk_element(d: Disk) -> ET.Element:
    """The ``<disk>`` element of ``d`` (in a domain, or alone for a hotplug)."""
    if not d.path.startswith("/") or "\x00" in d.path:
        raise ValueError(f"disk path must be absolute: {d.path!r}")
    if not _TARGET_RE.match(d.target):
        raise ValueError(f"invalid disk target {d.target!r}")
    el = ET.Element("disk", type="file", device=d.device)
    drv = {"name": "qemu", "type": d.format}
    if d.cache:
        drv["cache"] = d.cache
    if d.io:
        drv["io"] = d.io
    ET.SubElement(el, "driver", drv)
    ET.SubElement(el, "source", file=d.path)
    ET.SubElement(el, "target", dev=d.target, bus=d.bus)
    if d.readonly:
        ET.SubElement(el, "readonly")
    if d.shareable:
        ET.SubElement(el, "shareable")
    if d.serial:
        ET.SubElement(el, "serial").text = d.serial
    if d.boot_order is not None:
        ET.SubElement(el, "boot", order=str(d.boot_order))
    if d.alias:
        ET.SubElement(el, "alias", name=d.alias)
    return el


def disk_xml(d: Disk) -> str:
    """``<disk>`` alone: what libvirt's attachDeviceFlags takes."""
    return ET.tostring(disk_element(d), encoding="unicode")


def live_disk_xml(domain_xml: str, alias: str) -> str | None:
    """The ``<disk>`` element with ``alias`` of a live domain's XML (what detachDeviceFlags takes)."""
    root = ET.fromstring(domain_xml)
    for d in root.findall("devices/disk"):
        if _child_attr(d, "alias", "name") == alias:
            return ET.tostring(d, encoding="unicode")
    return None


def backup_xml(targets: dict[str, str], disks: list[str]) -> str:
    """A push-mode ``<domainbackup>``: each of ``disks`` (guest targets) copied to the qcow2 file
    ``targets`` names, the others left out."""
    root = ET.Element("domainbackup")
    el = ET.SubElement(root, "disks")
    for target in disks:
        if not _TARGET_RE.match(target):
            raise ValueError(f"invalid disk target {target!r}")
        if target not in targets:
            ET.SubElement(el, "disk", name=target, backup="no")
            continue
        path = targets[target]
        if not path.startswith("/") or "\x00" in path:
            raise ValueError(f"backup path must be absolute: {path!r}")
        d = ET.SubElement(el, "disk", name=target, backup="yes", type="file")
        ET.SubElement(d, "target", file=path)
        ET.SubElement(d, "driver", type="qcow2")
    return ET.tostring(root, encoding="unicode")


# --- reading live XML back ---

@dataclass(frozen=True)
class LiveDisk:
    target: str
    path: str
    device: str
    alias: str


@dataclass(frozen=True)
class LiveDomain:
    """What we read back from a defined/running domain's XML."""

    name: str
    uuid: str
    type: str
    owner: Owner | None
    memory_kib: int
    vcpus: int
    disks: tuple[LiveDisk, ...]
    macs: tuple[str, ...]
    serial_pty: str              # /dev/pts/N while running, else ""
    vnc_socket: str              # VNC unix socket path while running, else ""
    nics: tuple[tuple[str, str], ...] = ()   # (alias, MAC) of each user-mode NIC, in order


def parse_owner(root: ET.Element) -> Owner | None:
    """The owner from a whole domain document."""
    vmi = root.find(f"metadata/{_q('vmi')}")
    return _owner_from_element(vmi) if vmi is not None else None


def owner_from_metadata(xml: str) -> Owner | None:
    """The owner from our metadata element alone (what ``virDomainGetMetadata`` returns)."""
    try:
        el = ET.fromstring(xml)
    except ET.ParseError:
        return None
    # libvirt hands the element back without its namespace (the URI was the lookup key)
    if el.tag == _q("vmi"):
        return _owner_from_element(el)
    return _owner_from_element(el, qualified=False) if el.tag == "vmi" else None


def _owner_from_element(vmi: ET.Element, qualified: bool = True) -> Owner | None:
    tag = _q if qualified else (lambda t: t)
    ns, name = vmi.findtext(tag("namespace"), ""), vmi.findtext(tag("name"), "")
    if not ns or not name:
        return None
    return Owner(ns, name, vmi.findtext(tag("uid"), ""), vmi.findtext(tag("controller"), ""))


def _child_attr(el: ET.Element, path: str, *names: str) -> str:
    """The first non-empty of ``names`` on the child at ``path``; "" when there is none."""
    child = el.find(path)
    if child is None:
        return ""
    return next((v for v in (child.get(n) for n in names) if v), "")


def parse_live(xml: str) -> LiveDomain:
    root = ET.fromstring(xml)
    disks = tuple(
        LiveDisk(target=_child_attr(d, "target", "dev"),
                 path=_child_attr(d, "source", "file", "dev"),
                 device=d.get("device", "disk"),
                 alias=_child_attr(d, "alias", "name"))
        for d in root.findall("devices/disk"))
    macs = tuple(m.get("address", "") for m in root.findall("devices/interface/mac"))
    serial_src = root.find("devices/serial/source")
    vnc_listen = root.find("devices/graphics[@type='vnc']/listen[@type='socket']")
    mem = root.find("memory")
    mem_kib = int(mem.text or 0) * {"KiB": 1, "MiB": 1024, "GiB": 1024 ** 2}.get(mem.get("unit", "KiB"), 1) \
        if mem is not None else 0
    return LiveDomain(
        name=root.findtext("name", ""),
        uuid=root.findtext("uuid", ""),
        type=root.get("type", ""),
        owner=parse_owner(root),
        memory_kib=mem_kib,
        vcpus=int(root.findtext("vcpu", "0") or 0),
        disks=disks,
        macs=macs,
        serial_pty=serial_src.get("path", "") if serial_src is not None else "",
        vnc_socket=vnc_listen.get("socket", "") if vnc_listen is not None else "",
        nics=tuple((_child_attr(i, "alias", "name"), _child_attr(i, "mac", "address"))
                   for i in root.findall("devices/interface[@type='user']")),
    )
