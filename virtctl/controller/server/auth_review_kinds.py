"""The self-review kinds of ``authorization.k8s.io`` and ``authentication.k8s.io`` (served by
auth_reviews.py): how a request body decodes into one, as the apiserver's decoder does it, and
what makes a SelfSubjectAccessReview invalid, with the apiserver's messages (Go's ``%#v`` of the
bad value included) (docs/standalone.md#who-may-do-what)."""

from __future__ import annotations

import datetime
import re
from typing import Any

from virtctl.controller import schema
from virtctl.controller.schema.core import common as c
from virtctl.controller.store import metadata as meta
from virtctl.model.kinds import Kind

AUTHORIZATION = "authorization.k8s.io"
AUTHENTICATION = "authentication.k8s.io"
GROUPS = (AUTHORIZATION, AUTHENTICATION)


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
