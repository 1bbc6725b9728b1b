"""Wires the controllers: store changes and libvirt domain events feed keyed work queues, worker
threads reconcile, a full resync runs at start (re-adoption after a restart) and periodically.

``Manager(store, settings, hosts)`` builds the controllers; ``start()`` runs them, ``stop()`` ends
them; ``enqueue`` is the reconcile trigger the composition root puts in ``Runtime.reconcile`` so that
API actions get a prompt look at an object. ``start(store, settings, hosts)`` does both steps.
``prepare_volumes`` replaces volume preparation (tests that bring their own files).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Sequence

from virtctl.controller.reconcile import events
from virtctl.controller.reconcile.migration import MigrationController
from virtctl.controller.reconcile.namespace import NamespaceController
from virtctl.controller.reconcile.queue import WorkQueue
from virtctl.controller.reconcile.restore import RestoreController
from virtctl.controller.reconcile.snapshot import SnapshotController
from virtctl.controller.reconcile.vm import VMController
from virtctl.controller.reconcile.vmi import DomainFacts, PrepareVolumes, Requeue, VMIController
from virtctl.controller.reconcile.volumes import VolumeController
from virtctl.controller.settings import Settings
from virtctl.controller.storage import configsources
from virtctl.controller.store.corekinds import ensure_system_namespaces
from virtctl.controller.store.protocol import Object, Store
from virtctl.controller.virt.hypervisor import DomainEvent, Hypervisor, split_domain_name
from virtctl.model import kinds

log = logging.getLogger(__name__)

RESYNC_SECONDS = 30.0
Key = tuple[str, str]            # (namespace, name)


class Manager:
    def __init__(self, store: Store, settings: Settings, hosts: Sequence[Hypervisor], *,
                 prepare_volumes: PrepareVolumes | None = None, workers: int | None = None,
                 resync_seconds: float = RESYNC_SECONDS):
        self.store = store
        self.settings = settings
        self.hosts = list(hosts)
        self.facts = DomainFacts()
        self.vm_queue = WorkQueue[Key]("vm")
        self.vmi_queue = WorkQueue[Key]("vmi")
        # dataVolumeTemplates become DataVolumes owned by their VM (docs/standalone.md#volumes-as-objects)
        self.volume_controller = VolumeController(store, settings)
        self.vm_controller = VMController(store, settings, ensure_data_volumes=self.volume_controller.ensure_templates)
        self.vmi_controller = VMIController(store, settings, self.hosts, self.facts,
                                            prepare_volumes=prepare_volumes)
        self.vmim_queue = WorkQueue[Key]("vmim")
        self.migration_controller = MigrationController(store, self.hosts)
        self.snapshot_queue = WorkQueue[Key]("vmsnapshot")
        self.snapshot_controller = SnapshotController(store, settings, hosts=self.hosts)
        self.restore_queue = WorkQueue[Key]("vmrestore")
        self.restore_controller = RestoreController(store, settings)
        self.namespace_queue = WorkQueue[Key]("namespace")
        self.namespace_controller = NamespaceController(store)
        self.pvc_queue = WorkQueue[Key]("persistentvolumeclaim")
        self.dv_queue = WorkQueue[Key]("datavolume")
        self._workers = max(1, int(settings.reconcile_workers if workers is None else workers))
        self._resync_seconds = resync_seconds
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._started = False

    # ------------------------------------------------------------------ events → queues
    def _on_store_event(self, event_type: str, kind: kinds.Kind, obj: Object) -> None:
        if self._stop.is_set():
            return
        m = obj.get("metadata") or {}
        key = (m.get("namespace") or "", m.get("name") or "")
        if kind is kinds.VM:
            self.vm_queue.add(key)
        elif kind is kinds.VMI:
            self.vmi_queue.add(key)
            self.vm_queue.add(key)          # the VM of a VMI has the VMI's name
        elif kind is kinds.VMIM:
            self.vmim_queue.add(key)
        elif kind is kinds.VMSNAPSHOT:
            self.snapshot_queue.add(key)
        elif kind is kinds.VMRESTORE:
            self.restore_queue.add(key)
        elif kind is kinds.NAMESPACE:
            self.namespace_queue.add(key)
        elif kind is kinds.PVC:
            self.pvc_queue.add(key)
            self.dv_queue.add(key)          # a DataVolume's claim has its name
        elif kind is kinds.DATAVOLUME:
            self.dv_queue.add(key)
        elif kind is kinds.SECRET or kind is kinds.CONFIGMAP:
            # a VMI waiting for this Secret/ConfigMap starts now (docs/standalone.md#secrets-and-configmaps-in-vms)
            vmis, _ = self.store.list(kinds.VMI, key[0])
            for name in configsources.referencing(vmis, kind.kind, key[1]):
                self.vmi_queue.add((key[0], name))

    def _on_domain_event(self, ev: DomainEvent) -> None:
        if self._stop.is_set():
            return
        self.facts.record(ev.domain, ev.event, ev.detail)
        parts = split_domain_name(ev.domain)
        if parts:
            self.vmi_queue.add(parts)

    def enqueue(self, kind: str, namespace: str, name: str) -> None:
        """Ask for a reconcile now (API actions use it to make status follow promptly)."""
        key = (namespace, name)
        if kind in ("vmi", kinds.VMI.kind, kinds.VMI.plural):
            self.vmi_queue.add(key)
        self.vm_queue.add(key)

    # ------------------------------------------------------------------ workers
    def _work(self, queue: WorkQueue[Key], reconcile: Callable[[tuple[str, str]], None]) -> None:
        while not self._stop.is_set():
            key = queue.get()
            if key is None:
                return
            try:
                reconcile(key)
                queue.forget(key)
            except Requeue as r:
                queue.forget(key)
                queue.add_after(key, r.delay)
            except Exception as e:
                if self._stop.is_set():
                    queue.done(key)
                    return
                delay = queue.add_rate_limited(key)
                if queue is self.vmi_queue:
                    try:
                        self.vmi_controller.report_error(key, e)
                    except Exception as report_failed:      # the store is going away: the log has it
                        log.debug("reporting %s failed: %s", key, report_failed)
                log.warning("%s %s/%s: %s (retry in %.2fs)", queue.name, key[0], key[1], e, delay,
                            exc_info=log.isEnabledFor(logging.DEBUG))
            finally:
                queue.done(key)

    def resync(self) -> None:
        """Enqueue every VM, every VMI and every domain we own: re-adoption, orphans, drift."""
        for kind, queue in self._kind_queues():
            items, _ = self.store.list(kind)
            for obj in items:
                m = obj.get("metadata") or {}
                queue.add((m.get("namespace") or "", m["name"]))
        for host in self.hosts:
            try:
                domains = host.list_domains()
            except Exception as e:
                log.warning("listing domains on %s failed: %s", host.node_name, e)
                continue
            for dom in domains:
                parts = split_domain_name(dom)
                if parts:
                    self.vmi_queue.add(parts)

    def _kind_queues(self) -> tuple[tuple[kinds.Kind, WorkQueue[Key]], ...]:
        return ((kinds.VM, self.vm_queue), (kinds.VMI, self.vmi_queue), (kinds.VMIM, self.vmim_queue),
                (kinds.VMSNAPSHOT, self.snapshot_queue), (kinds.VMRESTORE, self.restore_queue),
                (kinds.NAMESPACE, self.namespace_queue), (kinds.PVC, self.pvc_queue),
                (kinds.DATAVOLUME, self.dv_queue))

    def _resync_loop(self) -> None:
        while not self._stop.wait(self._resync_seconds):
            try:
                self.resync()
                events.expire(self.store, self.settings.event_ttl)
            except Exception as e:
                log.warning("periodic resync failed: %s", e)

    def start(self) -> Manager:
        if self._started:
            return self
        self._started = True
        ensure_system_namespaces(self.store)
        self.store.subscribe(self._on_store_event)
        for host in self.hosts:
            host.on_event(self._on_domain_event)
        self.resync()
        for queue, fn, workers in ((self.vm_queue, self.vm_controller.reconcile, self._workers),
                                   (self.vmi_queue, self.vmi_controller.reconcile, self._workers),
                                   (self.vmim_queue, self.migration_controller.reconcile, 1),
                                   (self.snapshot_queue, self.snapshot_controller.reconcile, 1),
                                   (self.restore_queue, self.restore_controller.reconcile, 1),
                                   (self.namespace_queue, self.namespace_controller.reconcile, 1),
                                   (self.pvc_queue, self.volume_controller.reconcile_pvc, 1),
                                   (self.dv_queue, self.volume_controller.reconcile_dv, self._workers)):
            for i in range(workers):
                t = threading.Thread(target=self._work, args=(queue, fn), name=f"reconcile-{queue.name}-{i}",
                                     daemon=True)
                t.start()
                self._threads.append(t)
        t = threading.Thread(target=self._resync_loop, name="reconcile-resync", daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def idle(self) -> bool:
        return all(queue.idle() for _, queue in self._kind_queues())

    def wait_idle(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.idle():
                return True
            time.sleep(0.01)
        return False

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for _, queue in self._kind_queues():
            queue.shutdown()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))


def start(store: Store, settings: Settings, hosts: Sequence[Hypervisor], *,
          prepare_volumes: PrepareVolumes | None = None, resync_seconds: float = RESYNC_SECONDS) -> Manager:
    """Build the controllers over ``hosts`` (the caller keeps owning them) and start them."""
    return Manager(store, settings, hosts, prepare_volumes=prepare_volumes, resync_seconds=resync_seconds).start()
