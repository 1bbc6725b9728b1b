"""Unknown-field detection (``fieldValidation=Strict|Warn``).

The spec never says ``additionalProperties: false``, so we walk the declared properties ourselves.
A schema that is ``type: object`` with neither ``properties`` nor ``additionalProperties``
(RawExtension, FieldsV1, …) is free-form: anything inside it is known.
"""

from __future__ import annotations

from typing import Any

from virtctl.controller.schema.swagger import definitions, resolve
from virtctl.controller.schema.validation import field_path

MAX_UNKNOWN = 20


def unknown_fields(definition: str, obj: Any) -> list[str]:
    """Paths (``spec.foo``, ``spec.template.spec.volumes[0].bar``) of fields the definition does not declare."""
    found: list[str] = []
    _walk(definitions()[definition], obj, [], found)
    return found


def _walk(schema: dict[str, Any], value: Any, path: list[Any], found: list[str]) -> None:
    if len(found) >= MAX_UNKNOWN:
        return
    schema = resolve(schema)
    if isinstance(value, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        if props is None and not isinstance(extra, dict):
            return                                   # free-form object
        for key, sub in value.items():
            if props is not None and key in props:
                _walk(props[key], sub, path + [key], found)
            elif isinstance(extra, dict):
                _walk(extra, sub, path + [key], found)
            elif extra is True:
                continue
            else:
                found.append(field_path(path + [key]))
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for i, item in enumerate(value):
                _walk(items, item, path + [i], found)
