"""VMI → domain conversion: golden XML for every runnable example, the exact 422 for the others."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest
import yaml

from virtctl.controller.virt.converter import parse_quantity, vmi_to_domain
from virtctl.controller.virt.domain import parse_live
from virtctl.controller.virt.host import EfiFirmware, HostInfo
from virtctl.controller.storage.sources import DiskSource, KernelBootFiles
from virtctl.errors import Invalid

EXAMPLES = Path(__file__).resolve().parents[2] / "data" / "examples"
GOLDEN = Path(__file__).resolve().parent / "golden"

# A fixed host, so golden files do not depend on the machine running the tests.
HOST = HostInfo(
    domain_type="qemu", arch="x86_64",
    machines=("pc", "pc-i440fx-7.2", "q35", "pc-q35-7.2"), default_machine="q35",
    efi=EfiFirmware("/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd",
                    "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd", "/usr/share/OVMF/OVMF_VARS_4M.ms.fd"),
    passt=False, swtpm=False,     # as on Debian 12: libvirt 9.0 has no passt backend
)
KERNEL_BOOT = KernelBootFiles("/var/lib/virtctl-test/kernel/vmlinuz", "/var/lib/virtctl-test/kernel/initrd")

# Every manifest: "golden" (a golden file must match), the exact 422 message, or why it is skipped.
NOT_A_VMI = "not a VM/VMI: {} is handled before conversion (instancetype/preference expansion, pools, migration)"
EXPECTED: dict[str, str] = {
    "clarge.yaml": NOT_A_VMI.format("VirtualMachineInstancetype"),
    "cluster-csmall.yaml": NOT_A_VMI.format("VirtualMachineClusterInstancetype"),
    "csmall.yaml": NOT_A_VMI.format("VirtualMachineInstancetype"),
    "migration-job.yaml": NOT_A_VMI.format("VirtualMachineInstanceMigration"),
    "virtio.yaml": NOT_A_VMI.format("VirtualMachinePreference"),
    "windows.yaml": NOT_A_VMI.format("VirtualMachinePreference"),
    "vm-pool-cirros.yaml": NOT_A_VMI.format("VirtualMachinePool"),
    "vmi-preset-small.yaml": NOT_A_VMI.format("VirtualMachineInstancePreset"),
    "vmi-replicaset-cirros.yaml": NOT_A_VMI.format("VirtualMachineInstanceReplicaSet"),
    "test-templates/restore-template.yaml": NOT_A_VMI.format("VirtualMachineRestore"),
    "test-templates/snapshot-template.yaml": NOT_A_VMI.format("VirtualMachineSnapshot"),
    "test-templates/vm-template.yaml": "skip: a Go template ({{ .Version }}), not a manifest",
    # VMs: spec.template as written (instancetypes/preferences are applied by the VM controller)
    "vm-alpine-datavolume.yaml": "golden",
    "vm-alpine-multipvc.yaml": "golden",
    "vm-cirros-clarge-virtio.yaml": "golden",
    "vm-cirros-clarge-windows.yaml": "golden",
    "vm-cirros-clarge.yaml": "golden",
    "vm-cirros-cluster-csmall.yaml": "golden",
    "vm-cirros-csmall.yaml": "golden",
    "vm-cirros-sata.yaml": "golden",
    "vm-cirros.yaml": "golden",
    "vm-priorityclass.yaml": "golden",
    "vm-windows-clarge-windows.yaml": "golden",
    "vm-cirros-with-sidecar-hook-configmap.yaml":
        "metadata.annotations[hooks.kubevirt.io/hookSidecars]: hook sidecars are not supported in standalone mode",
    # VMIs
    "vmi-alpine-efi.yaml": "golden",
    "vmi-arm.yaml": "golden",       # despite its name it sets no spec.architecture: a plain amd64 VMI
    "vmi-ephemeral.yaml": "golden",
    "vmi-fedora.yaml": "golden",
    "vmi-host-disk.yaml": "golden",
    "vmi-kernel-boot.yaml": "golden",
    "vmi-masquerade.yaml": "golden",
    "vmi-migratable.yaml": "golden",
    "vmi-nocloud.yaml": "golden",
    "vmi-pvc.yaml": "golden",
    "vmi-sata.yaml": "golden",
    "vmi-secureboot.yaml": "golden",
    "vmi-dra-pgpu.yaml":
        "spec.resourceClaims: dynamic resource allocation (DRA) is not supported in standalone mode",
    "vmi-fedora-isolated.yaml":
        "spec.domain.cpu.dedicatedCpuPlacement: dedicated CPU placement is not supported in standalone mode",
    "vmi-gpu.yaml": "spec.domain.devices.gpus: GPU passthrough is not supported in standalone mode",
    "vmi-multus-multiple-net.yaml": "spec.networks[1].multus: a Multus network is not supported in standalone mode",
    "vmi-multus-ptp.yaml": "spec.networks[0].multus: a Multus network is not supported in standalone mode",
    "vmi-sriov.yaml": "spec.domain.devices.interfaces[1].sriov: SR-IOV is not supported in standalone mode",
    "vmi-usb.yaml": "spec.domain.devices.hostDevices: host device passthrough is not supported in standalone mode",
    "vmi-windows.yaml":
        "spec.domain.devices.tpm: an emulated TPM needs swtpm, which is not installed on this host",
    "vmi-with-sidecar-hook-configmap.yaml":
        "metadata.annotations[hooks.kubevirt.io/hookSidecars]: hook sidecars are not supported in standalone mode",
    "vmi-with-sidecar-hook.yaml":
        "metadata.annotations[hooks.kubevirt.io/hookSidecars]: hook sidecars are not supported in standalone mode",
}


def all_manifests() -> list[str]:
    return sorted(str(p.relative_to(EXAMPLES)) for p in EXAMPLES.rglob("*.yaml"))


def vmi_of(manifest: str) -> dict:
    doc = yaml.safe_load((EXAMPLES / manifest).read_text())
    if doc["kind"] == "VirtualMachine":
        vmi = copy.deepcopy(doc["spec"]["template"])
        vmi.setdefault("metadata", {})["name"] = doc["metadata"]["name"]
    else:
        vmi = doc
    vmi["metadata"].setdefault("namespace", "default")
    vmi["metadata"].setdefault("uid", "00000000-0000-4000-8000-000000000001")
    return vmi


def synthetic_disks(vmi: dict) -> dict[str, DiskSource]:
    out = {}
    for v in vmi["spec"].get("volumes") or []:
        name = v["name"]
        if "cloudInitNoCloud" in v or "cloudInitConfigDrive" in v:
            out[name] = DiskSource(name, f"/var/lib/virtctl-test/{name}.iso", format="raw", ephemeral=True)
        else:
            out[name] = DiskSource(name, f"/var/lib/virtctl-test/{name}.qcow2")
    return out


def convert(vmi: dict, host: HostInfo = HOST, kernel_boot: KernelBootFiles | None = KERNEL_BOOT):
    return vmi_to_domain(vmi, host=host, disks=synthetic_disks(vmi), kernel_boot=kernel_boot)


def test_every_example_is_in_the_table():
    assert sorted(EXPECTED) == all_manifests()


@pytest.mark.parametrize("manifest", [m for m, e in EXPECTED.items() if e == "golden"])
def test_golden(manifest: str):
    xml = convert(vmi_of(manifest)).to_xml()
    golden = GOLDEN / (Path(manifest).stem + ".xml")
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(xml)
    assert golden.exists(), f"{golden} missing: run UPDATE_GOLDEN=1 pytest tests/controller/virt"
    assert xml == golden.read_text()


def test_no_stale_golden_files():
    wanted = {Path(m).stem + ".xml" for m, e in EXPECTED.items() if e == "golden"}
    assert {p.name for p in GOLDEN.glob("*.xml")} == wanted


@pytest.mark.parametrize("manifest", [m for m, e in EXPECTED.items()
                                      if e != "golden" and not e.startswith(("not a VM", "skip:"))])
def test_rejected(manifest: str):
    with pytest.raises(Invalid) as exc:
        convert(vmi_of(manifest))
    err = exc.value
    assert err.message == EXPECTED[manifest]
    status = err.to_status()
    assert status["code"] == 422 and status["reason"] == "Invalid"
    field = EXPECTED[manifest].split(": ", 1)[0]
    assert status["details"]["causes"] == [{"reason": "FieldValueInvalid", "field": field,
                                           "message": EXPECTED[manifest]}]


# --- focused cases ---

def base_vmi(**domain) -> dict:
    spec_domain = {"memory": {"guest": "128Mi"}, "devices": {}}
    spec_domain.update(domain)
    return {"metadata": {"name": "t1", "namespace": "ns1", "uid": "u-1"}, "spec": {"domain": spec_domain}}


def reject(vmi: dict, **kw) -> str:
    with pytest.raises(Invalid) as exc:
        convert(vmi, **kw)
    return exc.value.message


@pytest.mark.parametrize("text,expected", [
    ("512Mi", 512 * 2 ** 20), ("1Gi", 2 ** 30), ("1G", 10 ** 9), ("64M", 64 * 10 ** 6),
    ("1048576", 2 ** 20), (2097152, 2 ** 21), ("1.5Gi", 3 * 2 ** 29), ("128k", 128000),
    ("1e9", 10 ** 9), ("+1Ki", 1024), ("100m", 1),          # as Go's Quantity.Value(): rounded up
])
def test_parse_quantity(text, expected):
    assert parse_quantity(text, "f") == expected


@pytest.mark.parametrize("text", ["", "12Q", "1.2.3", "Mi", True, None, "1K"])
def test_parse_quantity_rejects(text):
    with pytest.raises(Invalid) as exc:
        parse_quantity(text, "spec.domain.memory.guest")
    assert exc.value.message.startswith("spec.domain.memory.guest: quantities must match")


def test_negative_memory_is_refused():
    assert reject(base_vmi(memory={"guest": "-1Gi"})) == \
        "spec.domain.memory.guest: must be greater than or equal to 0 (got '-1Gi')"


def test_memory_precedence_and_rounding():
    vmi = base_vmi(memory={}, resources={"requests": {"memory": "64M"}, "limits": {"memory": "1Gi"}})
    assert convert(vmi).memory_kib == 62 * 1024                  # 64e6 B = 61.04 MiB → 62 MiB
    vmi = base_vmi(memory={}, resources={"limits": {"memory": "256Mi"}})
    assert convert(vmi).memory_kib == 256 * 1024
    vmi = base_vmi(memory={"guest": "1Gi"}, resources={"requests": {"memory": "64Mi"}})
    assert convert(vmi).memory_kib == 1024 * 1024


def test_memory_missing():
    assert reject(base_vmi(memory={})).startswith("spec.domain.memory.guest: no memory requested")


def test_cpu_topology_and_models():
    dom = convert(base_vmi(cpu={"sockets": 2, "cores": 3, "threads": 1}))
    assert (dom.cpu.vcpus, dom.cpu.mode) == (6, "")
    assert '<topology sockets="2" dies="1" cores="3" threads="1" />' in dom.to_xml()
    assert '<vcpu placement="static">6</vcpu>' in dom.to_xml()
    assert convert(base_vmi(cpu={"model": "Nehalem"})).cpu.mode == "custom"
    assert reject(base_vmi(cpu={"model": "host-passthrough"})).startswith(
        "spec.domain.cpu.model: host-passthrough needs hardware virtualization")
    kvm = HostInfo(domain_type="kvm", machines=HOST.machines)
    assert convert(base_vmi(), host=kvm).cpu.mode == "host-model"
    assert reject(base_vmi(cpu={"cores": 0})) == "spec.domain.cpu.cores: must be a positive integer (got 0)"


def test_disk_targets_per_bus_and_defaults():
    vmi = base_vmi(devices={"disks": [
        {"name": "a", "disk": {}}, {"name": "b", "cdrom": {}}, {"name": "c", "disk": {"bus": "scsi"}},
        {"name": "d", "disk": {"bus": "virtio"}, "bootOrder": 1, "serial": "SN1", "cache": "writethrough"},
    ]})
    vmi["spec"]["volumes"] = [{"name": n, "emptyDisk": {"capacity": "1Gi"}} for n in "abcde"]
    dom = convert(vmi)
    got = [(d.alias, d.target, d.bus, d.device, d.readonly) for d in dom.disks]
    assert got == [("ua-a", "vda", "virtio", "disk", False), ("ua-b", "sda", "sata", "cdrom", True),
                   ("ua-c", "sdb", "scsi", "disk", False), ("ua-d", "vdb", "virtio", "disk", False),
                   ("ua-e", "vdc", "virtio", "disk", False)]     # e: a volume without a disk gets one
    assert dom.scsi_controller
    assert (dom.disks[3].boot_order, dom.disks[3].serial, dom.disks[3].cache) == (1, "SN1", "writethrough")
    live = parse_live(dom.to_xml())
    assert [(d.target, d.path) for d in live.disks][:2] == [("vda", "/var/lib/virtctl-test/a.qcow2"),
                                                           ("sda", "/var/lib/virtctl-test/b.qcow2")]


@pytest.mark.parametrize("disk,message", [
    ({"name": "a", "lun": {}}, "spec.domain.devices.disks[0].lun: LUN passthrough is not supported in standalone mode"),
    ({"name": "a", "disk": {"bus": "ide"}},
     "spec.domain.devices.disks[0].disk.bus: unsupported bus 'ide' (supported: virtio, sata, scsi, usb)"),
    ({"name": "a", "cdrom": {"bus": "virtio"}}, "spec.domain.devices.disks[0].cdrom.bus: a cdrom cannot use the virtio bus"),
    ({"name": "zz", "disk": {}}, "spec.domain.devices.disks[0].name: 'zz' not found in spec.volumes"),
    ({"name": "a", "cache": "unsafe"},
     "spec.domain.devices.disks[0].cache: unsupported cache mode 'unsafe' (supported: none, writethrough, writeback)"),
    ({"name": "a", "serial": "bad serial!"},
     "spec.domain.devices.disks[0].serial: must be 1-20 letters, digits, '_', '.', '+' or '-'"),
])
def test_disk_rejections(disk, message):
    vmi = base_vmi(devices={"disks": [disk]})
    vmi["spec"]["volumes"] = [{"name": "a", "emptyDisk": {"capacity": "1Gi"}}]
    assert reject(vmi) == message


def test_default_interface_and_mac():
    dom = convert(base_vmi())
    assert [(i.model, i.alias, i.backend) for i in dom.interfaces] == [("virtio", "ua-default", "")]
    vmi = base_vmi(devices={"interfaces": [{"name": "default", "masquerade": {}, "model": "e1000",
                                            "macAddress": "DE-AD-00-00-BE-EF"}]})
    vmi["spec"]["networks"] = [{"name": "default", "pod": {}}]
    nic = convert(vmi).interfaces[0]
    assert (nic.model, nic.mac) == ("e1000", "de:ad:00:00:be:ef")
    no_nic = base_vmi(devices={"autoattachPodInterface": False})
    assert convert(no_nic).interfaces == []


def test_ports_with_and_without_passt():
    vmi = base_vmi(devices={"interfaces": [{"name": "default", "masquerade": {}, "ports": [{"port": 8080}]}]})
    vmi["spec"]["networks"] = [{"name": "default", "pod": {}}]
    slirp = convert(vmi)                 # QEMU's user-mode network: the controller adds them at run time
    assert slirp.interfaces[0].backend == ""
    assert [(p.protocol, p.port, p.host_port) for p in slirp.interfaces[0].port_forwards] == [("tcp", 8080, 8080)]
    assert "portForward" not in slirp.to_xml()
    with_passt = HostInfo(machines=HOST.machines, passt=True)
    xml = convert(vmi, host=with_passt).to_xml()
    assert '<portForward proto="tcp" address="127.0.0.1">' in xml and '<range start="8080" to="8080" />' in xml


@pytest.mark.parametrize("mutate,message", [
    (lambda v: v["spec"].update(architecture="arm64"),
     "spec.architecture: architecture 'arm64' is not supported in standalone mode (this host runs amd64 guests only)"),
    (lambda v: v["spec"]["domain"]["memory"].update(hugepages={"pageSize": "2Mi"}),
     "spec.domain.memory.hugepages: hugepages is not supported in standalone mode"),
    (lambda v: v["spec"]["domain"].update(cpu={"realtime": {}}) or v["spec"]["domain"]["cpu"].update(realtime={"mask": "0"}),
     "spec.domain.cpu.realtime: realtime vCPUs is not supported in standalone mode"),
    (lambda v: v["spec"]["domain"].update(cpu={"numa": {"guestMappingPassthrough": {}}}),
     "spec.domain.cpu.numa.guestMappingPassthrough: NUMA guest mapping passthrough is not supported in standalone mode"),
    (lambda v: v["spec"]["domain"].update(launchSecurity={"sev": {}}),
     "spec.domain.launchSecurity: confidential computing (launchSecurity: SEV/SNP/TDX) is not supported in standalone mode"),
    (lambda v: v["spec"]["domain"]["devices"].update(filesystems=[{"name": "f", "virtiofs": {}}]),
     "spec.domain.devices.filesystems: virtiofs filesystems is not supported in standalone mode"),
    (lambda v: v["spec"]["domain"]["devices"].update(interfaces=[{"name": "default", "vhostuser": {}}]),
     "spec.domain.devices.interfaces[0].vhostuser: a vhost-user binding is not supported in standalone mode"),
    (lambda v: v["spec"]["domain"]["devices"].update(frobnicator={}),
     "spec.domain.devices.frobnicator: the device 'frobnicator' is not supported in standalone mode"),
    (lambda v: v["spec"]["domain"].update(machine={"type": "virt"}),
     "spec.domain.machine.type: machine type 'virt' is not supported by this host's QEMU "
     "(supported: pc, pc-i440fx-7.2, pc-q35-7.2, q35…)"),
    (lambda v: v["spec"].update(livenessProbe={"tcpSocket": {"port": 22}}),
     "spec.livenessProbe: a liveness probe is not supported in standalone mode"),
    (lambda v: v["metadata"].update(name="Bad_Name"), "metadata.name: invalid name 'Bad_Name'"),
])
def test_rejections(mutate, message):
    vmi = base_vmi()
    mutate(vmi)
    assert reject(vmi) == message


def test_efi_needs_ovmf():
    vmi = base_vmi(firmware={"bootloader": {"efi": {"secureBoot": False}}})
    no_ovmf = HostInfo(machines=HOST.machines)
    assert reject(vmi, host=no_ovmf) == \
        "spec.domain.firmware.bootloader.efi: EFI firmware (OVMF) is not installed on this host"
    secure = base_vmi(firmware={"bootloader": {"efi": {}}})
    plain_only = HostInfo(machines=HOST.machines, efi=EfiFirmware("/c.fd", "/v.fd"))
    assert reject(secure, host=plain_only) == \
        "spec.domain.firmware.bootloader.efi.secureBoot: no Secure Boot build of OVMF is installed on this host"
    dom = convert(secure)
    assert dom.os.loader_secure and dom.features.smm is True


def test_kernel_boot_needs_files():
    vmi = base_vmi(firmware={"kernelBoot": {"kernelArgs": "console=ttyS0", "container": {"image": "x"}}})
    assert reject(vmi, kernel_boot=None) == "spec.domain.firmware.kernelBoot: the kernel boot files were not prepared"
    dom = convert(vmi)
    assert (dom.os.kernel, dom.os.cmdline) == (KERNEL_BOOT.kernel, "console=ttyS0")


def test_autoattach_switches_and_scheduling_fields():
    vmi = base_vmi(devices={"autoattachSerialConsole": False, "autoattachGraphicsDevice": False})
    vmi["spec"].update(nodeSelector={"a": "b"}, affinity={}, tolerations=[{"key": "k"}],
                       priorityClassName="high", evictionStrategy="LiveMigrate", terminationGracePeriodSeconds=0)
    xml = convert(vmi).to_xml()
    assert "<serial" not in xml and "<graphics" not in xml and "<console" not in xml


def test_deterministic_identity():
    a, b = convert(base_vmi()), convert(base_vmi())
    assert a.uuid == b.uuid and a.name == "ns1_t1"
    other = base_vmi()
    other["metadata"]["name"] = "t2"
    assert convert(other).uuid != a.uuid
    live = parse_live(a.to_xml())
    assert (live.owner.namespace, live.owner.name, live.owner.uid) == ("ns1", "t1", "u-1")
