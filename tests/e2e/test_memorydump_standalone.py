"""virtctl memory-dump in standalone mode, end to end: a running guest's memory goes into a claim
created for it (sized as Go virtctl sizes it), comes back through a VirtualMachineExport as an ELF
core of the guest's memory size, the association is removed; refusals get virt-api's words."""

from __future__ import annotations

import time
import uuid

import pytest
import yaml

from tests.controller.storage.registry_fixture import local_registry  # noqa: F401  (fixture)
from tests.e2e.test_standalone import busybox_vm, kernel_image, standalone  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]
MiB = 1 << 20


def test_memory_dump_get_download_remove(standalone, kernel_image, tmp_path):  # noqa: F811
    name = f"mdump-{uuid.uuid4().hex[:6]}"
    claim = f"{name}-mem"
    (tmp_path / "vm.yaml").write_text(yaml.safe_dump(busybox_vm(name, kernel_image)))
    standalone.run("apply", "-f", str(tmp_path / "vm.yaml"))

    r = standalone.run("memory-dump", "get", name, f"--claim-name={claim}", check=False)
    assert (r.returncode, r.stderr.strip()) == (1, f'error dumping vm memory, virtualmachineinstance.kubevirt.io '
                                                   f'"{name}" not found')
    standalone.run("start", name, "--wait", "--timeout", "3m")
    standalone.wait_log(name, "GUEST-BOOT-OK")
    r = standalone.run("memory-dump", "get", name, check=False)
    assert (r.returncode, r.stderr.strip()) == (1, "error dumping vm memory, Memory dump requires claim name to be "
                                                   "set")

    out_file = tmp_path / "memory.dump"
    out = standalone.run("memory-dump", "get", name, f"--claim-name={claim}", "--create-claim",
                         f"--output={out_file}", "--format=raw").stdout
    lines = out.splitlines()
    assert f"PVC default/{claim} created" in lines
    assert f"Successfully submitted memory dump request of VM {name}" in lines
    assert "Memory dump completed successfully" in lines
    assert lines[-2:] == ["Download finished succesfully",
                          f"VirtualMachineExport 'default/export-{name}-{claim}' deleted succesfully"]
    pvc = standalone.obj("pvc", claim)
    assert int(pvc["spec"]["resources"]["requests"]["storage"]) == -(-(192 + 100) * MiB * 1000 // 945)
    data = out_file.read_bytes()
    # the guest's RAM plus device memory (video RAM, ROMs): within the 100 MiB overhead KubeVirt sizes for
    assert data[:4] == b"\x7fELF" and 192 * MiB <= len(data) <= (192 + 100) * MiB
    request = standalone.obj("vm", name)["status"]["memoryDumpRequest"]
    assert request["phase"] == "Completed" and request["claimName"] == claim
    assert request["fileName"].startswith(f"{name}-{claim}-") and request["fileName"].endswith(".memory.dump")
    assert standalone.run("get", "vmexport", f"export-{name}-{claim}", check=False).returncode == 1
    assert standalone.obj("vmi", name)["status"]["phase"] == "Running"       # the guest kept running

    r = standalone.run("memory-dump", "get", name, "--claim-name=other", check=False)
    assert r.returncode == 1 and r.stderr.strip() == (
        f'error dumping vm memory, Operation cannot be fulfilled on virtualmachine.kubevirt.io "{name}": can\'t '
        f"request memory dump for pvc [other] while pvc [{claim}] is still associated as the memory dump pvc")
    out = standalone.run("memory-dump", "remove", name).stdout
    assert out == f"Successfully submitted remove memory dump association of VM {name}\n"
    deadline = time.monotonic() + 60
    while "memoryDumpRequest" in standalone.obj("vm", name).get("status", {}):
        assert time.monotonic() < deadline, "the association was never removed"
        time.sleep(0.5)
    r = standalone.run("memory-dump", "remove", name, check=False)
    assert r.stderr.strip() == (f'error removing memory dump association, Operation cannot be fulfilled on '
                                f'virtualmachine.kubevirt.io "{name}": can\'t remove memory dump association for vm '
                                f"{name}, no association found")
    standalone.run("stop", name, "--wait", "--timeout", "2m")
    standalone.run("delete", "vm", name)
