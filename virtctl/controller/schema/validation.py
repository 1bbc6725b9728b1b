"""Type/required/enum validation of an object against its swagger definition (jsonschema Draft 4),
reported as the apiserver reports a CRD schema violation: one cause per problem, with the field in
Kubernetes notation (``spec.template.spec.domain.devices.disks[0].name``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice
from typing import Any, Iterable

from jsonschema import Draft4Validator, validators
from jsonschema.exceptions import ValidationError

from virtctl.controller.schema.swagger import definitions, has_definition

MAX_PROBLEMS = 20      # a hopeless body should not produce a megabyte of causes

# Go / apiserver spelling of JSON types
_TYPE_NAMES = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object",
               type(None): "null"}


@dataclass(frozen=True)
class Problem:
    """One reason an object is invalid: a Kubernetes ``StatusCause``."""

    field: str        # "spec.template.spec.domain.cpu.cores"
    reason: str       # FieldValueInvalid | FieldValueTypeInvalid | FieldValueRequired | FieldValueNotSupported …
    message: str      # "Invalid value: \"string\": … in body must be of type integer: \"string\""

    def to_cause(self) -> dict[str, str]:
        return {"reason": self.reason, "message": self.message, "field": self.field}

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


def field_path(parts: Iterable[Any]) -> str:
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + str(p)
    return out


def type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def _quote(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)[:200]


def _items_within_limit(validator: Any, items: Any, instance: Any, schema: dict[str, Any]) -> Iterable[Any]:
    """Draft 4 ``items``, except that a list over its ``maxItems`` is not walked (the ``maxItems``
    error says enough; virt-api: "We won't process anything over the limit")."""
    limit = schema.get("maxItems")
    if isinstance(instance, list) and isinstance(limit, int) and len(instance) > limit:
        return
    yield from _DRAFT4_ITEMS(validator, items, instance, schema)


_DRAFT4_ITEMS = Draft4Validator.VALIDATORS["items"]
_Validator = validators.extend(Draft4Validator, {"items": _items_within_limit})


@lru_cache(maxsize=64)
def _validator(definition: str) -> Any:
    return _Validator({"$ref": f"#/definitions/{definition}", "definitions": definitions()})


def _problem(err: ValidationError) -> Problem:
    path = list(err.absolute_path)
    where = field_path(path)
    if err.validator == "required":
        missing = err.message.split("'")[1] if err.message.count("'") >= 2 else str(err.validator_value)
        return Problem(field_path(path + [missing]), "FieldValueRequired", "Required value")
    if err.validator == "type":
        got = type_name(err.instance)
        want = err.validator_value if isinstance(err.validator_value, str) else " or ".join(err.validator_value)
        return Problem(where, "FieldValueTypeInvalid",
                       f'Invalid value: "{got}": {where or "body"} in body must be of type {want}: "{got}"')
    if err.validator == "maxItems":
        return Problem(where, "FieldValueTooMany",
                       f"Too many: {len(err.instance)}: must have at most {err.validator_value} items")
    if err.validator == "enum":
        allowed = ", ".join(_quote(v) for v in err.validator_value)
        return Problem(where, "FieldValueNotSupported",
                       f"Unsupported value: {_quote(err.instance)}: supported values: {allowed}")
    return Problem(where, "FieldValueInvalid", f"Invalid value: {_quote(err.instance)}: {err.message}")


def validate(definition: str, obj: Any) -> list[Problem]:
    """Problems with ``obj`` as an instance of the swagger ``definition`` (e.g. ``"v1.VirtualMachine"``,
    ``"v1.StartOptions"``); empty when valid. Unknown fields are not problems here (see ``strict``)."""
    if not has_definition(definition):
        raise KeyError(f"no definition {definition!r} in the KubeVirt OpenAPI spec")
    # errors come lazily: stop after a few (as the apiserver caps its error list), so a body with
    # 100,000 bad items costs no more than one with five
    first = islice(_validator(definition).iter_errors(obj), MAX_PROBLEMS * 5)
    errors = sorted(first, key=lambda e: (list(map(str, e.absolute_path)), str(e.validator)))
    problems: list[Problem] = []
    for err in errors:
        p = _problem(err)
        if p not in problems:
            problems.append(p)
        if len(problems) >= MAX_PROBLEMS:
            break
    return problems
