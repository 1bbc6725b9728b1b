"""Chunked lists with real third-party clients: kubectl's ``--chunk-size`` follows ``continue``, and
the kubernetes Python client passes ``limit`` / ``_continue`` through and reads ``ListMeta``."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.controller.server.test_paging import NAMES, vm
from tests.kubectl.test_kubectl import Kubectl, kubectl_binary
from virtctl.model import kinds

pytestmark = pytest.mark.usefixtures("no_traceback_logged")


@pytest.fixture
def five_vms(api_server: Any) -> Any:
    for name in NAMES:
        api_server.store.create(kinds.VM, "default", vm(name))
    return api_server


@pytest.mark.kubectl
@pytest.mark.parametrize("version", ["1.30", "1.33"])
def test_kubectl_get_with_chunk_size_follows_continue(five_vms, tmp_path, version):
    kubectl = Kubectl(kubectl_binary(version), five_vms, tmp_path / "home")
    r = kubectl("get", "vm", "--chunk-size=2", "-v=6")
    rows = [line.split()[0] for line in r.stdout.splitlines()[1:]]
    assert rows == sorted(NAMES)                      # one table, every VM, in key order
    # one log line per request: "GET https://…" (1.30) or '"Response" verb="GET" url="https://…"' (1.33)
    requests = re.findall(r'https://[^\s"]+/namespaces/default/virtualmachines\?([^\s"]+)', r.stderr)
    assert len(requests) == 3, r.stderr               # 2 + 2 + 1
    assert all("limit=2" in q for q in requests) and all("continue=" in q for q in requests[1:])
    names = kubectl("get", "vm", "--chunk-size=2", "-o", "name").stdout.split()
    assert names == [f"virtualmachine.kubevirt.io/{n}" for n in sorted(NAMES)]
    five_vms.store.create(kinds.NAMESPACE, None, {"metadata": {"name": "aaa"}})
    five_vms.store.create(kinds.VM, "aaa", vm("vm-z"))
    rows = [line.split()[:2] for line in kubectl("get", "vm", "-A", "--chunk-size=2").stdout.splitlines()[1:]]
    assert rows == [["aaa", "vm-z"]] + [["default", n] for n in sorted(NAMES)]
    for n in ("cm-c", "cm-a", "cm-b"):
        kubectl("create", "configmap", n, "--from-literal=k=v")
    listed = kubectl("get", "configmaps", "--chunk-size=1", "-o", "name").stdout.split()
    assert [n for n in listed if n.startswith("configmap/cm-")] == ["configmap/cm-a", "configmap/cm-b",
                                                                   "configmap/cm-c"]


def test_kubernetes_client_pages_custom_objects_and_core_lists(five_vms):
    kubernetes = pytest.importorskip("kubernetes")
    api_client = kubernetes.config.new_client_from_config(config_file=str(five_vms.kubeconfig_path))
    custom = kubernetes.client.CustomObjectsApi(api_client)
    first = custom.list_namespaced_custom_object("kubevirt.io", "v1", "default", "virtualmachines", limit=2)
    assert [o["metadata"]["name"] for o in first["items"]] == ["vm-a", "vm-b"]
    assert first["metadata"]["remainingItemCount"] == 3
    seen = [o["metadata"]["name"] for o in first["items"]]
    token = first["metadata"]["continue"]
    while token:
        page = custom.list_namespaced_custom_object("kubevirt.io", "v1", "default", "virtualmachines", limit=2,
                                                    _continue=token)
        seen += [o["metadata"]["name"] for o in page["items"]]
        token = page["metadata"].get("continue")
    assert seen == sorted(NAMES)

    core = kubernetes.client.CoreV1Api(api_client)
    for n in ("cm-b", "cm-a", "cm-c"):
        core.create_namespaced_config_map("default", {"metadata": {"name": n}, "data": {"k": "v"}})
    page = core.list_namespaced_config_map("default", limit=2, label_selector="")
    listed = [c.metadata.name for c in page.items]
    assert page.metadata._continue and page.metadata.remaining_item_count is not None
    while page.metadata._continue:
        page = core.list_namespaced_config_map("default", limit=2, _continue=page.metadata._continue)
        listed += [c.metadata.name for c in page.items]
    assert [n for n in listed if n.startswith("cm-")] == ["cm-a", "cm-b", "cm-c"]
    assert listed == sorted(listed)
