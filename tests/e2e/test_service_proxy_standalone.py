"""The core ``services/proxy`` subresource in standalone mode with a real controller process, real
QEMU and real kubectl: ``kubectl get --raw /api/v1/namespaces/default/services/<svc>:<port>/proxy/``
returns the page of the guest's httpd (a ClusterIP Service, by port number and by port name), as do
the kubernetes Python client and ``kubectl proxy``; a target port nothing listens on and a stopped
guest are kube-apiserver's 503s."""

from __future__ import annotations

import subprocess
import urllib.request
import uuid

import pytest

from tests.controller.storage.registry_fixture import local_registry  # noqa: F401  (fixture)
from tests.e2e.standalone_env import (
    KUBECTL,
    Standalone,
    kernel_vm,
    kubectl,
    push_kernel_image,
    running_controller,
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def env(libvirt_host, tmp_path_factory):
    yield from running_controller(libvirt_host, tmp_path_factory, "svcproxy")


@pytest.fixture(scope="module")
def image(guest, local_registry) -> str:  # noqa: F811
    return push_kernel_image(guest, local_registry, "svcproxy")


def raw(env: Standalone, path: str):
    return kubectl(env, "get", "--raw", path, check=False)


def test_kubectl_get_raw_through_the_service_proxy(env, image):
    name = f"sp-{uuid.uuid4().hex[:6]}"
    env.apply(kernel_vm(name, image, memory="192Mi", labels={"app": name}))
    env.wait_log(name, "GUEST-BOOT-OK", timeout=240)
    # `kubectl create service clusterip` selects app=<name>; its port is named "8080-80"
    kubectl(env, "create", "service", "clusterip", name, "--tcp", "8080:80", "--tcp", "8081:81")
    base = f"/api/v1/namespaces/default/services/{name}"

    r = wait_until(lambda: (r := raw(env, f"{base}:8080/proxy/")).returncode == 0 and r, 60, "the guest's page")
    assert r.stdout == "GUEST-HTTP-OK\n"
    r = raw(env, f"{base}:8080-80/proxy/index.html")
    assert (r.returncode, r.stdout) == (0, "GUEST-HTTP-OK\n")

    # the kubernetes Python client's connect_*_service_proxy_with_path
    from kubernetes import client as kclient
    from kubernetes import config as kconfig
    core = kclient.CoreV1Api(kconfig.new_client_from_config(config_file=env.env["KUBECONFIG"]))
    assert core.connect_get_namespaced_service_proxy_with_path(f"{name}:8080", "default", "index.html") == \
        "GUEST-HTTP-OK\n"

    # `kubectl proxy` and a browser-like client: the path without "/" is redirected to the one with it
    proxy = subprocess.Popen([str(KUBECTL), "proxy", "--port=0"], env=env.env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        line = proxy.stdout.readline() if proxy.stdout else ""
        assert line.startswith("Starting to serve on 127.0.0.1:"), line
        port = int(line.rsplit(":", 1)[1])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{base}:8080/proxy", timeout=30) as page:
            assert page.read() == b"GUEST-HTTP-OK\n"
            assert page.geturl().endswith(f"{base}:8080/proxy/")
    finally:
        proxy.kill()
        proxy.wait(10)

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
