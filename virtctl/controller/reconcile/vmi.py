"""The VMI controller: makes a VirtualMachineInstance real on a libvirt host, and reports what
libvirt says about it.

Phases: "" → Pending (accepted) → Scheduled (host chosen, volumes prepared, ``nodeName`` set) →
Running (libvirt reports the domain running or paused) → Succeeded (guest powered off) / Failed
(crash, unexpected destroy, domain vanished, or the domain could not start). Every reconcile
starts from the stored VMI and the hypervisor's answer, never from the event that woke it.

Deletion: the ``foregroundDeleteVirtualMachine`` finalizer holds the object while the guest is
shut down over ACPI, destroyed after ``terminationGracePeriodSeconds`` (default 30; 0 = at once),
and its volumes are released.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Sequence

from virtctl.controller.reconcile.events import VIRT_CONTROLLER, VIRT_HANDLER, Recorder
from virtctl.controller.settings import Settings
from virtctl.controller.storage import claims, configsources
from virtctl.controller.storage import plan as volumes
from virtctl.controller.store.protocol import Store, get_or_none
from virtctl.controller.virt import host as host_mod
from virtctl.controller.virt.hypervisor import DomainState, DomainStatus, Hypervisor, domain_name
from virtctl.errors import APIError, NotFound, VirtctlError
from virtctl.model import hotplug, kinds, memorydump
from virtctl.model import status as st

log = logging.getLogger(__name__)

DEFAULT_GRACE_SECONDS = 30
VOLUME_RETRY_SECONDS = 5.0
SYNC_FAILED_REASON = "Synchronizing with the Domain failed."
LIVE = (DomainState.RUNNING, DomainState.PAUSED, DomainState.SHUTTING_DOWN)
STOP_EVENT_GRACE_SECONDS = 5.0

PrepareVolumes = Callable[..., volumes.PreparedVolumes]
"""``prepare(vmi, settings, *, namespace) -> PreparedVolumes``: ``storage.plan.prepare_volumes`` unless
a test brings its own files."""


class Requeue(Exception):
    """Look at this key again after ``delay`` seconds (not an error: no backoff growth)."""

    def __init__(self, delay: float):
        super().__init__(f"requeue after {delay:.2f}s")
        self.delay = delay


@dataclass
class DomainFacts:
    """What libvirt told us through events and cannot be asked again later: a transient domain
    that stopped is gone, so how it stopped is only known from its ``stopped`` event."""

    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopped: dict[str, str] = field(default_factory=dict)       # domain -> detail of last stop
    _shutdown_at: dict[str, float] = field(default_factory=dict)  # vmi uid -> when ACPI shutdown was sent
    _missing_since: dict[str, float] = field(default_factory=dict)  # domain -> first seen gone, reason unknown

    def record(self, domain: str, event: str, detail: str) -> None:
        with self._lock:
            if event == "started":
                self._stopped.pop(domain, None)
            elif event == "stopped":
                self._stopped[domain] = detail
            self._missing_since.pop(domain, None)

    def stop_detail(self, domain: str) -> str:
        with self._lock:
            return self._stopped.get(domain, "")

    def missing_for(self, domain: str) -> float:
        """Seconds since ``domain`` was first seen gone without a stop reason (0 the first time)."""
        with self._lock:
            return time.monotonic() - self._missing_since.setdefault(domain, time.monotonic())

    def forget(self, domain: str) -> None:
        with self._lock:
            self._stopped.pop(domain, None)
            self._missing_since.pop(domain, None)

    def shutdown_sent(self, uid: str) -> float | None:
        with self._lock:
            return self._shutdown_at.get(uid)

    def mark_shutdown(self, uid: str) -> float:
        with self._lock:
            return self._shutdown_at.setdefault(uid, time.monotonic())

    def clear_shutdown(self, uid: str) -> None:
        with self._lock:
            self._shutdown_at.pop(uid, None)


def _meta(obj: dict) -> dict:
    return obj.get("metadata") or {}


def final_phase_for(reason: str) -> tuple[str, str]:
    """(phase, status.reason) for a domain that stopped with libvirt's ``reason``."""
    if reason == "shutdown":
        return st.SUCCEEDED, ""
    if reason == "crashed":
        return st.FAILED, "GuestCrashed"
    if reason == "destroyed":
        return st.FAILED, "DomainDestroyed"
    if reason in ("failed", "error"):
        return st.FAILED, "DomainFailed"
    return st.FAILED, "DomainNotFound"


def live_migratable(vmi: dict) -> tuple[str, str, str]:
    """(status, reason, message) of the LiveMigratable condition. Volumes that live on this
    machine's own disk (PVCs, DataVolumes, host disks) are not shared storage."""
    for vol in (vmi.get("spec") or {}).get("volumes") or []:
        for key, label in (("persistentVolumeClaim", "PVC"), ("dataVolume", "PVC"), ("hostDisk", "HostDisk")):
            if key in vol:
                claim = (vol.get(key) or {}).get("claimName") or (vol.get(key) or {}).get("name") \
                    or (vol.get(key) or {}).get("path") or vol.get("name")
                return ("False", "DisksNotLiveMigratable",
                        f"cannot migrate VMI: {label} {claim} is not shared, live migration requires that all "
                        "PVCs must be shared (using ReadWriteMany access mode)")
    return "True", "", ""


class VMIController:
    kind = kinds.VMI

    def __init__(self, store: Store, settings: Settings, hosts: Sequence[Hypervisor],
                 facts: DomainFacts | None = None, host_info: Callable[[Hypervisor], Any] | None = None,
                 prepare_volumes: PrepareVolumes | None = None, recorder: Recorder | None = None):
        self.store = store
        self.events = recorder or Recorder(store, VIRT_HANDLER)          # what happens to the domain
        self.controller_events = Recorder(store, VIRT_CONTROLLER, getattr(recorder, "host", ""))
        self._prepare: PrepareVolumes = prepare_volumes or volumes.prepare_volumes
        self.settings = settings
        self.hosts = list(hosts)
        self.facts = facts or DomainFacts()
        self._host_info = host_info or _detect_host_info
        self._host_info_cache: dict[int, Any] = {}
        self._released: set[str] = set()       # vmi uids whose volumes were released

    # ------------------------------------------------------------------ entry point
    def reconcile(self, key: tuple[str, str]) -> None:
        ns, name = key
        dom = domain_name(ns, name)
        try:
            vmi = self.store.get(self.kind, ns, name)
        except NotFound:
            self._destroy_orphans(dom, keep_uid=None)
            return
        if st.is_deleting(vmi):
            self._finalize(vmi, dom)
            return
        if st.is_final(vmi):
            self._destroy_orphans(dom, keep_uid=None)
            self._release(vmi)
            self._drop_stale_vm_finalizer(vmi)
            return
        self._destroy_orphans(dom, keep_uid=_meta(vmi).get("uid"))
        phase = st.phase(vmi)
        if phase == st.PHASE_UNSET:
            self._accept(vmi)
            return
        host = self.host_for(vmi)
        ds = host.status(dom)
        if phase in (st.PENDING, st.SCHEDULING, st.SCHEDULED):
            if ds.state in (DomainState.RUNNING, DomainState.PAUSED):
                self._observe_running(vmi, host, dom, ds)     # re-adopted, or the start event raced us
                return
            self._start(vmi, host, dom)
            return
        if phase == st.RUNNING:
            if ds.state not in LIVE:
                # it runs wherever libvirt says it runs: after a live migration, on another host
                found = self._find_live(dom, _meta(vmi).get("uid") or "")
                if found is not None:
                    host, ds = found
            if ds.state in LIVE:
                self._observe_running(vmi, host, dom, ds)
                self._sync_memory_dump(vmi, host, dom)
                self._sync_hotplug(vmi, host, dom)
            else:
                self._observe_stopped(vmi, dom, ds)
            return
        # Unknown/WaitingForSync: nothing this controller can act on

    def report_error(self, key: tuple[str, str], error: Exception) -> None:
        """A reconcile that raised (libvirt unreachable, …): the VMI's Synchronized condition and a
        Warning event say why, as virt-handler's SyncFailed does; the manager retries with backoff."""
        ns, name = key
        try:
            vmi = self.store.get(self.kind, ns, name)
        except NotFound:
            return
        if st.is_final(vmi):
            return
        message = str(error) or type(error).__name__
        self._write_status(vmi, lambda s: st.set_condition(s, "Synchronized", "False", SYNC_FAILED_REASON, message))
        self.events.warning(vmi, "SyncFailed", message, host=(vmi.get("status") or {}).get("nodeName") or "")

    def _lookup(self, kind: str, namespace: str, name: str) -> dict | None:
        """A Secret or ConfigMap for :func:`configsources.resolve` (None when it does not exist)."""
        return get_or_none(self.store, kinds.SECRET if kind == "Secret" else kinds.CONFIGMAP, namespace, name)

    # ------------------------------------------------------------------ hosts
    def host_for(self, vmi: dict) -> Hypervisor:
        node = (vmi.get("status") or {}).get("nodeName")
        if not node:
            node = ((vmi.get("spec") or {}).get("nodeSelector") or {}).get("kubernetes.io/hostname")
        for h in self.hosts:
            if h.node_name == node:
                return h
        return self.hosts[0]

    def _find_live(self, dom: str, uid: str) -> tuple[Hypervisor, DomainStatus] | None:
        for h in self.hosts:
            ds = h.status(dom)
            if ds.state in LIVE and uid and ds.vmi_uid == uid:
                return h, ds
        return None

    def host_info(self, host: Hypervisor) -> Any:
        key = id(host)
        if key not in self._host_info_cache:
            self._host_info_cache[key] = self._host_info(host)
        return self._host_info_cache[key]

    # ------------------------------------------------------------------ status writes
    def _write_status(self, vmi: dict, change: Callable[[dict], Any]) -> dict | None:
        uid = _meta(vmi).get("uid")

        def fn(obj: dict) -> Any:
            if _meta(obj).get("uid") != uid:
                return False                         # recreated meanwhile: not ours to touch
            obj.setdefault("status", {})
            return change(obj["status"])

        ns, name = _meta(vmi).get("namespace"), _meta(vmi)["name"]
        return self.store.mutate(self.kind, ns, name, fn, subresource="status")

    def _write_meta(self, vmi: dict, change: Callable[[dict], Any]) -> dict | None:
        uid = _meta(vmi).get("uid")

        def fn(obj: dict) -> Any:
            if _meta(obj).get("uid") != uid:
                return False
            return change(obj.setdefault("metadata", {}))

        return self.store.mutate(self.kind, _meta(vmi).get("namespace"), _meta(vmi)["name"], fn)

    # ------------------------------------------------------------------ phases
    def _accept(self, vmi: dict) -> None:
        def meta(m: dict) -> Any:
            if st.VMI_FINALIZER in (m.get("finalizers") or []):
                return False
            m["finalizers"] = [*(m.get("finalizers") or []), st.VMI_FINALIZER]

        self._write_meta(vmi, meta)

        def status(s: dict) -> None:
            st.set_phase(s, st.PENDING)
            st.set_condition(s, "Ready", "False", "GuestNotRunning", "Guest VM is not reported as running")
            s.setdefault("guestOSInfo", {})
            s.setdefault("qosClass", "Burstable")

        self._write_status(vmi, status)

    def _start(self, vmi: dict, host: Hypervisor, dom: str) -> None:
        """Prepare volumes, record the node, then create the domain."""
        ns = _meta(vmi).get("namespace")
        try:
            extra = {"sources": configsources.resolve(vmi, self._lookup)} if configsources.needed(vmi) else {}
            prepared = self._prepare(vmi, self.settings, namespace=ns, **extra)
        except configsources.SourceNotFound as e:
            # KubeVirt's launcher pod waits for the volume to mount (kubelet's FailedMount)
            missing = str(e)
            self._write_status(vmi, lambda s: st.set_condition(s, "Synchronized", "False", "FailedMount", missing))
            self.events.warning(vmi, "FailedMount", missing)
            raise Requeue(VOLUME_RETRY_SECONDS) from None
        except volumes.VolumeNotFound as e:
            # KubeVirt waits for a missing PVC to appear (ErrorPvcNotFound on the VM)
            missing = str(e)
            self._write_status(vmi, lambda s: st.set_condition(s, "Synchronized", "False",
                                                                st.FAILED_PVC_NOT_FOUND, missing))
            self.controller_events.warning(vmi, st.FAILED_PVC_NOT_FOUND, missing)
            raise Requeue(VOLUME_RETRY_SECONDS) from None
        except (VirtctlError, OSError) as e:
            self._fail(vmi, "VolumesNotReady", f"failed to prepare volumes: {e}", event="FailedCreate",
                       component=self.controller_events)
            return

        def scheduled(s: dict) -> None:
            s["nodeName"] = host.node_name
            st.set_phase(s, st.SCHEDULED)
            st.remove_condition(s, "Synchronized")

        if st.phase(vmi) != st.SCHEDULED or (vmi.get("status") or {}).get("nodeName") != host.node_name:
            self._write_status(vmi, scheduled)
            self._write_meta(vmi, lambda m: _set_label(m, st.NODE_NAME_LABEL, host.node_name))
        try:
            from virtctl.controller.virt.converter import vmi_to_domain
            domain = vmi_to_domain(vmi, host=self.host_info(host), disks=prepared.disks,
                                   kernel_boot=prepared.kernel_boot)
            paused = (vmi.get("spec") or {}).get("startStrategy") == "Paused"
            self.facts.forget(dom)
            host.start(domain.to_xml(), paused=paused)
            _forward_ports(host, dom, domain)
        except APIError as e:
            self._fail(vmi, "FailedCreate", e.message, host=host.node_name)
            return
        except Exception as e:                       # libvirt refused the domain
            self._fail(vmi, "FailedCreate", str(e).splitlines()[0] if str(e) else type(e).__name__,
                       host=host.node_name, full=f"starting domain {dom} failed: {e}")
            return
        self.events.normal(vmi, "Created", "VirtualMachineInstance defined.", host=host.node_name)
        ds = host.status(dom)
        if ds.state in (DomainState.RUNNING, DomainState.PAUSED):
            self.events.normal(vmi, "Started", "VirtualMachineInstance started.", host=host.node_name)
            self._observe_running(vmi, host, dom, ds)

    def _fail(self, vmi: dict, reason: str, message: str, *, event: str = "SyncFailed",
              component: Recorder | None = None, host: str | None = None, full: str | None = None) -> None:
        """Failed: the phase and conditions, a Warning event and (through the recorder) a WARNING
        log line, with the whole message (``full`` when the condition keeps only its first line)."""
        recorder = component or self.events
        recorder.warning(vmi, event, full or message, host=host)
        owner = self._owner(vmi)
        if owner is not None:             # the VM restarts its VMI: its own events keep the reason
            recorder.warning(owner, event, full or message, host=host, logged=False)
        def change(s: dict) -> None:
            st.set_phase(s, st.FAILED)
            s["reason"] = reason
            st.set_condition(s, "Synchronized", "False", SYNC_FAILED_REASON, message)
            st.set_condition(s, "Ready", "False", "GuestNotRunning", "Guest VM is not reported as running")
            st.remove_condition(s, "Paused")

        self._write_status(vmi, change)

    def _observe_running(self, vmi: dict, host: Hypervisor, dom: str, ds: DomainStatus) -> None:
        paused = ds.state == DomainState.PAUSED and ds.reason not in ("migration", "postcopy")
        interfaces = None
        if not (vmi.get("status") or {}).get("interfaces") and (vmi.get("spec") or {}).get("domain", {}) \
                .get("devices", {}).get("interfaces"):
            interfaces = self._interfaces(vmi, host, dom)
        lm = live_migratable(vmi)

        moved = False

        def change(s: dict) -> Any:
            nonlocal moved
            if _moved_since(s, host.node_name):
                moved = True
                return False
            s["nodeName"] = host.node_name
            st.set_phase(s, st.RUNNING)
            s.pop("reason", None)
            st.remove_condition(s, "Synchronized")
            if paused:
                if ds.reason == "ioerror":
                    st.set_condition(s, "Paused", "True", "PausedIOError",
                                     "VMI was paused, low-level IO error detected")
                else:
                    st.set_condition(s, "Paused", "True", st.PAUSED_BY_USER, st.PAUSED_BY_USER_MESSAGE)
                # KubeVirt's launcher pod is not Ready while paused (its readiness gate)
                st.set_condition(s, "Ready", "False", "ReadinessGatesNotReady",
                                 'the status of pod readiness gate "kubevirt.io/virtual-machine-unpaused" '
                                 'is not "True", but False')
            else:
                st.remove_condition(s, "Paused")
                st.set_condition(s, "Ready", "True")
            st.set_condition(s, "LiveMigratable", lm[0], lm[1], lm[2])
            if interfaces is not None:
                s["interfaces"] = interfaces
            s.setdefault("guestOSInfo", {})

        self._write_status(vmi, change)
        if moved:
            return
        if (vmi.get("metadata") or {}).get("labels", {}).get(st.NODE_NAME_LABEL) != host.node_name:
            self._write_meta(vmi, lambda m: _set_label(m, st.NODE_NAME_LABEL, host.node_name))

    def _sync_memory_dump(self, vmi: dict, host: Hypervisor, dom: str) -> None:
        """Carry out the owner VM's ``status.memoryDumpRequest``: dump the guest's memory into the
        claim's file (Associating → InProgress → Completed or Failed), or drop the association when
        its removal was asked for (docs/standalone.md#memory-dump)."""
        vm = self._owner(vmi)
        request = ((vm or {}).get("status") or {}).get("memoryDumpRequest")
        if vm is None or not isinstance(request, dict):
            return
        ns, vm_name = _meta(vm).get("namespace") or "", _meta(vm)["name"]
        if request.get("remove"):
            self._set_dump_request(vm, request, None)
            return
        if request.get("phase") != memorydump.ASSOCIATING:
            return
        claim = str(request.get("claimName") or "")
        started = datetime.now(timezone.utc)
        running = {**request, "phase": memorydump.IN_PROGRESS, "startTimestamp": st.now_iso(started)}
        if not self._set_dump_request(vm, request, running):
            return
        try:
            target = claims.claim_file(self.settings, ns, claim)
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.dump-{os.getpid()}")
            try:
                host.memory_dump(dom, str(tmp))
                os.replace(tmp, target)
            finally:
                tmp.unlink(missing_ok=True)
        except Exception as e:
            message = str(e).splitlines()[0] if str(e) else type(e).__name__
            self._set_dump_request(vm, running, {**running, "phase": memorydump.FAILED, "message": message})
            self.events.warning(vmi, "MemoryDumpFailed", f"Memory dump to {claim} failed: {message}")
            return
        ended = datetime.now(timezone.utc)
        self._set_dump_request(vm, running, {
            **running, "phase": memorydump.COMPLETED, "endTimestamp": st.now_iso(ended),
            "fileName": memorydump.dump_file_name(vm_name, claim, started.strftime("%Y%m%d-%H%M%S"))})
        log.info("memory of %s dumped to claim %s/%s in %.2fs", dom, ns, claim, (ended - started).total_seconds())

    def _set_dump_request(self, vm: dict, expected: dict, new: dict | None) -> bool:
        """Replace the VM's memoryDumpRequest if it is still ``expected``; False when it changed."""
        done = [False]

        def fn(obj: dict) -> Any:
            s = obj.setdefault("status", {})
            if s.get("memoryDumpRequest") != expected:
                return False
            if new is None:
                s.pop("memoryDumpRequest", None)
            else:
                s["memoryDumpRequest"] = new
            done[0] = True

        self.store.mutate(kinds.VM, _meta(vm).get("namespace"), _meta(vm)["name"], fn, subresource="status")
        return done[0]

    def _sync_hotplug(self, vmi: dict, host: Hypervisor, dom: str) -> None:
        """Make the running domain's disks follow the VMI's hotpluggable volumes: attach the ones
        it lacks, detach the hotplugged ones that left the spec, and report each volume in
        ``status.volumeStatus`` (docs/standalone.md#volume-hot-plug)."""
        if st.is_migrating(vmi):
            return
        from virtctl.controller.virt.converter import hotplug_disk
        from virtctl.controller.virt.domain import disk_xml, live_disk_xml, parse_live

        try:
            live_xml = host.domain_xml(dom)
        except Exception:
            return                                   # gone meanwhile: the next pass sees why
        ns = _meta(vmi).get("namespace") or ""
        spec = vmi.get("spec") or {}
        by_name: dict[str, dict] = {str(v.get("name")): v for v in spec.get("volumes") or [] if isinstance(v, dict)}
        live = {d.alias[3:]: d for d in parse_live(live_xml).disks if d.alias.startswith("ua-")}
        used = {d.target for d in live.values()}
        targets = {name: d.target for name, d in live.items() if name in by_name}
        missing: dict[str, str] = {}
        failed: dict[str, str] = {}
        for name, volume in by_name.items():
            if name in live or not hotplug.is_hotpluggable(volume):
                continue
            try:
                source = volumes.hotplug_source(self.settings, ns, volume)
                disk = hotplug_disk(vmi, name, source, used)
                on_node = hotplug.volume_status(spec, targets, missing=missing, failed=failed,
                                                on_node=frozenset({name}))
                self._write_status(vmi, functools.partial(_replace, key="volumeStatus", value=on_node))
                host.attach_device(dom, disk_xml(disk))
            except volumes.VolumeNotFound as e:
                missing[name] = str(e)
                continue
            except APIError as e:
                failed[name] = e.message
            except Exception as e:                   # libvirt refused the device
                failed[name] = str(e).splitlines()[0] if str(e) else type(e).__name__
            else:
                used.add(disk.target)
                targets[name] = disk.target
                self.events.normal(vmi, "SuccessfulAttachVolume", f"Successfully attached volume {name}",
                                   host=host.node_name)
                continue
            self.events.warning(vmi, "FailedAttachVolume", f"Attaching volume {name} failed: {failed[name]}",
                                host=host.node_name)
        hotplugged = {e.get("name") for e in (vmi.get("status") or {}).get("volumeStatus") or []
                      if isinstance(e, dict) and "hotplugVolume" in e}
        detaching: dict[str, str] = {}
        for name, live_disk in live.items():
            if name in by_name or name not in hotplugged:
                continue
            device = live_disk_xml(live_xml, f"ua-{name}")
            try:
                if device is not None:
                    host.detach_device(dom, device)
            except Exception as e:                   # already being unplugged, or refused: looked at again
                log.info("detaching volume %s from %s: %s", name, dom, e)
            detaching[name] = live_disk.target
        new = hotplug.volume_status(spec, targets, missing=missing, failed=failed, detaching=detaching)

        def change(s: dict) -> Any:
            if s.get("volumeStatus") == new:
                return False
            s["volumeStatus"] = new

        self._write_status(vmi, change)
        if detaching:
            raise Requeue(1.0)
        if missing or failed:
            raise Requeue(VOLUME_RETRY_SECONDS)

    def _interfaces(self, vmi: dict, host: Hypervisor, dom: str) -> list[dict] | None:
        """MACs as libvirt reports them. No IP: user-mode networking gives the guest an address
        only if it asks for one, and nothing tells us whether it did."""
        try:
            from virtctl.controller.virt.domain import parse_live
            live = parse_live(host.domain_xml(dom))
        except Exception:
            return None
        spec_ifaces = ((vmi.get("spec") or {}).get("domain") or {}).get("devices", {}).get("interfaces") or []
        out = []
        for i, mac in enumerate(live.macs):
            entry: dict[str, Any] = {"mac": mac, "infoSource": "domain"}
            if i < len(spec_ifaces) and spec_ifaces[i].get("name"):
                entry["name"] = spec_ifaces[i]["name"]
            out.append(entry)
        return out

    def _observe_stopped(self, vmi: dict, dom: str, ds: DomainStatus) -> None:
        reason = ds.reason if ds.state == DomainState.SHUTOFF and ds.reason else ""
        if ds.state == DomainState.CRASHED:
            reason = "crashed"
        if not reason:
            reason = self.facts.stop_detail(dom)
        if not reason and self.facts.missing_for(dom) < STOP_EVENT_GRACE_SECONDS:
            # a transient domain that stopped is gone at once; how it stopped comes with libvirt's
            # event, which a busy event thread may deliver a little later: wait for it
            raise Requeue(0.2)
        self._write_status(vmi, _stopped_status(reason))
        node = (vmi.get("status") or {}).get("nodeName")
        if final_phase_for(reason)[0] == st.FAILED:
            self.events.warning(vmi, "Stopped", "The VirtualMachineInstance crashed.", host=node)
        else:
            self.events.normal(vmi, "Stopped", "The VirtualMachineInstance was shut down.", host=node)
        self._release(vmi)

    # ------------------------------------------------------------------ deletion
    def _finalize(self, vmi: dict, dom: str) -> None:
        uid = _meta(vmi).get("uid") or ""
        for host in self.hosts:
            ds = host.status(dom)
            if ds.state == DomainState.MISSING or (ds.vmi_uid and ds.vmi_uid != uid):
                continue
            if ds.state in LIVE:
                grace = (vmi.get("spec") or {}).get("terminationGracePeriodSeconds")
                grace = DEFAULT_GRACE_SECONDS if grace is None else max(int(grace), 0)
                sent = self.facts.shutdown_sent(uid)
                # a paused guest cannot answer the power button
                if grace == 0 or ds.state == DomainState.PAUSED or \
                        (sent is not None and time.monotonic() - sent >= grace):
                    host.destroy(dom)
                else:
                    if sent is None:
                        self.facts.mark_shutdown(uid)
                        self.events.normal(vmi, "ShuttingDown", "Signaled Graceful Shutdown", host=host.node_name)
                        try:
                            host.shutdown(dom)
                        except Exception as e:
                            log.info("ACPI shutdown of %s failed (%s); destroying", dom, e)
                            host.destroy(dom)
                    sent = self.facts.shutdown_sent(uid) or time.monotonic()
                    left = grace - (time.monotonic() - sent)
                    if host.status(dom).state in LIVE:
                        raise Requeue(min(1.0, max(left, 0.05)))
            if host.status(dom).state in LIVE:
                raise Requeue(0.2)
        self.facts.clear_shutdown(uid)
        if not st.is_final(vmi):
            vmi = self._write_status(vmi, _stopped_status(self.facts.stop_detail(dom))) or vmi
        self._release(vmi)
        owner_alive = self._owner_alive(vmi)
        released: list[bool] = []

        def drop(m: dict) -> Any:
            before = list(m.get("finalizers") or [])
            after = [f for f in before if f != st.VMI_FINALIZER
                     and (owner_alive or f != st.VM_CONTROLLER_FINALIZER)]
            if after == before:
                return False
            released[:] = [st.VMI_FINALIZER in before]
            m["finalizers"] = after

        self._write_meta(vmi, drop)
        if released and released[0]:
            self.events.normal(vmi, "Deleted", "Signaled Deletion", host=(vmi.get("status") or {}).get("nodeName"))

    def _owner(self, vmi: dict) -> dict | None:
        """The VM that controls ``vmi``, if it still exists."""
        ref = st.controller_ref(vmi)
        if not ref or ref.get("kind") != "VirtualMachine":
            return None
        try:
            vm = self.store.get(kinds.VM, _meta(vmi).get("namespace"), ref.get("name") or "")
        except NotFound:
            return None
        return vm if _meta(vm).get("uid") == ref.get("uid") else None

    def _owner_alive(self, vmi: dict) -> bool:
        return self._owner(vmi) is not None

    def _drop_stale_vm_finalizer(self, vmi: dict) -> None:
        """The VM controller removes its finalizer from final VMIs; if that VM is gone, do it here."""
        if st.VM_CONTROLLER_FINALIZER not in (_meta(vmi).get("finalizers") or []) or self._owner_alive(vmi):
            return
        self._write_meta(vmi, lambda m: m.__setitem__(
            "finalizers", [f for f in m.get("finalizers") or [] if f != st.VM_CONTROLLER_FINALIZER]))

    # ------------------------------------------------------------------ cleanup
    def _release(self, vmi: dict) -> None:
        uid = _meta(vmi).get("uid") or ""
        if uid in self._released:
            return
        try:
            volumes.release_volumes(self.settings, _meta(vmi).get("namespace") or "", _meta(vmi)["name"], uid)
        except Exception as e:
            log.warning("releasing volumes of %s/%s failed: %s", _meta(vmi).get("namespace"), _meta(vmi)["name"], e)
            return
        self._released.add(uid)

    def _destroy_orphans(self, dom: str, keep_uid: str | None) -> None:
        """Destroy a domain under this name that belongs to no current VMI (after a controller
        restart, or when a VMI was replaced by a new one with the same name)."""
        for host in self.hosts:
            ds = host.status(dom)
            if ds.state not in LIVE or not ds.vmi_uid:
                continue                             # stopped ones leave nothing behind; uid-less ones aren't ours
            if keep_uid is not None and (not ds.vmi_uid or ds.vmi_uid == keep_uid):
                continue
            log.info("destroying orphan domain %s (uid %s) on %s", dom, ds.vmi_uid, host.node_name)
            host.destroy(dom)
            if ds.vmi_uid and ds.vmi_uid not in self._released:
                ns, _, name = dom.partition("_")
                try:
                    volumes.release_volumes(self.settings, ns, name, ds.vmi_uid)
                    self._released.add(ds.vmi_uid)
                except Exception as e:
                    log.warning("releasing volumes of orphan %s failed: %s", dom, e)


def _forward_ports(host: Hypervisor, dom: str, domain: Any) -> None:
    """``interfaces[].ports`` on QEMU's own user-mode network: forwarded from 127.0.0.1 through the
    monitor right after the start; a port that cannot be forwarded stops the domain and fails the VMI."""
    from virtctl.controller.virt import hostfwd

    nics = [hostfwd.NicPorts(n, i.alias, i.port_forwards) for n, i in enumerate(domain.interfaces)
            if i.port_forwards and not i.backend]
    if not nics:
        return
    try:
        hostfwd.install_ports(host, dom, nics)
    except hostfwd.PortsUnavailable:
        host.destroy(dom)
        raise


def _stopped_status(reason: str) -> Callable[[dict], None]:
    """The status change for a guest that stopped for ``reason`` (Succeeded or Failed)."""
    new_phase, why = final_phase_for(reason)

    def change(s: dict) -> None:
        st.set_phase(s, new_phase)
        if why:
            s["reason"] = why
        st.set_condition(s, "Ready", "False", "GuestNotRunning", "Guest VM is not reported as running")
        st.remove_condition(s, "Paused")

    return change


def _replace(status: dict, key: str, value: Any) -> Any:
    if status.get(key) == value:
        return False
    status[key] = value


def _set_label(m: dict, key: str, value: str) -> Any:
    labels = m.setdefault("labels", {})
    if labels.get(key) == value:
        return False
    labels[key] = value


def _detect_host_info(host: Hypervisor) -> Any:
    info = getattr(host, "host_info", None)
    if callable(info):
        return info()
    if info is not None:
        return info
    return host_mod.detect(uri=host.uri)


def _moved_since(status: dict, seen_on: str) -> bool:
    """A migration finished and recorded the VMI on another node after this pass found the domain
    on ``seen_on``: writing ``seen_on`` now would move it back until the next pass."""
    ms = status.get("migrationState") or {}
    node = status.get("nodeName")
    return bool(node and node != seen_on and ms.get("completed") and not ms.get("failed")
                and ms.get("targetNode") == node)
