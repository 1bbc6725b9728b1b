"""VirtualMachineRestore controller (snapshot.kubevirt.io/v1beta1), as KubeVirt's.

The target VM must be stopped ("Waiting for target to be ready" meanwhile; targetReadinessPolicy
StopTarget stops it, FailImmediate fails, WaitGracePeriod fails after 5 minutes). Each volume
backup becomes a volume named per ``volumeRestorePolicy`` (RandomizeNames, the default:
``restore-<restore uid>-<volume>``; PrefixTargetName: ``<vm>-<volume>``; InPlace: the original
volume, overwritten), the VM spec is replaced by the snapshot's, pointing at those volumes, and
the VM gets the ``restore.kubevirt.io/lastRestoreUID`` annotation. The VM shows
``status.restoreInProgress`` until the restore is ``complete``.
"""

from __future__ import annotations

import copy
from datetime import datetime, timezone
from typing import Any, Callable

from virtctl.controller.reconcile.events import VIRT_CONTROLLER, Recorder
from virtctl.controller.reconcile.snapshot import (
    OPERATION_COMPLETE,
    claim_of,
    set_conditions,
    set_vm_flag,
    vm_is_online,
)
from virtctl.controller.reconcile.vmi import Requeue
from virtctl.controller.settings import Settings
from virtctl.controller.storage.layout import delete_volume
from virtctl.controller.storage.snapshots import restore_volume
from virtctl.controller.store.protocol import Store, get_or_none
from virtctl.errors import VirtctlError
from virtctl.model import kinds
from virtctl.model import status as st

LAST_RESTORE_ANNOTATION = "restore.kubevirt.io/lastRestoreUID"
WAITING = "Waiting for target to be ready"
GRACE_SECONDS = 300.0
RETRY_SECONDS = 1.0


class _Failed(Exception):
    """The restore cannot go on: reported in its conditions, not retried."""


def restored_claim(restore: dict, volume: str, original: str) -> str:
    policy = (restore.get("spec") or {}).get("volumeRestorePolicy") or "RandomizeNames"
    if policy == "InPlace":
        return original
    if policy == "PrefixTargetName":
        return f"{((restore.get('spec') or {}).get('target') or {}).get('name')}-{volume}"
    return f"restore-{restore['metadata']['uid']}-{volume}"


class RestoreController:
    kind = kinds.VMRESTORE

    def __init__(self, store: Store, settings: Settings, *, now: Callable[[], datetime] | None = None):
        self.store = store
        self.settings = settings
        self._now = now or (lambda: datetime.now(timezone.utc))
        self.events = Recorder(store, VIRT_CONTROLLER)

    def reconcile(self, key: tuple[str, str]) -> None:
        ns, name = key
        restore = get_or_none(self.store, self.kind, ns, name)
        if restore is None:
            return
        spec = restore.get("spec") or {}
        target = (spec.get("target") or {}).get("name") or ""
        status = restore.get("status") or {}
        if status.get("complete") or st.has_condition(restore, "Failure", "True") or st.is_deleting(restore):
            set_vm_flag(self.store, ns, target, "restoreInProgress", None, only_if=name)
            return
        try:
            self._run(restore, ns, name, target, spec)
        except _Failed as e:
            self._fail(restore, str(e))
            set_vm_flag(self.store, ns, target, "restoreInProgress", None, only_if=name)
        except VirtctlError as e:
            self._progress(restore, ("False", str(e)), ("False", str(e)))
            raise

    def _run(self, restore: dict, ns: str, name: str, target: str, spec: dict) -> None:
        if (spec.get("target") or {}).get("kind") != kinds.VM.kind:
            raise _Failed(f"unsupported restore target {(spec.get('target') or {}).get('kind')}")
        snap_name = spec.get("virtualMachineSnapshotName") or ""
        snap = self._get(kinds.VMSNAPSHOT, ns, snap_name)
        if snap is None or not (snap.get("status") or {}).get("readyToUse"):
            what = "does not exist" if snap is None else "not ready"
            self._progress(restore, ("False", f"VMSnapshot {ns}/{snap_name} {what}"),
                           ("False", f"VMSnapshot {ns}/{snap_name} {what}"))
            raise Requeue(RETRY_SECONDS)
        content = self._get(kinds.VMSNAPSHOTCONTENT, ns, snap["status"].get("virtualMachineSnapshotContentName") or "")
        source_vm = (((content or {}).get("spec") or {}).get("source") or {}).get("virtualMachine")
        if not source_vm:
            raise _Failed(f"VMSnapshotContent of {ns}/{snap_name} does not exist")
        vm = self._get(kinds.VM, ns, target)
        if vm is not None:
            self._own(restore, vm)
            holder = set_vm_flag(self.store, ns, target, "restoreInProgress", name)
            if holder is not None:
                raise VirtctlError(f"vm restore {holder} in progress")
            if not self._target_ready(restore, vm):
                raise Requeue(RETRY_SECONDS)
        restores = self._restore_volumes(restore, content or {})
        self._update_target(restore, vm, source_vm, restores)
        set_vm_flag(self.store, ns, target, "restoreInProgress", None, only_if=name)

        def done(s: dict, now: str) -> None:
            s["complete"] = True
            s["restoreTime"] = now
            set_conditions(s, ("False", OPERATION_COMPLETE), ("True", OPERATION_COMPLETE), now)
        self._update(restore, done)
        self.events.normal(restore, "VirtualMachineRestoreComplete",
                           f"Successfully completed VirtualMachineRestore {name}")

    # ------------------------------------------------------------------ steps
    def _target_ready(self, restore: dict, vm: dict) -> bool:
        ns, target = vm["metadata"].get("namespace"), vm["metadata"]["name"]
        if vm_is_online(self.store, ns, target) is None:
            return True
        policy = (restore.get("spec") or {}).get("targetReadinessPolicy") or "WaitGracePeriod"
        if policy == "FailImmediate":
            raise _Failed("Restore target failed to be ready")
        if policy == "StopTarget":
            def halt(obj: dict) -> Any:
                spec = obj.setdefault("spec", {})
                if spec.get("runStrategy") == "Halted":
                    return False
                spec.pop("running", None)
                spec["runStrategy"] = "Halted"
                return None
            self.store.mutate(kinds.VM, ns, target, halt)
        created = st.parse_iso(restore["metadata"].get("creationTimestamp"))
        if policy == "WaitGracePeriod" and created and (self._now() - created).total_seconds() >= GRACE_SECONDS:
            raise _Failed("Restore target failed to be ready within 5m0s")
        self._progress(restore, ("False", WAITING), ("False", WAITING))
        return False

    def _restore_volumes(self, restore: dict, content: dict) -> list[dict]:
        ns = restore["metadata"].get("namespace")
        in_place = (restore.get("spec") or {}).get("volumeRestorePolicy") == "InPlace"
        restores = []
        for b in (content.get("spec") or {}).get("volumeBackups") or []:
            original = ((b.get("persistentVolumeClaim") or {}).get("metadata") or {}).get("name") or ""
            claim = restored_claim(restore, b["volumeName"], original)
            restore_volume(self.settings, ns, b.get("volumeSnapshotName") or "", claim, overwrite=in_place)
            restores.append({"volumeName": b["volumeName"], "persistentVolumeClaim": claim,
                             "volumeSnapshotName": b.get("volumeSnapshotName") or ""})
        def updating(s: dict, now: str) -> None:
            s["restores"] = restores
            set_conditions(s, ("True", "Updating target spec"), ("False", "Waiting for target update"), now)

        self._update(restore, updating)
        return restores

    def _update_target(self, restore: dict, vm: dict | None, source_vm: dict, restores: list[dict]) -> None:
        m = restore["metadata"]
        ns, target, mark = m.get("namespace"), restore["spec"]["target"]["name"], f"{m['name']}-{m['uid']}"
        if vm is not None and ((vm["metadata"].get("annotations") or {}).get(LAST_RESTORE_ANNOTATION) == mark):
            return
        new_spec = restored_spec(source_vm, restores)
        if vm is None:
            meta = {"name": target, "namespace": ns, "annotations": {LAST_RESTORE_ANNOTATION: mark}}
            labels = (source_vm.get("metadata") or {}).get("labels")
            if labels:
                meta["labels"] = copy.deepcopy(labels)
            self.store.create(kinds.VM, ns, {"apiVersion": kinds.VM.api_version, "kind": kinds.VM.kind,
                                             "metadata": meta, "spec": new_spec})
            return
        kept = {t.get("metadata", {}).get("name") for t in new_spec.get("dataVolumeTemplates") or []}
        deleted = [t["metadata"]["name"] for t in (vm.get("spec") or {}).get("dataVolumeTemplates") or []
                   if (t.get("metadata") or {}).get("name") and t["metadata"]["name"] not in kept]

        def fn(obj: dict) -> Any:
            spec = copy.deepcopy(new_spec)
            for run_field in ("running", "runStrategy"):    # the target keeps how it is run
                spec.pop(run_field, None)
                if run_field in (obj.get("spec") or {}):
                    spec[run_field] = obj["spec"][run_field]
            obj["spec"] = spec
            obj["metadata"].setdefault("annotations", {})[LAST_RESTORE_ANNOTATION] = mark
            return None
        self.store.mutate(kinds.VM, ns, target, fn)
        if deleted:
            for dv in deleted:
                delete_volume(self.settings, ns, dv)
            self._update(restore, lambda s, now: s.__setitem__("deletedDataVolumes", deleted))

    # ------------------------------------------------------------------ status
    def _get(self, kind: kinds.Kind, ns: str, name: str) -> dict | None:
        return get_or_none(self.store, kind, ns, name) if name else None

    def _own(self, restore: dict, vm: dict) -> None:
        if restore["metadata"].get("ownerReferences"):
            return
        ref = {"apiVersion": kinds.VM.api_version, "kind": kinds.VM.kind, "name": vm["metadata"]["name"],
               "uid": vm["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}

        def fn(obj: dict) -> Any:
            if obj["metadata"].get("ownerReferences"):
                return False
            obj["metadata"]["ownerReferences"] = [ref]
            return None
        self.store.mutate(self.kind, restore["metadata"].get("namespace"), restore["metadata"]["name"], fn)
        self._progress(restore, ("True", "Initializing VirtualMachineRestore"),
                       ("False", "Initializing VirtualMachineRestore"))

    def _update(self, restore: dict, change: Callable[[dict, str], Any]) -> None:
        m = restore["metadata"]
        now = st.now_iso(self._now())

        def fn(obj: dict) -> Any:
            if obj["metadata"].get("uid") != m.get("uid"):
                return False
            s = obj.setdefault("status", {})
            s.setdefault("complete", False)
            change(s, now)
            return None

        self.store.mutate(self.kind, m.get("namespace"), m["name"], fn, subresource="status")

    def _progress(self, restore: dict, progressing: tuple[str, str], ready: tuple[str, str]) -> None:
        self._update(restore, lambda s, now: set_conditions(s, progressing, ready, now))

    def _fail(self, restore: dict, message: str) -> None:
        def change(s: dict, now: str) -> None:
            set_conditions(s, ("False", message), ("False", message), now)
            st.set_condition(s, "Failure", "True", message, now=now)
        self._update(restore, change)
        self.events.warning(restore, "VirtualMachineRestoreError", message)


def restored_spec(source_vm: dict, restores: list[dict]) -> dict:
    """The snapshot's VM spec with its persistent volumes pointing at the restored ones."""
    spec = copy.deepcopy(source_vm.get("spec") or {})
    by_volume = {r["volumeName"]: r["persistentVolumeClaim"] for r in restores}
    templates = spec.get("dataVolumeTemplates") or []
    for v in ((spec.get("template") or {}).get("spec") or {}).get("volumes") or []:
        new = by_volume.get(v.get("name"))
        old = claim_of(v)
        if not new or not old:
            continue
        if isinstance(v.get("persistentVolumeClaim"), dict):
            v["persistentVolumeClaim"]["claimName"] = new
            continue
        for t in templates:
            if (t.get("metadata") or {}).get("name") == old:
                t["metadata"]["name"] = new
                break
        else:                       # a DataVolume the VM does not own: its copy is a plain claim
            v.pop("dataVolume")
            v["persistentVolumeClaim"] = {"claimName": new}
            continue
        v["dataVolume"]["name"] = new
    return spec
