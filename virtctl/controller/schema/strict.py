"""Unknown fields: found for ``fieldValidation=Strict|Warn`` and pruned before an object is stored,
as the apiserver prunes custom resources against their structural schema (KubeVirt's CRDs are
structural): what is stored is always something the controllers can decode.

The spec never says ``additionalProperties: false``, so we walk the declared properties ourselves.
A schema that is ``type: object`` with neither ``properties`` nor ``additionalProperties``
(RawExtension, FieldsV1, …) is free-form (``x-kubernetes-preserve-unknown-fields``): anything inside
it is kept.
"""

from __future__ import annotations

from typing import Any

from virtctl.controller.schema.swagger import definitions, resolve
from virtctl.controller.schema.validation import field_path

MAX_UNKNOWN = 20            # reported; every unknown field is pruned


def unknown_fields(definition: str, obj: Any) -> list[str]:
    """Paths (``spec.foo``, ``spec.template.spec.volumes[0].bar``) of fields the definition does not declare."""
    found: list[str] = []
    _walk(definitions()[definition], obj, [], found, prune=False)
    return found


def prune(definition: str, obj: Any) -> list[str]:
    """Remove, in place, every field the definition does not declare; returns the first MAX_UNKNOWN paths."""
    found: list[str] = []
    _walk(definitions()[definition], obj, [], found, prune=True)
    return found


def _walk(schema: dict[str, Any], value: Any, path: list[Any], found: list[str], prune: bool) -> None:
    if not prune and len(found) >= MAX_UNKNOWN:
        return
    schema = resolve(schema)
    if isinstance(value, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        if props is None and not isinstance(extra, dict):
            return                                   # free-form object
        unknown = []
        for key, sub in value.items():
            if props is not None and key in props:
                _walk(props[key], sub, path + [key], found, prune)
            elif isinstance(extra, dict):
                _walk(extra, sub, path + [key], found, prune)
            elif extra is True:
                continue
            else:
                unknown.append(key)
                if len(found) < MAX_UNKNOWN:
                    found.append(field_path(path + [key]))
        if prune:
            for key in unknown:
                del value[key]
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for i, item in enumerate(value):
                _walk(items, item, path + [i], found, prune)
