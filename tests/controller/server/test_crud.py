"""CRUD, patches, errors and dry-run over real HTTPS; every object the server returns is valid."""

from __future__ import annotations

import json

import pytest

from tests.conftest import load_example
from tests.controller.server.helpers import TABLE_ACCEPT, VMIS, VMS
from virtctl.controller.schema import definition_for, validate
from virtctl.model import kinds


def vm_body(name="testvm", **labels):
    body = load_example("vm-cirros")
    body["metadata"] = {"name": name, **({"labels": labels} if labels else {})}
    return body


def assert_valid(kind, obj):
    assert validate(definition_for(kind), obj) == [], obj["metadata"]["name"]


def test_create_get_list_replace_delete(api_server):
    r = api_server.request("POST", f"{VMS}?fieldManager=kubectl-create&fieldValidation=Strict", vm_body())
    assert r.status == 201, r.body
    created = r.json()
    assert_valid(kinds.VM, created)
    got = api_server.request("GET", f"{VMS}/testvm").json()
    assert got == created
    lst = api_server.request("GET", f"{VMS}?limit=500").json()
    assert lst["kind"] == "VirtualMachineList" and lst["apiVersion"] == "kubevirt.io/v1"
    assert lst["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert [i["metadata"]["name"] for i in lst["items"]] == ["testvm"]
    got["spec"]["runStrategy"] = "Always"
    r = api_server.request("PUT", f"{VMS}/testvm", got)
    assert r.status == 200 and r.json()["spec"]["runStrategy"] == "Always"
    assert_valid(kinds.VM, r.json())
    r = api_server.request("DELETE", f"{VMS}/testvm", {"propagationPolicy": "Background"})
    assert r.status == 200 and r.json()["metadata"]["name"] == "testvm"
    r = api_server.request("GET", f"{VMS}/testvm")
    assert r.status == 404
    assert r.json()["message"] == 'virtualmachines.kubevirt.io "testvm" not found'


def test_missing_content_type_and_empty_delete_body(api_server):
    data = json.dumps(vm_body()).encode()
    r = api_server.request("POST", VMS, data, headers={})          # no Content-Type (kubernetes client 37)
    assert r.status == 201, r.body
    r = api_server.request("DELETE", f"{VMS}/testvm", b"")
    assert r.status == 200


def test_all_namespaces_list(api_server):
    api_server.request("POST", VMS, vm_body("a"))
    api_server.request("POST", "/api/v1/namespaces", {"metadata": {"name": "other"}})
    api_server.request("POST", "/apis/kubevirt.io/v1/namespaces/other/virtualmachines", vm_body("b"))
    items = api_server.request("GET", "/apis/kubevirt.io/v1/virtualmachines").json()["items"]
    assert sorted((i["metadata"]["namespace"], i["metadata"]["name"]) for i in items) == [("default", "a"),
                                                                                          ("other", "b")]
    r = api_server.request("POST", "/apis/kubevirt.io/v1/virtualmachines", vm_body("c"))
    assert r.status == 405


def test_cluster_scoped_crud(api_server):
    it = load_example("cluster-csmall")
    path = "/apis/instancetype.kubevirt.io/v1beta1/virtualmachineclusterinstancetypes"
    r = api_server.request("POST", path, it)
    assert r.status == 201, r.body
    assert "namespace" not in r.json()["metadata"]
    assert_valid(kinds.INSTANCETYPE_CLUSTER, r.json())
    name = it["metadata"]["name"]
    assert api_server.request("GET", f"{path}/{name}").status == 200
    assert api_server.request("GET", f"/apis/instancetype.kubevirt.io/v1beta1/namespaces/default/"
                                     f"virtualmachineclusterinstancetypes/{name}").status == 404
    assert api_server.request("DELETE", f"{path}/{name}").status == 200


def test_conflict_and_already_exists(api_server):
    first = api_server.request("POST", VMS, vm_body()).json()
    r = api_server.request("POST", VMS, vm_body())
    assert r.status == 409 and r.json()["reason"] == "AlreadyExists"
    assert r.json()["message"] == 'virtualmachines.kubevirt.io "testvm" already exists'
    api_server.request("PATCH", f"{VMS}/testvm", {"metadata": {"labels": {"x": "y"}}},
                       headers={"Content-Type": "application/merge-patch+json"})
    r = api_server.request("PUT", f"{VMS}/testvm", first)
    assert r.status == 409 and r.json()["reason"] == "Conflict"
    assert r.json()["message"].startswith('Operation cannot be fulfilled on virtualmachines.kubevirt.io "testvm": '
                                          "the object has been modified")


def test_patches(api_server):
    api_server.request("POST", VMS, vm_body())
    r = api_server.request("PATCH", f"{VMS}/testvm?fieldManager=kubectl-patch", {"spec": {"runStrategy": "Manual"}},
                           headers={"Content-Type": "application/merge-patch+json"})
    assert r.status == 200 and r.json()["spec"]["runStrategy"] == "Manual"
    r = api_server.request("PATCH", f"{VMS}/testvm",
                           [{"op": "replace", "path": "/spec/runStrategy", "value": "Always"}],
                           headers={"Content-Type": "application/json-patch+json"})
    assert r.status == 200 and r.json()["spec"]["runStrategy"] == "Always"
    r = api_server.request("PATCH", f"{VMS}/testvm", [{"op": "test", "path": "/spec/runStrategy", "value": "Halted"}],
                           headers={"Content-Type": "application/json-patch+json"})
    assert r.status == 422 and r.json()["reason"] == "Invalid"
    r = api_server.request("PATCH", f"{VMS}/testvm", [{"op": "add", "path": "/x", "value": 1}],
                           headers={"Content-Type": "application/merge-patch+json"})
    assert r.status == 400
    r = api_server.request("PATCH", f"{VMS}/testvm", {"spec": {}},
                           headers={"Content-Type": "application/strategic-merge-patch+json"})
    assert r.status == 415 and r.json()["reason"] == "UnsupportedMediaType"
    assert r.json()["message"].startswith("the body of the request was in an unknown format - accepted media types "
                                          "include: application/json-patch+json, application/merge-patch+json")


def test_server_side_apply_creates_and_updates(api_server):
    body = vm_body("ssa")
    r = api_server.request("PATCH", f"{VMS}/ssa?fieldManager=kubectl&fieldValidation=Strict&force=false", body,
                           headers={"Content-Type": "application/apply-patch+yaml"})
    assert r.status == 201, r.body
    body["spec"]["runStrategy"] = "Always"
    r = api_server.request("PATCH", f"{VMS}/ssa?fieldManager=kubectl&force=false", body,
                           headers={"Content-Type": "application/apply-patch+yaml"})
    assert r.status == 200 and r.json()["spec"]["runStrategy"] == "Always"


def test_invalid_objects_are_422_with_causes(api_server):
    r = api_server.request("POST", VMS, vm_body("Bad_Name"))
    assert r.status == 422
    st = r.json()
    assert st["details"]["kind"] == "VirtualMachine" and st["details"]["name"] == "Bad_Name"
    assert st["details"]["causes"][0]["field"] == "metadata.name"
    bad = vm_body()
    bad["spec"]["template"]["spec"]["domain"]["cpu"] = {"cores": "many"}
    st = api_server.request("POST", VMS, bad).json()
    assert st["code"] == 422
    assert st["details"]["causes"] == [{"reason": "FieldValueTypeInvalid", "field": "spec.template.spec.domain.cpu.cores",
                                        "message": 'Invalid value: "string": spec.template.spec.domain.cpu.cores in '
                                                   'body must be of type integer: "string"'}]
    assert api_server.store.list(kinds.VM)[0] == []


def test_field_validation_over_http(api_server):
    body = vm_body()
    body["spec"]["typo"] = True
    r = api_server.request("POST", f"{VMS}?fieldValidation=Strict", body)
    assert r.status == 400 and 'unknown field "spec.typo"' in r.json()["message"]
    r = api_server.request("POST", f"{VMS}?fieldValidation=Warn", body)
    assert r.status == 201 and r.headers.get_all("Warning") == ['299 - "unknown field \\"spec.typo\\""']


def test_deprecated_running_warns(api_server):
    body = vm_body()
    del body["spec"]["runStrategy"]
    body["spec"]["running"] = False
    r = api_server.request("POST", VMS, body)
    assert r.status == 201
    assert r.headers.get_all("Warning") == ['299 - "spec.running is deprecated, please use spec.runStrategy instead."']


def test_namespace_mismatch_is_400(api_server):
    body = vm_body()
    body["metadata"]["namespace"] = "elsewhere"
    r = api_server.request("POST", VMS, body)
    assert r.status == 400
    assert r.json()["message"] == "the namespace of the provided object does not match the namespace sent on the request"


def test_dry_run_stores_nothing(api_server):
    r = api_server.request("POST", f"{VMS}?dryRun=All", vm_body())
    assert r.status == 201 and r.json()["metadata"]["name"] == "testvm"
    assert api_server.request("GET", f"{VMS}/testvm").status == 404
    api_server.request("POST", VMS, vm_body())
    before = api_server.request("GET", f"{VMS}/testvm").json()
    api_server.request("PATCH", f"{VMS}/testvm?dryRun=All", {"spec": {"runStrategy": "Always"}},
                       headers={"Content-Type": "application/merge-patch+json"})
    api_server.request("DELETE", f"{VMS}/testvm?dryRun=All")
    assert api_server.request("GET", f"{VMS}/testvm").json() == before
    assert api_server.request("POST", f"{VMS}?dryRun=Some", vm_body("x")).status == 422      # CreateOptions validation, as the apiserver


def test_bad_writes_leave_stored_objects_unchanged(api_server):
    api_server.request("POST", VMS, vm_body())
    before = api_server.request("GET", f"{VMS}/testvm").json()
    attempts = [
        ("PUT", f"{VMS}/testvm", b"{not json", "application/json"),
        ("PUT", f"{VMS}/testvm", json.dumps({**before, "spec": {"runStrategy": 7}}).encode(), "application/json"),
        ("PUT", f"{VMS}/other", json.dumps(before).encode(), "application/json"),
        ("PATCH", f"{VMS}/testvm", b'{"spec":{"template":{"spec":{"domain":null}}}}', "application/merge-patch+json"),
        ("PATCH", f"{VMS}/testvm", b'[{"op":"remove","path":"/spec/nothing"}]', "application/json-patch+json"),
        ("PATCH", f"{VMS}/testvm", b'{"metadata":{"name":"renamed"}}', "application/merge-patch+json"),
        ("POST", VMS, b"[1,2]", "application/json"),
    ]
    for method, path, data, ctype in attempts:
        r = api_server.request(method, path, data, headers={"Content-Type": ctype})
        assert 400 <= r.status < 500, (method, path, data, r.status)
        assert r.json()["kind"] == "Status"
    assert api_server.request("GET", f"{VMS}/testvm").json() == before


def test_body_size_limit(api_server):
    r = api_server.request("POST", VMS, b"x" * (3 * 1024 * 1024 + 1), headers={"Content-Type": "application/json"})
    assert r.status == 413 and r.json()["code"] == 413


def test_status_subresource_over_http(api_server):
    api_server.request("POST", VMS, vm_body())
    cur = api_server.request("GET", f"{VMS}/testvm/status").json()
    cur["status"] = {"printableStatus": "Stopped", "ready": False}
    r = api_server.request("PUT", f"{VMS}/testvm/status", cur)
    assert r.status == 200 and r.json()["status"]["printableStatus"] == "Stopped"
    r = api_server.request("PATCH", f"{VMS}/testvm/status", {"status": {"printableStatus": "Running"}},
                           headers={"Content-Type": "application/merge-patch+json"})
    assert r.json()["status"]["printableStatus"] == "Running"
    assert_valid(kinds.VM, r.json())


def test_examples_round_trip_valid(api_server):
    """Every example manifest of a served kind is accepted, and what comes back is schema-valid."""
    import glob
    import os
    import yaml
    from tests.conftest import EXAMPLES
    count = 0
    for path in sorted(glob.glob(os.path.join(EXAMPLES, "*.yaml"))):
        for doc in yaml.safe_load_all(open(path)):
            kind = doc and kinds.by_kind(doc.get("apiVersion", ""), doc.get("kind", ""))
            if not kind:
                continue
            r = api_server.request("POST", f"{kind.collection_path('default')}?fieldValidation=Strict", doc)
            if r.status == 409:
                continue                                 # two examples may share a name
            assert r.status == 201, (path, r.body[:300])
            assert_valid(kind, r.json())
            got = api_server.request("GET", kind.object_path("default", doc["metadata"]["name"])).json()
            assert_valid(kind, got)
            count += 1
    assert count >= 30


def test_table_responses(api_server):
    api_server.request("POST", VMIS, load_example("vmi-fedora"))
    api_server.store.mutate(kinds.VMI, "default", "vmi-fedora", lambda o: o.update(status={
        "phase": "Running", "nodeName": "node01", "interfaces": [{"ipAddress": "10.0.2.2"}],
        "conditions": [{"type": "Ready", "status": "True"}]}), subresource="status")
    t = api_server.request("GET", VMIS, headers={"Accept": TABLE_ACCEPT}).json()
    assert t["kind"] == "Table" and t["apiVersion"] == "meta.k8s.io/v1"
    cols = [(c["name"], c["priority"]) for c in t["columnDefinitions"]]
    assert cols[0] == ("Name", 0) and t["columnDefinitions"][0]["format"] == "name"
    assert ("Live-Migratable", 1) in cols and ("Phase", 0) in cols
    row = t["rows"][0]
    assert row["cells"][0] == "vmi-fedora"
    assert row["cells"][2:6] == ["Running", "10.0.2.2", "node01", "True"]
    assert row["object"]["kind"] == "PartialObjectMetadata"
    assert row["object"]["metadata"]["uid"]
    one = api_server.request("GET", f"{VMIS}/vmi-fedora", headers={"Accept": TABLE_ACCEPT}).json()
    assert one["kind"] == "Table" and len(one["rows"]) == 1
    plain = api_server.request("GET", f"{VMIS}/vmi-fedora", headers={"Accept": "application/json"}).json()
    assert plain["kind"] == "VirtualMachineInstance"


def test_unexpected_exception_is_500_status(api_server, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("kaboom")
    monkeypatch.setattr(api_server.store, "get", boom)
    r = api_server.request("GET", f"{VMS}/x")
    assert r.status == 500 and r.json()["reason"] == "InternalError"
    assert api_server.request("GET", "/version").status == 200     # the server lives on


@pytest.mark.parametrize("value,watch", [("True", True), ("1", True), ("maybe", True), ("", True), ("FALSE", False),
                                         ("0", False)])
def test_query_booleans_convert_as_apimachinery_does(api_server, value, watch):
    """Convert_Slice_string_To_bool: only "false" and "0" are false; any other value is true."""
    r = api_server.request("GET", f"{VMS}?watch={value}&timeoutSeconds=1")
    assert r.status == 200
    is_list = r.body.startswith(b'{"apiVersion"') and b'"kind":"VirtualMachineList"' in r.body
    assert is_list != watch, r.body[:200]
