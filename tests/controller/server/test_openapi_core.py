"""/openapi/v3/api/v1, /openapi/v3/apis/events.k8s.io/v1 and CDI's groups: the Kubernetes kinds' schemas (what
``kubectl explain secret`` reads), checked against the kubernetes Python client's models."""

from __future__ import annotations

import inspect
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from kubernetes.client import models

from virtctl.model import kinds

SCHEMA_REF = "#/components/schemas/"


def get_document(api_server, key: str) -> dict[str, Any]:
    url = api_server.request("GET", "/openapi/v3").json()["paths"][key]["serverRelativeURL"]
    r = api_server.request("GET", url)
    assert r.status == 200, url
    return r.json()


def resolve(schemas: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node["allOf"][0]["$ref"] if "allOf" in node else node["$ref"]
    return schemas[ref[len(SCHEMA_REF):]]


def client_description(cls: type, attr: str) -> str:
    """The middle paragraph of the client's property docstring."""
    paragraphs = [p for p in inspect.cleandoc(getattr(cls, attr).__doc__).split("\n\n") if p.strip()]
    return paragraphs[1].replace("# noqa: E501", "").strip()


@pytest.mark.parametrize("group", [kinds.CORE, kinds.EVENTS_GROUP])
def test_every_served_kind_and_its_list_is_tagged_once(api_server_session, group):
    key = "api/v1" if group == kinds.CORE else f"apis/{group}/v1"
    schemas = get_document(api_server_session, key)["components"]["schemas"]
    served = [k for k in kinds.SERVED_KINDS if k.group == group]
    assert served
    for k in served:
        for kind in (k.kind, k.list_kind):
            gvk = {"group": group, "version": "v1", "kind": kind}
            tagged = [n for n, s in schemas.items() if gvk in s.get("x-kubernetes-group-version-kind", [])]
            assert len(tagged) == 1, (kind, tagged)
            s = schemas[tagged[0]]
            assert s["description"] and {"apiVersion", "kind", "metadata"} <= set(s["properties"])


def test_secret_service_pvc_fields(api_server_session):
    schemas = get_document(api_server_session, "api/v1")["components"]["schemas"]
    secret = schemas["io.k8s.api.core.v1.Secret"]
    assert secret["description"].startswith("Secret holds secret data of a certain type.")
    assert secret["properties"]["data"] == {"type": "object", "additionalProperties": {"type": "string"},
                                            "description": client_description(models.V1Secret, "data")}
    assert secret["properties"]["immutable"]["type"] == "boolean"
    meta = resolve(schemas, secret["properties"]["metadata"])
    assert meta["properties"]["labels"]["additionalProperties"] == {"type": "string"}
    assert "Standard object's metadata" in secret["properties"]["metadata"]["description"]

    spec = resolve(schemas, schemas["io.k8s.api.core.v1.Service"]["properties"]["spec"])
    ports = spec["properties"]["ports"]
    assert ports["type"] == "array"
    port = resolve(schemas, ports["items"])
    assert "port" in port["required"] and port["properties"]["port"]["type"] == "integer"
    assert port["properties"]["port"]["description"] == client_description(models.V1ServicePort, "port")
    int_or_string = resolve(schemas, port["properties"]["targetPort"])
    assert int_or_string["format"] == "int-or-string"

    pvc_spec = resolve(schemas, schemas["io.k8s.api.core.v1.PersistentVolumeClaim"]["properties"]["spec"])
    assert pvc_spec["properties"]["accessModes"]["items"] == {"type": "string"}
    requests = resolve(schemas, pvc_spec["properties"]["resources"])["properties"]["requests"]
    assert resolve(schemas, requests["additionalProperties"])["oneOf"]      # a Quantity

    for name, s in schemas.items():
        for field, prop in s.get("properties", {}).items():
            for node in (prop, prop.get("items", {}), prop.get("additionalProperties", {})):
                if "allOf" in node:
                    assert resolve(schemas, node) is not None, (name, field)


def test_events_group_has_its_own_event(api_server_session):
    schemas = get_document(api_server_session, "apis/events.k8s.io/v1")["components"]["schemas"]
    event = schemas["io.k8s.api.events.v1.Event"]
    assert {"regarding", "note", "reportingController", "eventTime"} <= set(event["properties"])
    assert "io.k8s.api.core.v1.Event" not in schemas


def test_api_v1_caching_like_the_kubevirt_documents(api_server_session):
    url = api_server_session.request("GET", "/openapi/v3").json()["paths"]["api/v1"]["serverRelativeURL"]
    assert urlsplit(url).path == "/openapi/v3/api/v1"
    r = api_server_session.request("GET", url)
    assert r.headers["ETag"] == f'"{parse_qs(urlsplit(url).query)["hash"][0]}"'
    assert r.headers["Cache-Control"] == "public, immutable"
    assert api_server_session.request("GET", url, headers={"If-None-Match": r.headers["ETag"]}).status == 304
    stale = api_server_session.request("GET", "/openapi/v3/api/v1?hash=0BSOLETE")
    assert stale.status == 301 and stale.headers["Location"] == url


def test_cdi_data_volume_spec_comes_from_the_kubevirt_swagger(api_server_session):
    schemas = get_document(api_server_session, "apis/cdi.kubevirt.io/v1beta1")["components"]["schemas"]
    dv = schemas["v1beta1.DataVolume"]
    assert dv["x-kubernetes-group-version-kind"] == [{"group": "cdi.kubevirt.io", "version": "v1beta1",
                                                      "kind": "DataVolume"}]
    assert "http" in resolve(schemas, resolve(schemas, dv["properties"]["spec"])["properties"]["source"])[
        "properties"]
    assert schemas["v1beta1.CDIConfig"]["properties"]["spec"]["x-kubernetes-preserve-unknown-fields"] is True
    upload = get_document(api_server_session, "apis/upload.cdi.kubevirt.io/v1beta1")
    assert list(upload["paths"]) == ["/apis/upload.cdi.kubevirt.io/v1beta1/namespaces/{namespace}/uploadtokenrequests"]
    assert set(upload["paths"][next(iter(upload["paths"]))]) == {"post"}
