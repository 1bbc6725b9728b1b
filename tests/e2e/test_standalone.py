"""Standalone mode end to end: the real CLI against a real controller process on real QEMU.

One VM goes through the whole life a user gives it: its kernel comes from an OCI image in a real
registry on loopback, cloud-init user-data runs in the guest, a persistent volume keeps what the
guest wrote across a restart, the controller is killed with SIGKILL while the VM runs and a new
one re-adopts it (no duplicate domain), and `stop --wait` ends it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import time
import uuid

import pytest
import yaml

from tests.controller.storage.registry_fixture import local_registry  # noqa: F401  (fixture)
from tests.e2e.standalone_env import (  # noqa: F401  (also imported from here by other tests)
    KUBECTL,
    VIRTCTL,
    Standalone,
    domain_ids,
    kernel_vm,
    kubectl,
    libvirt_name,
    push_kernel_image,
    stop,
    tar_layer,
    wait_until,
)


@pytest.fixture(scope="module")
def standalone(libvirt_host, tmp_path_factory):
    env = Standalone(tmp_path_factory.mktemp("standalone"))
    out = env.run("local", "up", timeout=60)
    assert "virtctl-local" in out.stdout + out.stderr
    yield env
    stop(env, libvirt_host.uri)


@pytest.fixture(scope="module")
def kernel_image(guest, local_registry) -> str:  # noqa: F811
    return push_kernel_image(guest, local_registry, "e2e")


def busybox_vm(name: str, image: str) -> dict:
    return {
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {"name": name},
        "spec": {
            "runStrategy": "Halted",
            "dataVolumeTemplates": [{"metadata": {"name": f"{name}-data"},
                                     "spec": {"source": {"blank": {}},
                                              "storage": {"resources": {"requests": {"storage": "16Mi"}}}}}],
            "template": {"spec": {
                "terminationGracePeriodSeconds": 5,
                "domain": {
                    "cpu": {"cores": 1}, "memory": {"guest": "192Mi"},
                    "firmware": {"kernelBoot": {"kernelArgs": "console=ttyS0 panic=-1 quiet",
                                                "container": {"image": image, "kernelPath": "/boot/vmlinuz",
                                                              "initrdPath": "/boot/initramfs.cpio.gz"}}},
                    "devices": {"disks": [{"name": "data", "disk": {"bus": "virtio"}},
                                          {"name": "cloudinit", "disk": {"bus": "virtio"}}]},
                },
                "volumes": [
                    {"name": "data", "dataVolume": {"name": f"{name}-data"}},
                    {"name": "cloudinit", "cloudInitNoCloud": {
                        "userData": "#!/bin/sh\necho CLOUD-INIT-RAN-$((6*7)) > /dev/ttyS0\n"}},
                ],
            }},
        },
    }


def test_vm_lifecycle_in_standalone_mode(standalone, kernel_image, libvirt_host, tmp_path):
    name = f"e2e-{uuid.uuid4().hex[:6]}"
    manifest = tmp_path / "vm.yaml"
    manifest.write_text(yaml.safe_dump(busybox_vm(name, kernel_image)))
    standalone.run("apply", "-f", str(manifest))

    # Halted → start --wait → Running; the kernel came from the registry, cloud-init ran
    out = standalone.run("start", name, "--wait", "--timeout", "3m")
    assert f"VM {name} was scheduled to start" in out.stdout
    vmi = standalone.obj("vmi", name)
    assert vmi["status"]["phase"] == "Running"
    assert vmi["status"]["nodeName"] == "node01"
    first_uid = vmi["metadata"]["uid"]
    # the guest's init runs cloud-init's user-data first and prints GUEST-BOOT-OK after its network is up
    log = standalone.wait_log(name, "GUEST-BOOT-OK")
    assert log.index("CLOUD-INIT-RAN-42") < log.index("GUEST-BOOT-OK")
    assert "Running" in standalone.run("get", "vm", name).stdout

    # VNC through the controller: a screenshot, and the RFB handshake through --proxy-only
    shot = tmp_path / "screen.png"
    standalone.run("vnc", "screenshot", name, "-f", str(shot))
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert width >= 320 and height >= 200            # the guest's VGA text mode, not an empty image
    proxy = subprocess.Popen([*VIRTCTL, "vnc", name, "--proxy-only"], env=standalone.env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        port = json.loads(proxy.stdout.readline())["port"]
        with socket.create_connection(("127.0.0.1", port), timeout=30) as rfb:
            assert rfb.recv(12) == b"RFB 003.008\n"
    finally:
        proxy.kill()
        proxy.wait(10)

    # the guest writes to its persistent volume (raw, no filesystem: /dev/vda is the first disk)
    standalone.console(name, "echo PERSISTED-$((7*6)) | dd of=/dev/vda bs=512 count=1 conv=sync && sync")

    # restart → a new VMI uid, and the volume kept what the guest wrote
    standalone.run("restart", name, "--wait", "--timeout", "3m")
    second = standalone.obj("vmi", name)
    assert second["metadata"]["uid"] != first_uid
    standalone.wait_log(name, "GUEST-BOOT-OK")
    out = standalone.console(name, "dd if=/dev/vda bs=512 count=1 2>/dev/null | head -c 12; echo")
    assert "PERSISTED-42" in out

    # one node: a migration has nowhere to go; it fails with the reason and the VM keeps running
    out = standalone.run("migrate", name, "--wait", "--timeout", "60s", check=False)
    assert out.returncode == 1 and f"VM {name} was scheduled to migrate" in out.stdout
    assert "node01 is the only node" in out.stderr, out.stderr
    assert standalone.obj("vmi", name)["metadata"]["uid"] == second["metadata"]["uid"]

    # kill -9 of the controller while the VM runs: a new controller re-adopts it
    domain = libvirt_name(standalone, f"default_{name}")
    ids = domain_ids(libvirt_host.uri, domain)
    assert len(ids) == 1
    os.kill(standalone.pid(), signal.SIGKILL)
    time.sleep(1)
    assert domain_ids(libvirt_host.uri, domain) == ids, "the guest must outlive its controller"
    standalone.run("local", "up", timeout=60)
    time.sleep(3)                                   # a few reconcile rounds
    assert domain_ids(libvirt_host.uri, domain) == ids, "re-adopted: same domain, no duplicate"
    again = standalone.obj("vmi", name)
    assert again["metadata"]["uid"] == second["metadata"]["uid"]
    assert again["status"]["phase"] == "Running"

    # stop --wait → Stopped, and the domain is gone
    out = standalone.run("stop", name, "--wait", "--timeout", "2m")
    assert f"VM {name} was scheduled to stop" in out.stdout
    assert standalone.obj("vm", name)["status"]["printableStatus"] == "Stopped"
    assert domain_ids(libvirt_host.uri, domain) == []
    standalone.run("delete", "vm", name)
