"""The core ``services/proxy`` subresource in standalone mode with a real controller process, real
QEMU and real kubectl: ``kubectl get --raw /api/v1/namespaces/default/services/<svc>:<port>/proxy/``
returns the page of the guest's httpd (a ClusterIP Service, by port number and by port name); a
target port nothing listens on and a stopped guest are kube-apiserver's 503s."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import yaml

from tests.controller.storage.registry_fixture import local_registry  # noqa: F401  (fixture)
from tests.e2e.test_standalone import Standalone, kubectl, push_kernel_image, stop, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def env(libvirt_host, tmp_path_factory):
    e = Standalone(tmp_path_factory.mktemp("svcproxy"))
    e.run("local", "up", timeout=60)
    yield e
    stop(e, libvirt_host.uri)


@pytest.fixture(scope="module")
def image(guest, local_registry) -> str:  # noqa: F811
    return push_kernel_image(guest, local_registry, "svcproxy")


def web_vm(env: Standalone, image: str, name: str) -> None:
    manifest = {
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {"name": name},
        "spec": {"runStrategy": "Always", "template": {"metadata": {"labels": {"app": name}}, "spec": {
            "terminationGracePeriodSeconds": 2,
            "domain": {
                "memory": {"guest": "192Mi"},
                "firmware": {"kernelBoot": {"kernelArgs": "console=ttyS0 panic=-1 quiet",
                                            "container": {"image": image, "kernelPath": "/boot/vmlinuz",
                                                          "initrdPath": "/boot/initramfs.cpio.gz"}}},
                "devices": {},
            },
        }}},
    }
    path = Path(env.state_dir).parent / f"{name}.yaml"
    path.write_text(yaml.safe_dump(manifest))
    env.run("apply", "-f", str(path))


def raw(env: Standalone, path: str):
    return kubectl(env, "get", "--raw", path, check=False)


def test_kubectl_get_raw_through_the_service_proxy(env, image):
    name = f"sp-{uuid.uuid4().hex[:6]}"
    web_vm(env, image, name)
    env.wait_log(name, "GUEST-BOOT-OK", timeout=240)
    # `kubectl create service clusterip` selects app=<name>; its port is named "8080-80"
    kubectl(env, "create", "service", "clusterip", name, "--tcp", "8080:80", "--tcp", "8081:81")
    base = f"/api/v1/namespaces/default/services/{name}"

    r = wait_until(lambda: (r := raw(env, f"{base}:8080/proxy/")).returncode == 0 and r, 60, "the guest's page")
    assert r.stdout == "GUEST-HTTP-OK\n"
    r = raw(env, f"{base}:8080-80/proxy/index.html")
    assert (r.returncode, r.stdout) == (0, "GUEST-HTTP-OK\n")

    # kube-apiserver's errors: nothing listens on the guest's port 81; no such Service port
    r = raw(env, f"{base}:8081/proxy/")
    assert r.returncode == 1
    assert "error trying to reach service: dial tcp 10.0.2.15:81: connect: connection refused" in r.stderr
    r = raw(env, f"{base}:9999/proxy/")
    assert r.returncode == 1 and f'no service port 9999 found for service "{name}"' in r.stderr

    # the guest stops: the Service has no endpoint left
    env.run("stop", name)
    wait_until(lambda: f'no endpoints available for service "{name}"' in raw(env, f"{base}:8080/proxy/").stderr,
               120, "no endpoints once the guest stopped")
