"""The self-reviews of kube-apiserver's ``authorization.k8s.io`` and ``authentication.k8s.io`` groups,
what ``kubectl auth can-i`` (``--list``) and ``kubectl auth whoami`` ask
(docs/standalone.md#who-may-do-what).

The standalone server has one user, whoever holds the bearer token, and that user may do everything:
a SelfSubjectAccessReview is always allowed, a SelfSubjectRulesReview answers the rules kube-apiserver
answers for a cluster-admin, a SelfSubjectReview names :data:`USERNAME` in :data:`GROUPS`. The three
are create-only (``POST`` of the collection, ``dryRun`` accepted), validated as the apiserver
decodes and validates them, and never stored.
"""

from __future__ import annotations

import datetime
import re
from typing import Any, Callable

from virtctl.controller import schema
from virtctl.controller.schema.core import common as c
from virtctl.controller.server import core_protobuf
from virtctl.controller.server.messages import Request, Response, json_response
from virtctl.controller.store import metadata as meta
from virtctl.errors import BadRequest, MethodNotAllowed, NotFound
from virtctl.model.kinds import Kind

AUTHORIZATION = "authorization.k8s.io"
AUTHENTICATION = "authentication.k8s.io"
GROUPS = (AUTHORIZATION, AUTHENTICATION)
USERNAME = "virtctl-local-admin"
USER_GROUPS = ["system:masters", "system:authenticated"]


def _review(group: str, kind: str) -> Kind:
    plural = kind.lower() + "s"
    return Kind(group, "v1", kind, plural, kind.lower(), namespaced=False, has_status=False, columns=(),
                categories=(), verbs=("create",))


SSAR = _review(AUTHORIZATION, "SelfSubjectAccessReview")
SSRR = _review(AUTHORIZATION, "SelfSubjectRulesReview")
SSR = _review(AUTHENTICATION, "SelfSubjectReview")
REVIEW_KINDS = (SSAR, SSRR, SSR)

# the fields of each kind (authorization/v1 and authentication/v1 of Kubernetes 1.30)
_RESOURCE_ATTRIBUTES = ("namespace", "verb", "group", "version", "resource", "subresource", "name")
_NON_RESOURCE_ATTRIBUTES = ("path", "verb")
_ACCESS_STATUS: dict[str, c.Tree] = {k: True for k in ("allowed", "denied", "reason", "evaluationError")}
_TREES: dict[str, dict[str, c.Tree]] = {
    SSAR.kind: {**c.TOP, "spec": {"resourceAttributes": dict.fromkeys(_RESOURCE_ATTRIBUTES, True),
                                  "nonResourceAttributes": dict.fromkeys(_NON_RESOURCE_ATTRIBUTES, True)},
                "status": _ACCESS_STATUS},
    SSRR.kind: {**c.TOP, "spec": {"namespace": True},
                "status": {k: True for k in ("resourceRules", "nonResourceRules", "incomplete", "evaluationError")}},
    SSR.kind: {**c.TOP, "status": {"userInfo": {k: True for k in ("username", "uid", "groups", "extra")}}},
}

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")

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
    import virtctl
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


def decode(kind: Kind, body: Any, field_validation: str) -> tuple[dict[str, Any], list[str]]:
    """The body as the apiserver decodes it into ``kind`` (400 for a wrong type, unknown fields
    refused, pruned or warned about per ``fieldValidation``); returns it and the warnings."""
    obj = meta.check_body(kind, body)
    obj["metadata"].pop("namespace", None)          # cluster-scoped: a namespace in the body is dropped
    _check_metadata(kind, obj["metadata"])
    if kind is SSAR:
        spec = c.spec(kind, obj, "v1.SelfSubjectAccessReviewSpec")
        for key, fields in (("resourceAttributes", _RESOURCE_ATTRIBUTES),
                            ("nonResourceAttributes", _NON_RESOURCE_ATTRIBUTES)):
            go_type = key[0].upper() + key[1:]
            sub = spec.get(key)
            c.expect(kind, sub, dict, f"SelfSubjectAccessReviewSpec.spec.{key}", f"v1.{go_type}")
            for name in fields:
                c.expect(kind, (sub or {}).get(name), str, f"{go_type}.spec.{key}.{name}", "string")
    elif kind is SSRR:
        spec = c.spec(kind, obj, "v1.SelfSubjectRulesReviewSpec")
        c.expect(kind, spec.get("namespace"), str, "SelfSubjectRulesReviewSpec.spec.namespace", "string")
    tree = _TREES[kind.kind]
    found = c.unknown(tree, obj)
    if found and field_validation == "Strict":
        listed = ", ".join(f'unknown field "{u}"' for u in found)
        raise c.decode_error(kind, f"strict decoding error: {listed}")
    c.prune(tree, obj)
    return obj, [f'unknown field "{u}"' for u in found] if field_validation == "Warn" else []


def _check_metadata(kind: Kind, m: dict[str, Any]) -> None:
    """The metadata's JSON types, refused as the apiserver's decoder refuses them (400)."""
    for key in ("name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "creationTimestamp",
                "deletionTimestamp"):
        c.expect(kind, m.get(key), str, f"ObjectMeta.metadata.{key}", "string")
    for key in ("generation", "deletionGracePeriodSeconds"):
        c.expect(kind, m.get(key), int, f"ObjectMeta.metadata.{key}", "int64")
    for key in ("creationTimestamp", "deletionTimestamp"):
        if m.get(key) and _parse_time(m[key]) is None:
            raise c.decode_error(kind, f'parsing time "{m[key]}" as "2006-01-02T15:04:05Z07:00": cannot parse '
                                       f'"{m[key]}" as "2006"')
    for key in ("labels", "annotations"):
        c.string_map(kind, m, key, f"ObjectMeta.metadata.{key}")
    c.string_list(kind, m.get("finalizers"), "ObjectMeta.metadata.finalizers", "string")
    c.expect(kind, m.get("managedFields"), list, "ObjectMeta.metadata.managedFields", "[]v1.ManagedFieldsEntry")
    c.expect(kind, m.get("ownerReferences"), list, "ObjectMeta.metadata.ownerReferences", "[]v1.OwnerReference")
    for owner in m.get("ownerReferences") or []:
        c.expect(kind, owner, dict, "ObjectMeta.metadata.ownerReferences", "v1.OwnerReference")
        for key in ("apiVersion", "kind", "name", "uid"):
            c.expect(kind, owner.get(key), str, f"OwnerReference.metadata.ownerReferences.{key}", "string")
        for key in ("controller", "blockOwnerDeletion"):
            c.expect(kind, owner.get(key), bool, f"OwnerReference.metadata.ownerReferences.{key}", "bool")


def _parse_time(text: str) -> datetime.datetime | None:
    """An RFC 3339 time as metav1.Time reads it (in the server's local zone), None when it is not one."""
    if not _RFC3339.fullmatch(text):
        return None
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone()
    except ValueError:
        return None


def access_problems(obj: dict[str, Any]) -> list[schema.Problem]:
    """ValidateSelfSubjectAccessReview (pkg/apis/authorization/validation): exactly one of the two
    attribute sets, and an empty metadata."""
    spec = obj.get("spec") or {}
    resource, non_resource = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    problems: list[schema.Problem] = []
    if resource is not None and non_resource is not None:
        shown = _go_struct("authorization.NonResourceAttributes", non_resource, _NON_RESOURCE_ATTRIBUTES)
        problems.append(_invalid("spec.nonResourceAttributes", shown,
                                 "cannot be specified in combination with resourceAttributes"))
    if resource is None and non_resource is None:
        # the nil *NonResourceAttributes is what kube passes as the bad value: printed "null"
        problems.append(_invalid("spec.resourceAttributes", '"null"',
                                 "exactly one of nonResourceAttributes or resourceAttributes must be specified"))
    m = {k: v for k, v in obj["metadata"].items() if k != "managedFields"}
    if any(v not in ("", 0, {}, [], None) for v in m.values()):
        problems.append(_invalid("metadata", _object_meta(m), "must be empty"))
    return problems


def _invalid(path: str, shown: str, detail: str) -> schema.Problem:
    """field.Invalid with the bad value already printed as Go prints it."""
    return schema.Problem(path, "FieldValueInvalid", f"Invalid value: {shown}: {detail}")


def _go_struct(name: str, obj: dict[str, Any], fields: tuple[str, ...]) -> str:
    shown = ", ".join(f'{f[0].upper()}{f[1:]}:{c.quote(str(obj.get(f) or ""))}' for f in fields)
    return f"{name}{{{shown}}}"


def _go_time(text: Any) -> str:
    t = _parse_time(text) if text else None
    if t is None:
        return "time.Date(1, time.January, 1, 0, 0, 0, 0, time.UTC)"
    return (f"time.Date({t.year}, time.{t.strftime('%B')}, {t.day}, {t.hour}, {t.minute}, {t.second}, "
            f"{t.microsecond * 1000}, time.Local)")


def _go_map(value: Any) -> str:
    if not value:
        return "map[string]string(nil)"
    return "map[string]string{" + ", ".join(f"{c.quote(k)}:{c.quote(v)}" for k, v in sorted(value.items())) + "}"


def _go_strings(value: Any) -> str:
    if not value:
        return "[]string(nil)"
    return "[]string{" + ", ".join(c.quote(str(v)) for v in value) + "}"


def _go_owners(value: Any) -> str:
    if not value:
        return "[]v1.OwnerReference(nil)"
    items = []
    for o in value if isinstance(value, list) else []:
        o = o if isinstance(o, dict) else {}
        flags = ", ".join(f"{f}:(*bool)({'nil' if o.get(f[0].lower() + f[1:]) is None else '0xc000000000'})"
                          for f in ("Controller", "BlockOwnerDeletion"))
        items.append(f"v1.OwnerReference{{APIVersion:{c.quote(str(o.get('apiVersion') or ''))}, "
                     f"Kind:{c.quote(str(o.get('kind') or ''))}, Name:{c.quote(str(o.get('name') or ''))}, "
                     f"UID:{c.quote(str(o.get('uid') or ''))}, {flags}}}")
    return "[]v1.OwnerReference{" + ", ".join(items) + "}"


def _object_meta(m: dict[str, Any]) -> str:
    """Go's ``%#v`` of the ObjectMeta the apiserver decoded (the fields a client may send)."""
    s = {k: c.quote(str(m.get(k) or "")) for k in ("name", "generateName", "namespace", "selfLink", "uid",
                                                    "resourceVersion")}
    owners = m.get("ownerReferences")
    # a set pointer prints as its address, which no client can predict
    grace = "(*int64)(nil)" if m.get("deletionGracePeriodSeconds") is None else "(*int64)(0xc000000000)"
    deleted = "(*v1.Time)(0xc000000000)" if m.get("deletionTimestamp") else "(*v1.Time)(nil)"
    return (f"v1.ObjectMeta{{Name:{s['name']}, GenerateName:{s['generateName']}, Namespace:{s['namespace']}, "
            f"SelfLink:{s['selfLink']}, UID:{s['uid']}, ResourceVersion:{s['resourceVersion']}, "
            f"Generation:{int(m.get('generation') or 0)}, CreationTimestamp:{_go_time(m.get('creationTimestamp'))}, "
            f"DeletionTimestamp:{deleted}, "
            f"DeletionGracePeriodSeconds:{grace}, "
            f"Labels:{_go_map(m.get('labels'))}, Annotations:{_go_map(m.get('annotations'))}, "
            f"OwnerReferences:{_go_owners(owners)}, "
            f"Finalizers:{_go_strings(m.get('finalizers'))}, ManagedFields:[]v1.ManagedFieldsEntry(nil)}}")


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
