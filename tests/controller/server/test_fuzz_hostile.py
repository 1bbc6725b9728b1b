"""Generated hostile requests against a live server on 127.0.0.1:0: YAML tags, anchors and aliases
(bombs included), nesting depth, non-JSON numbers, sizes around every limit, hostile list and write
parameters. Never a 5xx, every refusal a Status, nothing stored by a refused request, and no
traceback in the log."""

from __future__ import annotations

import json
import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.controller.server.helpers import VMS
from virtctl.model import kinds

HEAD = ("apiVersion: kubevirt.io/v1\nkind: VirtualMachine\nmetadata:\n  name: {name}\n"
        "spec:\n  runStrategy: Halted\n  template:\n    spec:\n      domain:\n        devices: {{}}\n")
YAML_SCALARS = ["2001-13-45", "2001-01-01", "2001-01-01T10:00:00Z", "!!binary aGVsbG8=", "!!binary '***'",
                "!!timestamp 2001-01-01", "!!timestamp 2001-13-45", '!!float "abc"', "!!float 1", "!!int 1.5",
                "!!int 0x1F", "!!bool maybe", "!!null x", "!!str 12", ".nan", ".NaN", ".inf", "-.inf", "~", "yes",
                "0x1F", "017", "1:20", "1_000", "!custom x", "!!python/object:os.system {}", "!!set {a, b}",
                "12345678901234567890123", "1" * 400, "1e400", '"\\ud800"', "''", "'x'", "{}", "[]"]


@st.composite
def yaml_value(draw, depth: int = 0) -> str:
    kind = draw(st.sampled_from(["scalar", "flow", "deep", "alias", "bomb", "big"] if depth < 2 else ["scalar"]))
    if kind == "scalar":
        return draw(st.sampled_from(YAML_SCALARS))
    if kind == "flow":
        items = draw(st.lists(yaml_value(depth + 1), max_size=3))
        return "[" + ", ".join(items) + "]"
    if kind == "deep":
        n = draw(st.sampled_from([1, 50, 99, 100, 101, 500, 5000]))
        return "[" * n + "1" + "]" * n
    if kind == "alias":
        inner = draw(yaml_value(depth + 1))
        return draw(st.sampled_from([f"[&a {inner}, *a, *a]", "&a {x: *a}", "[*nope]", f"{{<<: &m {{k: {inner}}}}}"]))
    if kind == "bomb":
        width, levels = draw(st.integers(2, 12)), draw(st.integers(1, 9))
        out, prev = "&l0 [" + ",".join(['"lol"'] * width) + "]", "l0"
        for i in range(1, levels + 1):
            out = f"[{out}, &l{i} [" + ",".join([f"*{prev}"] * width) + "]]"
            prev = f"l{i}"
        return out
    size = draw(st.sampled_from([10, 1 << 20, 1600 * 1024, 3 << 20]))
    return "'" + "x" * size + "'"


@st.composite
def yaml_body(draw) -> bytes:
    value = draw(yaml_value())
    where = draw(st.sampled_from(["annotation", "devices", "spec", "top"]))
    text = HEAD.format(name="fz")
    if where == "annotation":
        text = text.replace("  name: fz\n", f"  name: fz\n  annotations:\n    a: {value}\n")
    elif where == "devices":
        text = text.replace("devices: {}", f"devices: {{disks: {value}}}")
    elif where == "spec":
        text += f"  extra: {value}\n"
    else:
        text = value
    return text.encode()


@st.composite
def json_body(draw) -> bytes:
    vm = {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {"name": "fz"},
          "spec": {"runStrategy": "Halted", "template": {"spec": {"domain": {"devices": {}}}}}}
    text = json.dumps(vm)
    token = draw(st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "7" * 4000, "9223372036854775808",
                                  '"\\ud800"', "deep", "wide", "big", "true"]))
    if token == "deep":
        n = draw(st.sampled_from([99, 100, 101, 1000, 20000]))
        token = "[" * n + "1" + "]" * n
    elif token == "wide":
        token = "[" + ",".join(["{}"] * draw(st.sampled_from([257, 100_000]))) + "]"
    elif token == "big":
        token = json.dumps("x" * draw(st.sampled_from([1600 * 1024, 3 << 20])))
    where = draw(st.sampled_from(['"devices": {}', '"runStrategy": "Halted"']))
    if where.startswith('"devices"'):
        return text.replace(where, f'"devices": {{"disks": {token}}}').encode()
    return text.replace(where, f'"runStrategy": "Halted", "x": {token}').encode()


QUERY_VALUES = ["abc", "-5", "1" + "0" * 400, "9223372036854775808", "", "0", "All", "bogus", "zzz", "!!", "Strict",
                "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MSwic3RhcnQiOiJ4In0"]
queries = st.dictionaries(st.sampled_from(["watch", "limit", "resourceVersion", "resourceVersionMatch", "continue",
                                           "timeoutSeconds", "fieldValidation", "dryRun", "allowWatchBookmarks"]),
                          st.sampled_from(QUERY_VALUES), max_size=3)


@pytest.fixture
def quiet_log(caplog):
    caplog.set_level(logging.INFO, logger="virtctl")
    return caplog


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow, HealthCheck.data_too_large])
@given(method=st.sampled_from(["POST", "PUT", "PATCH-apply"]),
       body=st.one_of(yaml_body().map(lambda b: ("application/yaml", b)),
                      json_body().map(lambda b: ("application/json", b))))
def test_hostile_bodies_never_get_a_5xx(api_server, quiet_log, method, body):
    ctype, data = body
    store = api_server.store
    if method != "POST" and not store.list(kinds.VM, "default")[0]:
        store.create(kinds.VM, "default", json.loads(json.dumps(
            {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {"name": "fz"},
             "spec": {"runStrategy": "Halted", "template": {"spec": {"domain": {"devices": {}}}}}})))
    before = store.list(kinds.VM)
    if method == "PATCH-apply":
        verb, path, ctype = "PATCH", f"{VMS}/fz?fieldManager=fuzz", "application/apply-patch+yaml"
    else:
        verb, path = method, (VMS if method == "POST" else f"{VMS}/fz")
    r = api_server.request(verb, path, data, headers={"Content-Type": ctype}, timeout=120)
    assert r.status < 500, (verb, ctype, data[:200], r.body[:300])
    if r.status >= 400:
        assert r.json()["kind"] == "Status"
        assert store.list(kinds.VM) == before
    elif method == "POST":
        store.delete(kinds.VM, "default", "fz")
    bad = [rec for rec in quiet_log.records if rec.exc_info or rec.levelno >= logging.ERROR]
    assert not bad, [rec.getMessage() for rec in bad]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=queries, verb=st.sampled_from(["GET", "POST", "DELETE"]))
def test_hostile_parameters_never_get_a_5xx(api_server, quiet_log, query, verb):
    from urllib.parse import urlencode

    query = dict(query)
    if query.get("watch") not in (None, "0"):            # a watch must end: a valid time-out is made short
        timeout = query.get("timeoutSeconds", "")
        if timeout.lstrip("-").isdigit() and len(timeout) < 19 or "timeoutSeconds" not in query:
            query["timeoutSeconds"] = "1"
    path = VMS + "?" + urlencode(query) if query else VMS
    body = None
    if verb == "POST":
        body = {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {"generateName": "q-"},
                "spec": {"runStrategy": "Halted", "template": {"spec": {"domain": {"devices": {}}}}}}
    r = api_server.request(verb, path, body, timeout=30)
    assert r.status < 500, (verb, path, r.body[:300])
    if r.status >= 400:
        assert r.json()["kind"] == "Status"
    bad = [rec for rec in quiet_log.records if rec.exc_info or rec.levelno >= logging.ERROR]
    assert not bad, [rec.getMessage() for rec in bad]


@st.composite
def json_patch(draw) -> bytes:
    """Patches that grow an object: nesting by path, doubling by copy, many operations."""
    kind = draw(st.sampled_from(["nest", "copy", "many", "merge"]))
    if kind == "nest":
        n = draw(st.sampled_from([10, 99, 150, 1100]))
        path, ops = "/spec/template/metadata", [{"op": "add", "path": "/spec/template/metadata", "value": {}}]
        for _ in range(n):
            path += "/a"
            ops.append({"op": "add", "path": path, "value": {}})
        return json.dumps(ops).encode()
    if kind == "copy":
        seed = draw(st.sampled_from([80, 100_000, 500_000]))
        ops = [{"op": "add", "path": "/spec/template/metadata", "value": {"annotations": {"k0": "x" * seed}}}]
        for i in range(1, draw(st.integers(1, 18))):
            ops.append({"op": "copy", "from": "/spec/template/metadata/annotations",
                        "path": f"/spec/template/metadata/annotations/k{i}"})
        return json.dumps(ops).encode()
    if kind == "many":
        n = draw(st.sampled_from([100, 10_000, 10_001, 50_000]))
        return json.dumps([{"op": "test", "path": "/kind", "value": "VirtualMachine"}] * n).encode()
    return b'{"metadata": {"labels": ' + b'{"a": ' * 99 + b"1" + b"}" * 99 + b"}}"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(patch=json_patch())
def test_growing_patches_never_get_a_5xx(api_server, quiet_log, patch):
    store = api_server.store
    if not store.list(kinds.VM, "default")[0]:
        store.create(kinds.VM, "default", {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
                                           "metadata": {"name": "fz"},
                                           "spec": {"runStrategy": "Halted",
                                                    "template": {"spec": {"domain": {"devices": {}}}}}})
    before = store.list(kinds.VM)
    ctype = "application/merge-patch+json" if patch.startswith(b"{") else "application/json-patch+json"
    r = api_server.request("PATCH", f"{VMS}/fz", patch, headers={"Content-Type": ctype}, timeout=120)
    assert r.status < 500, (patch[:200], r.body[:300])
    if r.status >= 400:
        assert r.json()["kind"] == "Status"
        assert store.list(kinds.VM) == before
    else:
        store.delete(kinds.VM, "default", "fz")
    bad = [rec for rec in quiet_log.records if rec.exc_info or rec.levelno >= logging.ERROR]
    assert not bad, [rec.getMessage() for rec in bad]


CORE = ["/api/v1/namespaces/default/configmaps", "/api/v1/namespaces/default/secrets",
        "/api/v1/namespaces/default/services", "/api/v1/namespaces", "/api/v1/namespaces/default/events"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow, HealthCheck.data_too_large])
@given(path=st.sampled_from(CORE),
       body=st.one_of(yaml_body().map(lambda b: ("application/yaml", b)),
                      json_body().map(lambda b: ("application/json", b))),
       kind=st.sampled_from(["ConfigMap", "Secret", "Service", "Namespace", "Event"]))
def test_hostile_bodies_to_core_kinds_never_get_a_5xx(api_server, quiet_log, path, body, kind):
    ctype, data = body
    data = data.replace(b"apiVersion: kubevirt.io/v1\nkind: VirtualMachine", f"apiVersion: v1\nkind: {kind}".encode())
    data = data.replace(b'"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine"',
                        f'"apiVersion": "v1", "kind": "{kind}"'.encode())
    r = api_server.request("POST", path, data, headers={"Content-Type": ctype}, timeout=120)
    assert r.status < 500, (path, ctype, data[:200], r.body[:300])
    if r.status >= 400:
        assert r.json()["kind"] == "Status"
    elif r.status == 201:
        name = r.json()["metadata"]["name"]
        api_server.request("DELETE", f"{path}/{name}")
    bad = [rec for rec in quiet_log.records if rec.exc_info or rec.levelno >= logging.ERROR]
    assert not bad, [rec.getMessage() for rec in bad]
