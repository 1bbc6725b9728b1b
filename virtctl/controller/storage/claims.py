"""The binding of a PersistentVolumeClaim to its local volume file, and the files behind claims
(docs/standalone.md#volumes-as-objects).

A claim ``<namespace>/<name>`` is the file ``layout.persistent_volume_path`` names
(``volumes/<namespace>/<name>.qcow2``; its content is qcow2 or raw, read from the file). A claim
is bound as soon as it is accepted: ``spec.volumeName`` is ``pvc-<uid>`` and ``status.capacity``
the requested size. The file appears when it is complete: at binding for a plain claim (an empty
disk of the requested size), when the import or upload succeeded for a claim a DataVolume or an
upload fills. :func:`claim_file` is how other parts find a claim's file.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any, Iterable

from virtctl.controller.settings import Settings
from virtctl.controller.storage import qemu_img
from virtctl.controller.storage.layout import persistent_volume_path

UPLOAD_TARGET = "cdi.kubevirt.io/storage.upload.target"
CONTENT_TYPE = "cdi.kubevirt.io/storage.contentType"
POD_PHASE = "cdi.kubevirt.io/storage.pod.phase"
POD_READY = "cdi.kubevirt.io/storage.pod.ready"
BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"


def claim_file(settings: Settings, namespace: str, name: str) -> Path:
    """The local file behind the claim (it may not exist yet)."""
    return persistent_volume_path(settings, namespace, name)


def volume_name(pvc: dict[str, Any]) -> str:
    """The name of the (implicit) PersistentVolume a claim binds to."""
    return f"pvc-{(pvc.get('metadata') or {}).get('uid', '')}"


def is_upload_target(pvc: dict[str, Any]) -> bool:
    return UPLOAD_TARGET in ((pvc.get("metadata") or {}).get("annotations") or {})


def populated_by_datavolume(pvc: dict[str, Any]) -> bool:
    refs = (pvc.get("metadata") or {}).get("ownerReferences") or []
    return any(isinstance(r, dict) and r.get("kind") == "DataVolume" and r.get("controller") for r in refs)


def create_blank(path: Path, size: int) -> None:
    """An empty qcow2 disk of ``size`` bytes at ``path`` (temp file renamed into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}-{uuid.uuid4().hex[:8]}")
    try:
        qemu_img.create(tmp, size, fmt="qcow2")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def remove(settings: Settings, namespace: str, name: str) -> None:
    claim_file(settings, namespace, name).unlink(missing_ok=True)


def claims_of(vmi: dict[str, Any]) -> Iterable[str]:
    """The claim names a VMI's volumes use (persistentVolumeClaim, dataVolume, ephemeral)."""
    for vol in ((vmi.get("spec") or {}).get("volumes") or []):
        if not isinstance(vol, dict):
            continue
        pvc = vol.get("persistentVolumeClaim") or (vol.get("ephemeral") or {}).get("persistentVolumeClaim")
        if isinstance(pvc, dict) and pvc.get("claimName"):
            yield str(pvc["claimName"])
        dv = vol.get("dataVolume")
        if isinstance(dv, dict) and dv.get("name"):
            yield str(dv["name"])
