"""Reaching a guest that moved: declared ``interfaces[].ports`` and ``port-forward`` after a live
migration to the second libvirt host (scripts/start-second-libvirtd.sh), through the real CLI."""

from __future__ import annotations

import socket
import subprocess
import uuid
from pathlib import Path

import pytest
import yaml

from tests.controller.storage.registry_fixture import local_registry  # noqa: F401  (fixture)
from tests.e2e.test_guest_access import free_port, http_get
from tests.e2e.test_migration import two_nodes  # noqa: F401  (fixture)
from tests.e2e.test_standalone import VIRTCTL, kernel_image  # noqa: F401  (fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def test_ports_and_port_forward_follow_a_live_migration(two_nodes, kernel_image, tmp_path):  # noqa: F811
    env = two_nodes
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 80)) == 0:
            pytest.skip("127.0.0.1:80 is already taken on this machine")
    name = f"migports-{uuid.uuid4().hex[:4]}"
    vm = {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {"name": name},
          "spec": {"runStrategy": "Always", "template": {"spec": {
              "terminationGracePeriodSeconds": 0,
              "domain": {"memory": {"guest": "192Mi"},
                         "devices": {"interfaces": [{"name": "default", "masquerade": {},
                                                     "ports": [{"name": "http", "port": 80}]}]},
                         "firmware": {"kernelBoot": {"kernelArgs": "console=ttyS0 panic=-1 quiet",
                                                     "container": {"image": kernel_image,
                                                                   "kernelPath": "/boot/vmlinuz",
                                                                   "initrdPath": "/boot/initramfs.cpio.gz"}}}},
              "networks": [{"name": "default", "pod": {}}]}}}}
    manifest = Path(tmp_path) / "vm.yaml"
    manifest.write_text(yaml.safe_dump(vm))
    env.run("apply", "-f", str(manifest))
    env.wait_log(name, "GUEST-BOOT-OK", timeout=180)
    assert "GUEST-HTTP-OK" in http_get(80, attempts=120)
    assert env.obj("vmi", name)["status"]["nodeName"] == "node01"

    env.run("migrate", name, "--wait", "--timeout", "2m")
    assert env.obj("vmi", name)["status"]["nodeName"] == "node02"
    assert "GUEST-HTTP-OK" in http_get(80)                              # re-added on the new QEMU
    port = free_port()
    fwd = subprocess.Popen([*VIRTCTL, "port-forward", f"vm/{name}", f"{port}:80"], env=env.env,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        fwd.stderr.readline()
        assert "GUEST-HTTP-OK" in http_get(port)                        # through the new host's monitor
    finally:
        fwd.terminate()
        fwd.wait(timeout=10)
    env.run("delete", "vm", name)
