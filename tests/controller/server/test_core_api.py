"""The core group v1 (Namespace, Secret, ConfigMap, Service, Event) and events.k8s.io/v1 over real
HTTPS: discovery, CRUD with apiserver's validation messages and codes, nothing half-stored,
allocation of cluster IPs and node ports, field selectors, Tables, watch, the events view."""

from __future__ import annotations

import base64
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

NS = "/api/v1/namespaces"
TABLE = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}


def post(api, path, body, **kw):
    return api.request("POST", path, body, **kw)


def names(api, path):
    return sorted(i["metadata"]["name"] for i in api.request("GET", path).json()["items"])


# ---------------------------------------------------------------- discovery
def test_api_v1_discovery_as_kube_apiserver(api_server_session):
    api = api_server_session
    assert api.request("GET", "/api").json()["versions"] == ["v1"]
    doc = api.request("GET", "/api/v1").json()
    assert doc["kind"] == "APIResourceList" and doc["groupVersion"] == "v1"
    res = {r["name"]: r for r in doc["resources"]}
    assert res["namespaces"]["namespaced"] is False and res["namespaces"]["shortNames"] == ["ns"]
    assert "deletecollection" not in res["namespaces"]["verbs"]
    assert res["services"]["categories"] == ["all"] and res["services"]["shortNames"] == ["svc"]
    assert res["configmaps"]["shortNames"] == ["cm"] and res["events"]["shortNames"] == ["ev"]
    assert "shortNames" not in res["secrets"] and "categories" not in res["secrets"]
    assert res["secrets"]["verbs"] == ["create", "delete", "deletecollection", "get", "list", "patch", "update",
                                       "watch"]
    assert res["namespaces/status"]["verbs"] == ["get", "patch", "update"]
    assert res["services/status"]["verbs"] == ["get", "patch", "update"]
    assert [r["name"] for r in doc["resources"]] == sorted(res)
    groups = [g["name"] for g in api.request("GET", "/apis").json()["groups"]]
    assert "events.k8s.io" in groups and "" not in groups
    ev = api.request("GET", "/apis/events.k8s.io/v1").json()
    assert [r["name"] for r in ev["resources"]] == ["events"]


# ---------------------------------------------------------------- namespaces
def test_system_namespaces_and_name_rules(api_server):
    api = api_server
    assert {"default", "kube-system", "kube-public"} <= set(names(api, NS))
    r = post(api, NS, {"metadata": {"name": "Team.A"}})
    assert r.status == 422
    body = r.json()
    assert body["message"].startswith('Namespace "Team.A" is invalid: metadata.name: Invalid value: "Team.A": '
                                      "a lowercase RFC 1123 label must consist of")
    assert body["details"]["causes"][0]["field"] == "metadata.name"
    created = post(api, NS, {"metadata": {"name": "team-a"}}).json()
    assert created["status"] == {"phase": "Active"} and created["spec"] == {"finalizers": ["kubernetes"]}
    assert created["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team-a"}
    r = api.request("DELETE", f"{NS}/default")
    assert r.status == 403 and r.json()["message"] == \
        'namespaces "default" is forbidden: this namespace may not be deleted'
    assert "default" in names(api, NS)


def test_missing_and_terminating_namespaces_refuse_content(api_server):
    api = api_server
    r = post(api, f"{NS}/nowhere/secrets", {"metadata": {"name": "s"}})
    assert r.status == 404 and r.json()["message"] == 'namespaces "nowhere" not found'
    r = post(api, "/apis/kubevirt.io/v1/namespaces/nowhere/virtualmachines",
             {"metadata": {"name": "vm"}, "spec": {"template": {"spec": {"domain": {"devices": {}}}}}})
    assert r.status == 404 and r.json()["details"] == {"name": "nowhere", "kind": "namespaces"}
    assert api.store.list("secret")[0] == [] and api.store.list("vm")[0] == []
    post(api, NS, {"metadata": {"name": "going"}})
    r = api.request("DELETE", f"{NS}/going")
    assert r.status == 200 and r.json()["status"]["phase"] == "Terminating"
    assert r.json()["metadata"]["deletionTimestamp"]
    r = post(api, f"{NS}/going/configmaps", {"metadata": {"name": "late"}})
    assert r.status == 403
    assert r.json()["message"] == ('configmaps "late" is forbidden: unable to create new content in namespace '
                                   "going because it is being terminated")


# ---------------------------------------------------------------- secrets and config maps
def test_secret_string_data_type_and_base64(api_server):
    api = api_server
    r = post(api, f"{NS}/default/secrets", {"metadata": {"name": "s"}, "stringData": {"password": "hunter2"},
                                            "data": {"user": base64.b64encode(b"root").decode()}})
    assert r.status == 201, r.body
    s = r.json()
    assert s["type"] == "Opaque" and "stringData" not in s
    assert base64.b64decode(s["data"]["password"]) == b"hunter2" and base64.b64decode(s["data"]["user"]) == b"root"
    r = post(api, f"{NS}/default/secrets", {"metadata": {"name": "bad"}, "data": {"k": "abc$"}})
    assert r.status == 400
    assert r.json()["message"] == ('Secret in version "v1" cannot be handled as a Secret: illegal base64 data at '
                                   "input byte 3")
    r = post(api, f"{NS}/default/secrets", {"metadata": {"name": "bad"}, "data": {"k": "YWJj\nZA=="}})
    assert r.status == 201                      # Go's decoder skips newlines
    r = post(api, f"{NS}/default/secrets", {"metadata": {"name": "bad2"}, "data": {"a b": "YQ=="}})
    assert r.status == 422 and r.json()["details"]["causes"][0]["field"] == "data[a b]"
    assert "a valid config key must consist of alphanumeric characters" in r.json()["message"]
    r = post(api, f"{NS}/default/secrets", {"metadata": {"name": "ssh"}, "type": "kubernetes.io/ssh-auth",
                                            "data": {}})
    assert r.status == 422
    assert r.json()["message"] == 'Secret "ssh" is invalid: data[ssh-privatekey]: Required value'
    assert names(api, f"{NS}/default/secrets") == ["bad", "s"]


def test_immutable_secret_and_configmap(api_server):
    api = api_server
    post(api, f"{NS}/default/secrets", {"metadata": {"name": "frozen"}, "stringData": {"a": "1"}, "immutable": True})
    r = api.request("PATCH", f"{NS}/default/secrets/frozen", {"stringData": {"a": "2"}},
                    headers={"Content-Type": "application/merge-patch+json"})
    assert r.status == 422
    assert r.json()["message"] == ('Secret "frozen" is invalid: data: Forbidden: field is immutable when `immutable` '
                                   "is set")
    r = api.request("PATCH", f"{NS}/default/secrets/frozen", {"type": "example.com/custom"},
                    headers={"Content-Type": "application/merge-patch+json"})
    assert r.status == 422
    assert r.json()["message"] == ('Secret "frozen" is invalid: type: Invalid value: "example.com/custom": field is '
                                   "immutable")
    post(api, f"{NS}/default/configmaps", {"metadata": {"name": "cm"}, "data": {"a": "1"}, "immutable": True})
    r = api.request("PATCH", f"{NS}/default/configmaps/cm", {"immutable": False},
                    headers={"Content-Type": "application/merge-patch+json"})
    assert r.status == 422
    assert r.json()["message"] == ('ConfigMap "cm" is invalid: immutable: Forbidden: field is immutable when '
                                   "`immutable` is set")
    assert api.request("GET", f"{NS}/default/configmaps/cm").json()["immutable"] is True


def test_size_limit_is_a_422_and_stores_nothing(api_server):
    api = api_server
    r = post(api, f"{NS}/default/configmaps", {"metadata": {"name": "big"}, "data": {"blob": "x" * (2 << 20)}})
    assert r.status == 422
    assert r.json()["message"] == 'ConfigMap "big" is invalid: Too long: must have at most 1048576 bytes'
    r = post(api, f"{NS}/default/secrets", {"metadata": {"name": "big"},
                                            "data": {"blob": base64.b64encode(b"x" * (1 << 20) + b"y").decode()}})
    assert r.status == 422
    assert r.json()["message"] == 'Secret "big" is invalid: data: Too long: must have at most 1048576 bytes'
    ok = post(api, f"{NS}/default/configmaps", {"metadata": {"name": "fits"}, "data": {"blob": "x" * 1000_000}})
    assert ok.status == 201
    assert names(api, f"{NS}/default/configmaps") == ["fits"] and names(api, f"{NS}/default/secrets") == []


# ---------------------------------------------------------------- services
def svc(name, ports, svc_type="NodePort", **spec):
    return {"metadata": {"name": name}, "spec": {"type": svc_type, "ports": ports, "selector": {"app": name},
                                                 **spec}}


def test_service_defaults_and_allocation(api_server):
    api = api_server
    r = post(api, f"{NS}/default/services", svc("web", [{"port": 80, "targetPort": 8080}]))
    assert r.status == 201, r.body
    spec = r.json()["spec"]
    assert spec["clusterIP"].startswith("10.9") and spec["clusterIPs"] == [spec["clusterIP"]]
    assert 30000 <= spec["ports"][0]["nodePort"] <= 32767 and spec["ports"][0]["protocol"] == "TCP"
    assert spec["sessionAffinity"] == "None" and spec["externalTrafficPolicy"] == "Cluster"
    r = post(api, f"{NS}/default/services", svc("db", [{"port": 5432}], "ClusterIP"))
    assert r.json()["spec"]["clusterIP"] != spec["clusterIP"] and "nodePort" not in r.json()["spec"]["ports"][0]
    assert r.json()["spec"]["ports"][0]["targetPort"] == 5432
    table = api.request("GET", f"{NS}/default/services", headers=TABLE).json()
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Type", "Cluster-IP", "External-IP",
                                                               "Port(s)", "Age", "Selector"]
    web = next(row["cells"] for row in table["rows"] if row["cells"][0] == "web")
    assert web[1:5] == ["NodePort", spec["clusterIP"], "<none>", f"80:{spec['ports'][0]['nodePort']}/TCP"]
    assert web[6] == "app=web"


def test_service_bad_ports(api_server):
    api = api_server
    path = f"{NS}/default/services"
    r = post(api, path, svc("a", [{"port": 70000}]))
    assert r.status == 422                      # targetPort defaults to the port, and is checked too
    assert r.json()["message"] == ('Service "a" is invalid: [spec.ports[0].port: Invalid value: 70000: must be '
                                   "between 1 and 65535, inclusive, spec.ports[0].targetPort: Invalid value: 70000: "
                                   "must be between 1 and 65535, inclusive]")
    r = post(api, path, svc("a", [{"port": 0, "targetPort": 80}]))
    assert r.json()["message"] == ('Service "a" is invalid: spec.ports[0].port: Invalid value: 0: must be '
                                   "between 1 and 65535, inclusive")
    r = post(api, path, svc("a", [{"name": "x", "port": 80}, {"name": "x", "port": 81}]))
    assert r.status == 422 and r.json()["message"] == 'Service "a" is invalid: spec.ports[1].name: Duplicate value: "x"'
    r = post(api, path, svc("a", [{"name": "x", "port": 80}, {"name": "y", "port": 80}]))
    assert r.status == 422 and "spec.ports[1]: Duplicate value: core.ServicePort{" in r.json()["message"]
    r = post(api, path, svc("a", [{"port": 80, "protocol": "ICMP"}]))
    assert r.json()["message"] == ('Service "a" is invalid: spec.ports[0].protocol: Unsupported value: "ICMP": '
                                   'supported values: "SCTP", "TCP", "UDP"')
    r = post(api, path, svc("a", []))
    assert r.json()["message"] == 'Service "a" is invalid: spec.ports: Required value'
    r = post(api, path, svc("a", [{"port": 80, "nodePort": 80}]))
    assert r.json()["message"] == ('Service "a" is invalid: spec.ports[0].nodePort: Invalid value: 80: provided port '
                                   "is not in the valid range. The range of valid ports is 30000-32767")
    r = post(api, path, svc("a", [{"port": 80, "nodePort": 30080}], "ClusterIP"))
    assert "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'" in r.json()["message"]
    r = post(api, path, svc("Bad", [{"port": 80}]))
    assert r.status == 422 and "a DNS-1035 label must consist of" in r.json()["message"]
    assert post(api, path, svc("one", [{"port": 80, "nodePort": 30080}])).status == 201
    r = post(api, path, svc("two", [{"port": 81, "nodePort": 30080}]))
    assert r.status == 422
    assert r.json()["message"] == ('Service "two" is invalid: spec.ports[0].nodePort: Invalid value: 30080: '
                                   "provided port is already allocated")
    assert names(api, path) == ["one"]


def test_service_update_keeps_allocations_and_strategic_patch(api_server):
    api = api_server
    path = f"{NS}/default/services"
    created = post(api, path, svc("web", [{"name": "http", "port": 80}])).json()
    patch = {"spec": {"ports": [{"name": "https", "port": 443}], "$setElementOrder/ports": [{"port": 80},
                                                                                           {"port": 443}]}}
    r = api.request("PATCH", f"{path}/web", patch, headers={"Content-Type": "application/strategic-merge-patch+json"})
    assert r.status == 200, r.body
    ports = r.json()["spec"]["ports"]
    assert [p["port"] for p in ports] == [80, 443] and ports[0]["nodePort"] == created["spec"]["ports"][0]["nodePort"]
    assert r.json()["spec"]["clusterIP"] == created["spec"]["clusterIP"]
    r = api.request("PATCH", f"{path}/web", {"spec": {"clusterIP": "10.96.5.5"}},
                    headers={"Content-Type": "application/merge-patch+json"})
    assert r.status == 422 and "may not change once set" in r.json()["message"]
    r = api.request("PATCH", "/apis/kubevirt.io/v1/namespaces/default/virtualmachines/x", {},
                    headers={"Content-Type": "application/strategic-merge-patch+json"})
    assert r.status == 415


# ---------------------------------------------------------------- events, selectors, tables, watch
def event(name, obj_name, reason="Started", etype="Normal", kind="VirtualMachine"):
    return {"metadata": {"name": name}, "involvedObject": {"kind": kind, "name": obj_name, "namespace": "default",
                                                           "uid": f"uid-{obj_name}"},
            "reason": reason, "message": f"{reason} {obj_name}", "type": etype, "count": 1,
            "source": {"component": "virt-controller"}, "firstTimestamp": "2026-01-01T00:00:00Z",
            "lastTimestamp": "2026-01-01T00:00:00Z"}


def test_event_field_selectors_table_and_events_v1_view(api_server):
    api = api_server
    path = f"{NS}/default/events"
    assert post(api, path, event("e1", "vm1")).status == 201
    assert post(api, path, event("e2", "vm2", "SyncFailed", "Warning")).status == 201
    sel = "involvedObject.kind=VirtualMachine,involvedObject.name=vm1,involvedObject.uid=uid-vm1"
    assert names(api, f"{path}?fieldSelector={sel}") == ["e1"]
    assert names(api, f"{path}?fieldSelector=type%3DWarning") == ["e2"]
    r = api.request("GET", f"{path}?fieldSelector=spec.foo%3Dx")
    assert r.status == 400 and r.json()["message"] == "field label not supported: spec.foo"
    table = api.request("GET", path, headers=TABLE).json()
    assert [c["name"] for c in table["columnDefinitions"] if c["priority"] == 0] == \
        ["Last Seen", "Type", "Reason", "Object", "Message"]
    row = next(r["cells"] for r in table["rows"] if r["cells"][9] == "e2")
    assert row[1:4] == ["Warning", "SyncFailed", "virtualmachine/vm2"] and row[6] == "SyncFailed vm2"
    v1 = api.request("GET", "/apis/events.k8s.io/v1/namespaces/default/events/e1").json()
    assert v1["apiVersion"] == "events.k8s.io/v1" and v1["regarding"]["name"] == "vm1"
    assert v1["note"] == "Started vm1" and v1["deprecatedCount"] == 1 and "involvedObject" not in v1
    r = post(api, "/apis/events.k8s.io/v1/namespaces/default/events",
             {"metadata": {"name": "e3"}, "regarding": {"kind": "Pod", "name": "p", "namespace": "default"},
              "reason": "Pulled", "note": "pulled", "type": "Normal", "eventTime": "2026-01-01T00:00:00.000000Z",
              "reportingController": "kubelet", "reportingInstance": "node01", "action": "Pull"})
    assert r.status == 201, r.body
    core = api.request("GET", f"{path}/e3").json()
    assert core["involvedObject"]["name"] == "p" and core["message"] == "pulled"
    assert api.request("DELETE", "/apis/events.k8s.io/v1/namespaces/default/events/e3").status == 200
    assert names(api, path) == ["e1", "e2"]


def test_event_watch_streams_a_new_event(api_server):
    api = api_server
    import http.client
    conn = http.client.HTTPSConnection("127.0.0.1", api.port, context=api.ssl_context(), timeout=10)
    rv = api.request("GET", f"{NS}/default/events").json()["metadata"]["resourceVersion"]
    conn.request("GET", f"{NS}/default/events?watch=1&resourceVersion={rv}&timeoutSeconds=5",
                 headers={"Authorization": f"Bearer {api.token}"})
    resp = conn.getresponse()
    assert resp.status == 200
    post(api, f"{NS}/default/events", event("late", "vm9"))
    line = json.loads(resp.readline())
    conn.close()
    assert line["type"] == "ADDED" and line["object"]["metadata"]["name"] == "late"


def test_dry_run_and_tables_of_data_kinds(api_server):
    api = api_server
    r = post(api, f"{NS}/default/secrets?dryRun=All", {"metadata": {"name": "dry"}, "stringData": {"a": "b"}})
    assert r.status == 201 and r.json()["data"] == {"a": "Yg=="}
    assert names(api, f"{NS}/default/secrets") == []
    post(api, f"{NS}/default/secrets", {"metadata": {"name": "s"}, "stringData": {"a": "1", "b": "2"}})
    post(api, f"{NS}/default/configmaps", {"metadata": {"name": "c"}, "data": {"a": "1"}, "binaryData": {"b": "AA=="}})
    t = api.request("GET", f"{NS}/default/secrets", headers=TABLE).json()
    assert [c["name"] for c in t["columnDefinitions"]] == ["Name", "Type", "Data", "Age"]
    assert t["rows"][0]["cells"][:3] == ["s", "Opaque", 2]
    t = api.request("GET", f"{NS}/default/configmaps", headers=TABLE).json()
    assert [c["name"] for c in t["columnDefinitions"]] == ["Name", "Data", "Age"]
    assert t["rows"][0]["cells"][:2] == ["c", 2]
    t = api.request("GET", NS, headers=TABLE).json()
    assert [c["name"] for c in t["columnDefinitions"]] == ["Name", "Status", "Age"]
    assert ["default", "Active"] in [r["cells"][:2] for r in t["rows"]]
    assert names(api, f"{NS}?fieldSelector=status.phase%3DActive")[:1] == ["default"]


# ---------------------------------------------------------------- generated input: never a 5xx
_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_scalar = st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40), _text)
_value = st.recursive(_scalar, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(_text, inner, max_size=3)), max_leaves=6)
_port = st.fixed_dictionaries({}, optional={"port": st.one_of(st.integers(-5, 70000), _value),
                                            "name": st.one_of(_text, _value),
                                            "protocol": st.sampled_from(["TCP", "UDP", "SCTP", "tcp", "ICMP"]),
                                            "targetPort": st.one_of(st.integers(-1, 70000), _text, _value),
                                            "nodePort": st.one_of(st.integers(29990, 30010), _value)})
_bodies = st.one_of(
    st.tuples(st.just("secrets"), st.fixed_dictionaries({"metadata": st.fixed_dictionaries({"name": st.just("g")})},
                                                        optional={"data": st.one_of(st.dictionaries(_text, _text),
                                                                                    _value),
                                                                  "stringData": st.one_of(st.dictionaries(_text, _text),
                                                                                          _value),
                                                                  "type": st.one_of(_text, st.sampled_from(
                                                                      ["Opaque", "kubernetes.io/tls",
                                                                       "kubernetes.io/basic-auth",
                                                                       "kubernetes.io/dockerconfigjson"])),
                                                                  "immutable": _value})),
    st.tuples(st.just("configmaps"), st.fixed_dictionaries({"metadata": st.fixed_dictionaries({"name": st.just("g")})},
                                                           optional={"data": st.one_of(st.dictionaries(_text, _text),
                                                                                       _value),
                                                                     "binaryData": _value, "immutable": _value})),
    st.tuples(st.just("services"), st.fixed_dictionaries({"metadata": st.fixed_dictionaries({"name": st.just("g")})},
                                                         optional={"spec": st.fixed_dictionaries({}, optional={
                                                             "type": st.one_of(st.sampled_from(
                                                                 ["ClusterIP", "NodePort", "LoadBalancer",
                                                                  "ExternalName"]), _value),
                                                             "ports": st.one_of(st.lists(_port, max_size=3), _value),
                                                             "selector": _value, "clusterIP": st.one_of(
                                                                 st.sampled_from(["None", "10.96.0.50", "1.2.3.4"]),
                                                                 _value),
                                                             "sessionAffinity": _value})})),
)


_events = st.tuples(st.just("events"), st.fixed_dictionaries(
    {"metadata": st.fixed_dictionaries({"name": st.just("g")})},
    optional={"involvedObject": st.one_of(st.fixed_dictionaries({}, optional={
                  "kind": _value, "name": _value, "namespace": st.one_of(st.just("default"), _value),
                  "uid": _value}), _value),
              "reason": _value, "message": _value, "type": st.one_of(st.sampled_from(["Normal", "Warning"]), _value),
              "count": _value, "source": _value, "firstTimestamp": _value, "lastTimestamp": _value,
              "reportingComponent": _value, "series": _value}))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(case=st.one_of(_bodies, _events))
def test_generated_core_objects_never_get_a_5xx(api_server_session, case):
    api = api_server_session
    plural, body = case
    r = post(api, f"{NS}/default/{plural}?fieldValidation=Strict", body)
    assert r.status < 500, (body, r.body)
    assert r.json()["kind"] == ("Status" if r.status >= 400 else {"secrets": "Secret", "configmaps": "ConfigMap",
                                                                   "services": "Service", "events": "Event"}[plural])
    listed = api.request("GET", f"{NS}/default/{plural}", headers=TABLE)
    assert listed.status == 200, listed.body                # whatever was stored prints as a Table
    if r.status == 201:
        assert api.request("DELETE", f"{NS}/default/{plural}/g").status == 200


def test_metadata_maps_are_checked(api_server):
    api = api_server
    r = post(api, f"{NS}/default/configmaps", {"metadata": {"name": "m", "labels": {"a": 1}}})
    assert r.status == 400
    assert r.json()["message"] == ('ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot '
                                   "unmarshal number into Go struct field ObjectMeta.metadata.labels of type string")
    r = post(api, f"{NS}/default/configmaps", {"metadata": {"name": "m", "labels": {"bad key": "x"}}})
    assert r.status == 422 and r.json()["details"]["causes"][0]["field"] == "metadata.labels"
    assert names(api, f"{NS}/default/configmaps") == []


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plural=st.sampled_from(["secrets", "configmaps", "services", "events"]), data=st.binary(max_size=96),
       wrapped=st.booleans())
def test_generated_protobuf_bodies_never_get_a_5xx(api_server_session, plural, data, wrapped):
    if wrapped:                     # a runtime.Unknown whose raw object is the generated bytes
        data = b"\x12" + bytes([len(data)]) + data
    r = api_server_session.request("POST", f"{NS}/default/{plural}", b"k8s\x00" + data,
                                   headers={"Content-Type": "application/vnd.kubernetes.protobuf"})
    assert r.status < 500, (data, r.body)
    if r.status == 201:
        api_server_session.request("DELETE", f"{NS}/default/{plural}/{r.json()['metadata']['name']}")


def test_namespaces_have_no_deletecollection(api_server):
    r = api_server.request("DELETE", NS)
    assert r.status == 405 and "default" in names(api_server, NS)


def test_finalize_releases_a_terminating_namespace(api_server):
    api = api_server
    post(api, NS, {"metadata": {"name": "stuck"}})
    api.request("DELETE", f"{NS}/stuck")                     # no namespace controller here: it stays
    assert api.request("GET", f"{NS}/stuck").json()["status"]["phase"] == "Terminating"
    r = api.request("PUT", f"{NS}/stuck/finalize", {"metadata": {"name": "stuck"}, "spec": {"finalizers": []}})
    assert r.status == 200
    assert api.request("GET", f"{NS}/stuck").status == 404
    assert api.request("GET", f"{NS}/default/finalize").status == 405
    assert api.request("PUT", f"{NS}/nope/finalize", {"spec": {}}).status == 404


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(max_size=70), labels=_value)
def test_generated_namespaces_never_get_a_5xx(api_server_session, name, labels):
    api = api_server_session
    r = post(api, NS, {"metadata": {"name": name, "labels": labels}})
    assert r.status < 500, (name, labels, r.body)
    if r.status == 201:
        assert api.request("DELETE", f"{NS}/{r.json()['metadata']['name']}").status == 200


def test_service_type_change_releases_node_ports(api_server):
    api = api_server
    path = f"{NS}/default/services"
    node_port = post(api, path, svc("web", [{"port": 80}])).json()["spec"]["ports"][0]["nodePort"]
    r = api.request("PATCH", f"{path}/web", {"spec": {"type": "ClusterIP"}},
                    headers={"Content-Type": "application/merge-patch+json"})
    assert r.status == 200, r.body
    assert "nodePort" not in r.json()["spec"]["ports"][0]
    r = post(api, path, svc("other", [{"port": 81, "nodePort": node_port}]))     # the port is free again
    assert r.status == 201, r.body
