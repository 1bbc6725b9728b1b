"""List chunking (``limit`` / ``continue``) against the real HTTPS server, as apiserver storage pages
a list: key order, ``metadata.continue`` in kube's token format, ``remainingItemCount`` only without
selectors, Tables carrying the same ListMeta, and a 410 with an inconsistent-continue token when the
rest of the list changed since the first page."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.controller.server.helpers import TABLE_ACCEPT, VMS, WatchStream
from virtctl.controller.server import paging
from virtctl.controller.server.query import decode_continue, encode_continue
from virtctl.errors import BadRequest
from virtctl.model import kinds

pytestmark = pytest.mark.usefixtures("no_traceback_logged")

ALL_VMS = "/apis/kubevirt.io/v1/virtualmachines"
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
NAMES = ["vm-e", "vm-a", "vm-d", "vm-b", "vm-c"]          # created out of order


def vm(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
            "metadata": {"name": name, "labels": labels or {}},
            "spec": {"runStrategy": "Halted", "template": {"spec": {"domain": {"devices": {}}}}}}


def token_of(text: str) -> dict[str, Any]:
    return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))


def get(api_server: Any, path: str, code: int = 200, headers: dict[str, str] | None = None) -> dict[str, Any]:
    r = api_server.request("GET", path, headers=headers)
    assert r.status == code, r.body
    return r.json()


def names(body: dict[str, Any]) -> list[str]:
    return [o["metadata"]["name"] for o in body["items"]]


@pytest.fixture
def five_vms(api_server: Any) -> Any:
    for name in NAMES:
        api_server.store.create(kinds.VM, "default", vm(name, {"n": name[-1]}))
    return api_server


# --- the token and the page, without sockets


def test_token_is_kubes_base64url_json():
    token = encode_continue("vm-b\x00", 42)
    assert "=" not in token and "+" not in token and "/" not in token
    assert base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)) == \
        b'{"v":"meta.k8s.io/v1","rv":42,"start":"vm-b\\u0000"}'
    decoded = decode_continue(token)
    assert (decoded.start, decoded.rv) == ("vm-b\x00", 42)
    assert decode_continue(encode_continue("/default/vm-b\x00", -1)).start == "default/vm-b\x00"


@pytest.mark.parametrize("start", ["../other/x", "a/../../b", "a//b", "./a", "a/", "//a"])
def test_start_keys_that_path_clean_would_change_are_refused(start):
    with pytest.raises(BadRequest) as e:
        decode_continue(encode_continue(start, 5))
    assert str(e.value) == f"invalid continue token: invalid continue key: {start}"


@pytest.mark.parametrize("body,message", [
    ({"v": "meta.k8s.io/v1", "rv": "5", "start": "a"},
     "json: cannot unmarshal string into Go struct field continueToken.rv of type int64"),
    ({"v": "meta.k8s.io/v1", "rv": 1.5, "start": "a"},
     "json: cannot unmarshal number 1.5 into Go struct field continueToken.rv of type int64"),
    ({"v": "meta.k8s.io/v1", "rv": 5, "start": 7},
     "json: cannot unmarshal number 7 into Go struct field continueToken.start of type string"),
])
def test_token_fields_of_the_wrong_go_type_are_refused(body, message):
    raw = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    with pytest.raises(BadRequest) as e:
        decode_continue(raw)
    assert str(e.value) == f"invalid continue token: invalid continue key: {message}"


def test_paginate_cuts_in_key_order_and_counts_the_rest():
    items = [{"metadata": {"name": n, "namespace": ns}} for ns, n in [("b", "x"), ("a-b", "y"), ("a", "z")]]
    first = paging.paginate(items, "9", limit=2, namespaced_list=True)
    # storage keys "a-b/y" < "a/z" < "b/x" ('-' sorts before '/'), as etcd orders them
    assert [o["metadata"]["name"] for o in first.items] == ["y", "z"]
    assert first.remaining_item_count == 1 and first.resource_version == "9"
    assert token_of(first.continue_token) == {"v": "meta.k8s.io/v1", "rv": 9, "start": "a/z\x00"}
    rest = paging.paginate(items, "12", limit=2, start="a/z\x00", namespaced_list=True, token_rv=9)
    assert [o["metadata"]["name"] for o in rest.items] == ["x"]
    assert (rest.continue_token, rest.remaining_item_count, rest.resource_version) == ("", None, "9")
    assert paging.paginate(items, "9", limit=2, filtered=True).remaining_item_count is None
    assert len(paging.paginate(items, "9", limit=-3).items) == 3


# --- the server


def test_limit_pages_through_every_vm_in_key_order(five_vms):
    first = get(five_vms, f"{VMS}?limit=2")
    rv = first["metadata"]["resourceVersion"]
    assert rv == five_vms.store.resource_version
    assert names(first) == ["vm-a", "vm-b"]
    assert first["metadata"]["remainingItemCount"] == 3
    assert token_of(first["metadata"]["continue"]) == {"v": "meta.k8s.io/v1", "rv": int(rv), "start": "vm-b\x00"}
    second = get(five_vms, f"{VMS}?limit=2&continue={first['metadata']['continue']}")
    assert names(second) == ["vm-c", "vm-d"]
    assert second["metadata"]["remainingItemCount"] == 1 and second["metadata"]["resourceVersion"] == rv
    last = get(five_vms, f"{VMS}?limit=2&continue={second['metadata']['continue']}")
    assert names(last) == ["vm-e"]
    assert last["metadata"] == {"resourceVersion": rv}          # no continue, no count on the last page
    assert last["kind"] == "VirtualMachineList"


@pytest.mark.parametrize("query", ["", "?limit=0", "?limit=-1", "?limit=5", "?limit=50"])
def test_no_limit_zero_negative_or_large_limit_lists_everything(five_vms, query):
    body = get(five_vms, f"{VMS}{query}")
    assert names(body) == sorted(NAMES)
    assert set(body["metadata"]) == {"resourceVersion"}


def test_selectors_filter_before_paging_and_hide_the_count(five_vms):
    five_vms.store.create(kinds.VM, "default", vm("vm-f", {"n": "f", "odd": "no"}))
    query = "labelSelector=n+in+(a,c,d,e,f),odd!=no"
    first = get(five_vms, f"{VMS}?limit=2&{query}")
    assert names(first) == ["vm-a", "vm-c"]
    assert "continue" in first["metadata"] and "remainingItemCount" not in first["metadata"]
    rest = get(five_vms, f"{VMS}?limit=2&{query}&continue={first['metadata']['continue']}")
    assert names(rest) == ["vm-d", "vm-e"]
    assert "continue" not in rest["metadata"]
    by_field = get(five_vms, f"{VMS}?limit=1&fieldSelector=metadata.name!=vm-a")
    assert names(by_field) == ["vm-b"] and "remainingItemCount" not in by_field["metadata"]


def test_all_namespaces_keys_carry_the_namespace(five_vms):
    five_vms.store.create(kinds.NAMESPACE, None, {"metadata": {"name": "aaa"}})
    five_vms.store.create(kinds.VM, "aaa", vm("vm-z"))
    first = get(five_vms, f"{ALL_VMS}?limit=2")
    assert [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in first["items"]] == \
        [("aaa", "vm-z"), ("default", "vm-a")]
    assert token_of(first["metadata"]["continue"])["start"] == "default/vm-a\x00"
    assert first["metadata"]["remainingItemCount"] == 4
    rest = get(five_vms, f"{ALL_VMS}?limit=10&continue={first['metadata']['continue']}")
    assert names(rest) == ["vm-b", "vm-c", "vm-d", "vm-e"]


@pytest.mark.parametrize("kind,path", [
    (kinds.CONFIGMAP, CONFIGMAPS),
    (kinds.SECRET, "/api/v1/namespaces/default/secrets"),
    (kinds.PVC, "/api/v1/namespaces/default/persistentvolumeclaims"),
    (kinds.SERVICE, "/api/v1/namespaces/default/services"),
])
def test_core_kinds_page(api_server, kind, path):
    bodies = {kinds.CONFIGMAP: {"data": {"k": "v"}}, kinds.SECRET: {"stringData": {"k": "v"}},
              kinds.PVC: {"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}},
              kinds.SERVICE: {"spec": {"ports": [{"port": 80}], "selector": {"a": "b"}}}}
    before = names(get(api_server, path))           # some kinds come with objects of their own
    for n in ("p3", "p1", "p2"):
        api_server.store.create(kind, "default", {"metadata": {"name": n}, **bodies[kind]})
    expected = sorted(before + ["p1", "p2", "p3"])
    seen, token = [], ""
    while True:
        body = get(api_server, f"{path}?limit=1" + (f"&continue={token}" if token else ""))
        seen += names(body)
        token = body["metadata"].get("continue", "")
        if not token:
            break
        assert body["metadata"]["remainingItemCount"] == len(expected) - len(seen)
    assert seen == expected


def test_cluster_scoped_namespaces_page(api_server):
    for n in ("ns-c", "ns-a", "ns-b"):
        api_server.store.create(kinds.NAMESPACE, None, {"metadata": {"name": n}})
    everything = names(get(api_server, "/api/v1/namespaces"))
    first = get(api_server, "/api/v1/namespaces?limit=2")
    assert names(first) == everything[:2]
    assert token_of(first["metadata"]["continue"])["start"] == everything[1] + "\x00"
    rest = get(api_server, f"/api/v1/namespaces?continue={first['metadata']['continue']}")
    assert names(rest) == everything[2:]


def test_events_v1_view_pages(api_server):
    for n in ("ev-b", "ev-a", "ev-c"):
        api_server.store.create(kinds.EVENT, "default", {
            "metadata": {"name": n}, "involvedObject": {"kind": "Pod", "name": "x", "namespace": "default"},
            "reason": "R", "message": "m", "type": "Normal"})
    first = get(api_server, "/apis/events.k8s.io/v1/namespaces/default/events?limit=2")
    assert names(first) == ["ev-a", "ev-b"] and first["metadata"]["remainingItemCount"] == 1
    rest = get(api_server, f"/apis/events.k8s.io/v1/namespaces/default/events?continue={first['metadata']['continue']}")
    assert names(rest) == ["ev-c"]


def test_tables_carry_the_same_list_meta(five_vms):
    first = get(five_vms, f"{VMS}?limit=2", headers={"Accept": TABLE_ACCEPT})
    assert first["kind"] == "Table"
    assert [row["cells"][0] for row in first["rows"]] == ["vm-a", "vm-b"]
    assert first["metadata"]["remainingItemCount"] == 3
    assert token_of(first["metadata"]["continue"])["start"] == "vm-b\x00"
    rest = get(five_vms, f"{VMS}?limit=5&continue={first['metadata']['continue']}", headers={"Accept": TABLE_ACCEPT})
    assert [row["cells"][0] for row in rest["rows"]] == ["vm-c", "vm-d", "vm-e"]
    assert set(rest["metadata"]) == {"resourceVersion"}


def test_watch_ignores_limit(five_vms):
    stream = WatchStream(five_vms, f"{VMS}?watch=true&limit=1&timeoutSeconds=2")
    try:
        seen = [ev["object"]["metadata"]["name"] for ev in stream.events()]
    finally:
        stream.close()
    assert sorted(seen) == sorted(NAMES)


def test_a_change_before_the_token_key_keeps_the_page_consistent(five_vms):
    first = get(five_vms, f"{VMS}?limit=2")
    five_vms.store.mutate(kinds.VM, "default", "vm-a", lambda o: o["metadata"]["labels"].update(x="y"))
    rest = get(five_vms, f"{VMS}?continue={first['metadata']['continue']}")
    assert names(rest) == ["vm-c", "vm-d", "vm-e"]
    assert rest["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]


def test_a_change_after_the_token_key_is_410_with_an_inconsistent_token(five_vms):
    first = get(five_vms, f"{VMS}?limit=2")
    five_vms.store.delete(kinds.VM, "default", "vm-d")
    r = five_vms.request("GET", f"{VMS}?limit=2&continue={first['metadata']['continue']}")
    assert r.status == 410, r.body
    status = r.json()
    assert status["reason"] == "Expired" and status["code"] == 410
    assert status["message"] == paging.INCONSISTENT_CONTINUE
    assert status["message"].startswith("The provided continue parameter is too old to display a consistent "
                                        "list result. You can start a new list without the continue parameter, "
                                        "or use the continue token in this response")
    assert token_of(status["metadata"]["continue"]) == {"v": "meta.k8s.io/v1", "rv": -1, "start": "vm-b\x00"}
    rest = get(five_vms, f"{VMS}?limit=2&continue={status['metadata']['continue']}")
    assert names(rest) == ["vm-c", "vm-e"]                   # read now: vm-d is gone
    assert rest["metadata"]["resourceVersion"] == five_vms.store.resource_version
    assert "continue" not in rest["metadata"]


def test_any_negative_token_rv_lists_from_the_current_state(five_vms):
    current = five_vms.store.resource_version
    body = get(five_vms, f"{VMS}?limit=1&continue={encode_continue('vm-c', -7)}")
    assert names(body) == ["vm-c"] and body["metadata"]["resourceVersion"] == current
    assert token_of(body["metadata"]["continue"])["rv"] == int(current)


def test_a_token_from_the_future_is_410(five_vms):
    future = encode_continue("vm-b\x00", int(five_vms.store.resource_version) + 100)
    r = five_vms.request("GET", f"{VMS}?continue={future}")
    assert r.status == 410 and r.json()["message"] == paging.INCONSISTENT_CONTINUE


@pytest.mark.parametrize("query,message", [
    ("continue=zzz", "invalid continue token: invalid continue key: invalid character"),
    ("continue=%21%21", "invalid continue token: invalid continue key: illegal base64 data at input byte 0"),
    (f"continue={encode_continue('../kube-system/x', 5)}", "invalid continue token: invalid continue key: ../"),
    (f"continue={encode_continue('vm-b', 5)}&resourceVersion=5",
     "specifying resource version is not allowed when using continue"),
])
def test_bad_tokens_are_400(five_vms, query, message):
    r = five_vms.request("GET", f"{VMS}?limit=2&{query}")
    assert r.status == 400, r.body
    assert message in r.json()["message"]
