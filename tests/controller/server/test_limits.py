"""Amplification limits: stored object size, JSON patch copies, list lengths, unknown-field pruning,
and memory that returns to its baseline after hostile requests."""

from __future__ import annotations

import gc
import json

import pytest

from tests.controller.server.helpers import VMS
from virtctl.model import kinds

VM = {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {"name": "lim"},
      "spec": {"runStrategy": "Halted", "template": {"spec": {"domain": {"devices": {}}}}}}
JSON = {"Content-Type": "application/json"}


pytestmark = pytest.mark.usefixtures("no_traceback_logged")


def _rss_kib() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def _vm(name: str = "lim", **extra) -> dict:
    body = json.loads(json.dumps(VM))
    body["metadata"]["name"] = name
    body.update(extra)
    return body


def test_an_object_over_etcds_limit_is_refused_413(api_server):
    big = _vm("big")
    big["metadata"]["annotations"] = {"a": "x" * (1600 * 1024)}
    r = api_server.request("POST", VMS, json.dumps(big).encode(), headers=JSON)
    assert r.status == 413, r.body[:300]
    assert r.json()["reason"] == "RequestEntityTooLarge"
    assert r.json()["message"] == "etcdserver: request is too large"
    assert api_server.store.list(kinds.VM)[0] == []


def test_a_json_patch_cannot_grow_an_object_past_the_limits(api_server):
    body = _vm("grow")
    body["metadata"]["annotations"] = {"seed": "x" * 80}
    api_server.store.create(kinds.VM, "default", body)
    before = api_server.store.get(kinds.VM, "default", "grow")
    ops = [{"op": "add", "path": "/metadata/labels", "value": {}},
           {"op": "add", "path": "/spec/template/metadata", "value": {"annotations": {"k0": "x" * 80}}}]
    for i in range(1, 18):
        ops.append({"op": "copy", "from": "/spec/template/metadata/annotations",
                    "path": f"/spec/template/metadata/annotations/k{i}"})
    r = api_server.request("PATCH", f"{VMS}/grow", json.dumps(ops).encode(),
                           headers={"Content-Type": "application/json-patch+json"})
    assert r.status in (413, 422), r.body[:300]
    assert api_server.store.get(kinds.VM, "default", "grow") == before
    many = [{"op": "test", "path": "/kind", "value": "VirtualMachine"}] * 10_001
    r = api_server.request("PATCH", f"{VMS}/grow", json.dumps(many).encode(),
                           headers={"Content-Type": "application/json-patch+json"})
    assert r.status == 413
    assert r.json()["message"] == "The allowed maximum operations in a JSON patch is 10000, got 10001"


def test_copies_in_a_json_patch_are_bounded_like_the_apiservers(api_server):
    body = _vm("cp")
    body["metadata"]["annotations"] = {"seed": "x" * 400_000}
    api_server.store.create(kinds.VM, "default", body)
    ops = [{"op": "copy", "from": "/metadata/annotations/seed", "path": f"/metadata/annotations/c{i}"}
           for i in range(9)]
    r = api_server.request("PATCH", f"{VMS}/cp", json.dumps(ops).encode(),
                           headers={"Content-Type": "application/json-patch+json"})
    assert r.status == 422, r.body[:300]
    assert "the accumulated size increase of copy is" in r.json()["details"]["causes"][0]["message"]


def test_device_lists_are_capped_at_256_as_kubevirts_crd_does(api_server):
    body = _vm("many")
    body["spec"]["template"]["spec"]["domain"]["devices"]["disks"] = [{"name": f"d{i}"} for i in range(300)]
    r = api_server.request("POST", VMS, json.dumps(body).encode(), headers=JSON)
    assert r.status == 422, r.body[:300]
    cause = r.json()["details"]["causes"][0]
    assert cause == {"reason": "FieldValueTooMany", "field": "spec.template.spec.domain.devices.disks",
                     "message": "Too many: 300: must have at most 256 items"}


def test_hostile_bodies_leave_memory_at_its_baseline(api_server):
    """The 700,000-empty-disks dryRun POST, an alias bomb and a deep body: answered 4xx, and the
    server's memory (this process's: the server runs in it) comes back to where it was."""
    empty_disks = '"devices": {"disks": [' + ",".join(["{}"] * 700_000) + "]}"
    disks = json.dumps(_vm("amp")).replace('"devices": {}', empty_disks)
    bomb = "a: &a [" + ",".join(['"lol"'] * 9) + "]\n"
    prev = "a"
    for name in "bcdefghi":
        bomb += f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]\n"
        prev = name
    hostile = [("POST", f"{VMS}?dryRun=All", disks.encode(), JSON),
               ("POST", VMS, bomb.encode(), {"Content-Type": "application/yaml"}),
               ("POST", VMS, b'{"a":' * 20_000 + b"1" + b"}" * 20_000, JSON)]
    for method, path, body, headers in hostile:            # warm up: imports, caches, TLS
        api_server.request(method, path, body, headers=headers, timeout=120)
    gc.collect()
    baseline = _rss_kib()
    for _ in range(3):
        for method, path, body, headers in hostile:
            r = api_server.request(method, path, body, headers=headers, timeout=120)
            assert 400 <= r.status < 500, (path, r.status, r.body[:200])
    gc.collect()
    grown_mib = (_rss_kib() - baseline) / 1024
    assert grown_mib < 64, f"RSS grew by {grown_mib:.0f} MiB"


@pytest.mark.parametrize("validation,warned", [("Warn", True), ("Ignore", False), ("", True)])
def test_unknown_fields_are_pruned_on_write(api_server, validation, warned):
    body = _vm(f"prune{validation.lower()}")
    body["spec"]["foo"] = 1
    body["spec"]["template"]["spec"]["domain"]["devices"]["bar"] = {"x": 1}
    body["metadata"]["labels"] = {"keep": "me"}
    query = f"?fieldValidation={validation}" if validation else ""
    r = api_server.request("POST", VMS + query, json.dumps(body).encode(), headers=JSON)
    assert r.status == 201, r.body
    expected = ['299 - "unknown field \\"spec.foo\\""',
                '299 - "unknown field \\"spec.template.spec.domain.devices.bar\\""']
    assert sorted(r.headers.get_all("Warning") or []) == (sorted(expected) if warned else [])
    stored = api_server.store.get(kinds.VM, "default", body["metadata"]["name"])
    assert "foo" not in stored["spec"] and "bar" not in stored["spec"]["template"]["spec"]["domain"]["devices"]
    assert stored["metadata"]["labels"] == {"keep": "me"}
    assert r.json()["spec"] == stored["spec"]


def test_strict_refuses_unknown_fields_and_stores_nothing(api_server):
    body = _vm("strict")
    body["spec"]["foo"] = 1
    r = api_server.request("POST", f"{VMS}?fieldValidation=Strict", json.dumps(body).encode(), headers=JSON)
    assert r.status == 400
    assert r.json()["message"] == ('VirtualMachine in version "v1" cannot be handled as a VirtualMachine: '
                                   'strict decoding error: unknown field "spec.foo"')
    assert api_server.store.list(kinds.VM)[0] == []


def test_a_pruned_object_is_read_back_by_a_strict_update(api_server):
    """What is stored is always something the controllers (which write with Strict) can handle."""
    body = _vm("ctl")
    body["spec"]["template"]["spec"]["extra"] = True
    assert api_server.request("POST", VMS, json.dumps(body).encode(), headers=JSON).status == 201
    updated = api_server.store.mutate(kinds.VM, "default", "ctl",
                                      lambda o: o["metadata"].setdefault("labels", {}).update(a="b"))
    assert updated["metadata"]["labels"] == {"a": "b"}


def test_a_json_patch_cannot_nest_an_object_deeper_than_bodies_may(api_server):
    """Each op adds one level: 1,100 of them once built an object no later pass could walk (500)."""
    api_server.store.create(kinds.VM, "default", _vm("deep"))
    before = api_server.store.get(kinds.VM, "default", "deep")
    path = "/spec/template/metadata"
    ops = [{"op": "add", "path": path, "value": {}}]
    for _ in range(1100):
        path += "/a"
        ops.append({"op": "add", "path": path, "value": {}})
    r = api_server.request("PATCH", f"{VMS}/deep", json.dumps(ops).encode(),
                           headers={"Content-Type": "application/json-patch+json"})
    assert r.status == 400, r.body[:300]
    assert r.json()["message"] == "the resulting object exceeds the maximum nesting depth of 100"
    assert api_server.store.get(kinds.VM, "default", "deep") == before
