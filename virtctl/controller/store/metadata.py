"""The metadata the server owns (uid, timestamps, generation, resourceVersion, namespace, name) and the
request checks the apiserver makes before storing an object, with its messages."""

from __future__ import annotations

import copy
import secrets
import uuid
from datetime import datetime, timezone
from typing import Any

from virtctl.controller.schema import Problem, invalid_error
from virtctl.errors import AlreadyExists, BadRequest, Conflict, NotFound
from virtctl.model import kinds, names
from virtctl.model.kinds import Kind

# what the apiserver's names.SimpleNameGenerator draws from (no vowels, no look-alikes)
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
SERVER_OWNED = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation")


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def details(kind: Kind, name: str) -> dict[str, str]:
    return {"name": name, "group": kind.group, "kind": kind.plural}


def not_found(kind: Kind, name: str) -> NotFound:
    return NotFound(f'{kind.resource} "{name}" not found', details=details(kind, name))


def already_exists(kind: Kind, name: str) -> AlreadyExists:
    return AlreadyExists(f'{kind.resource} "{name}" already exists', details=details(kind, name))


def conflict(kind: Kind, name: str) -> Conflict:
    return Conflict(f'Operation cannot be fulfilled on {kind.resource} "{name}": the object has been modified; '
                    "please apply your changes to the latest version and try again", details=details(kind, name))


def prune_nulls(value: Any) -> Any:
    """Drop ``null`` fields, as the apiserver prunes them for non-nullable CRD fields
    (``creationTimestamp: null`` in every ``kubectl get -o yaml`` template)."""
    if isinstance(value, dict):
        return {k: prune_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [prune_nulls(v) for v in value]
    return value


def meta_of(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def check_body(kind: Kind, obj: Any) -> dict[str, Any]:
    """A body must be an object of this kind; returns a copy with apiVersion/kind filled and nulls pruned."""
    if not isinstance(obj, dict):
        raise BadRequest(f"the body of the request must be a JSON object (a {kind.kind}), "
                         f"not {'an array' if isinstance(obj, list) else type(obj).__name__}")
    obj = prune_nulls(copy.deepcopy(obj))
    api_version = obj.get("apiVersion")
    if api_version not in (None, "", kind.api_version):
        raise BadRequest(f"the API version in the data ({api_version}) does not match the expected API version "
                         f"({kind.api_version})")
    if obj.get("kind") not in (None, "", kind.kind):
        raise BadRequest(f"the kind in the data ({obj.get('kind')}) does not match the expected kind ({kind.kind})")
    obj["apiVersion"] = kind.api_version
    obj["kind"] = kind.kind
    meta = obj.get("metadata")
    if meta is None:
        obj["metadata"] = {}
    elif not isinstance(meta, dict):
        raise BadRequest(f"metadata must be an object, not {type(meta).__name__}")
    return obj


def check_namespace(kind: Kind, namespace: str | None, obj: dict[str, Any]) -> None:
    """The namespace comes from the request path; a body that names another one is refused."""
    meta = obj["metadata"]
    if not kind.namespaced:
        meta.pop("namespace", None)
        return
    if not namespace or not names.is_label(namespace):
        raise NotFound(f'namespaces "{namespace}" not found', details={"name": namespace or "", "kind": "namespaces"})
    body_ns = meta.get("namespace")
    if body_ns not in (None, "", namespace):
        raise BadRequest("the namespace of the provided object does not match the namespace sent on the request")
    meta["namespace"] = namespace


def generate_name(prefix: str) -> str:
    return prefix[:253 - 5] + "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(5))


def check_name(kind: Kind, obj: dict[str, Any]) -> str:
    meta = obj["metadata"]
    name = meta.get("name")
    if not name:
        prefix = meta.get("generateName")
        if not prefix:
            raise invalid_error(kind, "", [Problem("metadata.name", "FieldValueRequired",
                                                   "Required value: name or generateName is required")])
        if not isinstance(prefix, str):
            raise invalid_error(kind, "", [Problem("metadata.generateName", "FieldValueTypeInvalid",
                                                   "Invalid value: generateName must be a string")])
        name = meta["name"] = generate_name(prefix)
    if not isinstance(name, str):
        raise invalid_error(kind, str(name), [Problem("metadata.name", "FieldValueTypeInvalid",
                                                      f'Invalid value: "{type(name).__name__}": must be a string')])
    errs = names.name_errors(kind.name_rule, name)
    if errs:
        raise invalid_error(kind, name, [Problem("metadata.name", "FieldValueInvalid",
                                                 f'Invalid value: "{name}": {e}') for e in errs])
    return name


def for_create(kind: Kind, namespace: str | None, body: Any) -> dict[str, Any]:
    """The object as it will be stored (without resourceVersion), from a create request body."""
    obj = check_body(kind, body)
    check_namespace(kind, namespace, obj)
    meta = obj["metadata"]
    if meta.get("resourceVersion"):
        raise BadRequest("resourceVersion should not be set on objects to be created")
    check_name(kind, obj)
    for key in SERVER_OWNED:
        meta.pop(key, None)
    meta["uid"] = str(uuid.uuid4())
    meta["creationTimestamp"] = now()
    if tracks_generation(kind):
        meta["generation"] = 1
    if kind.has_status:
        obj.pop("status", None)         # status is written only through /status
    return obj


def _spec_part(kind: Kind, obj: dict[str, Any]) -> dict[str, Any]:
    skip = {"metadata", "apiVersion", "kind"} | ({"status"} if kind.has_status else set())
    return {k: v for k, v in obj.items() if k not in skip}


def for_update(kind: Kind, name: str, old: dict[str, Any], body: Any, subresource: str | None) -> dict[str, Any]:
    """The object as it will be stored after a PUT (or a patch's result), before the resourceVersion
    precondition check (the caller compares ``metadata.resourceVersion``)."""
    new = check_body(kind, body)
    old_meta = meta_of(old)
    check_namespace(kind, old_meta.get("namespace"), new)
    meta = new["metadata"]
    body_name = meta.get("name")
    if body_name not in (None, "", name):
        raise BadRequest(f"the name of the object ({body_name}) does not match the name on the URL ({name})")
    meta["name"] = name
    if subresource == "status":
        # /status writes change status only; everything else is the stored object
        status = new.get("status")
        rv = meta.get("resourceVersion")
        new = copy.deepcopy(old)
        new.pop("status", None)
        if status is not None:
            new["status"] = status
        if rv:
            new["metadata"]["resourceVersion"] = rv
        else:
            new["metadata"].pop("resourceVersion", None)
        return new
    if subresource is not None:
        raise NotFound("the server could not find the requested resource")
    for key in SERVER_OWNED:
        if key in old_meta:
            meta[key] = copy.deepcopy(old_meta[key])
        else:
            meta.pop(key, None)
    if old_meta.get("generateName"):
        meta["generateName"] = old_meta["generateName"]
    if kind.has_status:
        new.pop("status", None)
        if "status" in old:
            new["status"] = copy.deepcopy(old["status"])
    if old_meta.get("deletionTimestamp"):
        added = set(meta.get("finalizers") or []) - set(old_meta.get("finalizers") or [])
        if added:
            raise invalid_error(kind, name, [Problem("metadata.finalizers", "FieldValueForbidden",
                                                     "Forbidden: no new finalizers can be added if the object "
                                                     "is being deleted, found new finalizers "
                                                     + str(sorted(added)).replace("'", '"'))])
    if tracks_generation(kind) and _spec_part(kind, new) != _spec_part(kind, old):
        meta["generation"] = int(old_meta.get("generation") or 1) + 1
    return new


def tracks_generation(kind: Kind) -> bool:
    """Custom resources always carry ``metadata.generation``; the core kinds served here do not
    (their apiserver strategies never set it: a Secret or Service has none)."""
    return not kinds.is_core(kind)
