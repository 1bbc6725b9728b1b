"""Discovery, version and OpenAPI routes, over real HTTPS."""

from __future__ import annotations

from virtctl.model import kinds


def test_version_advertises_kubectl_130(api_server_session):
    r = api_server_session.request("GET", "/version?timeout=5s")
    assert r.status == 200 and r.headers["Content-Type"] == "application/json"
    assert r.json()["major"] == "1" and r.json()["minor"] == "30"


def test_api_and_apis(api_server_session):
    assert api_server_session.request("GET", "/api").json()["versions"] == ["v1"]
    groups = {g["name"]: g for g in api_server_session.request("GET", "/apis").json()["groups"]}
    assert {"kubevirt.io", "snapshot.kubevirt.io", "instancetype.kubevirt.io", "subresources.kubevirt.io"} <= set(groups)
    assert groups["kubevirt.io"]["preferredVersion"] == {"groupVersion": "kubevirt.io/v1", "version": "v1"}
    g = api_server_session.request("GET", "/apis/kubevirt.io").json()
    assert g["kind"] == "APIGroup" and g["name"] == "kubevirt.io"


def test_resource_list(api_server_session):
    body = api_server_session.request("GET", "/apis/kubevirt.io/v1").json()
    assert body["kind"] == "APIResourceList" and body["groupVersion"] == "kubevirt.io/v1"
    res = {r["name"]: r for r in body["resources"]}
    vm = res["virtualmachines"]
    assert vm["shortNames"] == ["vm", "vms"] and vm["singularName"] == "virtualmachine"
    assert vm["categories"] == ["all"] and vm["kind"] == "VirtualMachine" and vm["namespaced"] is True
    assert {"get", "list", "watch", "create", "update", "patch", "delete"} <= set(vm["verbs"])
    assert res["virtualmachines/status"]["verbs"] == ["get", "patch", "update"]
    it = {r["name"]: r for r in api_server_session.request("GET", "/apis/instancetype.kubevirt.io/v1beta1")
          .json()["resources"]}
    assert it["virtualmachineclusterinstancetypes"]["namespaced"] is False
    assert api_server_session.request("GET", "/apis/kubevirt.io/v9").status == 404


def test_subresource_group(api_server_session):
    for version in ("v1", "v1alpha3"):
        body = api_server_session.request("GET", f"/apis/subresources.kubevirt.io/{version}").json()
        names = {r["name"] for r in body["resources"]}
        assert {"virtualmachines/start", "virtualmachines/stop", "virtualmachines/restart", "virtualmachines/migrate",
                "virtualmachineinstances/pause", "virtualmachineinstances/unpause", "virtualmachineinstances/console",
                "virtualmachineinstances/vnc", "virtualmachineinstances/vnc/screenshot",
                "virtualmachineinstances/softreboot", "virtualmachineinstances/reset"} <= names
    v = api_server_session.request("GET", "/apis/subresources.kubevirt.io/v1/version").json()
    import virtctl
    assert v["gitVersion"] == f"v{virtctl.__version__}" and v["gitCommit"] == virtctl.GIT_COMMIT
    assert api_server_session.request("GET", "/apis/subresources.kubevirt.io/v1/healthz").status == 200


def test_openapi_v2_is_empty_protobuf(api_server_session):
    r = api_server_session.request("GET", "/openapi/v2")
    assert r.status == 200 and r.body == b""
    assert r.headers["Content-Type"] == "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"


def test_unknown_routes_are_404_status(api_server_session):
    for path in ("/nope", "/apis/nope.io/v1", "/apis/kubevirt.io/v1/namespaces/default/pods",
                 "/apis/kubevirt.io/v1/namespaces/default/virtualmachines/x/y", "/api/v1/namespaces/default/pods",
                 "/api/v2", "/api/v1/namespaces/default/secrets/x/status",
                 "/openapi/v3/apis/nope.io/v1", "/openapi/v3/apis/kubevirt.io", "/openapi/v4",
                 "/apis/subresources.kubevirt.io/v1/namespaces/default/virtualmachines/x/fly"):
        r = api_server_session.request("GET", path)
        assert r.status == 404, path
        assert r.json()["kind"] == "Status" and r.json()["reason"] == "NotFound"


def test_every_kind_has_list_endpoint(api_server_session):
    for k in kinds.ALL_KINDS:
        r = api_server_session.request("GET", k.collection_path("default"))
        assert r.status == 200, k.plural
        assert r.json()["kind"] == k.list_kind and r.json()["items"] == []


def test_protocol_errors_are_status(api_server_session):
    r = api_server_session.request("TRACE", "/version")
    assert r.status == 405 and r.json()["kind"] == "Status"
    r = api_server_session.request("GET", "/" + "x" * 70000)
    assert r.status in (404, 414) and r.json()["kind"] == "Status"
