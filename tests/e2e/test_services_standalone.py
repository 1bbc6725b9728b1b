"""Services in standalone mode with a real controller process, real QEMU, real kubectl 1.30 and the
real CLI: ``kubectl expose vm`` and ``virtctl expose vm`` with type NodePort publish the guest's
httpd on 127.0.0.1:<nodePort>; a deleted Service stops answering; a stopped and restarted VM is
published again; a node port taken by another program is a Warning event on the Service; two
Services on one node port are refused as kube-apiserver refuses them."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml

from tests.controller.storage.registry_fixture import local_registry  # noqa: F401  (fixture)
from tests.e2e.standalone_env import Standalone, kernel_vm, kubectl, push_kernel_image, running_controller, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]



@pytest.fixture(scope="module")
def env(libvirt_host, tmp_path_factory):
    yield from running_controller(libvirt_host, tmp_path_factory, "services")


@pytest.fixture(scope="module")
def image(guest, local_registry) -> str:  # noqa: F811
    return push_kernel_image(guest, local_registry, "services")


def web_vm(env: Standalone, image: str, name: str, app: str) -> None:
    env.apply(kernel_vm(name, image, memory="192Mi", labels={"app": app}))


def http_get(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
            return r.read().decode()
    except (OSError, urllib.error.URLError):
        return None


def node_port(env: Standalone, svc: str) -> int:
    obj = json.loads(kubectl(env, "get", "svc", svc, "-o", "json").stdout)
    return int(obj["spec"]["ports"][0]["nodePort"])


def free_node_port() -> tuple[socket.socket, int]:
    """A socket holding a free port of the node port range on 127.0.0.1."""
    for port in range(30000 + uuid.uuid4().int % 2000, 32767):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            s.listen(1)
            return s, port
        except OSError:
            s.close()
    raise AssertionError("no free port in the node port range")


def test_expose_publishes_the_guest_on_the_node_port(env, image):
    name = f"web-{uuid.uuid4().hex[:6]}"
    web_vm(env, image, name, app=f"{name}-k")
    env.wait_log(name, "GUEST-BOOT-OK", timeout=240)

    # real kubectl: `expose vm` needs a kind compiled into kubectl, as against a real KubeVirt cluster;
    # `create service nodeport` makes the Service instead (selector app=<service name>)
    r = kubectl(env, "expose", "vm", name, "--port", "8080", "--target-port", "80", "--type", "NodePort",
                "--name", f"{name}-k", check=False)
    assert r.returncode == 1 and 'no kind "VirtualMachine" is registered for version "kubevirt.io/v1"' in r.stderr
    r = kubectl(env, "create", "service", "nodeport", f"{name}-k", "--tcp", "8080:80")
    assert r.stdout == f"service/{name}-k created\n"
    port_k = node_port(env, f"{name}-k")
    assert "GUEST-HTTP-OK" in wait_until(lambda: http_get(port_k), 60, f"the guest's page on {port_k}")

    # virtctl expose: Go virtctl's message, selector and owner reference
    out = env.run("expose", "vm", name, "--name", f"{name}-v", "--port", "8081", "--target-port", "80",
                  "--type", "nodeport").stdout
    assert out == f"Service {name}-v successfully created for vm {name}\n"
    svc = json.loads(kubectl(env, "get", "svc", f"{name}-v", "-o", "json").stdout)
    assert svc["spec"]["selector"] == {"vmi.kubevirt.io/id": name}
    assert svc["spec"]["type"] == "NodePort" and svc["spec"]["ports"][0]["targetPort"] == 80
    owner = svc["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["controller"], owner["blockOwnerDeletion"]) == \
        ("VirtualMachine", name, True, False)
    port_v = node_port(env, f"{name}-v")
    assert port_v != port_k
    assert "GUEST-HTTP-OK" in wait_until(lambda: http_get(port_v), 60, f"the guest's page on {port_v}")

    # a deleted Service stops answering; the other one stays
    kubectl(env, "delete", "svc", f"{name}-k")
    wait_until(lambda: http_get(port_k) is None, 60, f"{port_k} unpublished")
    assert "GUEST-HTTP-OK" in (http_get(port_v) or "")

    # the VM stops: nothing answers; it starts again: published again
    env.run("stop", name)
    wait_until(lambda: http_get(port_v) is None, 120, f"{port_v} gone with the guest")
    wait_until(lambda: env.obj("vm", name).get("status", {}).get("printableStatus") == "Stopped", 120, "Stopped")
    env.run("start", name)
    env.wait_log(name, "GUEST-BOOT-OK", timeout=240)
    assert "GUEST-HTTP-OK" in wait_until(lambda: http_get(port_v), 120, f"{port_v} published again")


def test_node_port_bad_input(env, image):
    name = f"np-{uuid.uuid4().hex[:6]}"
    holder, taken = free_node_port()
    try:
        web_vm(env, image, name, app=name)
        env.wait_log(name, "GUEST-BOOT-OK", timeout=240)
        spec = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"{name}-a"},
                "spec": {"type": "NodePort", "selector": {"app": name},
                         "ports": [{"port": 80, "nodePort": taken, "protocol": "TCP"}]}}
        path = Path(env.state_dir).parent / f"{name}-a.yaml"
        path.write_text(yaml.safe_dump(spec))
        kubectl(env, "create", "-f", str(path))
        # the port is held by another program on 127.0.0.1: a Warning event on the Service says so
        events = wait_until(lambda: "PortNotAvailable" in (out := kubectl(env, "get", "events").stdout) and out,
                            60, "PortNotAvailable event")
        assert f"service/{name}-a" in events and str(taken) in events
        # a second Service on the same node port: kube-apiserver's 422
        spec["metadata"]["name"] = f"{name}-b"
        path.write_text(yaml.safe_dump(spec))
        r = kubectl(env, "create", "-f", str(path), check=False)
        assert r.returncode == 1
        assert (f'The Service "{name}-b" is invalid: spec.ports[0].nodePort: Invalid value: {taken}: provided port '
                "is already allocated") in r.stderr
    finally:
        holder.close()
    # the port is free again: the retry publishes it
    assert "GUEST-HTTP-OK" in wait_until(lambda: http_get(taken), 60, f"{taken} published after it was freed")


def test_a_restarted_controller_keeps_and_then_removes_the_forward(env, image):
    name = f"rs-{uuid.uuid4().hex[:6]}"
    web_vm(env, image, name, app=name)
    env.wait_log(name, "GUEST-BOOT-OK", timeout=240)
    kubectl(env, "create", "service", "nodeport", name, "--tcp", "8080:80")
    port = node_port(env, name)
    assert "GUEST-HTTP-OK" in wait_until(lambda: http_get(port), 60, f"the guest's page on {port}")
    env.run("local", "down", timeout=60)          # the guest and its forwards live on in QEMU
    assert "GUEST-HTTP-OK" in (http_get(port) or "")
    env.run("local", "up", timeout=60)
    kubectl(env, "delete", "svc", name)          # the new controller found the forward: it removes it
    wait_until(lambda: http_get(port) is None, 60, f"{port} unpublished after the restart")
