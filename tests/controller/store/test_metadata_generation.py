"""metadata.generation: custom resources carry it and bump it on spec changes; the core kinds do not
have one, as kube-apiserver's strategies for them never set it."""

from __future__ import annotations

from virtctl.controller.store import metadata
from virtctl.model import kinds


def _vm(running: bool) -> dict:
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {"name": "vm1"},
            "spec": {"running": running, "template": {"spec": {}}}}


def test_custom_resources_count_spec_changes():
    created = metadata.for_create(kinds.VM, "default", _vm(False))
    assert created["metadata"]["generation"] == 1
    relabelled = _vm(False)
    relabelled["metadata"]["labels"] = {"a": "b"}
    assert metadata.for_update(kinds.VM, "vm1", created, relabelled, None)["metadata"]["generation"] == 1
    assert metadata.for_update(kinds.VM, "vm1", created, _vm(True), None)["metadata"]["generation"] == 2


def test_core_kinds_have_no_generation():
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "generation": 7}, "data": {"a": "1"}}
    created = metadata.for_create(kinds.CONFIGMAP, "default", cm)
    assert "generation" not in created["metadata"]
    changed = {**cm, "metadata": {"name": "c"}, "data": {"a": "2"}}
    assert "generation" not in metadata.for_update(kinds.CONFIGMAP, "c", created, changed, None)["metadata"]
