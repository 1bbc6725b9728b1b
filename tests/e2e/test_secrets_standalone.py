"""Secrets and ConfigMaps used by VMs in standalone mode, with a real controller process, real QEMU
and real kubectl 1.30: cloud-init user data from a Secret (``secretRef``) runs in the guest, and a
``secret`` volume reaches the guest as a disk with the Secret's keys as files; a VM whose Secret does
not exist stays Pending with kubelet's FailedMount event naming it, and starts once the Secret is
created."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.controller.storage.registry_fixture import local_registry  # noqa: F401  (fixture)
from tests.e2e.standalone_env import Standalone, kernel_vm, kubectl, push_kernel_image, running_controller, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]



@pytest.fixture(scope="module")
def env(libvirt_host, tmp_path_factory):
    yield from running_controller(libvirt_host, tmp_path_factory, "secrets")


@pytest.fixture(scope="module")
def image(guest, local_registry) -> str:  # noqa: F811
    return push_kernel_image(guest, local_registry, "secrets")


def secret_vm(env: Standalone, image: str, name: str, user_data_secret: str, volume_secret: str | None = None,
              config_volume: dict | None = None, credentials: list | None = None) -> None:
    disks = [{"name": "cloudinit", "disk": {"bus": "virtio"}}]
    volumes: list[dict] = [{"name": "cloudinit", "cloudInitNoCloud": {"secretRef": {"name": user_data_secret}}}]
    if volume_secret:
        config_volume = {"secret": {"secretName": volume_secret}}
    if config_volume:
        # first in the disk order: the guest mounts the first non-cidata disk at /mnt/data
        disks.insert(0, {"name": "cfg", "disk": {"bus": "virtio"}})
        volumes.append({"name": "cfg", **config_volume})
    env.apply(kernel_vm(name, image, memory="192Mi", labels={"tier": "web"}, devices={"disks": disks},
                        accessCredentials=credentials or [], volumes=volumes))


def user_data_secret(env: Standalone, tmp: Path, name: str, script: str, key: str = "userdata") -> None:
    f = tmp / f"{name}-{key}"
    f.write_text(script)
    kubectl(env, "create", "secret", "generic", name, f"--from-file={key}={f}")


def test_cloud_init_and_volume_from_secrets_reach_the_guest(env, image, tmp_path):
    sfx = uuid.uuid4().hex[:6]
    name = f"sec-{sfx}"
    user_data_secret(env, tmp_path, f"ud-{sfx}",
                     f"#!/bin/sh\necho USERDATA-FROM-SECRET-{sfx} > /dev/ttyS0\n"
                     "echo VOLUME-$(cat /mnt/data/token) > /dev/ttyS0\n", key="userData")
    kubectl(env, "create", "secret", "generic", f"vol-{sfx}", f"--from-literal=token=tok-{sfx}")
    secret_vm(env, image, name, f"ud-{sfx}", volume_secret=f"vol-{sfx}")
    log = env.wait_log(name, f"USERDATA-FROM-SECRET-{sfx}", timeout=240)
    assert f"VOLUME-tok-{sfx}" in env.wait_log(name, f"VOLUME-tok-{sfx}", timeout=60), log[-2000:]


def test_missing_secret_leaves_the_vmi_pending_until_it_is_created(env, image, tmp_path):
    sfx = uuid.uuid4().hex[:6]
    name = f"late-{sfx}"
    secret_vm(env, image, name, f"late-ud-{sfx}")
    message = f'MountVolume.SetUp failed for volume "cloudinit" : secret "late-ud-{sfx}" not found'
    events = wait_until(lambda: message in (out := kubectl(env, "get", "events").stdout) and out, 120,
                        "FailedMount event")
    line = next(ln for ln in events.splitlines() if message in ln)
    assert "Warning" in line and "FailedMount" in line and f"virtualmachineinstance/{name}" in line
    vmi = json.loads(kubectl(env, "get", "vmi", name, "-o", "json").stdout)
    assert vmi["status"]["phase"] == "Pending"
    cond = {c["type"]: c for c in vmi["status"]["conditions"]}["Synchronized"]
    assert (cond["status"], cond["reason"], cond["message"]) == ("False", "FailedMount", message)

    user_data_secret(env, tmp_path, f"late-ud-{sfx}", f"#!/bin/sh\necho LATE-SECRET-{sfx} > /dev/ttyS0\n")
    env.wait_log(name, f"LATE-SECRET-{sfx}", timeout=240)
    assert wait_until(lambda: env.obj("vmi", name)["status"]["phase"] == "Running", 60, "Running")


def test_configmap_volume_and_nocloud_keys_reach_the_guest(env, image, tmp_path):
    sfx = uuid.uuid4().hex[:6]
    name = f"cm-{sfx}"
    kubectl(env, "create", "configmap", f"app-{sfx}", f"--from-literal=app.conf=port-{sfx}")
    kubectl(env, "create", "secret", "generic", f"keys-{sfx}", f"--from-literal=k=ssh-ed25519 AAAAkey{sfx} me")
    user_data_secret(env, tmp_path, f"ud-{sfx}",
                     "#!/bin/sh\necho CONF-$(cat /mnt/data/app.conf) > /dev/ttyS0\n"
                     "grep -A1 public-keys /mnt/cidata/meta-data | tail -1 | sed 's/^/META /' > /dev/ttyS0\n")
    secret_vm(env, image, name, f"ud-{sfx}", config_volume={"configMap": {"name": f"app-{sfx}"}},
              credentials=[{"sshPublicKey": {"source": {"secret": {"secretName": f"keys-{sfx}"}},
                                             "propagationMethod": {"noCloud": {}}}}])
    env.wait_log(name, f"CONF-port-{sfx}", timeout=240)
    log = env.wait_log(name, f"AAAAkey{sfx}", timeout=60)
    assert f'META   "0": "ssh-ed25519 AAAAkey{sfx} me"' in log


def test_downward_api_volume_reaches_the_guest(env, image, tmp_path):
    sfx = uuid.uuid4().hex[:6]
    name = f"dw-{sfx}"
    user_data_secret(env, tmp_path, f"ud-{sfx}", "#!/bin/sh\necho DOWN-$(cat /mnt/data/name)-$(cat /mnt/data/tier)"
                                                 " > /dev/ttyS0\n")
    secret_vm(env, image, name, f"ud-{sfx}", config_volume={"downwardAPI": {"fields": [
        {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
        {"path": "tier", "fieldRef": {"fieldPath": "metadata.labels['tier']"}}]}})
    env.wait_log(name, f"DOWN-{name}-web", timeout=240)
