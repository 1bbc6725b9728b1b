"""Standalone mode end to end: the real CLI against a real controller process on real QEMU.

One VM goes through the whole life a user gives it: its kernel comes from an OCI image in a real
registry on loopback, cloud-init user-data runs in the guest, a persistent volume keeps what the
guest wrote across a restart, the controller is killed with SIGKILL while the VM runs and a new
one re-adopts it (no duplicate domain), and `stop --wait` ends it.
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tarfile
import time
import uuid
from pathlib import Path

import pytest
import yaml

from tests.controller.storage.registry_fixture import local_registry  # noqa: F401  (fixture)

VIRTCTL = [sys.executable, "-m", "virtctl"]


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class Standalone:
    """A controller in its own state dir, driven through the CLI with its own kubeconfig."""

    def __init__(self, root: Path):
        self.state_dir = root / "state"
        self.env = dict(os.environ, VIRTCTL_STATE_DIR=str(self.state_dir),
                        KUBECONFIG=str(root / "kubeconfig"), HOME=str(root))

    def run(self, *args: str, stdin: str | None = None, timeout: float = 240, check: bool = True):
        proc = subprocess.run([*VIRTCTL, *args], input=stdin if stdin is not None else "", capture_output=True,
                              text=True, env=self.env, timeout=timeout)
        if check:
            assert proc.returncode == 0, f"virtctl {' '.join(args)} → {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        return proc

    def pid(self) -> int:
        return json.loads((self.state_dir / "server.json").read_text())["pid"]

    def obj(self, kind: str, name: str) -> dict:
        return json.loads(self.run("get", kind, name, "-o", "json").stdout)

    def console(self, name: str, command: str) -> str:
        """Type one shell line into the guest (non-TTY console) and return what came back."""
        return self.run("console", name, "--timeout", "1", stdin=command + "\n", timeout=120).stdout

    def ask(self, name: str, command: str, answer: str, timeout: float = 60) -> str:
        """Type ``command`` into the guest and wait for ``answer`` in its console log: the non-TTY
        console stops after a quiet second, which a guest on a loaded machine may take to answer.
        ``answer`` must be new output (not in the log before, not in the command itself)."""
        self.console(name, command)
        return self.wait_log(name, answer, timeout)

    def wait_log(self, name: str, marker: str, timeout: float = 90) -> str:
        deadline = time.monotonic() + timeout
        out = ""
        while time.monotonic() < deadline:
            out = self.run("console", name, "--show-log", check=False).stdout
            if marker in out:
                return out
            time.sleep(1)
        raise AssertionError(f"{marker!r} not in the console log of {name}:\n{out[-2000:]}")


KUBECTL = Path("/usr/lib/google-cloud-sdk/bin/kubectl.1.30")


def stop(env: Standalone, *libvirt_uris: str) -> None:
    """``local down``, then destroy what the controller left on its nodes (node01, node02, … in
    ``libvirt_uris`` order): nothing it started may outlive it."""
    env.run("local", "down", check=False, timeout=60)
    from virtctl.controller.settings import Settings
    from virtctl.controller.virt.libvirt_host import LibvirtHost
    owner = Settings(state_dir=env.state_dir).controller_id
    for i, uri in enumerate(libvirt_uris):
        host = LibvirtHost(uri, f"node{i + 1:02d}", owner_id=owner)
        try:
            for dom in host.list_domains():
                host.destroy(dom)
        finally:
            host.close()


def push_kernel_image(guest, registry, tag: str) -> str:
    """The test guest's kernel and initramfs as a containerDisk-style kernel-boot image."""
    layer = _tar({"boot/vmlinuz": Path(guest.kernel).read_bytes(),
                  "boot/initramfs.cpio.gz": Path(guest.initrd).read_bytes()})
    registry.push_image("virtctl-test/kernel-boot", tag, [layer])
    return f"{registry.host}/virtctl-test/kernel-boot:{tag}"


def kubectl(env: Standalone, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    """Real kubectl 1.30 against the controller (skips where it is not installed)."""
    if not os.access(KUBECTL, os.X_OK):
        pytest.skip(f"{KUBECTL} is not installed")
    r = subprocess.run([str(KUBECTL), *args], env=env.env, capture_output=True, text=True, timeout=timeout)
    if check:
        assert r.returncode == 0, f"kubectl {' '.join(args)} → {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r


def wait_until(fn, timeout: float, what: str):
    """``fn()``'s first truthy answer, asked every second until ``timeout``."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


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


def libvirt_name(env: Standalone, domain: str) -> str:
    """What libvirt calls the domain ``domain`` of the controller of ``env``."""
    from virtctl.controller.settings import Settings
    from virtctl.controller.virt.hypervisor import libvirt_domain_name
    return libvirt_domain_name(domain, Settings(state_dir=env.state_dir).controller_id)


def domain_ids(uri: str, domain: str) -> list[int]:
    import libvirt
    conn = libvirt.open(uri)
    try:
        return [d.ID() for d in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE) if d.name() == domain]
    finally:
        conn.close()


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
