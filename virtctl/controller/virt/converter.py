"""VMI spec → :class:`Domain`, following KubeVirt's defaulting and conversion rules.

Everything a VMI asks for either becomes part of the domain or is rejected with
:class:`virtctl.errors.Invalid` naming the field; nothing is dropped silently. Fields that only
steer scheduling in a cluster (nodeSelector, affinity, tolerations, …) change nothing on one node
and are accepted. Volumes arrive already prepared as :class:`DiskSource` files (another module's
job); kernel boot files as :class:`KernelBootFiles`.
"""

from __future__ import annotations

import re
import uuid as uuidlib
from dataclasses import dataclass, field
from typing import Any

from virtctl.controller.storage.sources import DiskSource, KernelBootFiles
from virtctl.controller.virt.domain import (
    CPU,
    OS,
    Clock,
    Disk,
    Domain,
    Features,
    Interface,
    Owner,
    PortForward,
    Timer,
    Watchdog,
)
from virtctl.controller.virt.host import HostInfo, valid_machine_name
from virtctl.controller.virt.hypervisor import domain_name
from virtctl.errors import Invalid, field_invalid
from virtctl.model import quantity
from virtctl.model.names import is_label, is_subdomain

HOOK_SIDECARS_ANNOTATION = "hooks.kubevirt.io/hookSidecars"
_UUID_NS = uuidlib.UUID("6c696276-6972-7463-746c-707974686f6e")   # fixed: same VMI → same domain UUID

# --- quantities ---

def parse_quantity(value: Any, field_path: str) -> int:
    """Bytes in a Kubernetes quantity such as ``512Mi``, ``1Gi``, ``1G``, ``64M`` or ``1048576`` (rounded up)."""
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    try:
        size = quantity.to_int(text)
    except ValueError:
        raise field_invalid(field_path, f"{quantity.QUANTITY_ERROR} (got {value!r})") from None
    if size < 0:
        raise field_invalid(field_path, f"must be greater than or equal to 0 (got {value!r})")
    return size


# --- errors ---

def _unsupported(field_path: str, what: str) -> Invalid:
    return field_invalid(field_path, f"{what} is not supported in standalone mode")


# --- the conversion ---

@dataclass
class _Ctx:
    vmi: dict
    spec: dict
    host: HostInfo
    disks: dict[str, DiskSource]
    kernel_boot: KernelBootFiles | None
    targets: dict[str, int] = field(default_factory=dict)   # target prefix → next index


def vmi_to_domain(vmi: dict, *, host: HostInfo, disks: dict[str, DiskSource],
                  kernel_boot: KernelBootFiles | None) -> Domain:
    """The libvirt domain for ``vmi`` on ``host``; raises :class:`Invalid` naming the bad field."""
    meta = vmi.get("metadata") or {}
    spec = vmi.get("spec")
    if not isinstance(spec, dict) or not isinstance(spec.get("domain"), dict):
        raise field_invalid("spec.domain", "Required value")
    namespace = meta.get("namespace") or "default"
    name = meta.get("name") or ""
    if not is_label(namespace):
        raise field_invalid("metadata.namespace", f"invalid namespace {namespace!r}")
    if not is_subdomain(name):
        raise field_invalid("metadata.name", f"invalid name {name!r}")
    ctx = _Ctx(vmi, spec, host, disks, kernel_boot)
    _reject_unsupported(ctx)
    dom_spec = spec["domain"]
    devices = dom_spec.get("devices") or {}

    firmware = dom_spec.get("firmware") or {}
    dom = Domain(
        name=domain_name(namespace, name),
        uuid=_domain_uuid(firmware, meta, namespace, name),
        owner=Owner(namespace, name, str(meta.get("uid") or "")),
        type=host.domain_type,
        memory_kib=_memory_kib(dom_spec),
        cpu=_cpu(dom_spec.get("cpu") or {}, host),
        os=_os(ctx, firmware, dom_spec.get("machine") or {}),
        features=_features(dom_spec.get("features") or {}),
        clock=_clock(dom_spec.get("clock") or {}),
    )
    dom.sysinfo = _sysinfo(dom.uuid, firmware)
    efi = (firmware.get("bootloader") or {}).get("efi")
    if isinstance(efi, dict) and efi.get("secureBoot", True) and dom.features.smm is None:
        dom.features.smm = True     # KubeVirt turns SMM on for Secure Boot (OVMF needs it)
    dom.disks = _disks(ctx, devices)
    dom.interfaces = _interfaces(ctx, devices)
    hotplug = devices.get("disableHotplug") is not True
    dom.scsi_controller = hotplug or any(d.bus == "scsi" for d in dom.disks)
    if hotplug and "q35" in dom.os.machine:
        # on PCIe every virtio disk needs a root port of its own: the ones the devices at start
        # take (counted generously), plus spares for disks added while running
        dom.pcie_root_ports = len(dom.disks) + len(dom.interfaces) + PCI_CONTROLLERS + HOTPLUG_SPARE_PORTS
    dom.serial_console = devices.get("autoattachSerialConsole", True) is not False
    dom.vnc = devices.get("autoattachGraphicsDevice", True) is not False
    dom.rng = isinstance(devices.get("rng"), dict)
    dom.tablet_bus = _tablet(devices)
    dom.watchdog = _watchdog(devices.get("watchdog"))
    return dom


# --- rejections: fields that cannot work on one node ---

_SPEC_UNSUPPORTED = {
    "resourceClaims": "dynamic resource allocation (DRA)",
    "livenessProbe": "a liveness probe",
    "readinessProbe": "a readiness probe",
    "dnsConfig": "a custom DNS configuration",
    "utilityVolumes": "utility volumes",
}
_DOMAIN_UNSUPPORTED = {
    "launchSecurity": "confidential computing (launchSecurity: SEV/SNP/TDX)",
    "chassis": "SMBIOS chassis information",
}
_DEVICES_UNSUPPORTED = {
    "gpus": "GPU passthrough",
    "hostDevices": "host device passthrough",
    "filesystems": "virtiofs filesystems",
    "sound": "a sound device",
    "clientPassthrough": "USB client passthrough",
    "downwardMetrics": "downward metrics",
    "panicDevices": "panic devices",
}
_UNSUPPORTED_BINDINGS = {
    "sriov": "SR-IOV", "macvtap": "a macvtap binding", "vhostuser": "a vhost-user binding",
    "vdpa": "a vDPA binding", "binding": "a network binding plugin",
}
_DEVICES_ACCEPTED = {
    "disks", "interfaces", "rng", "autoattachSerialConsole", "autoattachGraphicsDevice",
    "autoattachMemBalloon", "autoattachPodInterface", "autoattachInputDevice", "autoattachVSOCK",
    "inputs", "watchdog", "tpm", "networkInterfaceMultiqueue", "blockMultiQueue", "useVirtioTransitional",
    "disableHotplug", "logSerialConsole", "serials",
}
_DEVICES_ACCEPTED.update(_DEVICES_UNSUPPORTED)


def _reject_unsupported(ctx: _Ctx) -> None:
    spec, meta = ctx.spec, ctx.vmi.get("metadata") or {}
    if HOOK_SIDECARS_ANNOTATION in (meta.get("annotations") or {}):
        raise field_invalid(f"metadata.annotations[{HOOK_SIDECARS_ANNOTATION}]",
                       "hook sidecars are not supported in standalone mode")
    arch = spec.get("architecture")
    if arch not in (None, "", "amd64"):
        raise field_invalid("spec.architecture", f"architecture {arch!r} is not supported in standalone mode "
                                            f"(this host runs amd64 guests only)")
    for key, what in _SPEC_UNSUPPORTED.items():
        if spec.get(key):
            raise _unsupported(f"spec.{key}", what)
    dom_spec = spec["domain"]
    for key, what in _DOMAIN_UNSUPPORTED.items():
        if dom_spec.get(key):
            raise _unsupported(f"spec.domain.{key}", what)
    devices = dom_spec.get("devices") or {}
    for key, what in _DEVICES_UNSUPPORTED.items():
        if devices.get(key):
            raise _unsupported(f"spec.domain.devices.{key}", what)
    for key in devices:
        if key not in _DEVICES_ACCEPTED:
            raise _unsupported(f"spec.domain.devices.{key}", f"the device {key!r}")
    if devices.get("autoattachVSOCK"):
        raise _unsupported("spec.domain.devices.autoattachVSOCK", "VSOCK")
    tpm = devices.get("tpm")
    if isinstance(tpm, dict) and tpm.get("enabled", True) is not False:
        reason = "swtpm, which is not installed on this host" if not ctx.host.swtpm else \
            "swtpm state management, which standalone mode does not do yet"
        raise field_invalid("spec.domain.devices.tpm", f"an emulated TPM needs {reason}")
    cpu = dom_spec.get("cpu") or {}
    for key, what in (("dedicatedCpuPlacement", "dedicated CPU placement"),
                      ("isolateEmulatorThread", "emulator thread isolation"),
                      ("realtime", "realtime vCPUs")):
        if cpu.get(key):
            raise _unsupported(f"spec.domain.cpu.{key}", what)
    if (cpu.get("numa") or {}).get("guestMappingPassthrough") is not None:
        raise _unsupported("spec.domain.cpu.numa.guestMappingPassthrough", "NUMA guest mapping passthrough")
    if (dom_spec.get("memory") or {}).get("hugepages"):
        raise _unsupported("spec.domain.memory.hugepages", "hugepages")
    for i, iface in enumerate(devices.get("interfaces") or []):
        for binding, what in _UNSUPPORTED_BINDINGS.items():
            if binding in iface:
                raise _unsupported(f"spec.domain.devices.interfaces[{i}].{binding}", what)
    for i, net in enumerate(spec.get("networks") or []):
        if "multus" in net:
            raise _unsupported(f"spec.networks[{i}].multus", "a Multus network")
        if "pod" not in net:
            raise field_invalid(f"spec.networks[{i}]", "only the pod network is supported in standalone mode")


# --- identity ---

def _domain_uuid(firmware: dict, meta: dict, namespace: str, name: str) -> str:
    fw_uuid = firmware.get("uuid")
    if fw_uuid:
        try:
            return str(uuidlib.UUID(str(fw_uuid)))
        except ValueError:
            raise field_invalid("spec.domain.firmware.uuid", f"invalid UUID {fw_uuid!r}") from None
    return str(uuidlib.uuid5(_UUID_NS, f"{namespace}/{name}"))


def _sysinfo(dom_uuid: str, firmware: dict) -> dict[str, str]:
    info = {"manufacturer": "KubeVirt", "product": "None", "uuid": dom_uuid, "family": "KubeVirt"}
    serial = firmware.get("serial")
    if serial:
        info["serial"] = str(serial)
    return info


# --- memory / cpu ---

def _memory_kib(dom_spec: dict) -> int:
    """KubeVirt: memory.guest, else resources.requests.memory, else resources.limits.memory."""
    resources = dom_spec.get("resources") or {}
    for path, value in (("spec.domain.memory.guest", (dom_spec.get("memory") or {}).get("guest")),
                        ("spec.domain.resources.requests.memory", (resources.get("requests") or {}).get("memory")),
                        ("spec.domain.resources.limits.memory", (resources.get("limits") or {}).get("memory"))):
        if value is not None:
            size = parse_quantity(value, path)
            if size < 2 ** 20:
                raise field_invalid(path, f"memory {value} is less than the minimum of 1Mi")
            mib = -(-size // 2 ** 20)        # QEMU sizes guest RAM in whole MiB: round up
            return mib * 1024
    raise field_invalid("spec.domain.memory.guest",
                   "no memory requested, at least one of 'spec.domain.memory.guest', "
                   "'spec.domain.resources.requests.memory' or 'spec.domain.resources.limits.memory' must be set")


def _positive_int(value: Any, field_path: str) -> int:
    if value is None:
        return 1
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise field_invalid(field_path, f"must be a positive integer (got {value!r})")
    return value


def _cpu(cpu: dict, host: HostInfo) -> CPU:
    out = CPU(sockets=_positive_int(cpu.get("sockets"), "spec.domain.cpu.sockets"),
              cores=_positive_int(cpu.get("cores"), "spec.domain.cpu.cores"),
              threads=_positive_int(cpu.get("threads"), "spec.domain.cpu.threads"))
    if out.vcpus > 255:
        raise field_invalid("spec.domain.cpu", f"{out.vcpus} vCPUs exceed the maximum of 255")
    model = cpu.get("model") or ""
    if cpu.get("features"):
        raise _unsupported("spec.domain.cpu.features", "CPU feature policies")
    if model == "host-passthrough":
        if host.domain_type != "kvm":
            raise field_invalid("spec.domain.cpu.model", "host-passthrough needs hardware virtualization (KVM), "
                                                    "which this host does not have")
        out.mode = model
    elif model == "host-model":
        out.mode = "" if host.domain_type == "test" else model
    elif model:
        if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$", model):
            raise field_invalid("spec.domain.cpu.model", f"invalid CPU model {model!r}")
        if host.cpu_models and model not in host.cpu_models:
            raise field_invalid("spec.domain.cpu.model", f"CPU model {model!r} is not usable on this host")
        out.mode, out.model = "custom", model
    elif host.domain_type == "kvm":
        out.mode = "host-model"      # KubeVirt's default; under TCG QEMU's default model is faster
    return out


# --- firmware / machine ---

def _os(ctx: _Ctx, firmware: dict, machine: dict) -> OS:
    host = ctx.host
    out = OS(arch=host.arch, machine=host.default_machine)
    mtype = machine.get("type") or ""
    if mtype:
        if not valid_machine_name(mtype) or not host.supports_machine(mtype):
            raise field_invalid("spec.domain.machine.type",
                           f"machine type {mtype!r} is not supported by this host's QEMU "
                           f"(supported: {', '.join(sorted(host.machines)[:12])}…)")
        out.machine = mtype
    bootloader = firmware.get("bootloader") or {}
    if "bios" in bootloader and "efi" in bootloader:
        raise field_invalid("spec.domain.firmware.bootloader", "bios and efi are mutually exclusive")
    efi = bootloader.get("efi")
    if isinstance(efi, dict):
        secure = efi.get("secureBoot", True) is not False   # KubeVirt: secureBoot defaults to true
        if efi.get("persistent"):
            raise _unsupported("spec.domain.firmware.bootloader.efi.persistent", "persistent EFI variables")
        if host.efi is None:
            raise field_invalid("spec.domain.firmware.bootloader.efi",
                           "EFI firmware (OVMF) is not installed on this host")
        if secure:
            if not host.efi.secure_code:
                raise field_invalid("spec.domain.firmware.bootloader.efi.secureBoot",
                               "no Secure Boot build of OVMF is installed on this host")
            if not out.machine.startswith(("q35", "pc-q35")):
                raise field_invalid("spec.domain.firmware.bootloader.efi.secureBoot",
                               "Secure Boot needs the q35 machine type")
            out.loader, out.nvram_template, out.loader_secure = \
                host.efi.secure_code, host.efi.secure_vars_template, True
        else:
            out.loader, out.nvram_template = host.efi.code, host.efi.vars_template
    if firmware.get("acpi"):
        raise _unsupported("spec.domain.firmware.acpi", "custom ACPI tables")
    kboot = firmware.get("kernelBoot")
    if isinstance(kboot, dict):
        files = ctx.kernel_boot
        if files is None or not (files.kernel or files.initrd):
            raise field_invalid("spec.domain.firmware.kernelBoot", "the kernel boot files were not prepared")
        out.kernel, out.initrd = files.kernel or "", files.initrd or ""
        out.cmdline = str(kboot.get("kernelArgs") or files.cmdline or "")
        if out.cmdline and not out.kernel:
            raise field_invalid("spec.domain.firmware.kernelBoot.kernelArgs", "kernel arguments need a kernel")
    return out


# --- features / clock ---

_HYPERV_FLAGS = {"relaxed": "relaxed", "vapic": "vapic", "vpindex": "vpindex", "runtime": "runtime",
                 "synic": "synic", "reset": "reset", "frequencies": "frequencies",
                 "reenlightenment": "reenlightenment", "ipi": "ipi", "tlbflush": "tlbflush",
                 "synictimer": "stimer"}


def _enabled(value: Any) -> bool | None:
    """A KubeVirt FeatureState: ``{}`` or ``{enabled: true}`` → True; absent → None."""
    if value is None:
        return None
    if isinstance(value, dict):
        return value.get("enabled", True) is not False
    return bool(value)


def _features(features: dict) -> Features:
    out = Features()
    acpi = _enabled(features.get("acpi"))
    out.acpi = acpi is not False                       # KubeVirt: ACPI on unless disabled
    out.apic = bool(_enabled(features.get("apic")))
    out.smm = _enabled(features.get("smm"))
    for key in ("kvm", "pvspinlock"):
        if _enabled(features.get(key)):
            raise _unsupported(f"spec.domain.features.{key}", f"the {key} feature")
    hyperv = features.get("hyperv") or {}
    for key, value in hyperv.items():
        state = _enabled(value)
        if key == "spinlocks":
            if state:
                retries = (value or {}).get("spinlocks", 4096)
                if not isinstance(retries, int) or retries < 4095:
                    raise field_invalid("spec.domain.features.hyperv.spinlocks.spinlocks",
                                   "must be an integer of at least 4095")
                out.hyperv["spinlocks"] = str(retries)
        elif key == "vendorid":
            if state:
                vid = str((value or {}).get("vendorid", ""))
                if not re.match(r"^[A-Za-z0-9]{1,12}$", vid):
                    raise field_invalid("spec.domain.features.hyperv.vendorid.vendorid",
                                   "must be 1-12 letters or digits")
                out.hyperv["vendor_id"] = vid
        elif key in _HYPERV_FLAGS:
            out.hyperv[_HYPERV_FLAGS[key]] = "on" if state else "off"
        else:
            raise _unsupported(f"spec.domain.features.hyperv.{key}", f"the Hyper-V enlightenment {key!r}")
    return out


_TICK_POLICIES = {"delay", "catchup", "merge", "discard"}


def _clock(clock: dict) -> Clock:
    out = Clock()
    if "timezone" in clock:
        tz = str(clock["timezone"])
        if not re.match(r"^[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*$", tz):
            raise field_invalid("spec.domain.clock.timezone", f"invalid timezone {tz!r}")
        out.offset, out.timezone = "timezone", tz
    elif isinstance(clock.get("utc"), dict) and clock["utc"].get("offsetSeconds"):
        out.offset, out.adjustment = "variable", int(clock["utc"]["offsetSeconds"])
    for key, value in (clock.get("timer") or {}).items():
        name = {"hyperv": "hypervclock", "kvm": "kvmclock"}.get(key, key)
        if name not in ("hpet", "pit", "rtc", "hypervclock", "kvmclock"):
            raise _unsupported(f"spec.domain.clock.timer.{key}", f"the timer {key!r}")
        value = value or {}
        policy = value.get("tickPolicy", "")
        if policy and policy not in _TICK_POLICIES:
            raise field_invalid(f"spec.domain.clock.timer.{key}.tickPolicy", f"unsupported tick policy {policy!r}")
        present = value.get("present")
        out.timers.append(Timer(name, None if present is None else bool(present), policy))
    return out


# --- disks ---

HOTPLUG_SPARE_PORTS = 4        # virtio disks that can be hotplugged into a q35 domain
PCI_CONTROLLERS = 4            # scsi, virtio-serial, usb, rng: PCIe devices besides disks and NICs

_BUS_PREFIX = {"virtio": "vd", "sata": "sd", "scsi": "sd", "usb": "sd"}
_CACHE_MODES = {"none", "writethrough", "writeback"}


def _target_name(prefix: str, index: int) -> str:
    """vda … vdz, vdaa … (the Linux naming libvirt expects)."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(ord("a") + rem) + letters
    return prefix + letters


def _disks(ctx: _Ctx, devices: dict) -> list[Disk]:
    volumes = {v.get("name"): v for v in ctx.spec.get("volumes") or []}
    spec_disks = list(devices.get("disks") or [])
    # KubeVirt's defaulting: every volume without a disk gets a plain disk of the same name
    named = {d.get("name") for d in spec_disks}
    for vname in volumes:
        if vname not in named:
            spec_disks.append({"name": vname})
    out: list[Disk] = []
    boot_orders: set[int] = set()
    for i, d in enumerate(spec_disks):
        out.append(_disk(ctx, d, f"spec.domain.devices.disks[{i}]", volumes, boot_orders))
    return out


def hotplug_disk(vmi: dict, volume: str, source: DiskSource, used_targets: set[str]) -> Disk:
    """The disk of a volume hotplugged into a running domain whose disks already use
    ``used_targets`` (vda, sda, …): the same rules as at start, on the next free target name."""
    spec = vmi.get("spec") or {}
    ctx = _Ctx(vmi, spec, HostInfo(), {volume: source}, None)
    volumes = {v.get("name"): v for v in spec.get("volumes") or []}
    disks = ((spec.get("domain") or {}).get("devices") or {}).get("disks") or []
    index, d = next(((i, d) for i, d in enumerate(disks) if d.get("name") == volume), (len(disks), {"name": volume}))
    return _disk(ctx, d, f"spec.domain.devices.disks[{index}]", volumes, set(), used_targets)


def _disk(ctx: _Ctx, d: dict, path: str, volumes: dict, boot_orders: set[int],
          used_targets: set[str] | None = None) -> Disk:
    vname = d.get("name") or ""
    if vname not in volumes:
        raise field_invalid(f"{path}.name", f"{vname!r} not found in spec.volumes")
    kinds = [k for k in ("disk", "cdrom", "lun") if k in d]
    if len(kinds) > 1:
        raise field_invalid(path, "only one of disk, cdrom or lun may be set")
    kind = kinds[0] if kinds else "disk"
    if kind == "lun":
        raise _unsupported(f"{path}.lun", "LUN passthrough")
    target_spec = d.get(kind) or {}
    bus = target_spec.get("bus") or ("sata" if kind == "cdrom" else "virtio")
    if bus not in _BUS_PREFIX:
        raise field_invalid(f"{path}.{kind}.bus", f"unsupported bus {bus!r} (supported: virtio, sata, scsi, usb)")
    if kind == "cdrom" and bus in ("virtio", "usb"):
        raise field_invalid(f"{path}.cdrom.bus", f"a cdrom cannot use the {bus} bus")
    source = ctx.disks.get(vname)
    if source is None:
        raise field_invalid(f"spec.volumes[{list(volumes).index(vname)}]",
                       f"volume {vname!r} was not prepared on this host")
    prefix = _BUS_PREFIX[bus]
    index = ctx.targets.get(prefix, 0)
    while used_targets and _target_name(prefix, index) in used_targets:
        index += 1
    ctx.targets[prefix] = index + 1
    disk = Disk(path=source.path, target=_target_name(prefix, index), bus=bus, device=kind,
                format=source.format, alias=f"ua-{vname}")
    disk.readonly = bool(source.readonly or target_spec.get("readonly")
                         or (kind == "cdrom" and target_spec.get("readonly", True) is not False))
    cache = d.get("cache") or ""
    if cache and cache not in _CACHE_MODES:
        raise field_invalid(f"{path}.cache", f"unsupported cache mode {cache!r} (supported: none, writethrough, "
                                        f"writeback)")
    disk.cache = cache
    io = d.get("io") or ""
    if io and io not in ("native", "threads"):
        raise field_invalid(f"{path}.io", f"unsupported io mode {io!r} (supported: native, threads)")
    if io == "native" and cache not in ("none", ""):
        raise field_invalid(f"{path}.io", "io 'native' needs cache 'none'")
    disk.io = io
    if io == "native" and not cache:
        disk.cache = "none"
    serial = d.get("serial") or ""
    if serial and not re.match(r"^[A-Za-z0-9_.+\-]{1,20}$", str(serial)):
        raise field_invalid(f"{path}.serial", "must be 1-20 letters, digits, '_', '.', '+' or '-'")
    disk.serial = str(serial)
    disk.shareable = bool(d.get("shareable"))
    disk.boot_order = _boot_order(d.get("bootOrder"), f"{path}.bootOrder", boot_orders)
    return disk


def _boot_order(value: Any, field_path: str, seen: set[int]) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise field_invalid(field_path, "must be a positive integer")
    if value in seen:
        raise field_invalid(field_path, f"boot order {value} is used by another device")
    seen.add(value)
    return value


# --- network ---

_NIC_MODELS = {"virtio": "virtio", "e1000": "e1000", "e1000e": "e1000e", "rtl8139": "rtl8139",
               "pcnet": "pcnet", "ne2k_pci": "ne2k_pci", "igb": "igb"}
_MAC_RE = re.compile(r"^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$")


def _interfaces(ctx: _Ctx, devices: dict) -> list[Interface]:
    networks = ctx.spec.get("networks")
    ifaces = devices.get("interfaces")
    if not ifaces and not networks and devices.get("autoattachPodInterface", True) is not False:
        # KubeVirt's defaulting: one interface on the pod network
        networks = [{"name": "default", "pod": {}}]
        ifaces = [{"name": "default", "masquerade": {}}]
    net_names = {n.get("name") for n in networks or []}
    out: list[Interface] = []
    boot_orders: set[int] = set()
    for i, iface in enumerate(ifaces or []):
        path = f"spec.domain.devices.interfaces[{i}]"
        iname = iface.get("name") or ""
        if iname not in net_names:
            raise field_invalid(f"{path}.name", f"{iname!r} not found in spec.networks")
        if not re.match(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", iname):
            raise field_invalid(f"{path}.name", f"invalid interface name {iname!r}")
        model = iface.get("model") or "virtio"
        if model not in _NIC_MODELS:
            raise field_invalid(f"{path}.model", f"unsupported model {model!r} "
                                            f"(supported: {', '.join(_NIC_MODELS)})")
        nic = Interface(model=_NIC_MODELS[model], alias=f"ua-{iname}")
        mac = iface.get("macAddress") or ""
        if mac:
            if not _MAC_RE.match(mac):
                raise field_invalid(f"{path}.macAddress", f"invalid MAC address {mac!r}")
            nic.mac = mac.replace("-", ":").lower()
        if "passt" in iface:
            nic.backend = "passt"
        ports = iface.get("ports") or []
        if ports:
            # with passt libvirt forwards them; on QEMU's own user-mode network (libvirt 9.0) the
            # controller adds them through the monitor as soon as the domain starts (virt/hostfwd.py)
            if ctx.host.passt:
                nic.backend = "passt"
            nic.port_forwards = _port_forwards(ports, f"{path}.ports")
        nic.boot_order = _boot_order(iface.get("bootOrder"), f"{path}.bootOrder", boot_orders)
        if iface.get("dhcpOptions"):
            raise _unsupported(f"{path}.dhcpOptions", "custom DHCP options")
        out.append(nic)
    return out


def _port_forwards(ports: list, path: str) -> list[PortForward]:
    out: list[PortForward] = []
    seen: set[tuple[str, int]] = set()
    for j, p in enumerate(ports):
        port = p.get("port")
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise field_invalid(f"{path}[{j}].port", "must be between 1 and 65535, inclusive")
        proto = str(p.get("protocol") or "TCP").upper()
        if proto not in ("TCP", "UDP"):
            raise field_invalid(f"{path}[{j}].protocol", f"unsupported protocol {proto!r} (supported: TCP, UDP)")
        key = (proto.lower(), port)
        if key in seen:
            raise field_invalid(f"{path}[{j}].port", f"port {port}/{proto} is listed twice")
        seen.add(key)
        # the guest port on 127.0.0.1 of the host, as a pod's port would be on its own IP
        out.append(PortForward(protocol=proto.lower(), port=port, host_port=port))
    return out


# --- other devices ---

def _tablet(devices: dict) -> str:
    inputs = devices.get("inputs") or []
    bus = ""
    for i, inp in enumerate(inputs):
        if inp.get("type", "tablet") != "tablet":
            raise field_invalid(f"spec.domain.devices.inputs[{i}].type", "only 'tablet' is supported")
        bus = inp.get("bus") or "usb"
        if bus not in ("usb", "virtio"):
            raise field_invalid(f"spec.domain.devices.inputs[{i}].bus", "must be 'usb' or 'virtio'")
    if not bus and devices.get("autoattachInputDevice"):
        bus = "usb"
    return bus


def _watchdog(spec: Any) -> Watchdog | None:
    if not isinstance(spec, dict):
        return None
    model = spec.get("i6300esb")
    if model is None:
        raise _unsupported("spec.domain.devices.watchdog", "a watchdog other than i6300esb")
    action = (model or {}).get("action") or "reset"
    if action not in ("poweroff", "reset", "shutdown"):
        raise field_invalid("spec.domain.devices.watchdog.i6300esb.action",
                       f"unsupported action {action!r} (supported: poweroff, reset, shutdown)")
    return Watchdog("i6300esb", action)
