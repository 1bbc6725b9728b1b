"""What this machine can run: domain type (TCG vs KVM), arch, machine types, optional firmware/tools.

KVM is used only with real hardware virtualization: ``/dev/kvm`` may be PVM (``kvm_pvm``), which
libvirt advertises as kvm but which never boots a stock guest
(docs/standalone.md#measured-libvirt-and-qemu-facts). Everything else runs under TCG (``type='qemu'``).
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

# Debian's ovmf package (bookworm ships the 4M variants; older releases the plain names).
_OVMF_DIRS = ("/usr/share/OVMF",)
_OVMF_CODE = ("OVMF_CODE_4M.fd", "OVMF_CODE.fd")
_OVMF_VARS = ("OVMF_VARS_4M.fd", "OVMF_VARS.fd")
_OVMF_SECURE_CODE = ("OVMF_CODE_4M.secboot.fd", "OVMF_CODE.secboot.fd")
_OVMF_SECURE_VARS = ("OVMF_VARS_4M.ms.fd", "OVMF_VARS.ms.fd")


@dataclass(frozen=True)
class EfiFirmware:
    code: str
    vars_template: str
    secure_code: str = ""        # "" when no Secure Boot build is installed
    secure_vars_template: str = ""


@dataclass(frozen=True)
class HostInfo:
    domain_type: str = "qemu"                     # qemu (TCG) | kvm | test
    arch: str = "x86_64"
    machines: tuple[str, ...] = ("pc", "q35")     # machine types and aliases the emulator accepts
    default_machine: str = "q35"                  # KubeVirt's default on amd64
    efi: EfiFirmware | None = None
    passt: bool = False                           # passt binary: user networking with port forwards
    swtpm: bool = False                           # swtpm binary: emulated TPM
    cpu_models: tuple[str, ...] = field(default_factory=tuple)   # usable named models ("" = unknown)

    def supports_machine(self, machine: str) -> bool:
        return machine in self.machines


def hardware_virtualization(cpuinfo: str | None = None, pvm_loaded: bool | None = None) -> bool:
    """True only with VMX/SVM in the CPU flags and no PVM module (which is KVM without VMX/SVM)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
    if pvm_loaded is None:
        pvm_loaded = os.path.exists("/sys/module/kvm_pvm")
    flags = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags.update(line.partition(":")[2].split())
    return bool(flags & {"vmx", "svm"}) and not pvm_loaded and os.path.exists("/dev/kvm")


def find_efi_firmware(dirs: tuple[str, ...] = _OVMF_DIRS) -> EfiFirmware | None:
    def first(names: tuple[str, ...]) -> str:
        for d in dirs:
            for n in names:
                p = os.path.join(d, n)
                if os.path.isfile(p):
                    return p
        return ""

    code, vars_ = first(_OVMF_CODE), first(_OVMF_VARS)
    if not code or not vars_:
        return None
    sc, sv = first(_OVMF_SECURE_CODE), first(_OVMF_SECURE_VARS)
    return EfiFirmware(code, vars_, sc if sc and sv else "", sv if sc and sv else "")


def machines_from_capabilities(caps_xml: str, arch: str, domain_type: str) -> tuple[str, ...]:
    """Machine names and canonical aliases for ``arch`` from ``virConnectGetCapabilities`` XML."""
    root = ET.fromstring(caps_xml)
    names: list[str] = []
    for guest in root.findall("guest"):
        a = guest.find("arch")
        if a is None or a.get("name") != arch:
            continue
        machine_lists = [a.findall("machine")]
        for dom in a.findall("domain"):
            if dom.get("type") == domain_type:
                machine_lists.append(dom.findall("machine"))
        for machines in machine_lists:
            for m in machines:
                for n in (m.text, m.get("canonical")):
                    if n and n not in names:
                        names.append(n)
    return tuple(names)


# libvirt 9.0.0 (Debian 12) rejects <backend type='passt'/> on user interfaces (measured); newer ones take it.
PASST_MIN_LIBVIRT = 9_001_000


def detect(caps_xml: str | None = None, uri: str = "qemu:///system", libvirt_version: int = 0) -> HostInfo:
    """Probe this machine. ``caps_xml`` (libvirt capabilities) gives the exact machine list."""
    arch = platform.machine()
    if uri.startswith("test:"):
        domain_type = "test"
    else:
        domain_type = "kvm" if hardware_virtualization() else "qemu"
    machines: tuple[str, ...] = ("pc", "q35")
    if caps_xml:
        found = machines_from_capabilities(caps_xml, arch, domain_type)
        if found:
            machines = found
    default = "q35" if "q35" in machines or domain_type == "test" else (machines[0] if machines else "pc")
    return HostInfo(
        domain_type=domain_type,
        arch=arch,
        machines=machines,
        default_machine=default,
        efi=find_efi_firmware(),
        passt=libvirt_version >= PASST_MIN_LIBVIRT and shutil.which("passt") is not None,
        swtpm=shutil.which("swtpm") is not None,
    )


_MACHINE_RE = re.compile(r"^[a-z0-9][a-z0-9.\-]*$")


def valid_machine_name(name: str) -> bool:
    return bool(_MACHINE_RE.match(name))
