"""/openapi/v3: the index, one OpenAPI 3 document per served group version, and their caching headers."""

from __future__ import annotations

import json
from typing import Any, Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from virtctl.controller.server import openapi
from virtctl.model import kinds

SCHEMA_REF = "#/components/schemas/"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def served_group_versions(api_server) -> set[str]:
    """From the discovery route, not from the code under test."""
    groups = api_server.request("GET", "/apis").json()["groups"]
    core = api_server.request("GET", "/api").json()["versions"]
    return {f"apis/{v['groupVersion']}" for g in groups for v in g["versions"]} | {f"api/{v}" for v in core}


def get_document(api_server, key: str) -> dict[str, Any]:
    url = api_server.request("GET", "/openapi/v3").json()["paths"][key]["serverRelativeURL"]
    r = api_server.request("GET", url)
    assert r.status == 200 and r.headers["Content-Type"] == "application/json", url
    return r.json()


def walk(node: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from walk(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from walk(item, f"{where}/{i}")


def schemas_in(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema object: the components and those inside operations, with their sub-schemas."""
    def sub(where: str, s: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
        yield where, s
        for name, prop in s.get("properties", {}).items():
            yield from sub(f"{where}.{name}", prop)
        for key in ("items", "additionalProperties"):
            if isinstance(s.get(key), dict):
                yield from sub(f"{where}[{key}]", s[key])
        for key in ("allOf", "anyOf", "oneOf"):
            for i, part in enumerate(s.get(key, [])):
                yield from sub(f"{where}/{key}/{i}", part)

    for name, s in doc["components"]["schemas"].items():
        yield from sub(name, s)
    for where, node in walk(doc["paths"], "paths"):
        if isinstance(node.get("schema"), dict):
            yield from sub(where, node["schema"])


def test_index_lists_every_served_group_version(api_server_session):
    r = api_server_session.request("GET", "/openapi/v3")
    assert r.status == 200 and r.headers["Content-Type"] == "application/json"
    paths = r.json()["paths"]
    assert set(paths) == served_group_versions(api_server_session)
    assert {"apis/kubevirt.io/v1", "apis/snapshot.kubevirt.io/v1beta1", "apis/instancetype.kubevirt.io/v1beta1",
            "apis/subresources.kubevirt.io/v1"} <= set(paths)
    for key, entry in paths.items():
        url = urlsplit(entry["serverRelativeURL"])
        assert url.path == f"/openapi/v3/{key}"
        doc = api_server_session.request("GET", entry["serverRelativeURL"])
        assert doc.status == 200, key
        assert doc.headers["ETag"] == f'"{parse_qs(url.query)["hash"][0]}"'


@pytest.mark.parametrize("key", ["apis/kubevirt.io/v1", "apis/snapshot.kubevirt.io/v1beta1",
                                 "apis/instancetype.kubevirt.io/v1beta1", "apis/subresources.kubevirt.io/v1",
                                 "apis/subresources.kubevirt.io/v1alpha3", "api/v1", "apis/events.k8s.io/v1",
                                 "apis/cdi.kubevirt.io/v1beta1", "apis/upload.cdi.kubevirt.io/v1beta1"])
def test_documents_are_openapi_3(api_server_session, key):
    doc = get_document(api_server_session, key)
    assert doc["openapi"].startswith("3.0.") and doc["info"]["title"] and doc["paths"]
    assert "swagger" not in doc and "definitions" not in doc
    assert "#/definitions/" not in json.dumps(doc)
    schemas = doc["components"]["schemas"]
    refs = [(where, node) for where, node in walk(doc) if isinstance(node.get("$ref"), str)]
    assert refs
    for where, node in refs:
        ref = node["$ref"]
        assert ref.startswith(SCHEMA_REF) and ref[len(SCHEMA_REF):] in schemas, (where, ref)
        assert set(node) == {"$ref"}, f"{where}: OpenAPI 3.0 ignores the siblings of $ref"
    for where, s in schemas_in(doc):
        assert not isinstance(s.get("type"), list), f"{where}: OpenAPI 3.0 allows one type"
    for path, item in doc["paths"].items():
        assert path.startswith(f"/{key}/"), path
        for method in set(item) & set(METHODS):
            op = item[method]
            assert op["responses"], (path, method)
            for p in op.get("parameters", []) + item.get("parameters", []):
                assert p["in"] in ("query", "path", "header", "cookie") and "schema" in p, (path, method, p)
                assert "type" not in p, (path, method, p)
            for content in op.get("requestBody", {}).get("content", {}).values():
                assert "schema" in content


def test_apimachinery_definitions_are_included(api_server_session):
    schemas = get_document(api_server_session, "apis/kubevirt.io/v1")["components"]["schemas"]
    assert "k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta" in schemas
    assert "k8s.io.apimachinery.pkg.api.resource.Quantity" in schemas
    assert schemas["v1.VirtualMachine"]["properties"]["metadata"]["allOf"] == [
        {"$ref": SCHEMA_REF + "k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta"}]
    created = schemas["k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"]["creationTimestamp"]
    assert created["type"] == "string" and created["nullable"] is True      # swagger's ["string", "null"]


def test_each_kind_schema_carries_its_gvk(api_server_session):
    vm = get_document(api_server_session, "apis/kubevirt.io/v1")["components"]["schemas"]["v1.VirtualMachine"]
    assert vm["x-kubernetes-group-version-kind"] == [{"group": "kubevirt.io", "version": "v1", "kind": "VirtualMachine"}]
    for k in kinds.ALL_KINDS:
        doc = get_document(api_server_session, f"apis/{k.group}/{k.version}")
        gvk = {"group": k.group, "version": k.version, "kind": k.kind}
        tagged = [name for name, s in doc["components"]["schemas"].items()
                  if gvk in s.get("x-kubernetes-group-version-kind", [])]
        assert len(tagged) == 1, (k.kind, tagged)


def test_patch_operations_announce_server_side_field_validation(api_server_session):
    for k in kinds.ALL_KINDS:
        doc = get_document(api_server_session, f"apis/{k.group}/{k.version}")
        path = f"/apis/{k.group}/{k.version}/" + ("namespaces/{namespace}/" if k.namespaced else "") + \
            f"{k.plural}/{{name}}"
        patch = doc["paths"][path]["patch"]
        assert patch["x-kubernetes-group-version-kind"] == {"group": k.group, "version": k.version, "kind": k.kind}
        assert any(p["name"] == "fieldValidation" and p["in"] == "query" for p in patch["parameters"])
        # offering strategic merge patch would make kubectl send one, which is refused (415)
        assert set(patch["requestBody"]["content"]) == {
            "application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"}
        assert (path + "/status" in doc["paths"]) == k.has_status


def test_only_routed_paths_are_listed(api_server_session):
    paths = get_document(api_server_session, "apis/kubevirt.io/v1")["paths"]
    # the swagger document also has watch paths and the KubeVirt CR, which this server does not route
    assert not [p for p in paths if "/watch/" in p or "/kubevirt/" in p or p.endswith("/kubevirt")]
    for path in paths:
        concrete = path.replace("{namespace}", "default").replace("{name}", "x")
        if concrete.endswith("/x") or concrete.endswith("/x/status"):
            continue                 # an object that does not exist: 404 either way
        assert api_server_session.request("GET", concrete).status == 200, path
    sub = get_document(api_server_session, "apis/subresources.kubevirt.io/v1")
    start = sub["paths"]["/apis/subresources.kubevirt.io/v1/namespaces/{namespace}/virtualmachines/{name}/start"]["put"]
    ref = start["requestBody"]["content"]["*/*"]["schema"]["$ref"]
    assert ref == SCHEMA_REF + "v1.StartOptions" and "v1.StartOptions" in sub["components"]["schemas"]


def test_unknown_document_is_404(api_server_session):
    for path in ("/openapi/v3/apis/nope.io/v1", "/openapi/v3/apis/kubevirt.io/v9", "/openapi/v3/api/v2"):
        r = api_server_session.request("GET", path)
        assert r.status == 404 and r.json()["reason"] == "NotFound", path


def test_needs_the_token(api_server_session):
    for path in ("/openapi/v3", "/openapi/v3/apis/kubevirt.io/v1"):
        for token in (None, "wrong"):
            r = api_server_session.request("GET", path, token=token)
            assert r.status == 401 and r.json()["reason"] == "Unauthorized", (path, token)


def test_hash_etag_and_conditional_requests(api_server_session):
    index = api_server_session.request("GET", "/openapi/v3")
    assert index.headers["ETag"]
    again = api_server_session.request("GET", "/openapi/v3", headers={"If-None-Match": index.headers["ETag"]})
    assert again.status == 304 and again.body == b""
    url = index.json()["paths"]["apis/kubevirt.io/v1"]["serverRelativeURL"]
    r = api_server_session.request("GET", url)
    assert r.headers["Cache-Control"] == "public, immutable" and r.headers["Expires"]
    assert r.headers.get_all("Cache-Control") == ["public, immutable"]
    assert api_server_session.request("GET", url, headers={"If-None-Match": r.headers["ETag"]}).status == 304
    plain = api_server_session.request("GET", "/openapi/v3/apis/kubevirt.io/v1")
    assert plain.status == 200 and plain.headers["Cache-Control"] == "no-cache, private" and plain.body == r.body
    stale = api_server_session.request("GET", "/openapi/v3/apis/kubevirt.io/v1?hash=0BSOLETE")
    assert stale.status == 301 and stale.headers["Location"] == url


def test_protobuf_only_is_not_acceptable(api_server_session):
    r = api_server_session.request("GET", "/openapi/v3/apis/kubevirt.io/v1",
                                   headers={"Accept": "application/com.github.proto-openapi.spec.v3@v1.0+protobuf"})
    assert r.status == 406
    r = api_server_session.request("GET", "/openapi/v3/apis/kubevirt.io/v1",
                                   headers={"Accept": "application/com.github.proto-openapi.spec.v3@v1.0+protobuf, "
                                                      "application/json"})
    assert r.status == 200


def test_documents_are_built_once(api_server_session, monkeypatch):
    built: list[tuple[str, str]] = []
    real = openapi.group_version_document

    def counting(group: str, version: str) -> dict[str, Any]:
        built.append((group, version))
        return real(group, version)

    monkeypatch.setattr(openapi, "group_version_document", counting)
    openapi._build.cache_clear()
    try:
        for _ in range(3):
            for path in ("/openapi/v3", "/openapi/v3/apis/kubevirt.io/v1", "/openapi/v3/apis/snapshot.kubevirt.io/v1beta1"):
                assert api_server_session.request("GET", path).status == 200
        assert len(built) == len(served_group_versions(api_server_session))
        assert len(set(built)) == len(built)
    finally:
        openapi._build.cache_clear()
