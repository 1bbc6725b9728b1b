"""VirtualMachineInstanceMigration controller: live migration between the controller's libvirt
hosts ("nodes").

A migration of a running VMI goes Pending → Scheduling → Running → Succeeded (or Failed, with
``status.migrationState.failureReason``); the VMI carries the same ``migrationState`` meanwhile, so
its VM shows ``Migrating``. With no other node there is no target: KubeVirt's migration would wait
in Scheduling until its unschedulable timeout; here it fails at once, saying why. The transfer runs
on a thread of its own (:mod:`.migration_job`), so the queue can still take a cancel.

Cancel (``virtctl migrate-cancel`` deletes the object), as in KubeVirt: the finalizer
``kubevirt.io/migrationJobFinalize`` holds an unfinished migration until the abort is handled. The
VMIM gets the ``migrationAbortRequested`` condition, both ``migrationState``s get ``abortRequested``
and then ``abortStatus`` Succeeded (the VMI stays where it runs) or Failed (the transfer finished
first); the migration ends Failed or Succeeded, and without the finalizer the delete completes.
A finished migration has no finalizer: deleting it just deletes it.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Sequence

from virtctl.controller.reconcile.events import VIRT_CONTROLLER, VIRT_HANDLER, Recorder
from virtctl.controller.reconcile.migration_job import Job, Jobs
from virtctl.controller.reconcile.vmi import Requeue
from virtctl.controller.store.protocol import Store, get_or_none
from virtctl.controller.virt.hypervisor import DomainState, Hypervisor, domain_name
from virtctl.errors import VirtctlError
from virtctl.model import kinds
from virtctl.model import status as st

log = logging.getLogger(__name__)

FINAL = ("Succeeded", "Failed")
LIVE = (DomainState.RUNNING, DomainState.PAUSED)
FINALIZER = "kubevirt.io/migrationJobFinalize"
ABORT_CONDITION = "migrationAbortRequested"
ABORT_RETRY_SECONDS = 0.2
CANCELED = "the migration was canceled before it started"


def failure_reason(vmi: dict | None, vmi_name: str, nodes: Sequence[str]) -> str:
    """Why this migration cannot start, or "" if it can."""
    if vmi is None:
        return f"VMI {vmi_name} does not exist"
    status = vmi.get("status") or {}
    if status.get("phase") != st.RUNNING:
        return f"VMI {vmi_name} is not running"
    if st.is_migrating(vmi):
        return f"VMI {vmi_name} is already migrating"
    source = status.get("nodeName") or ""
    if not [n for n in nodes if n != source]:
        return (f"no node can take VMI {vmi_name}: {source or 'its node'} is the only node "
                "(configure more libvirt hosts in libvirtURIs)")
    return ""


class MigrationController:
    kind = kinds.VMIM

    def __init__(self, store: Store, hosts: Sequence[Hypervisor]):
        self.store = store
        self.events = Recorder(store, VIRT_CONTROLLER)
        self.handler_events = Recorder(store, VIRT_HANDLER)
        self.hosts = list(hosts)
        self.jobs = Jobs()                          # transfers under way in this process

    def reconcile(self, key: tuple[str, str]) -> None:
        namespace, name = key
        vmim = get_or_none(self.store, self.kind, namespace, name)
        if vmim is None:
            return
        status = vmim.get("status") or {}
        if status.get("phase") in FINAL:
            self._set_finalizer(vmim, False)        # nothing left to abort: a delete now completes
            return
        job = self.jobs.get((vmim.get("metadata") or {}).get("uid") or "")
        if job is not None:
            if st.is_deleting(vmim):
                self._cancel(vmim, job)
            return
        vmi_name = (vmim.get("spec") or {}).get("vmiName") or ""
        vmi = get_or_none(self.store, kinds.VMI, namespace, vmi_name)
        if status.get("phase") == "Running":
            self._interrupted(vmim, vmi)            # the controller restarted during the migration
            return
        reason = failure_reason(vmi, vmi_name, [h.node_name for h in self.hosts])
        if st.is_deleting(vmim):                    # canceled before this controller started it
            reason, abort = CANCELED, "Succeeded"
        else:
            abort = ""
        if reason:
            self._end(vmim, None, failed=reason, abort=abort,
                      source=((vmi or {}).get("status") or {}).get("nodeName", ""))
            return
        assert vmi is not None
        if self._set_finalizer(vmim, True) is None:
            return                                  # deleted meanwhile: nothing to start
        source = self._host((vmi.get("status") or {}).get("nodeName"))
        target = next(h for h in self.hosts if h is not source)
        state = {"startTimestamp": st.now_iso(), "sourceNode": source.node_name,
                 "targetNode": target.node_name, "migrationUid": (vmim.get("metadata") or {}).get("uid"),
                 "mode": "PreCopy", "completed": False, "failed": False}
        def running(s: dict) -> None:
            _phases(s, "Pending", "Scheduling", "Running")
            s["migrationState"] = state

        self._write(vmim, running)
        self._write(vmi, lambda s: s.update(migrationState=dict(state)))
        self.handler_events.normal(vmi, "Migrating", "VirtualMachineInstance is migrating.", host=source.node_name)
        job = Job(str(state["migrationUid"] or ""), domain_name(namespace, vmi_name), source, target)
        self.jobs.run(job, lambda j: self._transfer(j, vmim, vmi))

    def _transfer(self, job: Job, vmim: dict, vmi: dict) -> None:
        """The job's thread: migrate, then write how it ended."""
        failed = ""
        try:
            if not job.begin():
                failed = CANCELED
            else:
                job.source.migrate(job.domain, job.target)
                _forward_ports_again(job, vmi)
        except VirtctlError as e:
            failed = e.message
        except Exception as e:                      # still end it: a Running migration blocks the next
            log.exception("migration of %s failed", job.domain)
            failed = str(e) or type(e).__name__
        abort = ("Succeeded" if failed else "Failed") if job.canceled else ""
        try:
            self._end(vmim, vmi, node="" if failed else job.target.node_name, failed=failed, abort=abort)
        except Exception as e:                      # e.g. shutting down: the next start settles it
            log.warning("could not record the end of the migration of %s: %s", job.domain, e)

    def _cancel(self, vmim: dict, job: Job) -> None:
        """The migration object is being deleted while its transfer may be under way: abort it."""
        first, started = job.cancel()
        if first:
            self._mark_abort(vmim, "Aborting" if started else "")
        if not started or job.abort_sent:
            return                                  # the job's thread ends it
        if job.source.abort_migration(job.domain):
            job.abort_sent = True
            return
        # no job on the source yet (the hypervisor is still preparing) or just over: look again
        # until the job's thread has written the end, which also brings us back here
        raise Requeue(ABORT_RETRY_SECONDS)

    def _mark_abort(self, vmim: dict, abort_status: str) -> None:
        uid = (vmim.get("metadata") or {}).get("uid")

        def mark(s: dict) -> Any:
            state = s.get("migrationState")
            if not state or state.get("migrationUid") != uid or state.get("endTimestamp"):
                return False                        # another migration's, or the end is written already
            state["abortRequested"] = True
            if abort_status:
                state["abortStatus"] = abort_status
            return None

        def on_vmim(s: dict) -> Any:
            if s.get("phase") in FINAL:
                return False
            st.set_condition(s, ABORT_CONDITION, "True")
            mark(s)
            return None

        self._write(vmim, on_vmim)
        vmi_name = (vmim.get("spec") or {}).get("vmiName") or ""
        self.store.mutate(kinds.VMI, (vmim.get("metadata") or {}).get("namespace"), vmi_name,
                          lambda obj: mark(obj.setdefault("status", {})), subresource="status")

    def _set_finalizer(self, vmim: dict, present: bool) -> dict | None:
        """The stored object with or without our finalizer; None when it is gone."""
        uid = (vmim.get("metadata") or {}).get("uid")

        def fn(obj: dict) -> Any:
            m = obj.setdefault("metadata", {})
            have = list(m.get("finalizers") or [])
            want = [f for f in have if f != FINALIZER] + ([FINALIZER] if present else [])
            if m.get("uid") != uid or want == have:
                return False
            if want:
                m["finalizers"] = want
            else:
                m.pop("finalizers")                 # as the API server leaves an empty list: absent
            return None

        m = vmim.get("metadata") or {}
        return self.store.mutate(self.kind, m.get("namespace"), m.get("name") or "", fn)

    def _host(self, node: str | None) -> Hypervisor:
        return next((h for h in self.hosts if h.node_name == node), self.hosts[0])

    def _interrupted(self, vmim: dict, vmi: dict | None) -> None:
        state = (vmim.get("status") or {}).get("migrationState") or {}
        target = self._host(state.get("targetNode"))
        uid = ((vmi or {}).get("metadata") or {}).get("uid")
        vmi_name = (vmim.get("spec") or {}).get("vmiName") or ""
        ds = target.status(domain_name((vmim.get("metadata") or {}).get("namespace") or "", vmi_name))
        deleting = st.is_deleting(vmim)
        if vmi is not None and ds.state in LIVE and ds.vmi_uid == uid:
            self._end(vmim, vmi, node=target.node_name, abort="Failed" if deleting else "")
        else:
            self._end(vmim, vmi, failed="the controller restarted during the migration",
                      abort="Succeeded" if deleting else "")

    def _end(self, vmim: dict, vmi: dict | None, *, node: str = "", failed: str = "", source: str = "",
             abort: str = "") -> None:
        """Write the outcome; ``abort`` is the abortStatus of a canceled migration (Succeeded: it
        did not move; Failed: it moved before the abort took)."""
        now = st.now_iso()

        def finish(state: dict) -> dict:
            state = dict(state)
            state.setdefault("startTimestamp", now)
            if source:
                state.setdefault("sourceNode", source)
            state.update(endTimestamp=now, completed=not failed, failed=bool(failed))
            if failed:
                state["failureReason"] = failed
            if abort:
                state.update(abortRequested=True, abortStatus=abort)
            return state

        def on_vmim(s: dict) -> None:
            _phases(s, "Pending", "Failed" if failed else "Succeeded")
            s["migrationState"] = finish(s.get("migrationState") or {})
            if abort:
                st.set_condition(s, ABORT_CONDITION, "True")

        def on_vmi(s: dict) -> Any:
            if not s.get("migrationState"):
                return False
            s["migrationState"] = finish(s["migrationState"])
            if node:
                s["nodeName"] = node
            return None

        if failed:
            m = vmim.get("metadata") or {}
            log.info("migration %s/%s failed: %s", m.get("namespace"), m.get("name"), failed)
            self.events.warning(vmim, "FailedMigration", failed)
        else:
            self.events.normal(vmim, "SuccessfulMigration", "Source node reported migration succeeded")
            if vmi is not None and node:
                self.handler_events.normal(vmi, "Migrated", f"The VirtualMachineInstance migrated to node {node}.",
                                           host=node)
        if vmi is not None:                         # first: a final VMIM may be deleted at once
            self._write(vmi, on_vmi)
        self._write(vmim, on_vmim)

    def _write(self, obj: dict, change: Callable[[dict], Any]) -> None:
        m = obj.get("metadata") or {}
        kind = kinds.VMIM if obj.get("kind") == kinds.VMIM.kind else kinds.VMI

        def fn(current: dict) -> Any:
            if (current.get("metadata") or {}).get("uid") != m.get("uid"):
                return False                        # replaced meanwhile: not ours to touch
            return change(current.setdefault("status", {}))

        self.store.mutate(kind, m.get("namespace"), m.get("name") or "", fn, subresource="status")


def _phases(status: dict, *phases: str) -> None:
    """Walk ``status.phase`` through ``phases`` (those already passed are kept once)."""
    now = st.now_iso()
    seen = {t.get("phase") for t in status.get("phaseTransitionTimestamps") or []}
    for phase in phases:
        if phase not in seen or phase == phases[-1]:
            st.set_phase(status, phase, now)


def _forward_ports_again(job: Job, vmi: dict) -> None:
    """Declared ``interfaces[].ports`` live in the source QEMU only: add them to the target's
    (the source released them when it stopped). A port taken meanwhile is logged, not fatal."""
    from virtctl.controller.virt import hostfwd

    nics = hostfwd.spec_ports(vmi)
    if not nics:
        return
    try:
        hostfwd.install_ports(job.target, job.domain, nics)
    except VirtctlError as e:
        log.warning("%s: declared ports not forwarded after migration: %s", job.domain, e.message)
