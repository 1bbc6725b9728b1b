"""The VM controller: keeps a VirtualMachine's VMI in line with its runStrategy and
stateChangeRequests, and writes the VM's status (printableStatus, ready, created, conditions,
runStrategy, observedGeneration, startFailure) from what the VMI reports.

What to do is decided by :mod:`virtctl.model.runstrategy`; this module only reads the store,
executes the decision and rebuilds the status, so running it twice changes nothing.
"""

from __future__ import annotations

import copy
import logging
from datetime import datetime, timezone
from typing import Any, Callable

from virtctl.controller.reconcile.events import VIRT_CONTROLLER, Recorder
from virtctl.controller.reconcile.vmi import Requeue
from virtctl.controller.settings import Settings
from virtctl.controller.store.protocol import Store, get_or_none
from virtctl.errors import AlreadyExists, NotFound, VirtctlError
from virtctl.model import hotplug, kinds
from virtctl.model import runstrategy as rs
from virtctl.model import status as st
from virtctl.model.runstrategy import Action

log = logging.getLogger(__name__)


def _meta(obj: dict | None) -> dict:
    return (obj or {}).get("metadata") or {}


def vmi_from_vm(vm: dict, *, start_paused: bool = False) -> dict:
    """The VMI virt-controller creates for ``vm``: the template's metadata and spec, the VM's name,
    a controller ownerReference, the VM controller's finalizer and the generation it came from."""
    m = _meta(vm)
    template = copy.deepcopy((vm.get("spec") or {}).get("template") or {})
    tmeta = template.get("metadata") or {}
    meta: dict[str, Any] = {
        "name": m["name"],
        "namespace": m.get("namespace"),
        "ownerReferences": [{"apiVersion": kinds.VM.api_version, "kind": kinds.VM.kind, "name": m["name"],
                             "uid": m.get("uid"), "controller": True, "blockOwnerDeletion": True}],
        "finalizers": [st.VM_CONTROLLER_FINALIZER],
        "annotations": {**(tmeta.get("annotations") or {}),
                        st.VM_GENERATION_ANNOTATION: str(m.get("generation") or 1)},
    }
    if tmeta.get("labels"):
        meta["labels"] = dict(tmeta["labels"])
    spec = template.get("spec") or {}
    if start_paused:
        spec["startStrategy"] = "Paused"
    return {"apiVersion": kinds.VMI.api_version, "kind": kinds.VMI.kind, "metadata": meta, "spec": spec}


class VMController:
    kind = kinds.VM

    def __init__(self, store: Store, settings: Settings, *,
                 ensure_data_volumes: Callable[[dict, Settings, str], object] | None = None,
                 now: Callable[[], datetime] | None = None, recorder: Recorder | None = None):
        self.store = store
        self.settings = settings
        self.events = recorder or Recorder(store, VIRT_CONTROLLER)
        self._ensure_dvs = ensure_data_volumes
        self._now = now or (lambda: datetime.now(timezone.utc))

    def _get(self, kind: kinds.Kind, ns: str, name: str) -> dict | None:
        return get_or_none(self.store, kind, ns, name)

    # ------------------------------------------------------------------ entry point
    def reconcile(self, key: tuple[str, str]) -> None:
        ns, name = key
        vm = self._get(kinds.VM, ns, name)
        vmi = self._get(kinds.VMI, ns, name)
        if vm is None:
            self._orphaned_vmi(vmi)
            return
        if vmi is not None and not st.owned_by(vmi, vm):
            ref = st.controller_ref(vmi)
            if ref is None:
                vmi = self._adopt(vm, vmi)
            elif ref.get("kind") == kinds.VM.kind:
                self._orphaned_vmi(vmi)        # left over from an older VM with this name
                raise Requeue(0.2)
            else:
                vmi = None                      # someone else's: not ours to manage
        if st.is_deleting(vm):
            self._terminate(vm, vmi)
            return
        self._ensure_finalizer(vm)

        failure: tuple[str, str] | None = None
        retry: float | None = None
        start_expected = False
        try:
            if self._ensure_dvs is not None and (vm.get("spec") or {}).get("dataVolumeTemplates"):
                self._ensure_dvs(vm, self.settings, ns)
            decision = rs.decide(vm, vmi, self._now())
            start_expected = decision.action == Action.CREATE
            retry = self._execute(vm, vmi, decision)
        except rs.RunStrategyError as e:
            failure = ("FailedCreate", f"Error fetching RunStrategy: {e}")
        except VirtctlError as e:
            failure = ("FailedCreate", f"Failure while starting VMI: {e.message}")
        vmi = self._get(kinds.VMI, ns, name)
        if vmi is not None and not st.owned_by(vmi, vm):
            vmi = None
        if vmi is not None and not st.is_final(vmi) and not st.is_deleting(vmi):
            self._follow_hotplug(vm, vmi)
        self._update_status(vm, vmi, failure=failure, start_expected=start_expected and vmi is None)
        if vmi is not None and st.is_final(vmi) and st.VM_CONTROLLER_FINALIZER in (_meta(vmi).get("finalizers") or []):
            self._drop_vmi_finalizer(vmi)
        if failure is not None:
            self.events.warning(vm, failure[0], failure[1])
            raise _SyncFailed(failure[1])
        if retry:
            raise Requeue(retry)

    # ------------------------------------------------------------------ actions
    def _execute(self, vm: dict, vmi: dict | None, decision: rs.Decision) -> float | None:
        ns, name = _meta(vm).get("namespace"), _meta(vm)["name"]
        if decision.action == Action.CREATE:
            body = vmi_from_vm(vm, start_paused=decision.start_paused)
            try:
                self.store.create(kinds.VMI, ns, body)
                self.events.normal(vm, "SuccessfulCreate", "Started the virtual machine by creating the new virtual "
                                                           f"machine instance {name}")
            except AlreadyExists:
                pass                                       # a previous reconcile got there first
            log.info("started VM %s/%s (%s)", ns, name, decision.why)
        elif decision.action == Action.DELETE and vmi is not None:
            self._delete_vmi(vmi)
            self.events.normal(vm, "SuccessfulDelete", "Stopped the virtual machine by deleting the virtual machine "
                                                       f"instance {_meta(vmi).get('uid')}")
            log.info("stopping VM %s/%s (%s)", ns, name, decision.why)
            if decision.add_start_request:
                self._add_start_request(vm)
        elif decision.action == Action.SET_ALWAYS:
            uid = _meta(vm).get("uid")

            def to_always(obj: dict) -> Any:
                if _meta(obj).get("uid") != uid:
                    return False
                spec = obj.setdefault("spec", {})
                if "runStrategy" in spec or "running" not in spec:
                    spec["runStrategy"] = rs.ALWAYS
                else:
                    spec["running"] = True

            self.store.mutate(kinds.VM, ns, name, to_always)
        elif decision.action == Action.WAIT:
            return decision.retry_after
        return None

    def _follow_hotplug(self, vm: dict, vmi: dict) -> None:
        """A running VMI takes its VM's hotpluggable volumes (added or removed through the VM's
        addvolume/removevolume); the VMI controller then attaches or detaches them."""
        template = ((vm.get("spec") or {}).get("template") or {}).get("spec") or {}
        uid = _meta(vmi).get("uid")

        def change(obj: dict) -> Any:
            if _meta(obj).get("uid") != uid:
                return False
            new = hotplug.follow_vm(obj.get("spec") or {}, template)
            if new is None:
                return False
            obj["spec"] = new

        if hotplug.follow_vm(vmi.get("spec") or {}, template) is not None:
            self.store.mutate(kinds.VMI, _meta(vmi).get("namespace"), _meta(vmi)["name"], change)

    def _delete_vmi(self, vmi: dict) -> None:
        try:
            self.store.delete(kinds.VMI, _meta(vmi).get("namespace"), _meta(vmi)["name"],
                              preconditions={"uid": _meta(vmi).get("uid")})
        except NotFound:
            pass

    def _add_start_request(self, vm: dict) -> None:
        def add(status: dict) -> None:
            status["stateChangeRequests"] = [*(status.get("stateChangeRequests") or []), {"action": rs.START}]

        self._mutate_status(vm, add)

    def _orphaned_vmi(self, vmi: dict | None) -> None:
        """A VMI whose controlling VM no longer exists: delete it (the garbage collector's job)."""
        if vmi is None:
            return
        ref = st.controller_ref(vmi)
        if ref is None or ref.get("kind") != kinds.VM.kind:
            return
        vm = self._get(kinds.VM, _meta(vmi).get("namespace") or "", ref.get("name") or "")
        if vm is not None and _meta(vm).get("uid") == ref.get("uid"):
            return
        if not st.is_deleting(vmi):
            self._delete_vmi(vmi)
        if st.is_final(vmi) or st.is_deleting(vmi):
            self._drop_vmi_finalizer(vmi)

    def _adopt(self, vm: dict, vmi: dict) -> dict:
        ref = {"apiVersion": kinds.VM.api_version, "kind": kinds.VM.kind, "name": _meta(vm)["name"],
               "uid": _meta(vm).get("uid"), "controller": True, "blockOwnerDeletion": True}

        def add(obj: dict) -> Any:
            if st.controller_ref(obj) is not None:
                return False
            obj["metadata"]["ownerReferences"] = [*(_meta(obj).get("ownerReferences") or []), ref]

        return self.store.mutate(kinds.VMI, _meta(vmi).get("namespace"), _meta(vmi)["name"], add) or vmi

    def _terminate(self, vm: dict, vmi: dict | None) -> None:
        """A VM being deleted stops its VMI first, then lets go of its finalizer."""
        if vmi is not None:
            if not st.is_deleting(vmi):
                self._delete_vmi(vmi)
            if st.is_final(vmi):
                self._drop_vmi_finalizer(vmi)
            self._update_status(vm, vmi, failure=None, start_expected=False)
            return
        self._update_status(vm, None, failure=None, start_expected=False)

        def drop(obj: dict) -> Any:
            fins = _meta(obj).get("finalizers") or []
            if st.VM_CONTROLLER_FINALIZER not in fins:
                return False
            obj["metadata"]["finalizers"] = [f for f in fins if f != st.VM_CONTROLLER_FINALIZER]

        self.store.mutate(kinds.VM, _meta(vm).get("namespace"), _meta(vm)["name"], drop)

    def _ensure_finalizer(self, vm: dict) -> None:
        if st.VM_CONTROLLER_FINALIZER in (_meta(vm).get("finalizers") or []):
            return

        def add(obj: dict) -> Any:
            fins = _meta(obj).get("finalizers") or []
            if st.VM_CONTROLLER_FINALIZER in fins or st.is_deleting(obj):
                return False
            obj["metadata"]["finalizers"] = [*fins, st.VM_CONTROLLER_FINALIZER]

        self.store.mutate(kinds.VM, _meta(vm).get("namespace"), _meta(vm)["name"], add)

    def _drop_vmi_finalizer(self, vmi: dict) -> None:
        uid = _meta(vmi).get("uid")

        def drop(obj: dict) -> Any:
            fins = _meta(obj).get("finalizers") or []
            if _meta(obj).get("uid") != uid or st.VM_CONTROLLER_FINALIZER not in fins:
                return False
            obj["metadata"]["finalizers"] = [f for f in fins if f != st.VM_CONTROLLER_FINALIZER]

        self.store.mutate(kinds.VMI, _meta(vmi).get("namespace"), _meta(vmi)["name"], drop)

    # ------------------------------------------------------------------ status
    def _mutate_status(self, vm: dict, change: Callable[[dict], Any]) -> dict | None:
        uid = _meta(vm).get("uid")

        def fn(obj: dict) -> Any:
            if _meta(obj).get("uid") != uid:
                return False
            obj.setdefault("status", {})
            return change(obj["status"])

        return self.store.mutate(kinds.VM, _meta(vm).get("namespace"), _meta(vm)["name"], fn, subresource="status")

    def _update_status(self, vm: dict, vmi: dict | None, *, failure: tuple[str, str] | None,
                       start_expected: bool) -> None:
        now = self._now()
        uid = _meta(vm).get("uid")

        def fn(obj: dict) -> Any:
            # computed on the freshest VM, so a change request added meanwhile is kept
            if _meta(obj).get("uid") != uid:
                return False
            s = obj.setdefault("status", {})
            try:
                strategy = rs.run_strategy(obj)
            except rs.RunStrategyError:
                strategy = ""
            s["created"] = vmi is not None
            s["ready"] = vmi is not None and st.is_ready(vmi)
            if vmi is not None:
                gen = (_meta(vmi).get("annotations") or {}).get(st.VM_GENERATION_ANNOTATION)
                if gen and gen.isdigit():
                    s["observedGeneration"] = int(gen)
                s["desiredGeneration"] = _meta(obj).get("generation") or 1
            if strategy and (s.get("runStrategy") or s["created"]):
                s["runStrategy"] = strategy
            if rs.trim_first_change_request(obj, vmi):
                s["stateChangeRequests"] = rs.change_requests(obj)[1:]
            if not s.get("stateChangeRequests"):
                s.pop("stateChangeRequests", None)
            sf = rs.next_start_failure(obj, vmi, now)
            if sf is None:
                s.pop("startFailure", None)
            else:
                s["startFailure"] = sf
            st.sync_vm_conditions(s, vmi, failure=failure, now=st.now_iso(now))
            s["printableStatus"] = st.printable_status(
                obj, vmi, run_strategy=strategy, start_expected=start_expected,
                set_to_start=_safe(lambda: rs.is_set_to_start(obj, vmi)))

        self.store.mutate(kinds.VM, _meta(vm).get("namespace"), _meta(vm)["name"], fn, subresource="status")


def _safe(fn: Callable[[], bool]) -> bool:
    try:
        return fn()
    except rs.RunStrategyError:
        return False


class _SyncFailed(Exception):
    """The reconcile hit an error that is reported in the Failure condition; retried with backoff."""
