"""PersistentVolumeClaim: apiserver's defaults (``volumeMode: Filesystem``, phase ``Pending``, the
``kubernetes.io/pvc-protection`` finalizer of the StorageObjectInUseProtection admission plugin),
ValidatePersistentVolumeClaim and the update rules of a claim's spec
(docs/standalone.md#volumes-as-objects)."""

from __future__ import annotations

from typing import Any

from virtctl.controller.schema.core import common as c
from virtctl.controller.schema.validation import Problem
from virtctl.model.kinds import Kind
from virtctl.model.quantity import QUANTITY_ERROR, canonical, to_int

PROTECTION_FINALIZER = "kubernetes.io/pvc-protection"
ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")
VOLUME_MODES = ("Block", "Filesystem")
_RESOURCES: dict[str, c.Tree] = {"limits": True, "requests": True}
TREE: dict[str, c.Tree] = {
    **c.TOP,
    "spec": {"accessModes": True, "selector": True, "resources": _RESOURCES, "volumeName": True,
             "storageClassName": True, "volumeMode": True, "dataSource": True, "dataSourceRef": True,
             "volumeAttributesClassName": True},
    "status": {"phase": True, "accessModes": True, "capacity": True, "conditions": True,
               "allocatedResources": True, "allocatedResourceStatuses": True,
               "currentVolumeAttributesClassName": True, "modifyVolumeStatus": True},
}


def requested_bytes(obj: dict[str, Any]) -> int:
    """``spec.resources.requests.storage`` in bytes (the claim was validated when stored)."""
    storage = (((obj.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage")
    return to_int(str(storage))


def admit(kind: Kind, obj: dict[str, Any]) -> list[Problem]:
    spec = c.spec(kind, obj, "v1.PersistentVolumeClaimSpec")
    c.string_list(kind, spec.get("accessModes"), "PersistentVolumeClaim.spec.accessModes",
                  "v1.PersistentVolumeAccessMode")
    resources = spec.get("resources")
    c.expect(kind, resources, dict, "PersistentVolumeClaim.spec.resources", "v1.VolumeResourceRequirements")
    requests: Any = (resources or {}).get("requests")
    c.expect(kind, requests, dict, "PersistentVolumeClaim.spec.resources.requests", "v1.ResourceList")
    for key in ("volumeMode", "storageClassName", "volumeName"):
        c.expect(kind, spec.get(key), str, f"PersistentVolumeClaim.spec.{key}", "string")
    storage = (requests or {}).get("storage")
    if storage is not None:
        if isinstance(storage, (int, float)) and not isinstance(storage, bool):
            storage = str(storage)
        if not isinstance(storage, str):
            raise c.decode_error(kind, "quantities must be strings or numbers")
        try:
            requests["storage"] = canonical(storage)
        except ValueError:
            raise c.decode_error(kind, QUANTITY_ERROR) from None
    if spec.get("volumeMode") is None:
        spec["volumeMode"] = "Filesystem"
    status = obj.get("status")
    c.expect(kind, status, dict, "PersistentVolumeClaim.status", "v1.PersistentVolumeClaimStatus")
    if isinstance(status, dict) and not status.get("phase"):
        status["phase"] = "Pending"
    return _validate(spec)


def _validate(spec: dict[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    modes = spec.get("accessModes") or []
    if not modes:
        problems.append(c.required("spec.accessModes", "at least 1 access mode is required"))
    for m in modes:
        if m not in ACCESS_MODES:
            problems.append(c.not_supported("spec.accessModes", m, ACCESS_MODES))
    if "ReadWriteOncePod" in modes and len(modes) > 1:
        problems.append(c.forbidden("spec.accessModes", "may not use ReadWriteOncePod with other access modes"))
    storage = (((spec.get("resources") or {}).get("requests")) or {}).get("storage")
    if storage is None:
        problems.append(c.required("spec.resources[storage]"))
    elif to_int(storage) <= 0:
        problems.append(c.invalid("spec.resources[storage]", storage, "must be greater than zero"))
    if spec.get("volumeMode") not in VOLUME_MODES:
        problems.append(c.not_supported("spec.volumeMode", spec.get("volumeMode"), VOLUME_MODES))
    return problems


def prepare_create(obj: dict[str, Any]) -> None:
    """What the PVC REST strategy and the StorageObjectInUseProtection admission plugin do on create."""
    obj["status"] = {"phase": "Pending"}
    meta = obj["metadata"]
    if PROTECTION_FINALIZER not in (meta.get("finalizers") or []):
        meta["finalizers"] = [*(meta.get("finalizers") or []), PROTECTION_FINALIZER]


def check_update(old: dict[str, Any], new: dict[str, Any]) -> list[Problem]:
    """A claim's spec is immutable, except the controller binding it (``volumeName``)."""
    old_spec = dict(old.get("spec") or {})
    new_spec = dict(new.get("spec") or {})
    if not old_spec.get("volumeName"):
        old_spec.pop("volumeName", None)
        new_spec.pop("volumeName", None)
    if old_spec == new_spec:
        return []
    old_req = (((old_spec.get("resources") or {}).get("requests")) or {}).get("storage")
    new_req = (((new_spec.get("resources") or {}).get("requests")) or {}).get("storage")
    if old_req != new_req and {**old_spec, "resources": None} == {**new_spec, "resources": None}:
        if new_req is not None and old_req is not None and to_int(new_req) < to_int(old_req):
            return [c.forbidden("spec.resources.requests.storage", "field can not be less than previous value")]
        return [c.forbidden("spec", "only dynamically provisioned pvc can be resized and the storageclass that "
                                    "provisions the pvc must support resize")]
    return [c.forbidden("spec", "spec is immutable after creation except resources.requests and "
                                "volumeAttributesClassName for bound claims")]
