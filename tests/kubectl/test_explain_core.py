"""Real kubectl (1.30, 1.27 and 1.33) explaining the core kinds from /openapi/v3/api/v1, and the
client-side paths that read those schemas (apply twice, strategic patch, create --validate=true)."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.kubectl.test_kubectl import Kubectl, collapsed, kubectl_binary
from virtctl.controller.schema import kubernetes_openapi

pytestmark = pytest.mark.kubectl


def bundled(definition: str, field: str | None = None) -> str:
    """A description as the bundled schemas have it, whitespace collapsed (kubectl re-wraps it)."""
    schema = kubernetes_openapi.schemas()[definition]
    return collapsed(schema["properties"][field]["description"] if field else schema["description"])


@pytest.fixture(params=["1.30", "1.27", "1.33"])
def kubectl(request, api_server, tmp_path):
    return Kubectl(kubectl_binary(request.param), api_server, tmp_path / "home")


def header(out: str) -> list[str]:
    return out.split("\n\n")[0].split()


def test_explain_core_kinds(kubectl):
    out = kubectl("explain", "secret").stdout
    assert header(out) == ["KIND:", "Secret", "VERSION:", "v1"]
    assert bundled("io.k8s.api.core.v1.Secret") in collapsed(out)
    assert "data\t<map[string]string>" in out and "immutable\t<boolean>" in out
    assert bundled("io.k8s.api.core.v1.Secret", "data") in collapsed(out)

    out = kubectl("explain", "svc.spec.ports").stdout
    assert header(out) == ["KIND:", "Service", "VERSION:", "v1"]
    assert "FIELD: ports <[]ServicePort>" in out
    assert "port\t<integer> -required-" in out and "targetPort\t<IntOrString>" in out
    assert bundled("io.k8s.api.core.v1.ServicePort", "port") in collapsed(out)

    out = kubectl("explain", "pvc.spec").stdout
    assert "KIND:       PersistentVolumeClaim" in out and "FIELD: spec <PersistentVolumeClaimSpec>" in out
    assert bundled("io.k8s.api.core.v1.PersistentVolumeClaim", "spec") in collapsed(out)
    assert "accessModes\t<[]string>" in out and "resources\t<VolumeResourceRequirements>" in out
    out = kubectl("explain", "pvc.spec.resources.requests").stdout
    assert "FIELD: requests <map[string]Quantity>" in out

    out = kubectl("explain", "ns").stdout
    assert header(out) == ["KIND:", "Namespace", "VERSION:", "v1"]
    assert bundled("io.k8s.api.core.v1.Namespace") in collapsed(out)
    assert "spec\t<NamespaceSpec>" in out

    out = kubectl("explain", "events").stdout
    assert header(out) == ["KIND:", "Event", "VERSION:", "v1"]
    assert "involvedObject\t<ObjectReference> -required-" in out
    out = kubectl("explain", "events", "--api-version=events.k8s.io/v1").stdout
    assert header(out) == ["GROUP:", "events.k8s.io", "KIND:", "Event", "VERSION:", "v1"]
    assert "regarding\t<ObjectReference>" in out

    r = kubectl("explain", "secret.dataa", check=False)
    assert r.returncode == 1 and 'field "dataa" does not exist' in r.stderr


def test_apply_twice_patch_and_validate(kubectl, tmp_path):
    manifest = tmp_path / "core.yaml"
    docs = [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
             "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}},
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "default"},
             "data": {"k": "v"}}]
    manifest.write_text(yaml.safe_dump_all(docs))
    assert kubectl("apply", "-f", str(manifest)).stdout.split() == ["service/web", "created", "configmap/cfg",
                                                                    "created"]
    docs[0]["spec"]["ports"][0]["port"] = 81
    manifest.write_text(yaml.safe_dump_all(docs))
    assert kubectl("apply", "-f", str(manifest)).stdout.split() == ["service/web", "configured", "configmap/cfg",
                                                                    "unchanged"]
    ports = json.loads(kubectl("get", "svc", "web", "-o", "json").stdout)["spec"]["ports"]
    assert [(p["port"], p["targetPort"]) for p in ports] == [(81, 8080)]

    kubectl("patch", "cm", "cfg", "-p", '{"data":{"z":"1"}}')
    assert json.loads(kubectl("get", "cm", "cfg", "-o", "json").stdout)["data"] == {"k": "v", "z": "1"}

    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg2, namespace: default}\nbogus: 1\n")
    r = kubectl("create", "--validate=true", "-f", str(bad), check=False)
    assert r.returncode == 1 and 'unknown field "bogus"' in r.stderr
    assert kubectl("get", "cm", "cfg2", check=False).returncode == 1


def test_explain_cdi_kinds(kubectl):
    out = kubectl("explain", "dv.spec.source").stdout
    assert header(out) == ["GROUP:", "cdi.kubevirt.io", "KIND:", "DataVolume", "VERSION:", "v1beta1"]
    assert "FIELD: source <DataVolumeSource>" in out and "http\t<DataVolumeSourceHTTP>" in out
    out = kubectl("explain", "cdiconfig").stdout
    assert header(out) == ["GROUP:", "cdi.kubevirt.io", "KIND:", "CDIConfig", "VERSION:", "v1beta1"]
    assert "spec\t<Object>" in out
