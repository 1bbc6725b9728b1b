"""Live migration between two libvirt hosts on this machine (the second one from
scripts/start-second-libvirtd.sh), through the real CLI and a controller process: the guest keeps
its memory, the VMI moves to node02, and `migrate --wait` reports success. `migrate-cancel` while
the transfer runs aborts it: the guest stays on node01 and can migrate later."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml

from tests.controller.storage.registry_fixture import local_registry  # noqa: F401  (fixture)
from tests.e2e.test_standalone import VIRTCTL, Standalone, domain_ids, kernel_image, libvirt_name, stop  # noqa: F401  (fixture)

NODE2_DIR = "/var/lib/virtctl-node2"
NODE2_URI = f"qemu+unix:///system?socket={NODE2_DIR}/run/libvirt-sock"
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "start-second-libvirtd.sh"


@pytest.fixture(scope="module")
def two_nodes(libvirt_host, tmp_path_factory):
    started = subprocess.run(["sh", str(SCRIPT), NODE2_DIR], capture_output=True, text=True, timeout=120)
    if started.returncode != 0:
        reason = f"no second libvirt host: {started.stderr.strip() or started.stdout.strip()}"
        print(f"\nSKIP migration e2e: {reason}", file=sys.stderr)
        pytest.skip(reason)
    env = Standalone(tmp_path_factory.mktemp("migration"))
    env.state_dir.mkdir(parents=True)
    (env.state_dir / "config.yaml").write_text(yaml.safe_dump({"libvirtURIs": [libvirt_host.uri, NODE2_URI]}))
    env.run("local", "up", timeout=60)
    yield env
    stop(env, libvirt_host.uri, NODE2_URI)


def boot_vm(env, kernel_image: str, tmp_path: Path) -> str:  # noqa: F811  (the fixture's value)
    name = f"mig-{uuid.uuid4().hex[:6]}"
    vm = {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {"name": name},
          "spec": {"runStrategy": "Always", "template": {"spec": {
              "terminationGracePeriodSeconds": 0,
              "domain": {"memory": {"guest": "192Mi"}, "devices": {},
                         "firmware": {"kernelBoot": {"kernelArgs": "console=ttyS0 panic=-1 quiet",
                                                     "container": {"image": kernel_image,
                                                                   "kernelPath": "/boot/vmlinuz",
                                                                   "initrdPath": "/boot/initramfs.cpio.gz"}}}}}}}}
    manifest = tmp_path / "vm.yaml"
    manifest.write_text(yaml.safe_dump(vm))
    env.run("apply", "-f", str(manifest))
    env.run("start", name, "--wait", "--timeout", "3m", check=False)   # Always: it starts by itself
    env.wait_log(name, "GUEST-BOOT-OK")
    return name


def test_live_migration_to_the_second_host(two_nodes, kernel_image, libvirt_host, tmp_path):  # noqa: F811
    env = two_nodes
    name = boot_vm(env, kernel_image, tmp_path)
    before = env.obj("vmi", name)
    assert before["status"]["nodeName"] == "node01"
    env.console(name, "echo MEMORY-$((5*5)) > /tmp/state")

    out = env.run("migrate", name, "--wait", "--timeout", "2m")
    assert f"VM {name} was scheduled to migrate" in out.stdout

    after = env.obj("vmi", name)
    assert after["metadata"]["uid"] == before["metadata"]["uid"]          # the same VMI, moved
    assert after["status"]["nodeName"] == "node02"
    state = after["status"]["migrationState"]
    assert (state["sourceNode"], state["targetNode"], state["completed"]) == ("node01", "node02", True)
    domain = libvirt_name(env, f"default_{name}")
    assert domain_ids(libvirt_host.uri, domain) == []
    assert len(domain_ids(NODE2_URI, domain)) == 1
    env.ask(name, "cat /tmp/state", "MEMORY-25")                          # the guest kept its memory
    vmims = yaml.safe_load(env.run("get", "vmim", "-o", "yaml").stdout)["items"]
    assert [m["status"]["phase"] for m in vmims] == ["Succeeded"]
    env.run("stop", name, "--wait", "--timeout", "2m")
    assert domain_ids(NODE2_URI, domain) == []


@contextlib.contextmanager
def throttled(uri: str, domain: str, mib_per_second: int):
    """Cap the domain's migration bandwidth, as `virsh migrate-setspeed` does. The busybox guest
    otherwise moves in about a second (~100 MB), too soon to cancel; libvirt applies the cap to the
    controller's ordinary migrate call, so the controller has nothing in it for this test."""
    import libvirt
    conn = libvirt.open(uri)
    try:
        dom = conn.lookupByName(domain)
        unlimited = dom.migrateGetMaxSpeed(0)
        dom.migrateSetMaxSpeed(mib_per_second, 0)
        try:
            yield dom
        finally:
            with contextlib.suppress(libvirt.libvirtError):
                conn.lookupByName(domain).migrateSetMaxSpeed(unlimited, 0)
    finally:
        conn.close()


def transferring(dom) -> bool:
    import libvirt
    info = dom.jobInfo()                   # [type, elapsed ms, remaining ms, data total, processed, …]
    return info[0] == libvirt.VIR_DOMAIN_JOB_UNBOUNDED and info[4] > 0


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_migrate_cancel_aborts_a_running_migration(two_nodes, kernel_image, libvirt_host, tmp_path):  # noqa: F811
    env = two_nodes
    name = boot_vm(env, kernel_image, tmp_path)
    domain = libvirt_name(env, f"default_{name}")
    before = env.obj("vmi", name)
    env.console(name, "echo MEMORY-$((6*7)) > /tmp/state")

    with throttled(libvirt_host.uri, domain, 1) as dom:      # 1 MiB/s: about 100 s to move
        waiting = subprocess.Popen([*VIRTCTL, "migrate", name, "--wait", "--timeout", "2m"], env=env.env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            wait_for(lambda: transferring(dom), 60, "the transfer to start")
            assert env.obj("vm", name)["status"]["printableStatus"] == "Migrating"
            started = time.monotonic()
            out = env.run("migrate-cancel", name, "--wait", "--timeout", "60s")
            took = time.monotonic() - started
            stdout, stderr = waiting.communicate(timeout=30)
        finally:
            waiting.kill()
    assert f"VM {name} was scheduled to migrate-cancel" in out.stdout
    print(f"\nmigrate-cancel --wait took {took:.1f}s")
    assert waiting.returncode == 1 and f"VM {name} was canceled" in stderr, (stdout, stderr)

    after = env.obj("vmi", name)                              # the same VMI, still on node01
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert (after["status"]["phase"], after["status"]["nodeName"]) == ("Running", "node01")
    state = after["status"]["migrationState"]
    assert (state["abortRequested"], state["abortStatus"]) == (True, "Succeeded")
    assert (state["failed"], state["completed"]) == (True, False), state
    assert len(domain_ids(libvirt_host.uri, domain)) == 1 and domain_ids(NODE2_URI, domain) == []
    env.ask(name, "cat /tmp/state", "MEMORY-42")                          # the guest still answers
    vmims = yaml.safe_load(env.run("get", "vmim", "-o", "yaml").stdout)["items"]
    assert [m for m in vmims if m["spec"]["vmiName"] == name] == []        # deleted, as KubeVirt leaves it
    assert env.obj("vm", name)["status"]["printableStatus"] == "Running"

    env.run("migrate", name, "--wait", "--timeout", "2m")                 # unthrottled again: it moves
    moved = env.obj("vmi", name)
    assert moved["metadata"]["uid"] == before["metadata"]["uid"] and moved["status"]["nodeName"] == "node02"
    env.ask(name, "cat /tmp/state", "MEMORY-42")                          # (a new console on node02)
    env.run("stop", name, "--wait", "--timeout", "2m")
