"""Checks of VMI and VM volume fields that become 422s (Invalid) before anything is written."""

from __future__ import annotations

from virtctl.controller.storage.images import PULL_ALWAYS, PULL_IF_NOT_PRESENT, PULL_NEVER, default_pull_policy
from virtctl.controller.storage.registry import InvalidReference, parse_reference
from virtctl.errors import field_invalid
from virtctl.model.quantity import to_int


def parse_size(value: object, field_path: str) -> int:
    """A Kubernetes resource quantity (``2Gi``, ``500M``, ``1e9``) as a whole number of bytes (rounded up)."""
    text = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    try:
        size = to_int(text)
    except ValueError as e:
        raise field_invalid(field_path, f'Invalid value: "{value}": {e}') from None
    if size <= 0:
        raise field_invalid(field_path, f'Invalid value: "{value}": must be greater than zero')
    return size


def check_image(value: object, field_path: str) -> str:
    if not isinstance(value, str) or not value:
        raise field_invalid(field_path, "Required value", "FieldValueRequired")
    try:
        parse_reference(value)
    except InvalidReference as e:
        raise field_invalid(field_path, str(e)) from None
    return value


def check_pull_policy(value: object, image: str, field_path: str) -> str:
    if value is None or value == "":
        return default_pull_policy(image)
    if value not in (PULL_ALWAYS, PULL_IF_NOT_PRESENT, PULL_NEVER):
        raise field_invalid(field_path, f'Unsupported value: "{value}": supported values: "Always", "IfNotPresent", '
                                  f'"Never"', "FieldValueNotSupported")
    return str(value)


def reject_pull_secret(src: dict, src_path: str) -> None:
    if src.get("imagePullSecret"):
        raise field_invalid(f"{src_path}.imagePullSecret", "image pull secrets are not supported in standalone mode "
                      "(there are no Kubernetes Secrets); put registry credentials in ~/.docker/config.json",
                      "FieldValueNotSupported")

