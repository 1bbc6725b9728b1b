"""Discovery documents: /version, /api, /apis, /apis/{g}, /apis/{g}/{v}, KubeVirt's subresource group,
and the empty protobuf OpenAPI v2 (docs/compatibility.md#discovery-and-openapi)."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import virtctl
from virtctl.controller.server import auth_reviews, core_discovery
from virtctl.controller.server.subresource_routes import SUBRESOURCES
from virtctl.controller.subresource import SubresourceTable
from virtctl.model import kinds

KUBE_MINOR = "30"            # the gcloud kubectl dispatcher then runs kubectl 1.30
OPENAPI_V2_CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
SUBRESOURCE_VERSIONS = ("v1", "v1alpha3")
VERBS = ["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"]

# what virt-api advertises, ``subresource:verb`` per resource; the handlers are declared in subresource_routes.py
_ADVERTISED = (
    ("virtualmachines", "start:update stop:update restart:update migrate:update addvolume:update removevolume:update "
                        "memorydump:update removememorydump:update expand-spec:get portforward:get"),
    ("virtualmachineinstances", "pause:update unpause:update softreboot:update reset:update freeze:update "
                                "unfreeze:update addvolume:update removevolume:update guestosinfo:get userlist:get "
                                "filesystemlist:get console:get vnc:get vnc/screenshot:get portforward:get "
                                "usbredir:get"),
)
KUBEVIRT_SUBRESOURCES: tuple[tuple[str, str, str], ...] = tuple(
    (resource, sub, verb) for resource, entries in _ADVERTISED
    for sub, _, verb in (entry.partition(":") for entry in entries.split()))


def kube_version() -> dict[str, str]:
    return {"major": "1", "minor": KUBE_MINOR, "gitVersion": f"v1.{KUBE_MINOR}.0",
            "gitCommit": virtctl.GIT_COMMIT, "gitTreeState": "clean", "buildDate": virtctl.BUILD_DATE,
            "goVersion": "go1.22.0", "compiler": "gc", "platform": "linux/amd64"}


def kubevirt_version() -> dict[str, str]:
    return {"gitVersion": f"v{virtctl.__version__}", "gitCommit": virtctl.GIT_COMMIT, "gitTreeState": "clean",
            "buildDate": virtctl.BUILD_DATE, "goVersion": "go1.23.0", "compiler": "gc", "platform": "linux/amd64"}


def api_versions() -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}


def _group(name: str, versions: list[str]) -> dict[str, Any]:
    vs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": vs, "preferredVersion": vs[0]}


def group_versions() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k in kinds.SERVED_KINDS:
        if k.group == kinds.CORE:
            continue                    # the core group is /api, not /apis
        out.setdefault(k.group, [])
        if k.version not in out[k.group]:
            out[k.group].append(k.version)
    out[kinds.SUBRESOURCES] = ["v1", "v1alpha3"]
    out.update(auth_reviews.group_versions())
    return out


def api_group_list() -> dict[str, Any]:
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [_group(g, vs) for g, vs in group_versions().items()]}


def api_group(name: str) -> dict[str, Any] | None:
    versions = group_versions().get(name)
    if versions is None:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name, versions)}


def _hash(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode()).digest()[:8]).decode()


def resource_list(group: str, version: str) -> dict[str, Any] | None:
    if group == kinds.SUBRESOURCES:
        return subresource_list(SUBRESOURCES, version) if version in SUBRESOURCE_VERSIONS else None
    if group in auth_reviews.GROUPS:
        return auth_reviews.resource_list(group, version)
    resources: list[dict[str, Any]] = []
    for k in kinds.SERVED_KINDS:
        if k.group != group or k.version != version:
            continue
        entry: dict[str, Any] = {"name": k.plural, "singularName": k.singular, "namespaced": k.namespaced,
                                 "kind": k.kind, "verbs": list(k.verbs) or VERBS,
                                 "storageVersionHash": _hash(k.api_version + k.kind)}
        if k.short_names:
            entry["shortNames"] = list(k.short_names)
        if k.categories:
            entry["categories"] = list(k.categories)
        resources.append(entry)
        if k.has_status:
            resources.append({"name": f"{k.plural}/status", "singularName": "", "namespaced": k.namespaced,
                              "kind": k.kind, "verbs": ["get", "patch", "update"]})
    if not resources:
        return None
    if group == kinds.CORE:
        resources = core_discovery.with_core_subresources(resources)
    return {"kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version, "resources": resources}


def subresource_list(table: SubresourceTable, version: str = "v1") -> dict[str, Any]:
    seen: dict[str, list[str]] = {}
    for plural, sub, verb in KUBEVIRT_SUBRESOURCES:
        seen.setdefault(f"{plural}/{sub}", []).append(verb)
    for (plural, sub) in list(table.actions) + list(table.streams):
        if plural:
            seen.setdefault(f"{plural}/{sub}", ["update"] if (plural, sub) in table.actions else ["get"])
    resources = [{"name": name, "singularName": "", "namespaced": True, "kind": "", "verbs": verbs}
                 for name, verbs in seen.items()]
    return {"kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": f"{kinds.SUBRESOURCES}/{version}", "resources": resources}


def root_paths() -> dict[str, Any]:
    paths = ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/openapi/v2", "/openapi/v3", "/readyz", "/version"]
    for g, vs in group_versions().items():
        paths.append(f"/apis/{g}")
        paths.extend(f"/apis/{g}/{v}" for v in vs)
    return {"paths": sorted(paths)}
