"""Merge patch (RFC 7386), JSON patch (RFC 6902) and apply through the store."""

from __future__ import annotations

import pytest

from tests.conftest import load_example
from virtctl.controller.store import ObjectStore
from virtctl.controller.store.patches import json_patch, merge_patch
from virtctl.errors import BadRequest, Conflict, Invalid, NotFound, UnsupportedMediaType
from virtctl.model.kinds import VM

MERGE, JSON, APPLY = "application/merge-patch+json", "application/json-patch+json", "application/apply-patch+yaml"


@pytest.fixture
def store(tmp_path):
    s = ObjectStore(tmp_path / "store.db")
    body = load_example("vm-cirros")
    body["metadata"] = {"name": "vm1", "labels": {"a": "1"}}
    s.create(VM, "default", body)
    yield s
    s.close()


@pytest.mark.parametrize("target,patch,result", [       # RFC 7386 appendix A
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
])
def test_merge_patch_rfc_examples(target, patch, result):
    assert merge_patch(target, patch) == result


def test_json_patch_ops():
    doc = {"a": {"b": [1, 2]}, "c": "x"}
    out = json_patch(doc, [{"op": "add", "path": "/a/b/-", "value": 3},
                           {"op": "add", "path": "/a/b/0", "value": 0},
                           {"op": "replace", "path": "/c", "value": "y"},
                           {"op": "copy", "from": "/c", "path": "/d"},
                           {"op": "move", "from": "/d", "path": "/e~1f"},
                           {"op": "remove", "path": "/a/b/1"},
                           {"op": "test", "path": "/a/b", "value": [0, 2, 3]}])
    assert out == {"a": {"b": [0, 2, 3]}, "c": "y", "e/f": "y"}
    assert doc == {"a": {"b": [1, 2]}, "c": "x"}          # the input is never changed


def test_json_patch_failures():
    with pytest.raises(Invalid) as e:
        json_patch({"a": 1}, [{"op": "test", "path": "/a", "value": True}])   # true is not 1 in JSON
    assert e.value.code == 422
    assert e.value.message == "the server rejected our request due to an error in our request"
    assert e.value.details["causes"][0]["message"] == "testing value /a failed: test failed"
    with pytest.raises(Invalid, match="the server rejected"):
        json_patch({"a": 1}, [{"op": "remove", "path": "/b"}])
    with pytest.raises(Invalid):
        json_patch({"a": []}, [{"op": "add", "path": "/a/5", "value": 1}])
    with pytest.raises(BadRequest):
        json_patch({}, {"op": "add"})
    with pytest.raises(BadRequest):
        json_patch({}, [{"op": "frobnicate", "path": "/a"}])
    with pytest.raises(BadRequest):
        json_patch({}, [{"op": "add", "path": "a", "value": 1}])


def test_store_merge_and_json_patch(store):
    out = store.patch(VM, "default", "vm1", MERGE, b'{"metadata":{"labels":{"b":"2","a":null}}}')
    assert out["metadata"]["labels"] == {"b": "2"}
    out = store.patch(VM, "default", "vm1", JSON, [{"op": "replace", "path": "/spec/runStrategy", "value": "Always"}])
    assert out["spec"]["runStrategy"] == "Always" and out["metadata"]["generation"] == 2


def test_merge_patch_must_be_an_object(store):
    with pytest.raises(BadRequest):
        store.patch(VM, "default", "vm1", MERGE, [{"op": "add", "path": "/x", "value": 1}])
    with pytest.raises(BadRequest):
        store.patch(VM, "default", "vm1", MERGE, b"{not json")


def test_patch_with_stale_rv_conflicts(store):
    with pytest.raises(Conflict):
        store.patch(VM, "default", "vm1", MERGE, {"metadata": {"resourceVersion": "999"}, "spec": {"runStrategy":
                                                                                                   "Always"}})


def test_strategic_merge_is_415(store):
    with pytest.raises(UnsupportedMediaType) as e:
        store.patch(VM, "default", "vm1", "application/strategic-merge-patch+json", {})
    assert e.value.message == ("the body of the request was in an unknown format - accepted media types include: "
                               "application/json-patch+json, application/merge-patch+json, "
                               "application/apply-patch+yaml")


def test_patch_missing_object_is_404(store):
    with pytest.raises(NotFound):
        store.patch(VM, "default", "nosuch", MERGE, {})


def test_apply_creates_then_merges(store):
    body = load_example("vm-cirros")
    body["metadata"] = {"name": "applied"}
    obj, created = store.apply(VM, "default", "applied", body, field_manager="kubectl")
    assert created and obj["metadata"]["generation"] == 1
    body["spec"]["runStrategy"] = "Always"
    obj, created = store.apply(VM, "default", "applied", "# yaml\n" + __import__("json").dumps(body),
                               field_manager="kubectl")
    assert not created and obj["spec"]["runStrategy"] == "Always"
    with pytest.raises(BadRequest, match="fieldManager"):
        store.apply(VM, "default", "applied", body)
    with pytest.raises(BadRequest, match="does not match the name"):
        store.apply(VM, "default", "other", body, field_manager="kubectl")
