"""The manifests a VirtualMachineExport of a VM (or of a VM's snapshot) offers, as KubeVirt's export
server builds them (docs/standalone.md#vm-export): ``…/{internal,external}/manifests/all`` (type
``all``) is the export CA as a ConfigMap ``export-ca-cm-<export>``, the VM cleaned of its status and
runtime metadata, and a DataVolume for each claim the VM has no ``dataVolumeTemplate`` for; every
DataVolume (template or object) imports from the export's gzip URL of its claim, trusting that
ConfigMap and sending the token header from the Secret ``header-secret-<export>``, which
``…/manifests/secret`` (type ``auth-header-secret``) is.

The body is a ``v1`` ``List`` as indented JSON, or, when the request's ``Accept`` is exactly
``application/yaml``, one YAML document per object each followed by ``---``. Plain functions,
no sockets.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import yaml

ALL = "all"
AUTH_HEADER = "auth-header-secret"
PATHS = ((ALL, "manifests/all"), (AUTH_HEADER, "manifests/secret"))
YAML = "application/yaml"
JSON = "application/json"
TOKEN_HEADER = "x-kubevirt-export-token"


def header_secret_name(export_name: str) -> str:
    return f"header-secret-{export_name}"


def ca_configmap_name(export_name: str) -> str:
    return f"export-ca-cm-{export_name}"


def manifest_links(export_url: str, link_type: str) -> list[dict[str, str]]:
    """``manifests`` of one link; ``export_url`` is the export's own URL prefix
    (``…/virtualmachineexports/<name>``), ``link_type`` ``internal`` or ``external``."""
    return [{"type": kind, "url": f"{export_url}/{link_type}/{path}"} for kind, path in PATHS]


def _claim_of(volume: dict[str, Any]) -> str:
    return str((volume.get("dataVolume") or {}).get("name")
               or (volume.get("persistentVolumeClaim") or {}).get("claimName") or "")


def _http_source(url: str, export_name: str) -> dict[str, Any]:
    return {"http": {"url": url, "certConfigMap": ca_configmap_name(export_name),
                     "secretExtraHeaders": [header_secret_name(export_name)]}}


def clean_vm(vm: dict[str, Any]) -> dict[str, Any]:
    """The VM as the export offers it: no status, metadata reduced to name, namespace, labels and
    annotations, and every dataVolumeTemplate that backs a volume importing over HTTP (its URL
    filled in by :func:`all_manifests`)."""
    out = copy.deepcopy(vm)
    out.pop("status", None)
    m = vm.get("metadata") or {}
    meta: dict[str, Any] = {"name": m.get("name"), "namespace": m.get("namespace")}
    for key in ("labels", "annotations"):
        if m.get(key):
            meta[key] = copy.deepcopy(m[key])
    out["apiVersion"], out["kind"], out["metadata"] = "kubevirt.io/v1", "VirtualMachine", meta
    spec = out.setdefault("spec", {})
    claims = {_claim_of(v) for v in ((spec.get("template") or {}).get("spec") or {}).get("volumes") or []}
    for t in spec.get("dataVolumeTemplates") or []:
        if ((t.get("metadata") or {}).get("name") or "") in claims:
            t.setdefault("spec", {})["source"] = {"http": {"url": ""}}
    return out


def datavolume_from_claim(namespace: str, name: str, pvc_spec: dict[str, Any]) -> dict[str, Any]:
    """A DataVolume recreating a claim the VM uses without a template: the claim's spec without
    what binds it here (volumeName, storageClassName, dataSource, dataSourceRef)."""
    spec = {k: copy.deepcopy(v) for k, v in pvc_spec.items()
            if k not in ("volumeName", "storageClassName", "dataSource", "dataSourceRef")}
    return {"apiVersion": "cdi.kubevirt.io/v1beta1", "kind": "DataVolume",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"source": {"http": {"url": ""}}, "pvc": spec}}


def all_manifests(vm: dict[str, Any], pvc_specs: dict[str, dict[str, Any]], gzip_urls: dict[str, str],
                  ca_pem: str, export_name: str) -> list[dict[str, Any]]:
    """The ``all`` manifest's objects: CA ConfigMap, cleaned VM, DataVolumes of template-less claims.
    ``pvc_specs`` maps a claim to its spec (a claim without one gets no DataVolume, as KubeVirt's),
    ``gzip_urls`` a claim to its ``disk.img.gz`` URL in this link."""
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": ca_configmap_name(export_name)},
                 "data": {"ca.pem": ca_pem}}
    out_vm = clean_vm(vm)
    ns = out_vm["metadata"].get("namespace") or ""
    spec = out_vm["spec"]
    templates = {(t.get("metadata") or {}).get("name"): t for t in spec.get("dataVolumeTemplates") or []}
    for name, t in templates.items():
        if "http" in ((t.get("spec") or {}).get("source") or {}):
            t["spec"]["source"] = _http_source(gzip_urls.get(str(name), ""), export_name)
    dvs = []
    for volume in ((spec.get("template") or {}).get("spec") or {}).get("volumes") or []:
        claim = _claim_of(volume)
        if not claim or claim in templates or claim not in pvc_specs:
            continue
        dv = datavolume_from_claim(ns, claim, pvc_specs[claim])
        dv["spec"]["source"] = _http_source(gzip_urls.get(claim, ""), export_name)
        dvs.append(dv)
    return [configmap, out_vm, *dvs]


def secret_manifests(token: str, export_name: str) -> list[dict[str, Any]]:
    """The ``auth-header-secret`` manifest's object: CDI's extra-header Secret."""
    return [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": header_secret_name(export_name)},
             "stringData": {"token": f"{TOKEN_HEADER}:{token}"}}]


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, data: str) -> Any:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str)


def render(objects: list[dict[str, Any]], accept: str | None) -> tuple[bytes, str]:
    """(body, content type) for ``Accept``: YAML documents each ended by ``---`` when it is exactly
    ``application/yaml``, else a JSON ``List``."""
    if (accept or "") == YAML:
        text = "".join(yaml.dump(o, Dumper=_Dumper, default_flow_style=False, sort_keys=True) + "---\n"
                       for o in objects)
        return text.encode(), YAML
    body = {"kind": "List", "apiVersion": "v1", "metadata": {}, "items": objects}
    return json.dumps(body, indent=4).encode(), JSON
