"""Two controllers (two state dirs, as two users or a user and a test run) on one libvirtd, each
running a VM of the same namespace and name: each keeps its own guest and its own console, neither
touches or even logs the other's domain, domains made by hand on the same libvirtd leave no
threads behind, and SIGTERM ends a controller promptly while its consoles are open."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import yaml

from tests.controller.storage.registry_fixture import local_registry  # noqa: F401  (fixture)
from tests.e2e.raw_console import read_console
from tests.e2e.test_standalone import VIRTCTL, Standalone, domain_ids, kernel_image, libvirt_name, stop  # noqa: F401  (fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

FOREIGN_DOMAINS = 4
SIGTERM_BUDGET = 15.0        # `local down` falls back to SIGKILL after this long


def vm_manifest(name: str, image: str) -> dict:
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {"name": name},
            "spec": {"runStrategy": "Always", "template": {"spec": {
                "terminationGracePeriodSeconds": 0,
                "domain": {"memory": {"guest": "128Mi"}, "devices": {},
                           "firmware": {"kernelBoot": {"kernelArgs": "console=ttyS0 panic=-1 quiet",
                                                       "container": {"image": image,
                                                                     "kernelPath": "/boot/vmlinuz",
                                                                     "initrdPath": "/boot/initramfs.cpio.gz"}}}}}}}}


def foreign_domain_xml(name: str, guest) -> str:
    """A domain as a user makes it with virsh: no virtctl metadata, a serial console."""
    return f"""<domain type='qemu'><name>{name}</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
      <os><type arch='x86_64'>hvm</type><kernel>{guest.kernel}</kernel><initrd>{guest.initrd}</initrd>
      <cmdline>{guest.cmdline}</cmdline></os>
      <devices><serial type='pty'><target port='0'/></serial><console type='pty'><target type='serial' port='0'/>
      </console></devices></domain>"""


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def thread_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def settle(pid: int, baseline: int, timeout: float = 30.0) -> int:
    """The controller's thread count once it is back at ``baseline`` (or the last count seen)."""
    deadline = time.monotonic() + timeout
    count = thread_count(pid)
    while count > baseline and time.monotonic() < deadline:
        time.sleep(0.2)
        count = thread_count(pid)
    return count


@pytest.fixture(scope="module")
def pair(libvirt_host, tmp_path_factory):
    envs = [Standalone(tmp_path_factory.mktemp(f"shared-{i}")) for i in (1, 2)]
    for env in envs:
        env.run("local", "up", timeout=60)
    yield envs
    for env in envs:
        stop(env, libvirt_host.uri)


def test_two_controllers_on_one_libvirtd_keep_their_own_domains_and_consoles(pair, kernel_image, libvirt_host,  # noqa: F811
                                                                             guest, tmp_path):
    import libvirt

    one, two = pair
    name = f"shared-{uuid.uuid4().hex[:6]}"                  # the same namespace/name in both controllers
    manifest = tmp_path / "vm.yaml"
    manifest.write_text(yaml.safe_dump(vm_manifest(name, kernel_image)))
    for env in pair:
        env.run("apply", "-f", str(manifest))
    for env in pair:                                         # Always: it starts by itself
        env.wait_log(name, "GUEST-BOOT-OK", timeout=180)
        assert env.obj("vmi", name)["status"]["phase"] == "Running"
    domains = [libvirt_name(env, f"default_{name}") for env in pair]
    assert domains[0] != domains[1]
    assert all(len(domain_ids(libvirt_host.uri, d)) == 1 for d in domains)

    # each --show-log has its own guest's boot output (above), and each console reaches its own guest
    one.console(name, "echo ONE-$((6*7)) > /tmp/who")
    two.console(name, "echo TWO-$((6*7)) > /tmp/who")
    one.console(name, "cat /tmp/who")
    two.console(name, "cat /tmp/who")
    log_one, log_two = one.wait_log(name, "ONE-42"), two.wait_log(name, "TWO-42")
    assert "TWO-42" not in log_one and "ONE-42" not in log_two

    # domains made by hand on the same libvirtd: their console stays the user's (no controller
    # takes it with FORCE), they are not seen, and they leave no thread behind
    pid = one.pid()
    baseline = thread_count(pid)
    conn = libvirt.open(libvirt_host.uri)
    try:
        dom = conn.createXML(foreign_domain_xml(f"test-e2e-byhand-{uuid.uuid4().hex[:6]}", guest), 0)
        try:
            out, ended = read_console(conn, dom, b"guest# ", 120)
        finally:
            dom.destroy()
        assert b"GUEST-BOOT-OK" in out and b"guest# " in out and not ended, (ended, out[-500:])
        for _ in range(FOREIGN_DOMAINS):
            dom = conn.createXML(foreign_domain_xml(f"test-e2e-byhand-{uuid.uuid4().hex[:6]}", guest), 0)
            time.sleep(1)                                     # long enough for a console to be opened
            dom.destroy()
    finally:
        conn.close()
    after = settle(pid, baseline)
    print(f"\ncontroller threads: {baseline} before {FOREIGN_DOMAINS} foreign domains, {after} after")
    assert after <= baseline

    for env, theirs in ((one, domains[1]), (two, domains[0])):
        log = (env.state_dir / "controller.log").read_text()
        assert theirs not in log and "test-e2e-byhand" not in log and "not opened" not in log, log[-3000:]
        assert env.obj("vmi", name)["status"]["phase"] == "Running"

    # SIGTERM while a console and its bridge threads are open: a prompt, clean exit
    client = subprocess.Popen([*VIRTCTL, "console", name], env=one.env, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert client.stderr.readline().startswith(b"Successfully connected")
        started = time.monotonic()
        os.kill(pid, signal.SIGTERM)
        deadline = started + SIGTERM_BUDGET
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        took = time.monotonic() - started
        print(f"controller exit after SIGTERM with a console open: {took:.2f} s")
        assert not alive(pid), "SIGTERM ignored"
        assert not (one.state_dir / "server.json").exists()        # removed by the controller itself
        client.wait(30)                                            # and its client was let go
    finally:
        client.kill()
    assert len(domain_ids(libvirt_host.uri, domains[0])) == 1     # its guest outlives it, as after SIGKILL
    assert two.obj("vmi", name)["status"]["phase"] == "Running"
    two.console(name, "cat /tmp/who")
    assert "ONE-42" not in two.wait_log(name, "TWO-42")
