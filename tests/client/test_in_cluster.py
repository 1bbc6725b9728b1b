"""Inside a pod (KUBERNETES_SERVICE_HOST/PORT and a service-account directory) without a kubeconfig,
the client uses the in-cluster configuration as client-go does, against a real server: its token
(read again for each request), its CA and its namespace file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.cli.conftest import run_cli
from virtctl.client import KubeVirtClient, NoKubeconfig, Overrides, resolve
from virtctl.errors import Unauthorized
from virtctl.model import kinds


def vm(name: str, namespace: str) -> dict:
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"runStrategy": "Halted", "template": {"spec": {"domain": {"devices": {}}}}}}


@pytest.fixture
def pod(api_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    sa = tmp_path / "serviceaccount"
    sa.mkdir()
    (sa / "token").write_text(api_server.token + "\n")
    shutil.copy(api_server.ca_path, sa / "ca.crt")
    (sa / "namespace").write_text("pod-ns")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))            # no kubeconfig anywhere
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("POD_NAMESPACE", raising=False)
    monkeypatch.setenv("VIRTCTL_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("VIRTCTL_SERVICE_ACCOUNT_DIR", str(sa))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(api_server.port))
    for ns, name in (("pod-ns", "in-pod-ns"), ("other", "in-other")):
        made = api_server.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                                  "metadata": {"name": ns}})
        assert made.status in (201, 409), made.body
        assert api_server.request("POST", f"/apis/kubevirt.io/v1/namespaces/{ns}/virtualmachines",
                                  vm(name, ns)).status == 201
    return sa


def test_get_uses_the_pods_service_account_and_namespace(pod) -> None:
    res = run_cli(["get", "vm", "-o", "name"])
    assert (res.code, res.out) == (0, "virtualmachine.kubevirt.io/in-pod-ns\n"), res
    assert "local controller" not in res.err                     # no local controller was started
    assert run_cli(["get", "vm", "-n", "other", "-o", "name"]).out == "virtualmachine.kubevirt.io/in-other\n"


def test_pod_namespace_variable_wins_over_the_file(pod, api_server, monkeypatch) -> None:
    monkeypatch.setenv("POD_NAMESPACE", "other")
    cfg = resolve(Overrides())
    assert (cfg.server, cfg.namespace, cfg.ca_file) == (api_server.url, "other", str(pod / "ca.crt"))


def test_the_token_is_read_again_for_each_request(pod) -> None:
    kv = KubeVirtClient.from_config(resolve(Overrides()))
    try:
        assert [v["metadata"]["name"] for v in kv.list(kinds.VM)["items"]] == ["in-pod-ns"]
        (pod / "token").write_text("rotated-and-wrong")
        with pytest.raises(Unauthorized):
            kv.list(kinds.VM)
    finally:
        kv.close()


def test_without_the_token_file_it_is_not_a_pod(pod) -> None:
    (pod / "token").unlink()
    with pytest.raises(NoKubeconfig):
        resolve(Overrides())


def test_a_kubeconfig_wins_over_the_pod(pod, api_server, monkeypatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(api_server.kubeconfig_path))
    assert resolve(Overrides()).server == api_server.url and resolve(Overrides()).namespace == "default"
