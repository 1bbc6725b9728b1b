"""The KubeVirt client against the embedded API server over real HTTPS (no stand-in server)."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from tests.conftest import load_example
from virtctl.client import KubeVirtClient, Overrides, resolve
from virtctl.client.kubevirt import REQUEST_OBSERVERS
from virtctl.controller.schema import validate
from virtctl.errors import Conflict, ConnectionFailed, NotFound, Unauthorized
from virtctl.model import kinds


@pytest.fixture
def kv(api_server) -> KubeVirtClient:
    client = KubeVirtClient.from_config(resolve(Overrides(kubeconfig=str(api_server.kubeconfig_path))))
    yield client
    client.close()


@pytest.fixture
def sent() -> list[tuple[str, str, object]]:
    seen: list[tuple[str, str, object]] = []
    REQUEST_OBSERVERS.append(lambda m, p, b: seen.append((m, p, b)))
    yield seen
    REQUEST_OBSERVERS.pop()


def test_crud_round_trip_and_bodies_validate(kv: KubeVirtClient, sent) -> None:
    vm = load_example("vm-cirros")
    created = kv.create(kinds.VM, vm)
    assert created["metadata"]["name"] == vm["metadata"]["name"]
    assert validate("v1.VirtualMachine", created) == []
    got = kv.get(kinds.VM, vm["metadata"]["name"])
    got["metadata"].setdefault("labels", {})["team"] = "a"
    replaced = kv.replace(kinds.VM, got)
    assert replaced["metadata"]["labels"]["team"] == "a"
    patched = kv.patch(kinds.VM, vm["metadata"]["name"], {"metadata": {"labels": {"x": "y"}}})
    assert {"team": "a", "x": "y"}.items() <= patched["metadata"]["labels"].items()
    listed = kv.list(kinds.VM, label_selector="x=y")
    assert [i["metadata"]["name"] for i in listed["items"]] == [vm["metadata"]["name"]]
    kv.delete(kinds.VM, vm["metadata"]["name"])
    with pytest.raises(NotFound):
        kv.get(kinds.VM, vm["metadata"]["name"])
    for method, _path, body in sent:
        if method in ("POST", "PUT") and body is not None:
            assert validate("v1.VirtualMachine", body) == []


@pytest.mark.parametrize("kind", kinds.ALL_KINDS, ids=lambda k: k.kind)
def test_every_kind_lists_and_misses_cleanly(kv: KubeVirtClient, kind: kinds.Kind) -> None:
    assert kv.list(kind)["items"] == []
    with pytest.raises(NotFound):
        kv.get(kind, "missing")


def test_cluster_scoped_kind_create_and_get(kv: KubeVirtClient) -> None:
    obj = {"apiVersion": "instancetype.kubevirt.io/v1beta1", "kind": "VirtualMachineClusterInstancetype",
           "metadata": {"name": "small"}, "spec": {"cpu": {"guest": 1}, "memory": {"guest": "128Mi"}}}
    kv.create(kinds.INSTANCETYPE_CLUSTER, obj)
    assert kv.get(kinds.INSTANCETYPE_CLUSTER, "small")["spec"]["cpu"]["guest"] == 1


def test_stale_resource_version_is_a_conflict(kv: KubeVirtClient) -> None:
    vm = kv.create(kinds.VM, load_example("vm-cirros"))
    kv.patch(kinds.VM, vm["metadata"]["name"], {"metadata": {"labels": {"a": "b"}}})
    with pytest.raises(Conflict) as e:
        kv.replace(kinds.VM, vm)          # carries the old resourceVersion
    assert e.value.code == 409


def test_watch_sees_changes(kv: KubeVirtClient, api_server) -> None:
    vm = load_example("vm-cirros")
    other = load_example("vm-cirros")
    other["metadata"]["name"] = "other"
    kv.create(kinds.VM, other)      # a non-zero resourceVersion: "0" would mean "current state only"
    rv = kv.list(kinds.VM)["metadata"]["resourceVersion"]
    events: list[tuple[str, str]] = []

    def consume() -> None:
        for typ, obj in kv_watch.watch(kinds.VM, resource_version=rv, timeout_seconds=5):
            if typ != "BOOKMARK":
                events.append((typ, obj["metadata"]["name"]))
            if len(events) == 2:
                return

    kv_watch = KubeVirtClient.from_config(resolve(Overrides(kubeconfig=str(api_server.kubeconfig_path))))
    t = threading.Thread(target=consume)
    t.start()
    kv.create(kinds.VM, vm)
    kv.delete(kinds.VM, vm["metadata"]["name"])
    t.join(10)
    assert events == [("ADDED", vm["metadata"]["name"]), ("DELETED", vm["metadata"]["name"])]


def test_put_subresource_bodies_validate(kv: KubeVirtClient, sent) -> None:
    import virtctl.controller.actions  # noqa: F401  registers the lifecycle actions

    vm = load_example("vm-cirros")
    vm["spec"].pop("running", None)
    vm["spec"]["runStrategy"] = "Halted"
    kv.create(kinds.VM, vm)
    resp = kv.put_subresource(kinds.VM, None, vm["metadata"]["name"], "start", {"dryRun": ["All"]})
    assert resp.status == 202
    assert kv.get(kinds.VM, vm["metadata"]["name"])["spec"]["runStrategy"] == "Halted"
    resp = kv.put_subresource(kinds.VM, None, vm["metadata"]["name"], "start", {})
    assert resp.status == 202
    assert kv.get(kinds.VM, vm["metadata"]["name"])["spec"]["runStrategy"] == "Always"
    bodies = [b for m, p, b in sent if p.endswith("/start")]
    assert bodies and all(validate("v1.StartOptions", b) == [] for b in bodies)


def test_server_version(kv: KubeVirtClient) -> None:
    info = kv.server_version()
    assert info["gitVersion"].startswith("v")


def test_bad_token_is_unauthorized(api_server) -> None:
    kv = KubeVirtClient.from_config(resolve(Overrides(kubeconfig=str(api_server.kubeconfig_path), token="wrong")))
    with pytest.raises(Unauthorized):
        kv.list(kinds.VM)


def test_untrusted_ca_is_a_tls_error(api_server, tmp_path: Path) -> None:
    other_ca = tmp_path / "ca.pem"
    # a CA that did not sign the server's certificate: the system bundle
    import ssl

    other_ca.write_text(open(ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt").read())
    kv = KubeVirtClient.from_config(resolve(Overrides(kubeconfig=str(api_server.kubeconfig_path),
                                                      certificate_authority=str(other_ca))))
    with pytest.raises(ConnectionFailed, match="^Unable to connect to the server: tls: failed to verify certificate"):
        kv.list(kinds.VM)


def test_connection_refused_message(tmp_path: Path) -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    kv = KubeVirtClient.from_config(resolve(Overrides(server=f"https://127.0.0.1:{port}",
                                                      insecure_skip_tls_verify=True)))
    with pytest.raises(ConnectionFailed) as e:
        kv.list(kinds.VM)
    assert e.value.message == (f"The connection to the server 127.0.0.1:{port} was refused - "
                               "did you specify the right host or port?")


def test_websocket_params_carry_the_same_auth(kv: KubeVirtClient, api_server) -> None:
    p = kv.transport.websocket_params("/apis/subresources.kubevirt.io/v1/namespaces/default/"
                                      "virtualmachineinstances/x/console")
    assert p.url.startswith("wss://127.0.0.1:") and p.url.endswith("/x/console")
    assert p.headers["Authorization"] == f"Bearer {api_server.token}"
    assert p.ssl_context is not None
