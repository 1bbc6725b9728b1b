"""Snapshot and restore end to end on real QEMU: what the guest wrote to its persistent volume
before the snapshot comes back after the restore, although it was overwritten in between."""

from __future__ import annotations

import uuid

import yaml

from tests.controller.storage.registry_fixture import local_registry  # noqa: F401  (fixture)
from tests.e2e.test_standalone import busybox_vm, kernel_image, standalone  # noqa: F401  (fixtures)

READ = "dd if=/dev/vda bs=512 count=1 2>/dev/null | head -c 12; echo"


def write(env, name: str, text: str) -> None:
    env.console(name, f"echo {text} | dd of=/dev/vda bs=512 count=1 conv=sync && sync")


def boot(env, name: str) -> None:
    env.run("start", name, "--wait", "--timeout", "3m")
    env.wait_log(name, "GUEST-BOOT-OK")


def test_snapshot_restore_brings_back_the_volume(standalone, kernel_image, tmp_path):  # noqa: F811
    name = f"snap-{uuid.uuid4().hex[:6]}"
    manifest = tmp_path / "vm.yaml"
    manifest.write_text(yaml.safe_dump(busybox_vm(name, kernel_image)))
    standalone.run("apply", "-f", str(manifest))

    boot(standalone, name)
    write(standalone, name, "STATE-A-$((6*7))")
    standalone.run("stop", name, "--wait", "--timeout", "2m")

    out = standalone.run("snapshot", "create", name, "--name", f"{name}-s", "--wait", "--timeout", "2m")
    assert f"VirtualMachineSnapshot {name}-s of VM {name} was created" in out.stdout
    assert f"{name}-s" in standalone.run("snapshot", "list", name).stdout

    boot(standalone, name)
    write(standalone, name, "STATE-B-$((6*7))")
    assert "STATE-B-42" in standalone.console(name, READ)
    standalone.run("stop", name, "--wait", "--timeout", "2m")

    out = standalone.run("snapshot", "restore", f"{name}-s", "--name", f"{name}-r", "--wait", "--timeout", "2m")
    assert f"VirtualMachineRestore {name}-r of VM {name} from snapshot {name}-s was created" in out.stdout
    restore = standalone.obj("vmrestore", f"{name}-r")
    assert restore["status"]["complete"] is True

    boot(standalone, name)
    out = standalone.console(name, READ)
    assert "STATE-A-42" in out and "STATE-B-42" not in out

    standalone.run("stop", name, "--wait", "--timeout", "2m")
    standalone.run("snapshot", "delete", f"{name}-s")
    standalone.run("delete", "vm", name)
