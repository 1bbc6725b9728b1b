"""VirtualMachineSnapshot controller (snapshot.kubevirt.io/v1beta1), as KubeVirt's:

"" → InProgress → Succeeded (``readyToUse``, a VirtualMachineSnapshotContent holding a copy of
the VM and one volume backup per persistentVolumeClaim/dataVolume volume) or Failed (``error``).
While it works, the VM carries ``status.snapshotInProgress``. A missing VM keeps the snapshot
InProgress ("Source does not exist") until ``failureDeadline`` (default 5m), then it fails with
"snapshot deadline exceeded". Deleting the snapshot deletes the content and the volume copies
unless ``deletionPolicy`` is Retain.

A stopped VM's volumes are copied with qemu-img. A running VM's are copied by the hypervisor while
the guest keeps running (libvirt's push-mode backup: one instant for all disks, copy-before-write),
with the guest's filesystems frozen through its agent around the start of the copy when the agent
is connected; ``indications`` and ``sourceIndications`` (with KubeVirt's messages) say which
(Online plus GuestAgent or NoGuestAgent, or Paused for a paused guest, which is not frozen). A
volume that is still being imported or uploaded keeps the snapshot waiting, as KubeVirt does for a
claim that is not populated (docs/standalone.md#snapshots).
"""

from __future__ import annotations

import copy
import logging
from datetime import datetime, timezone
from typing import Any, Callable, Sequence

from virtctl.controller.reconcile.events import VIRT_CONTROLLER, Recorder
from virtctl.controller.reconcile.vmi import Requeue
from virtctl.controller.settings import Settings
from virtctl.controller.storage.claims import POD_PHASE, UPLOAD_TARGET
from virtctl.controller.storage.snapshots import commit_copy, delete_snapshot_file, pending_copy, save_volume
from virtctl.controller.store.protocol import Store, get_or_none
from virtctl.controller.virt.hypervisor import Hypervisor, domain_name
from virtctl.errors import NotFound, VirtctlError
from virtctl.model import durations, kinds
from virtctl.model import status as st

log = logging.getLogger(__name__)

FINALIZER = "snapshot.kubevirt.io/vmsnapshot-protection"
SOURCE_NAME_LABEL = "snapshot.kubevirt.io/source-vm-name"
SOURCE_NAMESPACE_LABEL = "snapshot.kubevirt.io/source-vm-namespace"
DEFAULT_DEADLINE = 300.0
DEADLINE_EXCEEDED = "snapshot deadline exceeded"
OPERATION_COMPLETE = "Operation complete"
RETRY_SECONDS = 1.0
FINAL = ("Succeeded", "Failed")


def content_name(snapshot_uid: str) -> str:
    return f"vmsnapshot-content-{snapshot_uid}"


def volume_snapshot_name(snapshot_uid: str, volume: str) -> str:
    return f"vmsnapshot-{snapshot_uid}-volume-{volume}"


def parse_duration(value: object, default: float = DEFAULT_DEADLINE) -> float:
    """A Go duration ("5m0s", "1h", "30s") in seconds; 0 means no deadline; absent, negative or
    not a duration: ``default``."""
    try:
        seconds = durations.parse_duration(value) if isinstance(value, str) and value else -1.0
    except ValueError:
        return default
    return seconds if seconds >= 0 else default


def claim_of(volume: dict) -> str | None:
    """The local volume behind a persistentVolumeClaim / dataVolume volume, else None."""
    if isinstance(volume.get("persistentVolumeClaim"), dict):
        return volume["persistentVolumeClaim"].get("claimName")
    if isinstance(volume.get("dataVolume"), dict):
        return volume["dataVolume"].get("name")
    return None


def vm_volumes(vm: dict) -> list[dict]:
    return [v for v in ((((vm.get("spec") or {}).get("template") or {}).get("spec") or {}).get("volumes") or [])
            if isinstance(v, dict)]


def set_conditions(status: dict, progressing: tuple[str, str], ready: tuple[str, str], now: str) -> None:
    st.set_condition(status, "Progressing", progressing[0], progressing[1], now=now)
    st.set_condition(status, "Ready", ready[0], ready[1], now=now)


def vm_is_online(store: Store, namespace: str, name: str) -> dict | None:
    """The VM's VMI if it has one that is not finished (QEMU may be running), else None."""
    try:
        vmi = store.get(kinds.VMI, namespace, name)
    except NotFound:
        return None
    return None if st.is_final(vmi) else vmi


def set_vm_flag(store: Store, namespace: str, vm_name: str, field: str, value: str | None,
                only_if: str | None = None) -> str | None:
    """Set (or, with None, clear) a VM status flag; returns the value another operation holds, if any."""
    holder: list[str | None] = [None]

    def fn(vm: dict) -> Any:
        s = vm.setdefault("status", {})
        current = s.get(field)
        if value is None:
            if current is None or (only_if is not None and current != only_if):
                return False
            s.pop(field)
            return None
        if current == value:
            return False
        if current is not None:
            holder[0] = current
            return False
        s[field] = value
        return None

    store.mutate(kinds.VM, namespace, vm_name, fn, subresource="status")
    return holder[0]


class SnapshotController:
    kind = kinds.VMSNAPSHOT

    def __init__(self, store: Store, settings: Settings, *, now: Callable[[], datetime] | None = None,
                 hosts: Sequence[Hypervisor] = ()):
        self.store = store
        self.settings = settings
        self.hosts = list(hosts)
        self._now = now or (lambda: datetime.now(timezone.utc))
        self.events = Recorder(store, VIRT_CONTROLLER)

    def reconcile(self, key: tuple[str, str]) -> None:
        namespace, name = key
        snap = get_or_none(self.store, self.kind, namespace, name)
        if snap is None:
            return
        source = (snap.get("spec") or {}).get("source") or {}
        vm_name = source.get("name") or ""
        if st.is_deleting(snap):
            self._finalize(snap, vm_name)
            return
        if ((snap.get("status") or {}).get("phase")) in FINAL:
            set_vm_flag(self.store, namespace, vm_name, "snapshotInProgress", None, only_if=name)
            return
        self._add_finalizer(snap)
        if source.get("kind") != kinds.VM.kind or source.get("apiGroup") not in (None, "", kinds.KUBEVIRT):
            self._fail(snap, f"unsupported snapshot source {source.get('apiGroup')}/{source.get('kind')}")
            return
        try:
            vm = self.store.get(kinds.VM, namespace, vm_name)
        except NotFound:
            self._wait_for_source(snap)
            return
        vmi = vm_is_online(self.store, namespace, vm_name)
        indications = online_indications(vmi)
        unpopulated = self._unpopulated(namespace, vm)
        if unpopulated:
            message = f"Source not locked source {namespace}/{vm_name} volume not populated: {unpopulated}"
            self._update(snap, lambda s, now: self._waiting(s, vm, message, indications, now))
            raise Requeue(RETRY_SECONDS)
        holder = set_vm_flag(self.store, namespace, vm_name, "snapshotInProgress", name)
        if holder is not None:
            self._update(snap, lambda s, now: set_conditions(
                s, ("False", f"Source locked by snapshot {holder}"), ("False", "Not ready"), now))
            raise Requeue(RETRY_SECONDS)
        self._update(snap, lambda s, now: self._in_progress(s, vm, now, indications))
        try:
            content = self._ensure_content(snap, vm, vmi)
        except VirtctlError as e:
            self._fail(snap, str(e), vm=vm)
            set_vm_flag(self.store, namespace, vm_name, "snapshotInProgress", None, only_if=name)
            return
        self._update(snap, lambda s, now: self._succeeded(s, vm, content, now))
        self.events.normal(snap, "SuccessfulVirtualMachineSnapshotContentCreate",
                           "Successfully created VirtualMachineSnapshotContent "
                           + str(((content or {}).get("metadata") or {}).get("name", "")))
        set_vm_flag(self.store, namespace, vm_name, "snapshotInProgress", None, only_if=name)

    # ------------------------------------------------------------------ status
    def _update(self, snap: dict, change: Callable[[dict, str], Any]) -> None:
        m = snap["metadata"]
        now = st.now_iso(self._now())

        def fn(obj: dict) -> Any:
            if obj["metadata"].get("uid") != m.get("uid"):
                return False
            return change(obj.setdefault("status", {}), now)

        self.store.mutate(self.kind, m.get("namespace"), m["name"], fn, subresource="status")

    @staticmethod
    def _in_progress(s: dict, vm: dict, now: str, indications: list[str]) -> None:
        s["phase"] = "InProgress"
        s["readyToUse"] = False
        s["sourceUID"] = vm["metadata"].get("uid")
        set_indications(s, indications)
        set_conditions(s, ("True", "Source locked and operation in progress"), ("False", "Not ready"), now)

    @staticmethod
    def _waiting(s: dict, vm: dict, message: str, indications: list[str], now: str) -> None:
        s["phase"] = "InProgress"
        s["readyToUse"] = False
        s["sourceUID"] = vm["metadata"].get("uid")
        set_indications(s, indications)
        set_conditions(s, ("False", message), ("False", "Not ready"), now)

    def _unpopulated(self, namespace: str, vm: dict) -> str:
        """The first claim of the VM that is still being imported or uploaded ("" when none)."""
        for v in vm_volumes(vm):
            claim = claim_of(v)
            if not claim:
                continue
            try:
                dv = self.store.get(kinds.DATAVOLUME, namespace, claim)
            except NotFound:
                dv = None
            if dv is not None and (dv.get("status") or {}).get("phase") != "Succeeded":
                return claim
            try:
                pvc = self.store.get(kinds.PVC, namespace, claim)
            except NotFound:
                continue
            annotations = (pvc.get("metadata") or {}).get("annotations") or {}
            if UPLOAD_TARGET in annotations and annotations.get(POD_PHASE) not in (None, "Succeeded"):
                return claim
        return ""

    @staticmethod
    def _succeeded(s: dict, vm: dict, content: dict, now: str) -> None:
        s["phase"] = "Succeeded"
        s.pop("error", None)
        s["readyToUse"] = True
        s["creationTime"] = (content.get("status") or {}).get("creationTime") or now
        s["sourceUID"] = vm["metadata"].get("uid")
        s["virtualMachineSnapshotContentName"] = content["metadata"]["name"]
        included = [v["name"] for v in vm_volumes(vm) if claim_of(v)]
        excluded = [v["name"] for v in vm_volumes(vm) if not claim_of(v)]
        s["snapshotVolumes"] = {k: v for k, v in (("includedVolumes", included), ("excludedVolumes", excluded)) if v}
        set_conditions(s, ("False", OPERATION_COMPLETE), ("True", OPERATION_COMPLETE), now)

    def _fail(self, snap: dict, message: str, *, indications: list[str] | None = None, vm: dict | None = None) -> None:
        def change(s: dict, now: str) -> None:
            s["phase"] = "Failed"
            s["readyToUse"] = False
            s["error"] = {"time": now, "message": message}
            if vm is not None:
                s["sourceUID"] = vm["metadata"].get("uid")
            if indications:
                set_indications(s, indications)
            set_conditions(s, ("False", "In error state"), ("False", "Error"), now)
            st.set_condition(s, "Failure", "True", message, now=now)
        self._update(snap, change)
        self.events.warning(snap, "VirtualMachineSnapshotError", message)

    def _wait_for_source(self, snap: dict) -> None:
        deadline = parse_duration((snap.get("spec") or {}).get("failureDeadline"))
        created = st.parse_iso(snap["metadata"].get("creationTimestamp"))
        if deadline > 0 and created is not None and (self._now() - created).total_seconds() >= deadline:
            self._fail(snap, DEADLINE_EXCEEDED)
            return

        def change(s: dict, now: str) -> None:
            s["phase"] = "InProgress"
            s["readyToUse"] = False
            set_conditions(s, ("False", "Source does not exist"), ("False", "Not ready"), now)
        self._update(snap, change)
        raise Requeue(RETRY_SECONDS)

    # ------------------------------------------------------------------ content and data
    def _ensure_content(self, snap: dict, vm: dict, vmi: dict | None) -> dict:
        ns, uid = snap["metadata"].get("namespace"), snap["metadata"]["uid"]
        name = content_name(uid)
        try:
            return self.store.get(kinds.VMSNAPSHOTCONTENT, ns, name)
        except NotFound:
            pass
        backups = []
        for v in vm_volumes(vm):
            claim = claim_of(v)
            if not claim:
                continue
            vs_name = volume_snapshot_name(uid, v["name"])
            if vmi is None:
                save_volume(self.settings, ns, claim, vs_name)
            backups.append({"volumeName": v["name"], "volumeSnapshotName": vs_name,
                            "persistentVolumeClaim": {"metadata": {"name": claim, "namespace": ns}, "spec": {}}})
        if vmi is not None and backups:
            self._copy_online(snap, vmi, backups)
        now = st.now_iso(self._now())
        content = {
            "apiVersion": self.kind.api_version, "kind": kinds.VMSNAPSHOTCONTENT.kind,
            "metadata": {"name": name, "namespace": ns,
                         "labels": {SOURCE_NAME_LABEL: vm["metadata"]["name"], SOURCE_NAMESPACE_LABEL: ns}},
            "spec": {"virtualMachineSnapshotName": snap["metadata"]["name"],
                     "source": {"virtualMachine": vm_copy(vm)}, "volumeBackups": backups},
        }
        created = self.store.create(kinds.VMSNAPSHOTCONTENT, ns, content)
        status = {"readyToUse": True, "creationTime": now,
                  "volumeSnapshotStatus": [{"volumeSnapshotName": b["volumeSnapshotName"], "readyToUse": True,
                                            "creationTime": now} for b in backups]}
        return self.store.mutate(kinds.VMSNAPSHOTCONTENT, ns, name,
                                 lambda c: c.__setitem__("status", status), subresource="status") or created

    def _copy_online(self, snap: dict, vmi: dict, backups: list[dict]) -> None:
        """Every backup's volume copied from the running domain at one instant."""
        from virtctl.controller.virt.domain import parse_live

        ns, vmi_name = snap["metadata"].get("namespace") or "", vmi["metadata"]["name"]
        node = (vmi.get("status") or {}).get("nodeName")
        host = next((h for h in self.hosts if h.node_name == node), None)
        if host is None:
            raise VirtctlError(f"VMI {ns}/{vmi_name} runs on node {node!r}, which this controller has no host for")
        dom = domain_name(ns, vmi_name)
        try:
            live = {d.alias[3:]: d.target for d in parse_live(host.domain_xml(dom)).disks if d.alias.startswith("ua-")}
        except Exception as e:
            raise VirtctlError(f"reading the domain of VMI {ns}/{vmi_name} failed: {e}") from None
        targets: dict[str, str] = {}
        files: list[tuple[Any, Any]] = []
        for b in backups:
            target = live.get(b["volumeName"])
            if target is None:
                raise VirtctlError(f"volume {b['volumeName']} is not attached to the running VMI {ns}/{vmi_name}")
            final, tmp = pending_copy(self.settings, ns, b["volumeSnapshotName"])
            targets[target] = str(tmp)
            files.append((tmp, final))
        quiesce = st.has_condition(vmi, "AgentConnected", "True") and not st.has_condition(vmi, "Paused", "True")
        try:
            report = host.backup_disks(dom, targets, quiesce=quiesce)
        except Exception as e:
            for tmp, _ in files:
                tmp.unlink(missing_ok=True)
            if isinstance(e, VirtctlError):
                raise
            why = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise VirtctlError(f"online copy of VMI {ns}/{vmi_name} failed: {why}") from None
        for tmp, final in files:
            commit_copy(tmp, final)
        log.info("online snapshot %s/%s of %s: %d disk(s) in %.2fs, filesystems %s", ns, snap["metadata"]["name"],
                 dom, len(files), report.seconds,
                 f"frozen {report.freeze_seconds:.3f}s" if report.frozen else
                 f"not frozen ({report.freeze_error or 'no guest agent'})")

    def _add_finalizer(self, snap: dict) -> None:
        if FINALIZER in (snap["metadata"].get("finalizers") or []):
            return

        def fn(obj: dict) -> Any:
            fins = obj["metadata"].setdefault("finalizers", [])
            if FINALIZER in fins or st.is_deleting(obj):
                return False
            fins.append(FINALIZER)
            return None
        self.store.mutate(self.kind, snap["metadata"].get("namespace"), snap["metadata"]["name"], fn)

    def _finalize(self, snap: dict, vm_name: str) -> None:
        m = snap["metadata"]
        ns = m.get("namespace")
        set_vm_flag(self.store, ns, vm_name, "snapshotInProgress", None, only_if=m["name"])
        if (snap.get("spec") or {}).get("deletionPolicy") != "Retain":
            name = content_name(m.get("uid") or "")
            try:
                content = self.store.get(kinds.VMSNAPSHOTCONTENT, ns, name)
            except NotFound:
                content = None
            if content is not None:
                for b in (content.get("spec") or {}).get("volumeBackups") or []:
                    if b.get("volumeSnapshotName"):
                        delete_snapshot_file(self.settings, ns, b["volumeSnapshotName"])
                try:
                    self.store.delete(kinds.VMSNAPSHOTCONTENT, ns, name)
                except NotFound:
                    pass

        def fn(obj: dict) -> Any:
            fins = obj["metadata"].get("finalizers") or []
            if FINALIZER not in fins:
                return False
            obj["metadata"]["finalizers"] = [f for f in fins if f != FINALIZER]
            return None
        self.store.mutate(self.kind, ns, m["name"], fn)


INDICATION_MESSAGES = {
    "Online": "Snapshot taken while the VM was running. Consistency depends on guest-agent quiescing.",
    "GuestAgent": "Guest agent was active and attempted to quiesce the filesystem for application consistency.",
    "NoGuestAgent": "Guest agent was not available. Snapshot is crash-consistent and may not be "
                    "application-consistent.",
    "QuiesceTimeout": "Guest agent quiesced the filesystem, but the freeze window timed out before completion. "
                      "Snapshot is crash-consistent and may not be application-consistent.",
    "Paused": "Snapshot taken while the VM was paused. Snapshot is crash-consistent and may not be "
              "application-consistent.",
    "PartialSnapshot": "Not all snapshotable volumes were included in the snapshot. Check status.snapshotVolumes "
                       "for excluded volumes and VM VolumeSnapshotStatus for details.",
}


def online_indications(vmi: dict | None) -> list[str]:
    """KubeVirt's ``status.indications`` for a snapshot of a VM with this VMI (none when stopped):
    Online, plus Paused for a paused guest (not frozen), else GuestAgent or NoGuestAgent; sorted,
    as KubeVirt lists its set."""
    if vmi is None:
        return []
    if st.has_condition(vmi, "Paused", "True"):
        return sorted(["Online", "Paused"])
    return sorted(["Online", "GuestAgent" if st.has_condition(vmi, "AgentConnected", "True") else "NoGuestAgent"])


def source_indications(indications: Sequence[str]) -> list[dict[str, str]]:
    """``status.sourceIndications``: each indication with KubeVirt's message."""
    return [{"indication": i, "message": INDICATION_MESSAGES.get(i, "Unknown indication")} for i in indications]


def set_indications(s: dict, indications: Sequence[str]) -> None:
    """Both the deprecated ``indications`` and ``sourceIndications`` (an offline snapshot has none)."""
    if indications:
        s["indications"] = list(indications)
        s["sourceIndications"] = source_indications(indications)
    else:
        s.pop("indications", None)
        s.pop("sourceIndications", None)


def vm_copy(vm: dict) -> dict:
    """The VM as the content keeps it: identity, labels, annotations and spec (the schema of
    ``source.virtualMachine`` has no apiVersion/kind; the status is not part of a snapshot)."""
    m = vm.get("metadata") or {}
    keep = ("name", "namespace", "uid", "generation", "labels", "annotations")
    return {"metadata": {k: copy.deepcopy(m[k]) for k in keep if k in m},
            "spec": copy.deepcopy(vm.get("spec") or {})}
