"""The volume controllers: PersistentVolumeClaims bound to local files, DataVolumes populated as
CDI populates them, and kube-controller-manager's pvc-protection (a claim a live VMI uses is not
deleted until the VMI goes). See docs/standalone.md#volumes-as-objects.

DataVolume phases follow CDI: ``Pending`` → ``ImportScheduled``/``CloneScheduled``/``UploadScheduled``
→ ``ImportInProgress``/``CloneInProgress``/``UploadReady`` → ``Succeeded`` (or ``Failed``), with the
``Bound``, ``Running`` and ``Ready`` conditions and ``progress``.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable

from virtctl.controller.reconcile.events import Recorder
from virtctl.controller.reconcile.vmi import Requeue
from virtctl.controller.schema.core.cdi import storage_spec
from virtctl.controller.schema.core.pvc import PROTECTION_FINALIZER, requested_bytes
from virtctl.controller.settings import Settings
from virtctl.controller.storage import claims
from virtctl.controller.storage.importer import ensure_data_volumes
from virtctl.controller.store.protocol import Store, get_or_none
from virtctl.errors import AlreadyExists, VirtctlError
from virtctl.model import kinds
from virtctl.model import status as st

log = logging.getLogger(__name__)

CDI_CONTROLLER = "datavolume-controller"
PROTECTION_RETRY = 1.0


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.setdefault("metadata", {})


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def condition(kind: str, status: bool, reason: str = "", message: str = "") -> dict[str, Any]:
    now = _now()
    return {"type": kind, "status": "True" if status else "False", "reason": reason, "message": message,
            "lastTransitionTime": now, "lastHeartbeatTime": now}


def dv_status(phase: str, claim: str, progress: str, *, bound: bool, running: tuple[bool, str, str],
              ready: bool, restarts: int = 0) -> dict[str, Any]:
    """A DataVolume's status as CDI writes it."""
    return {"claimName": claim, "phase": phase, "progress": progress, "restartCount": restarts,
            "conditions": [condition("Bound", bound, "Bound" if bound else "Pending",
                                     f"PVC {claim} Bound" if bound else "PVC Pending"),
                           condition("Running", running[0], running[1], running[2]),
                           condition("Ready", ready, "" if not ready else "", "")]}


def set_dv_status(store: Store, namespace: str, name: str, status: dict[str, Any]) -> None:
    def write(dv: dict[str, Any]) -> Any:
        old = dv.get("status") or {}
        # conditions keep their transition time while their status does not change
        before = {c.get("type"): c for c in old.get("conditions") or [] if isinstance(c, dict)}
        for cond in status.get("conditions") or []:
            prev = before.get(cond["type"])
            if prev and prev.get("status") == cond["status"] and prev.get("reason") == cond["reason"]:
                cond["lastTransitionTime"] = prev.get("lastTransitionTime", cond["lastTransitionTime"])
        if {**old, "conditions": None} == {**status, "conditions": None} and \
                [(c["type"], c["status"], c["reason"]) for c in status["conditions"]] == \
                [(c.get("type"), c.get("status"), c.get("reason")) for c in old.get("conditions") or []]:
            return False
        dv["status"] = status
    store.mutate(kinds.DATAVOLUME, namespace, name, write, subresource="status")


def set_pod_annotations(store: Store, namespace: str, name: str, phase: str, ready: bool) -> None:
    """The upload "pod" state CDI records on the claim (what virtctl image-upload waits for)."""
    def write(pvc: dict[str, Any]) -> Any:
        ann = _meta(pvc).setdefault("annotations", {})
        want = {claims.POD_PHASE: phase, claims.POD_READY: "true" if ready else "false"}
        if all(ann.get(k) == v for k, v in want.items()):
            return False
        ann.update(want)
    store.mutate(kinds.PVC, namespace, name, write)


class VolumeController:
    def __init__(self, store: Store, settings: Settings, *,
                 populate: Callable[[dict[str, Any], Settings, str, Any], object] | None = None):
        self.store = store
        self.settings = settings
        self.events = Recorder(store, CDI_CONTROLLER)
        self._populate = populate or (lambda dv, s, ns, progress: ensure_data_volumes(
            {"spec": {"dataVolumeTemplates": [dv]}}, s, ns, progress))
        self._busy: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def _get(self, kind: kinds.Kind, ns: str, name: str) -> dict[str, Any] | None:
        return get_or_none(self.store, kind, ns, name)

    # ------------------------------------------------------------------ dataVolumeTemplates
    def ensure_templates(self, vm: dict[str, Any], settings: Settings, namespace: str) -> object:
        """A VM's dataVolumeTemplates as KubeVirt makes them: a DataVolume per template, the VM its
        controlling owner (so it goes with the VM), then the volumes filled (as before, so the VMI
        finds them). A template CDI would refuse as a DataVolume still gets its volume file."""
        for template in (vm.get("spec") or {}).get("dataVolumeTemplates") or []:
            if not isinstance(template, dict):
                continue
            meta = template.get("metadata") or {}
            name = meta.get("name")
            if not isinstance(name, str) or self._get(kinds.DATAVOLUME, namespace, name) is not None:
                continue
            body = {"metadata": {"name": name, "namespace": namespace,
                                 "labels": dict(meta.get("labels") or {}),
                                 "annotations": dict(meta.get("annotations") or {}),
                                 "ownerReferences": [{"apiVersion": kinds.VM.api_version, "kind": kinds.VM.kind,
                                                      "name": _meta(vm)["name"], "uid": _meta(vm).get("uid"),
                                                      "controller": True, "blockOwnerDeletion": True}]},
                    "spec": template.get("spec") or {}}
            try:
                self.store.create(kinds.DATAVOLUME, namespace, body)
            except AlreadyExists:
                pass
            except VirtctlError as e:
                log.info("dataVolumeTemplate %s/%s stays without a DataVolume: %s", namespace, name, e.message)
        return ensure_data_volumes(vm, settings, namespace)

    # ------------------------------------------------------------------ claims
    def reconcile_pvc(self, key: tuple[str, str]) -> None:
        ns, name = key
        pvc = self._get(kinds.PVC, ns, name)
        if pvc is None:
            return
        if st.is_deleting(pvc):
            self._release(pvc)
            return
        if (pvc.get("status") or {}).get("phase") != "Bound":
            self._bind(pvc)
        if claims.populated_by_datavolume(pvc):
            return
        path = claims.claim_file(self.settings, ns, name)
        if claims.is_upload_target(pvc):
            phase = (_meta(pvc).get("annotations") or {}).get(claims.POD_PHASE)
            if phase != "Succeeded":
                set_pod_annotations(self.store, ns, name, "Running", True)
            return
        if not path.exists():
            claims.create_blank(path, requested_bytes(pvc))

    def _bind(self, pvc: dict[str, Any]) -> None:
        ns, name = _meta(pvc).get("namespace") or "", _meta(pvc)["name"]
        volume = claims.volume_name(pvc)

        def bind(obj: dict[str, Any]) -> Any:
            if (obj.get("spec") or {}).get("volumeName"):
                return False
            obj.setdefault("spec", {})["volumeName"] = volume
            _meta(obj).setdefault("annotations", {}).update({claims.BIND_COMPLETED: "yes",
                                                             claims.BOUND_BY_CONTROLLER: "yes"})
        self.store.mutate(kinds.PVC, ns, name, bind)

        def bound(obj: dict[str, Any]) -> Any:
            spec = obj.get("spec") or {}
            obj["status"] = {"phase": "Bound", "accessModes": list(spec.get("accessModes") or []),
                             "capacity": {"storage": spec["resources"]["requests"]["storage"]}}
        self.store.mutate(kinds.PVC, ns, name, bound, subresource="status")

    def users(self, ns: str, claim: str) -> list[str]:
        """The VMIs (not yet final) whose volumes use the claim."""
        vmis, _ = self.store.list(kinds.VMI, ns)
        return [_meta(v)["name"] for v in vmis if not st.is_final(v) and claim in set(claims.claims_of(v))]

    def _release(self, pvc: dict[str, Any]) -> None:
        ns, name = _meta(pvc).get("namespace") or "", _meta(pvc)["name"]
        if PROTECTION_FINALIZER not in (_meta(pvc).get("finalizers") or []):
            return
        if self.users(ns, name):
            raise Requeue(PROTECTION_RETRY)          # pvc-protection: kept while a VMI uses it
        claims.remove(self.settings, ns, name)

        def drop(obj: dict[str, Any]) -> Any:
            fins = _meta(obj).get("finalizers") or []
            if PROTECTION_FINALIZER not in fins:
                return False
            _meta(obj)["finalizers"] = [f for f in fins if f != PROTECTION_FINALIZER]
        self.store.mutate(kinds.PVC, ns, name, drop)

    # ------------------------------------------------------------------ data volumes
    def reconcile_dv(self, key: tuple[str, str]) -> None:
        ns, name = key
        dv = self._get(kinds.DATAVOLUME, ns, name)
        if dv is None or st.is_deleting(dv):
            return
        source_kind = next(iter((dv.get("spec") or {}).get("source") or {"": None}))
        pvc = self._ensure_claim(dv, source_kind)
        if pvc is None:
            return
        status = dv.get("status") or {}
        phase = status.get("phase")
        if phase in ("Succeeded", "Failed"):
            return
        path = claims.claim_file(self.settings, ns, name)
        if source_kind == "upload":
            pod_phase = (_meta(pvc).get("annotations") or {}).get(claims.POD_PHASE)
            if pod_phase == "Succeeded" and path.exists():
                set_dv_status(self.store, ns, name, dv_status("Succeeded", name, "100.0%", bound=True,
                                                             running=(False, "Completed", ""), ready=True))
                return
            set_pod_annotations(self.store, ns, name, "Running", True)
            set_dv_status(self.store, ns, name, dv_status("UploadReady", name, "N/A", bound=True,
                                                         running=(True, "Pod is running", ""), ready=False))
            return
        if path.exists():
            self._succeeded(ns, name)
            return
        with self._lock:
            if key in self._busy:
                return
            self._busy.add(key)
        try:
            self._import(dv, source_kind)
        finally:
            with self._lock:
                self._busy.discard(key)

    def _ensure_claim(self, dv: dict[str, Any], source_kind: str) -> dict[str, Any] | None:
        ns, name = _meta(dv).get("namespace") or "", _meta(dv)["name"]
        pvc = self._get(kinds.PVC, ns, name)
        if pvc is not None:
            if not st.owned_by(pvc, dv) and not claims.populated_by_datavolume(pvc):
                set_dv_status(self.store, ns, name, dv_status("Failed", name, "N/A", bound=False,
                                                             running=(False, "Error", ""), ready=False))
                self.events.warning(dv, "ErrClaimNotValid", f"PVC {name} already exists and is not owned by "
                                                            f"DataVolume {name}")
                return None
            return pvc
        key, spec = storage_spec(dv)
        pvc_spec = {k: v for k, v in spec.items() if k in ("accessModes", "resources", "storageClassName",
                                                           "volumeMode", "selector")}
        pvc_spec.setdefault("accessModes", ["ReadWriteOnce"])
        if "storage" not in ((pvc_spec.get("resources") or {}).get("requests") or {}):
            src = ((dv.get("spec") or {}).get("source") or {}).get("pvc") or {}
            source_pvc = self._get(kinds.PVC, src.get("namespace") or ns, src.get("name") or "")
            size = ((source_pvc or {}).get("spec") or {}).get("resources", {}).get("requests", {}).get("storage")
            if size is None:
                raise Requeue(2.0)                      # the clone source's size is not known yet
            pvc_spec["resources"] = {"requests": {"storage": size}}
        annotations = {claims.CONTENT_TYPE: (dv.get("spec") or {}).get("contentType") or "kubevirt"}
        if source_kind == "upload":
            annotations[claims.UPLOAD_TARGET] = ""
        body = {"metadata": {"name": name, "namespace": ns, "labels": dict(_meta(dv).get("labels") or {}),
                             "annotations": annotations,
                             "ownerReferences": [{"apiVersion": kinds.DATAVOLUME.api_version, "kind": "DataVolume",
                                                  "name": name, "uid": _meta(dv).get("uid"), "controller": True,
                                                  "blockOwnerDeletion": True}]},
                "spec": pvc_spec}
        scheduled = {"upload": "UploadScheduled", "pvc": "CloneScheduled"}.get(source_kind, "ImportScheduled")
        try:
            pvc = self.store.create(kinds.PVC, ns, body)
        except AlreadyExists:
            pvc = self.store.get(kinds.PVC, ns, name)
        except VirtctlError as e:
            set_dv_status(self.store, ns, name, dv_status("Failed", name, "N/A", bound=False,
                                                         running=(False, "Error", e.message), ready=False))
            self.events.warning(dv, "ErrClaimNotValid", e.message)
            return None
        set_dv_status(self.store, ns, name, dv_status(scheduled, name, "N/A", bound=False,
                                                     running=(False, "", ""), ready=False))
        self.events.normal(dv, "Pending", "PVC Pending")
        if (pvc.get("status") or {}).get("phase") != "Bound":
            self._bind(pvc)
        return self.store.get(kinds.PVC, ns, name)

    def _import(self, dv: dict[str, Any], source_kind: str) -> None:
        ns, name = _meta(dv).get("namespace") or "", _meta(dv)["name"]
        in_progress = "CloneInProgress" if source_kind == "pvc" else "ImportInProgress"
        set_dv_status(self.store, ns, name, dv_status(in_progress, name, "0.00%", bound=True,
                                                     running=(True, "Pod is running", ""), ready=False))
        last = [0.0]

        def progress(_what: str, done: int, total: int) -> None:
            if total and time.monotonic() - last[0] >= 1.0:
                last[0] = time.monotonic()
                set_dv_status(self.store, ns, name, dv_status(in_progress, name, f"{100.0 * done / total:.2f}%",
                                                             bound=True, running=(True, "Pod is running", ""),
                                                             ready=False))
        try:
            self._populate(dv, self.settings, ns, progress)
        except VirtctlError as e:
            set_dv_status(self.store, ns, name, dv_status("Failed", name, "N/A", bound=True,
                                                         running=(False, "Error", e.message), ready=False))
            self.events.warning(dv, "Error", e.message)
            log.warning("data volume %s/%s failed: %s", ns, name, e.message)
            return
        self._succeeded(ns, name)

    def _succeeded(self, ns: str, name: str) -> None:
        set_pod_annotations(self.store, ns, name, "Succeeded", False)
        set_dv_status(self.store, ns, name, dv_status("Succeeded", name, "100.0%", bound=True,
                                                     running=(False, "Completed", ""), ready=True))
        dv = self._get(kinds.DATAVOLUME, ns, name)
        if dv is not None:
            self.events.normal(dv, "ImportSucceeded", "Successfully imported into PVC " + name)
