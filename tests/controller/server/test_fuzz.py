"""Generated malformed bodies, patches and content types against the live server: never a 5xx, never
a dropped connection, and a rejected request leaves the store exactly as it was."""

from __future__ import annotations

import copy
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import load_example
from tests.controller.server.helpers import VMS
from virtctl.model import kinds

BASE_VM = load_example("vm-cirros")
BASE_VM["metadata"] = {"name": "target"}

json_scalars = st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.floats(allow_nan=False) | \
    st.text(max_size=12)
json_values = st.recursive(json_scalars, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c,
                                                                                           max_size=4), max_leaves=12)
# paths into a VM: where a wrong value does the most damage
PATHS = [("metadata",), ("metadata", "name"), ("metadata", "namespace"), ("metadata", "labels"),
         ("metadata", "finalizers"), ("metadata", "resourceVersion"), ("apiVersion",), ("kind",), ("spec",),
         ("spec", "runStrategy"), ("spec", "running"), ("spec", "template"), ("spec", "template", "spec", "domain"),
         ("spec", "template", "spec", "domain", "devices", "disks"), ("spec", "template", "spec", "volumes"),
         ("status",)]


@st.composite
def mutated_vm(draw):
    vm = copy.deepcopy(BASE_VM)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        cur = vm
        for key in path[:-1]:
            if not isinstance(cur.get(key), dict):
                cur[key] = {}
            cur = cur[key]
        cur[path[-1]] = draw(json_values)
    return vm


json_patch_ops = st.lists(st.fixed_dictionaries(
    {"op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "bogus"]),
     "path": st.sampled_from(["", "/", "/spec", "/spec/runStrategy", "/metadata/name", "/spec/x/y", "/status",
                              "/metadata/labels/a~1b", "/spec/template/spec/volumes/-", "/spec/template/spec/volumes/9",
                              "nope"])},
    optional={"value": json_values, "from": st.sampled_from(["/spec", "/metadata", "/nothing"])}), max_size=4)

bodies = (mutated_vm().map(json.dumps) | json_values.map(json.dumps) | json_patch_ops.map(json.dumps) |
          st.binary(max_size=64).map(lambda b: b.decode("latin-1")) | st.just(""))
requests = st.tuples(
    st.sampled_from([("POST", VMS), ("PUT", f"{VMS}/target"), ("PATCH", f"{VMS}/target"),
                     ("PUT", f"{VMS}/target/status"), ("PATCH", f"{VMS}/target/status"), ("DELETE", f"{VMS}/target"),
                     ("POST", f"{VMS}?fieldValidation=Bogus"), ("PUT", f"{VMS}/target?dryRun=All")]),
    st.sampled_from(["application/json", "application/merge-patch+json", "application/json-patch+json",
                     "application/apply-patch+yaml", "application/strategic-merge-patch+json", "text/plain", ""]),
    bodies,
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(req=requests)
def test_malformed_requests_never_break_the_server(api_server, req):
    (method, path), ctype, body = req
    store = api_server.store
    if not any(o["metadata"]["name"] == "target" for o in store.list(kinds.VM, "default")[0]):
        store.create(kinds.VM, "default", BASE_VM)
    before = store.list(kinds.VM)
    headers = {"Content-Type": ctype} if ctype else {}
    r = api_server.request(method, path + ("&" if "?" in path else "?") + "fieldManager=fuzz", body.encode(),
                           headers=headers)
    assert r.status < 500, (method, path, ctype, body[:200], r.body[:300])
    assert r.json()["kind"] if r.body else True            # every answer with a body is JSON
    if r.status >= 400:
        assert r.json()["kind"] == "Status"
        assert store.list(kinds.VM) == before
    if method == "DELETE" and r.status == 200:
        store.create(kinds.VM, "default", BASE_VM)



def test_a_lone_surrogate_is_stored_as_a_replacement_character(api_server):
    """Found by the property test above: "\\ud800" in a body made the store fail with a 500."""
    body = (b'{"apiVersion":"kubevirt.io/v1","kind":"VirtualMachine","metadata":{"name":"sur",'
            b'"labels":{"a":"b"},"annotations":{"note":"x\\ud800y"}},"spec":{"runStrategy":"Halted",'
            b'"template":{"spec":{"domain":{"devices":{}}}}}}')
    r = api_server.request("POST", "/apis/kubevirt.io/v1/namespaces/default/virtualmachines", body,
                           headers={"Content-Type": "application/json"})
    assert r.status == 201, r.body
    assert r.json()["metadata"]["annotations"]["note"] == "x\ufffdy"
    assert api_server.store.get("vm", "default", "sur")["metadata"]["annotations"]["note"] == "x\ufffdy"
