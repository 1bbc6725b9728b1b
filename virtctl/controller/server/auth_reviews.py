"""The self-reviews of kube-apiserver's ``authorization.k8s.io`` and ``authentication.k8s.io`` groups,
what ``kubectl auth can-i`` (``--list``) and ``kubectl auth whoami`` ask
(docs/standalone.md#who-may-do-what).

The standalone server has one user, whoever holds the bearer token, and that user may do everything:
a SelfSubjectAccessReview is always allowed, a SelfSubjectRulesReview answers the rules kube-apiserver
answers for a cluster-admin, a SelfSubjectReview names :data:`USERNAME` in :data:`USER_GROUPS`. The
three are create-only (``POST`` of the collection, ``dryRun`` accepted), decoded and validated as the
apiserver does it (auth_review_kinds.py), and never stored.
"""

from __future__ import annotations

from typing import Any, Callable

import virtctl
from virtctl.controller import schema
from virtctl.controller.server import core_protobuf
from virtctl.controller.server.auth_review_kinds import GROUPS, REVIEW_KINDS, SSAR, SSR, SSRR, access_problems, decode
from virtctl.controller.server.messages import Request, Response, json_response
from virtctl.controller.store import metadata as meta
from virtctl.errors import BadRequest, MethodNotAllowed, NotFound

__all__ = ["GROUPS", "REVIEW_KINDS", "USERNAME", "USER_GROUPS", "group_versions", "resource_list",
           "openapi_document", "route"]

USERNAME = "virtctl-local-admin"
USER_GROUPS = ["system:masters", "system:authenticated"]

# what kube-apiserver's RBAC rule resolver answers for a member of system:masters (cluster-admin)
RESOURCE_RULES = [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]
NON_RESOURCE_RULES = [{"verbs": ["*"], "nonResourceURLs": ["*"]}]


def group_versions() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k in REVIEW_KINDS:
        versions = out.setdefault(k.group, [])
        if k.version not in versions:
            versions.append(k.version)
    return out


def resource_list(group: str, version: str) -> dict[str, Any] | None:
    """The group's ``APIResourceList``: create-only, cluster-scoped, no storage version (never stored)."""
    served = sorted((k for k in REVIEW_KINDS if k.group == group and k.version == version), key=lambda k: k.plural)
    if not served:
        return None
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/{version}",
            "resources": [{"name": k.plural, "singularName": k.singular, "namespaced": False, "kind": k.kind,
                           "verbs": list(k.verbs)} for k in served]}


def openapi_document(group: str, version: str) -> dict[str, Any]:
    """The group's ``/openapi/v3`` document: the create path of each review, bodies as free objects
    (the Kubernetes schemas of these kinds are not bundled)."""
    paths: dict[str, Any] = {}
    for k in REVIEW_KINDS:
        if k.group == group and k.version == version:
            gvk = {"group": k.group, "version": k.version, "kind": k.kind}
            body = {"content": {"application/json": {"schema": {"type": "object"}}}}
            paths[k.collection_path(None)] = {"post": {
                "x-kubernetes-action": "post", "x-kubernetes-group-version-kind": gvk,
                "parameters": [{"name": n, "in": "query", "schema": {"type": "string"}}
                               for n in ("dryRun", "fieldManager", "fieldValidation")],
                "requestBody": body, "responses": {"201": {"description": "Created", **body}}}}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": f"v{virtctl.__version__}"},
            "paths": paths, "components": {"schemas": {}}}


def route(req: Request, parts: list[str]) -> Response:
    """``parts`` after ``apis``: [group, version, plural]."""
    kind = next((k for k in REVIEW_KINDS if parts == [k.group, k.version, k.plural]), None)
    if kind is None:
        raise NotFound("the server could not find the requested resource", details={})
    if req.method != "POST":
        # go-restful's 405, answered by the apiserver's service error handler (no resource named)
        raise MethodNotAllowed("the server does not allow this method on the requested resource", details={})
    req.query.check_write_options(req.method)
    field_validation = schema.check_field_validation(req.query.get("fieldValidation"))
    if req.content_type == core_protobuf.CONTENT_TYPE:
        body = core_protobuf.decode(kind, req.body)             # kubectl 1.32+ sends protobuf
    else:
        body = req.json(empty={})
    obj, warnings = decode(kind, body, field_validation)
    return json_response(201, _ANSWER[kind.kind](obj), warnings)


def _answer_access(obj: dict[str, Any]) -> dict[str, Any]:
    problems = access_problems(obj)
    if problems:
        err = schema.invalid_error(SSAR, "", problems)
        err.details.pop("name", None)               # metav1.StatusDetails omits an empty name
        raise err
    return {"kind": SSAR.kind, "apiVersion": SSAR.api_version, "metadata": {"creationTimestamp": None},
            "spec": obj.get("spec") or {}, "status": {"allowed": True}}


def _answer_rules(obj: dict[str, Any]) -> dict[str, Any]:
    if not (obj.get("spec") or {}).get("namespace"):
        raise BadRequest("no namespace on request")
    # the apiserver answers a fresh object: the spec is not echoed
    return {"kind": SSRR.kind, "apiVersion": SSRR.api_version, "metadata": {"creationTimestamp": None}, "spec": {},
            "status": {"resourceRules": RESOURCE_RULES, "nonResourceRules": NON_RESOURCE_RULES,
                       "incomplete": False}}


def _answer_whoami(obj: dict[str, Any]) -> dict[str, Any]:
    return {"kind": SSR.kind, "apiVersion": SSR.api_version, "metadata": {"creationTimestamp": meta.now()},
            "status": {"userInfo": {"username": USERNAME, "groups": list(USER_GROUPS)}}}


_ANSWER: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    SSAR.kind: _answer_access, SSRR.kind: _answer_rules, SSR.kind: _answer_whoami}
