"""EFI firmware end to end: the test guest boots under OVMF (``firmware.bootloader.efi``), with and
without Secure Boot (q35 + SMM, the Microsoft-enrolled variables), on real QEMU through a real
controller. The kernel is loaded by OVMF from QEMU's fw_cfg, as KubeVirt's kernel boot does."""

from __future__ import annotations

import uuid

import pytest

from tests.controller.storage.registry_fixture import local_registry  # noqa: F401  (fixture)
from tests.e2e.standalone_env import kernel_vm, push_kernel_image, running_controller
from virtctl.controller.virt.host import find_efi_firmware

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def env(libvirt_host, tmp_path_factory):
    if find_efi_firmware() is None:
        pytest.skip("OVMF is not installed (scripts/setup-libvirt.sh installs ovmf)")
    yield from running_controller(libvirt_host, tmp_path_factory, "efi")


@pytest.fixture(scope="module")
def image(guest, local_registry) -> str:  # noqa: F811
    return push_kernel_image(guest, local_registry, "efi")


@pytest.mark.parametrize("secure_boot", [False, True], ids=["efi", "secure-boot"])
def test_guest_boots_under_ovmf(env, image, libvirt_host, secure_boot):
    if secure_boot and (find_efi_firmware() is None or not find_efi_firmware().secure_code):
        pytest.skip("no Secure Boot build of OVMF is installed")
    name = f"efi-{uuid.uuid4().hex[:6]}"
    vm = kernel_vm(name, image, devices={"disks": [{"name": "ci", "disk": {"bus": "virtio"}}]},
                   volumes=[{"name": "ci", "cloudInitNoCloud": {"userData": "#!/bin/sh\necho EFI-USERDATA-RAN\n"}}])
    vm["spec"]["template"]["spec"]["domain"]["firmware"]["bootloader"] = {"efi": {"secureBoot": secure_boot}}
    if secure_boot:
        vm["spec"]["template"]["spec"]["domain"]["machine"] = {"type": "q35"}
    env.apply(vm)
    try:
        env.wait_log(name, "GUEST-BOOT-OK", timeout=300)
        # the guest's own view: the kernel was started by UEFI firmware
        out = env.ask(name, "test -d /sys/firmware/efi && echo UEFI-$((40+2))", "UEFI-42")
        assert "UEFI-42" in out
        import libvirt

        from tests.e2e.standalone_env import libvirt_name
        conn = libvirt.open(libvirt_host.uri)
        try:
            xml = conn.lookupByName(libvirt_name(env, f"default_{name}")).XMLDesc(0)
        finally:
            conn.close()
        assert "OVMF_CODE" in xml and ("secboot" in xml) == secure_boot
        assert env.obj("vmi", name)["status"]["phase"] == "Running"
    finally:
        env.run("delete", "vm", name, check=False)
