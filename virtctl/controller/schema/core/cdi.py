"""CDI's kinds: DataVolume (the fields CDI's CRD knows, and the datavolume-validate webhook's
rules and messages), CDIConfig and UploadTokenRequest (docs/standalone.md#volumes-as-objects)."""

from __future__ import annotations

from typing import Any

from virtctl.controller.schema.core import common as c
from virtctl.controller.schema.validation import Problem
from virtctl.errors import Invalid
from virtctl.model.kinds import Kind
from virtctl.model.quantity import to_int

WEBHOOK = "datavolume-validate.cdi.kubevirt.io"
SOURCES = ("http", "s3", "gcs", "registry", "pvc", "upload", "blank", "imageio", "vddk", "snapshot")
CONTENT_TYPES = ("kubevirt", "archive")
_PVC_SPEC: dict[str, c.Tree] = {"accessModes": True, "selector": True, "resources": True, "volumeName": True,
                                "storageClassName": True, "volumeMode": True, "dataSource": True,
                                "dataSourceRef": True, "volumeAttributesClassName": True}
DV_TREE: dict[str, c.Tree] = {
    **c.TOP,
    "spec": {"source": True, "sourceRef": True, "pvc": _PVC_SPEC, "storage": _PVC_SPEC, "priorityClassName": True,
             "contentType": True, "checkpoints": True, "finalCheckpoint": True, "preallocation": True},
    "status": {"claimName": True, "phase": True, "progress": True, "restartCount": True, "conditions": True},
}
CONFIG_TREE: dict[str, c.Tree] = {**c.TOP, "spec": True, "status": True}
TOKEN_TREE: dict[str, c.Tree] = {**c.TOP, "spec": {"pvcName": True}, "status": {"token": True}}


def rejected(messages: list[str], fields: list[str]) -> Invalid:
    """How the apiserver reports a webhook's rejection (its causes joined after two spaces)."""
    return Invalid(f'admission webhook "{WEBHOOK}" denied the request:  {", ".join(messages)}',
                   details={"causes": [{"reason": "FieldValueInvalid", "message": m, "field": f}
                                       for m, f in zip(messages, fields, strict=True)]})


def storage_spec(dv: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """("storage"|"pvc", its spec) of a DataVolume."""
    spec = dv.get("spec") or {}
    for key in ("storage", "pvc"):
        if isinstance(spec.get(key), dict):
            return key, spec[key]
    return "storage", {}


def admit_datavolume(kind: Kind, obj: dict[str, Any]) -> list[Problem]:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        raise rejected(["Missing Data volume PVC"], ["spec.PVC"])
    source, ref = spec.get("source"), spec.get("sourceRef")
    if (source is None) == (ref is None):
        raise rejected(["Data volume should have either Source or SourceRef, or be externally populated"],
                       ["spec.source"])
    if ref is not None:
        raise rejected(["DataSource references are not supported in standalone mode"], ["spec.sourceRef"])
    if not isinstance(source, dict):
        raise c.decode_error(kind, "json: cannot unmarshal into Go struct field DataVolumeSpec.spec.source of "
                                   "type v1beta1.DataVolumeSource")
    present = [k for k in SOURCES if source.get(k) is not None]
    if not present:
        raise rejected(["Missing Data volume source"], ["spec.source"])
    if len(present) > 1:
        raise rejected(["Multiple Data volume sources"], ["spec.source"])
    content = spec.get("contentType") or "kubevirt"
    if content not in CONTENT_TYPES:
        raise rejected(['ContentType not one of: kubevirt, archive'], ["spec.contentType"])
    if present[0] == "blank" and content == "archive":
        raise rejected(["SourceType cannot be blank and the contentType be archive"], ["spec.contentType"])
    if "storage" not in spec and "pvc" not in spec:
        raise rejected(["Missing Data volume PVC"], ["spec.PVC"])
    if present[0] == "pvc":
        pvc = source["pvc"] if isinstance(source["pvc"], dict) else {}
        if not pvc.get("name") or not pvc.get("namespace"):
            raise rejected(["spec.source.PVC source PVC is not valid"], ["spec.source.PVC"])
    key, pvc_spec = storage_spec(obj)
    name = "Storage" if key == "storage" else "PVC"
    size = ((pvc_spec.get("resources") or {}).get("requests") or {}).get("storage")
    if size is None:
        if key == "pvc" or present[0] != "pvc":
            raise rejected([f"{name} size is missing"], [f"spec.{name}.resources.requests.size"])
    else:
        try:
            bad = to_int(str(size)) <= 0
        except ValueError:
            raise c.decode_error(kind, "quantities must match the regular expression "
                                       "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'") from None
        if bad:
            raise rejected([f"{name} size can't be equal or less than zero"],
                           [f"spec.{name}.resources.requests.size"])
    modes = pvc_spec.get("accessModes") or []
    for m in modes if isinstance(modes, list) else []:
        if m not in ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"):
            raise rejected([f'Unsupported value: "{m}": supported values: "ReadOnlyMany", "ReadWriteMany", '
                            f'"ReadWriteOnce"'], [f"spec.{name}.accessModes"])
    mode = pvc_spec.get("volumeMode")
    if mode is not None and mode not in ("Block", "Filesystem"):
        raise rejected([f'Unsupported value: "{mode}": supported values: "Block", "Filesystem"'],
                       [f"spec.{name}.volumeMode"])
    return []


def check_update_datavolume(old: dict[str, Any], new: dict[str, Any]) -> None:
    if (old.get("spec") or {}) != (new.get("spec") or {}):
        raise Invalid(f'admission webhook "{WEBHOOK}" denied the request:  Cannot update DataVolume Spec',
                      details={"causes": [{"reason": "FieldValueDuplicate", "message": "Cannot update DataVolume Spec",
                                           "field": "DataVolume.Spec"}]})


def admit_config(kind: Kind, obj: dict[str, Any]) -> list[Problem]:
    c.expect(kind, obj.get("spec"), dict, "CDIConfig.spec", "v1beta1.CDIConfigSpec")
    c.expect(kind, obj.get("status"), dict, "CDIConfig.status", "v1beta1.CDIConfigStatus")
    return []


def admit_token_request(kind: Kind, obj: dict[str, Any]) -> list[Problem]:
    spec = obj.get("spec")
    c.expect(kind, spec, dict, "UploadTokenRequest.spec", "v1beta1.UploadTokenRequestSpec")
    name = (spec or {}).get("pvcName")
    c.expect(kind, name, str, "UploadTokenRequest.spec.pvcName", "string")
    if not name:
        return [c.required("spec.pvcName")]
    return []
