"""ObjectStore semantics on a real SQLite file."""

from __future__ import annotations

import copy
import threading
import time

import pytest

from tests.conftest import load_example
from virtctl.controller.store import ObjectStore
from virtctl.errors import AlreadyExists, BadRequest, Conflict, Gone, Invalid, NotFound
from virtctl.model import kinds

VM, VMI = kinds.VM, kinds.VMI


@pytest.fixture
def store(tmp_path):
    s = ObjectStore(tmp_path / "store.db")
    yield s
    s.close()


def vm(name="vm1", **labels):
    obj = load_example("vm-cirros")
    obj["metadata"] = {"name": name, "labels": labels} if labels else {"name": name}
    return obj


def test_create_sets_server_owned_metadata(store):
    body = vm()
    body["metadata"].update(uid="forged", resourceVersion="", generation=7, creationTimestamp="2000-01-01T00:00:00Z")
    body["status"] = {"printableStatus": "Running"}
    obj = store.create(VM, "default", body)
    m = obj["metadata"]
    assert m["uid"] != "forged" and len(m["uid"]) == 36
    assert m["generation"] == 1 and m["namespace"] == "default"
    assert m["creationTimestamp"] != "2000-01-01T00:00:00Z"
    assert m["resourceVersion"] == "1"
    assert "status" not in obj                    # status only through /status
    assert store.get(VM, "default", "vm1") == obj


def test_resource_version_is_global_and_monotonic(store):
    rvs = [int(store.create(VM, "default", vm(f"vm{i}"))["metadata"]["resourceVersion"]) for i in range(3)]
    rvs.append(int(store.create(VMI, "default", load_example("vmi-fedora"))["metadata"]["resourceVersion"]))
    assert rvs == sorted(rvs) and len(set(rvs)) == 4
    items, list_rv = store.list(VM, "default")
    assert [i["metadata"]["name"] for i in items] == ["vm0", "vm1", "vm2"]
    assert list_rv == str(rvs[-1])


def test_already_exists_and_not_found_messages(store):
    store.create(VM, "default", vm())
    with pytest.raises(AlreadyExists) as e:
        store.create(VM, "default", vm())
    assert e.value.message == 'virtualmachines.kubevirt.io "vm1" already exists' and e.value.code == 409
    with pytest.raises(NotFound) as e:
        store.get(VM, "default", "nosuch")
    assert e.value.message == 'virtualmachines.kubevirt.io "nosuch" not found'
    assert e.value.details == {"name": "nosuch", "group": "kubevirt.io", "kind": "virtualmachines"}


def test_namespace_mismatch_is_bad_request(store):
    body = vm()
    body["metadata"]["namespace"] = "other"
    with pytest.raises(BadRequest, match="the namespace of the provided object does not match the namespace sent on "
                                         "the request"):
        store.create(VM, "default", body)


def test_kind_and_api_version_checked(store):
    body = vm()
    body["kind"] = "VirtualMachineInstance"
    with pytest.raises(BadRequest, match="does not match the expected kind"):
        store.create(VM, "default", body)
    body = vm()
    body["apiVersion"] = "kubevirt.io/v2"
    with pytest.raises(BadRequest, match="does not match the expected API version"):
        store.create(VM, "default", body)


def test_invalid_name_has_cause(store):
    with pytest.raises(Invalid) as e:
        store.create(VM, "default", vm("Bad_Name"))
    d = e.value.details
    assert d["kind"] == "VirtualMachine" and d["name"] == "Bad_Name"
    assert d["causes"][0]["field"] == "metadata.name" and d["causes"][0]["reason"] == "FieldValueInvalid"
    assert e.value.message.startswith('VirtualMachine.kubevirt.io "Bad_Name" is invalid: metadata.name: '
                                      'Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain')


def test_generate_name(store):
    body = vm()
    body["metadata"] = {"generateName": "web-"}
    a = store.create(VM, "default", body)
    b = store.create(VM, "default", body)
    assert a["metadata"]["name"].startswith("web-") and len(a["metadata"]["name"]) == 9
    assert a["metadata"]["name"] != b["metadata"]["name"]
    body["metadata"] = {}
    with pytest.raises(Invalid, match="name or generateName is required"):
        store.create(VM, "default", body)


def test_replace_conflict_on_stale_rv(store):
    first = store.create(VM, "default", vm())
    newer = copy.deepcopy(first)
    newer["spec"]["runStrategy"] = "Always"
    second = store.replace(VM, "default", "vm1", newer)
    assert second["metadata"]["generation"] == 2
    stale = copy.deepcopy(first)
    stale["spec"]["runStrategy"] = "Manual"
    with pytest.raises(Conflict) as e:
        store.replace(VM, "default", "vm1", stale)
    assert e.value.message == ('Operation cannot be fulfilled on virtualmachines.kubevirt.io "vm1": the object has '
                               'been modified; please apply your changes to the latest version and try again')
    assert store.get(VM, "default", "vm1")["spec"]["runStrategy"] == "Always"


def test_replace_without_rv_is_unconditional_and_noop_keeps_rv(store):
    obj = store.create(VM, "default", vm())
    same = copy.deepcopy(obj)
    del same["metadata"]["resourceVersion"]
    assert store.replace(VM, "default", "vm1", same)["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"]


def test_status_subresource_semantics(store):
    store.create(VM, "default", vm())
    cur = store.get(VM, "default", "vm1")
    cur["status"] = {"printableStatus": "Running"}
    cur["spec"]["runStrategy"] = "Always"
    after = store.replace(VM, "default", "vm1", cur, subresource="status")
    assert after["status"] == {"printableStatus": "Running"}
    assert after["spec"]["runStrategy"] == "Halted"           # /status ignores the rest
    assert after["metadata"]["generation"] == 1
    cur = store.get(VM, "default", "vm1")
    cur["status"] = {"printableStatus": "Stopped"}
    cur["metadata"]["labels"] = {"a": "b"}
    after = store.replace(VM, "default", "vm1", cur)
    assert after["status"] == {"printableStatus": "Running"}  # main writes ignore status
    assert after["metadata"]["labels"] == {"a": "b"}


def test_finalizers_delay_deletion(store):
    body = vm()
    body["metadata"]["finalizers"] = ["example.com/hold"]
    store.create(VM, "default", body)
    w = store.watch(VM, "default", resource_version=store.resource_version)
    marked = store.delete(VM, "default", "vm1", propagation_policy="Background")
    assert marked["metadata"]["deletionTimestamp"] and marked["metadata"]["deletionGracePeriodSeconds"] == 0
    assert store.delete(VM, "default", "vm1") == marked                      # repeated delete: same object
    assert w.get(timeout=2)[0] == "MODIFIED"
    with pytest.raises(Invalid, match="no new finalizers"):
        store.patch(VM, "default", "vm1", "application/merge-patch+json",
                    {"metadata": {"finalizers": ["example.com/hold", "x/y"]}})
    gone = store.patch(VM, "default", "vm1", "application/merge-patch+json", {"metadata": {"finalizers": None}})
    assert int(gone["metadata"]["resourceVersion"]) > int(marked["metadata"]["resourceVersion"])
    assert w.get(timeout=2)[0] == "DELETED"
    with pytest.raises(NotFound):
        store.get(VM, "default", "vm1")
    w.stop()


def test_delete_without_finalizers_and_dependents(store):
    owner = store.create(VM, "default", vm())
    vmi = load_example("vmi-fedora")
    vmi["metadata"]["name"] = "vm1"
    vmi["metadata"]["ownerReferences"] = [{"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "name": "vm1",
                                           "uid": owner["metadata"]["uid"], "controller": True}]
    store.create(VMI, "default", vmi)
    deleted = store.delete(VM, "default", "vm1")
    assert int(deleted["metadata"]["resourceVersion"]) > int(owner["metadata"]["resourceVersion"])
    with pytest.raises(NotFound):
        store.get(VMI, "default", "vm1")                   # garbage-collected with its owner
    with pytest.raises(BadRequest):
        store.delete(VM, "default", "x", propagation_policy="Sometimes")


def test_dry_run_stores_nothing(store):
    rv = store.resource_version
    obj = store.create(VM, "default", vm(), dry_run=True)
    assert obj["metadata"]["name"] == "vm1"
    assert store.list(VM)[0] == [] and store.resource_version == rv
    store.create(VM, "default", vm())
    store.patch(VM, "default", "vm1", "application/merge-patch+json", {"spec": {"runStrategy": "Always"}},
                dry_run=True)
    store.delete(VM, "default", "vm1", dry_run=True)
    assert store.get(VM, "default", "vm1")["spec"]["runStrategy"] == "Halted"


def test_schema_violation_rejected_and_nothing_written(store):
    store.create(VM, "default", vm())
    before = store.get(VM, "default", "vm1")
    with pytest.raises(Invalid) as e:
        store.patch(VM, "default", "vm1", "application/merge-patch+json",
                    {"spec": {"template": {"spec": {"domain": {"cpu": {"cores": "four"}}}}}})
    cause = e.value.details["causes"][0]
    assert cause["field"] == "spec.template.spec.domain.cpu.cores"
    assert cause["reason"] == "FieldValueTypeInvalid"
    assert store.get(VM, "default", "vm1") == before


def test_field_validation_modes(store):
    body = vm()
    body["spec"]["bogus"] = 1
    with pytest.raises(BadRequest, match='strict decoding error: unknown field "spec.bogus"'):
        store.create(VM, "default", body, field_validation="Strict")
    warnings: list[str] = []
    store.create(VM, "default", body, field_validation="Warn", warnings=warnings)
    assert warnings == ['unknown field "spec.bogus"']
    assert "bogus" not in store.get(VM, "default", "vm1")["spec"]          # pruned, as the apiserver prunes
    body["metadata"]["name"] = "vm2"
    warnings = []
    store.create(VM, "default", body, field_validation="Ignore", warnings=warnings)
    assert warnings == [] and "bogus" not in store.get(VM, "default", "vm2")["spec"]


def test_kubevirt_run_strategy_rules(store):
    both = vm()
    both["spec"]["running"] = False
    with pytest.raises(Invalid, match="Running and RunStrategy are mutually exclusive") as e:
        store.create(VM, "default", both)
    assert e.value.message.startswith('admission webhook "virtualmachine-validator.kubevirt.io" denied the request')
    assert e.value.details["causes"][0]["field"] == "spec.running"
    neither = vm()
    del neither["spec"]["runStrategy"]
    with pytest.raises(Invalid, match="RunStrategy must be specified"):
        store.create(VM, "default", neither)
    legacy = vm()
    del legacy["spec"]["runStrategy"]
    legacy["spec"]["running"] = True
    warnings: list[str] = []
    store.create(VM, "default", legacy, warnings=warnings)
    assert warnings == ["spec.running is deprecated, please use spec.runStrategy instead."]


def test_cluster_scoped_kind(store):
    it = load_example("cluster-csmall")
    it["metadata"]["namespace"] = "ignored"
    obj = store.create(kinds.INSTANCETYPE_CLUSTER, None, it)
    assert "namespace" not in obj["metadata"]
    assert store.get(kinds.INSTANCETYPE_CLUSTER, None, obj["metadata"]["name"])["metadata"]["uid"]


def test_list_selectors(store):
    store.create(VM, "default", vm("a", app="web", tier="front"))
    store.create(VM, "default", vm("b", app="db"))
    store.create(VM, "other", vm("c", app="web"))

    def names(**kw):
        return sorted(o["metadata"]["name"] for o in store.list(VM, **kw)[0])

    assert names() == ["a", "b", "c"]
    assert names(namespace="default") == ["a", "b"]
    assert names(label_selector="app=web") == ["a", "c"]
    assert names(label_selector="app==web,tier") == ["a"]
    assert names(label_selector="app!=web") == ["b"]
    assert names(label_selector="app in (db, web),!tier") == ["b", "c"]
    assert names(label_selector="app notin (web)") == ["b"]
    assert names(field_selector="metadata.name=b") == ["b"]
    assert names(field_selector="metadata.namespace!=default") == ["c"]
    with pytest.raises(BadRequest, match="not a known field selector"):
        store.list(VM, field_selector="spec.running=true")
    with pytest.raises(BadRequest):
        store.list(VM, label_selector="app in (")


def test_watch_from_rv_and_synthetic_added(store):
    store.create(VM, "default", vm("a"))
    rv = store.resource_version
    w_all = store.watch(VM, "default")                     # no rv: current objects as ADDED first
    w_rv = store.watch(VM, "default", resource_version=rv)
    store.create(VM, "default", vm("b"))
    assert w_all.get(timeout=1)[0] == "ADDED" and w_all.get(timeout=1)[1]["metadata"]["name"] == "b"
    ev = w_rv.get(timeout=1)
    assert ev[0] == "ADDED" and ev[1]["metadata"]["name"] == "b"
    assert w_rv.get(timeout=0.1) is None
    w_all.stop()
    w_rv.stop()


def test_watch_selector_moves_become_added_and_deleted(store):
    store.create(VM, "default", vm("a", app="web"))
    w = store.watch(VM, "default", resource_version=store.resource_version, label_selector="app=web")
    store.patch(VM, "default", "a", "application/merge-patch+json", {"metadata": {"labels": {"app": "db"}}})
    store.patch(VM, "default", "a", "application/merge-patch+json", {"metadata": {"labels": {"app": "web"}}})
    assert [w.get(timeout=1)[0] for _ in range(2)] == ["DELETED", "ADDED"]
    w.stop()


def test_watch_too_old_is_gone(tmp_path):
    s = ObjectStore(tmp_path / "small.db", history_limit=5)
    try:
        for i in range(12):
            s.create(VM, "default", vm(f"v{i}"))
        with pytest.raises(Gone) as e:
            s.watch(VM, "default", resource_version="2")
        assert e.value.code == 410 and e.value.reason == "Expired"
        assert e.value.message.startswith("too old resource version: 2 (")
        w = s.watch(VM, "default", resource_version="8")
        assert [w.get(timeout=1)[1]["metadata"]["name"] for _ in range(4)] == ["v8", "v9", "v10", "v11"]
        w.stop()
    finally:
        s.close()


def test_watch_bookmarks(store, monkeypatch):
    from virtctl.controller.store import watch as watch_mod
    monkeypatch.setattr(watch_mod, "BOOKMARK_INTERVAL", 0.05)
    store.create(VM, "default", vm())
    w = store.watch(VM, "default", resource_version=store.resource_version, bookmarks=True)
    etype, obj = w.get(timeout=2)
    assert etype == "BOOKMARK" and obj["metadata"]["resourceVersion"] == store.resource_version
    w.stop()
    w2 = store.watch(VM, "default", resource_version=store.resource_version)
    assert w2.get(timeout=0.2) is None                    # no bookmarks unless asked for
    w2.stop()


def test_subscribe_and_mutate(store):
    seen: list[tuple[str, str]] = []
    done = threading.Event()

    def cb(etype, kind, obj):
        seen.append((etype, obj["metadata"]["name"]))
        if etype == "DELETED":
            done.set()

    store.subscribe(cb)
    store.create(VM, "default", vm())

    def set_status(obj):
        obj.setdefault("status", {})["printableStatus"] = "Stopped"

    out = store.mutate(VM, "default", "vm1", set_status, subresource="status")
    assert out["status"]["printableStatus"] == "Stopped"
    same = store.mutate(VM, "default", "vm1", lambda o: False)
    assert same["metadata"]["resourceVersion"] == out["metadata"]["resourceVersion"]
    assert store.mutate(VM, "default", "missing", set_status) is None
    store.delete(VM, "default", "vm1")
    assert done.wait(2)
    assert seen == [("ADDED", "vm1"), ("MODIFIED", "vm1"), ("DELETED", "vm1")]


def test_concurrent_mutate_loses_no_update(store):
    body = vm()
    body["metadata"]["annotations"] = {"count": "0"}
    store.create(VM, "default", body)

    def bump(obj):
        obj["metadata"]["annotations"]["count"] = str(int(obj["metadata"]["annotations"]["count"]) + 1)

    threads = [threading.Thread(target=lambda: [store.mutate(VM, "default", "vm1", bump) for _ in range(10)])
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.get(VM, "default", "vm1")["metadata"]["annotations"]["count"] == "40"


def test_reopen_keeps_objects_and_rv(tmp_path):
    s = ObjectStore(tmp_path / "s.db")
    s.create(VM, "default", vm())
    rv = s.resource_version
    s.close()
    s = ObjectStore(tmp_path / "s.db")
    try:
        assert s.resource_version == rv and s.get(VM, "default", "vm1")
        assert int(s.create(VM, "default", vm("vm2"))["metadata"]["resourceVersion"]) == int(rv) + 1
    finally:
        s.close()


def test_second_process_cannot_open_the_same_store(tmp_path):
    from virtctl.errors import ConfigError
    s = ObjectStore(tmp_path / "s.db")
    try:
        with pytest.raises(ConfigError, match="in use by another process"):
            ObjectStore(tmp_path / "s.db")
    finally:
        s.close()


def test_watch_stops_when_store_closes(tmp_path):
    s = ObjectStore(tmp_path / "s.db")
    w = s.watch(VM, "default")
    t0 = time.monotonic()
    threading.Timer(0.1, s.close).start()
    assert list(w) == []
    assert time.monotonic() - t0 < 2


def test_mutate_prunes_unknown_fields_stored_before_pruning_existed(store):
    """An object stored with an unknown field (an older version did not prune) is still updated by the
    controllers' Strict writes, and the update drops the field instead of failing every time."""
    store.create(VM, "default", vm())
    legacy = store.get(VM, "default", "vm1")
    legacy["spec"]["legacyField"] = {"x": 1}
    store._commit(VM, "MODIFIED", None, legacy)                  # as an older version stored it
    assert store.get(VM, "default", "vm1")["spec"]["legacyField"] == {"x": 1}
    updated = store.mutate(VM, "default", "vm1", lambda o: o["metadata"].setdefault("labels", {}).update(a="b"))
    assert updated["metadata"]["labels"] == {"a": "b"} and "legacyField" not in updated["spec"]
