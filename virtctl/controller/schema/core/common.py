"""What every core-kind validator shares: decode errors worded as apiserver's JSON decoder words them,
field problems (``field.ErrorList``), key and label checks, and the known-field trees that
``fieldValidation`` prunes or refuses (docs/compatibility.md#core-api)."""

from __future__ import annotations

import re
from typing import Any, Union

from virtctl.controller.schema.validation import Problem
from virtctl.errors import BadRequest
from virtctl.model.kinds import Kind

# a known-field tree: True = any value below; a dict = an object with these fields; [tree] = a list of them
Tree = Union[bool, dict[str, Any], list[Any]]

OBJECT_META: dict[str, Tree] = {
    k: True for k in ("name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
                      "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels",
                      "annotations", "ownerReferences", "finalizers", "managedFields")}
TOP: dict[str, Tree] = {"apiVersion": True, "kind": True, "metadata": OBJECT_META}

_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")


def go_type(value: Any) -> str:
    """How encoding/json names a JSON value in ``cannot unmarshal X into …``."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def decode_error(kind: Kind, text: str) -> BadRequest:
    """The 400 for a body the apiserver cannot decode into the kind."""
    return BadRequest(f'{kind.kind} in version "{kind.version}" cannot be handled as a {kind.kind}: {text}')


def expect(kind: Kind, value: Any, want: type | tuple[type, ...], go_field: str, go_want: str) -> None:
    """Refuse a field of the wrong JSON type the way Go's decoder does (400)."""
    ok = isinstance(value, want) and not (isinstance(value, bool) and bool not in (want if isinstance(want, tuple)
                                                                                    else (want,)))
    if value is not None and not ok:
        raise decode_error(kind, f"json: cannot unmarshal {go_type(value)} into Go struct field "
                                 f"{go_field} of type {go_want}")


def string_list(kind: Kind, value: Any, go_field: str, go_item: str) -> None:
    """Refuse a list field (``[]<go_item>``, items JSON strings) that is not one, as Go's decoder does."""
    expect(kind, value, list, go_field, f"[]{go_item}")
    for item in value or []:
        expect(kind, item, str, go_field, go_item)


def spec(kind: Kind, obj: dict[str, Any], go_type: str) -> Any:
    """``obj.spec``, a missing or null one decoded as the zero struct (written back), refused when not
    an object."""
    value = obj.get("spec")
    if value is None:
        value = obj["spec"] = {}
    expect(kind, value, dict, f"{kind.kind}.spec", go_type)
    return value


def string_map(kind: Kind, obj: dict[str, Any], key: str, go_field: str, go_value: str = "string") -> dict[str, Any]:
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise decode_error(kind, f"json: cannot unmarshal {go_type(value)} into Go struct field {go_field} of type "
                                 f"map[string]{go_value}")
    for v in value.values():
        if not isinstance(v, str):
            raise decode_error(kind, f"json: cannot unmarshal {go_type(v)} into Go struct field {go_field} of type "
                                     f"{go_value}")
    return value


def quote(value: Any) -> str:
    """A value as field.Invalid prints it: strings quoted, numbers bare."""
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def invalid(path: str, value: Any, detail: str) -> Problem:
    return Problem(path, "FieldValueInvalid", f"Invalid value: {quote(value)}: {detail}")


def required(path: str, detail: str = "") -> Problem:
    return Problem(path, "FieldValueRequired", "Required value" + (f": {detail}" if detail else ""))


def forbidden(path: str, detail: str) -> Problem:
    return Problem(path, "FieldValueForbidden", f"Forbidden: {detail}")


def duplicate(path: str, value: Any) -> Problem:
    return Problem(path, "FieldValueDuplicate", f"Duplicate value: {quote(value)}")


def too_long(path: str, limit: int) -> Problem:
    return Problem(path, "FieldValueTooLong", f"Too long: must have at most {limit} bytes")


def not_supported(path: str, value: Any, supported: tuple[str, ...]) -> Problem:
    listed = ", ".join(f'"{s}"' for s in supported)
    return Problem(path, "FieldValueNotSupported", f"Unsupported value: {quote(value)}: supported values: {listed}")


def config_key_errors(key: str) -> list[str]:
    """apimachinery's IsConfigMapKey (Secret, ConfigMap keys)."""
    errs = []
    if len(key) > 253:
        errs.append("must be no more than 253 characters")
    if not _CONFIG_KEY.match(key):
        errs.append("a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  "
                    "or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')")
    if key == ".":
        errs.append("must not be '.'")
    elif key == "..":
        errs.append("must not be '..'")
    elif key.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def qualified_name_errors(value: str) -> list[str]:
    """apimachinery's IsQualifiedName (label keys, secret type names)."""
    prefix, _, name = value.rpartition("/")
    errs = []
    if "/" in prefix:
        return ["a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
                "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
                "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix "
                "and '/' (e.g. 'example.com/MyName')"]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part must be no more than 63 characters")
    if name and not _QUALIFIED_NAME.match(name):
        errs.append("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
                    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
                    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
    if prefix == "" and "/" in value:
        errs.append("prefix part must be non-empty")
    return errs


def unknown(tree: Tree, obj: Any, path: str = "") -> list[str]:
    """Fields of ``obj`` the tree does not know, as dotted paths (what Strict refuses)."""
    out: list[str] = []
    if isinstance(tree, dict) and isinstance(obj, dict):
        for key, value in obj.items():
            sub = tree.get(key)
            where = f"{path}.{key}" if path else key
            if sub is None:
                out.append(where)
            elif sub is not True:
                out.extend(unknown(sub, value, where))
    elif isinstance(tree, list) and isinstance(obj, list):
        for i, item in enumerate(obj):
            out.extend(unknown(tree[0], item, f"{path}[{i}]"))
    return out


def prune(tree: Tree, obj: Any) -> None:
    """Drop the fields the tree does not know, in place (Warn and Ignore)."""
    if isinstance(tree, dict) and isinstance(obj, dict):
        for key in list(obj):
            sub = tree.get(key)
            if sub is None:
                del obj[key]
            elif sub is not True:
                prune(sub, obj[key])
    elif isinstance(tree, list) and isinstance(obj, list):
        for item in obj:
            prune(tree[0], item)
