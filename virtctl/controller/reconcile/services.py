"""Service publishing: a NodePort or LoadBalancer Service whose selector matches a running VMI
publishes each of its ports on ``127.0.0.1:<nodePort>`` to the guest's target port, through the
same loopback host forwards as port-forward (:mod:`virtctl.controller.virt.hostfwd`). ClusterIP
Services are only stored (docs/standalone.md, "Services").

Keyed by Service; a Service is looked at when it changes and when a VMI of its namespace does
(a VMI starting, stopping, relabelled). A node port serves one guest: when several running VMIs
match, the oldest one gets it (kube-proxy would balance between them; one loopback forward cannot).
A node port that is taken on 127.0.0.1 by another program is a Warning event on the Service
(reason ``PortNotAvailable``) and is tried again. The forwards live in the guest's QEMU, so they
go with the guest; a controller that restarts finds the ones it had added and keeps them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from virtctl.controller.reconcile.events import Recorder
from virtctl.controller.reconcile.loop import KeyedLoop
from virtctl.controller.reconcile.vmi import Requeue
from virtctl.controller.store.protocol import Object, Store
from virtctl.controller.virt import hostfwd
from virtctl.controller.virt.domain import parse_live
from virtctl.controller.virt.hypervisor import DomainState, Hypervisor, domain_name
from virtctl.errors import InternalError, NotFound, VirtctlError
from virtctl.model import kinds
from virtctl.model import services as svcmodel
from virtctl.model import status as st

log = logging.getLogger(__name__)

COMPONENT = "kube-proxy"
RETRY_SECONDS = 5.0
RECHECK_SECONDS = 30.0          # a published Service is looked at again (a guest restarted in place)
Key = tuple[str, str]           # (namespace, service name)
Slot = tuple[str, int]          # (protocol, node port)


@dataclass(frozen=True)
class Installed:
    host: Hypervisor
    domain: str
    netdev: str
    forward: hostfwd.Forward
    vmi_uid: str


def _meta(obj: Object) -> dict:
    return obj.get("metadata") or {}


def _running(vmi: Object) -> bool:
    return st.phase(vmi) == st.RUNNING and not _meta(vmi).get("deletionTimestamp")


class ServicePublisher:
    def __init__(self, store: Store, hosts: Sequence[Hypervisor], recorder: Recorder | None = None):
        self.store = store
        self.hosts = list(hosts)
        self.events = recorder or Recorder(store, COMPONENT)
        self.loop: KeyedLoop[Key] = KeyedLoop("service", self.reconcile)
        self._lock = threading.Lock()
        self._published: dict[Key, dict[Slot, Installed]] = {}

    # ------------------------------------------------------------------ wiring
    def start(self) -> None:
        self.store.subscribe(self.on_store_event)
        for svc in self.store.list(kinds.SERVICE)[0]:
            self.loop.add((_meta(svc).get("namespace") or "", _meta(svc).get("name") or ""))
        self.loop.start()

    def stop(self) -> None:
        self.loop.stop()

    def on_store_event(self, event_type: str, kind: kinds.Kind, obj: Object) -> None:
        m = _meta(obj)
        ns = m.get("namespace") or ""
        if kind is kinds.SERVICE:
            self.loop.add((ns, m.get("name") or ""))
        elif kind is kinds.VMI:
            for key in self._keys_in(ns):
                self.loop.add(key)

    def _keys_in(self, ns: str) -> set[Key]:
        keys = {(ns, _meta(s).get("name") or "") for s in self.store.list(kinds.SERVICE, ns)[0]
                if (s.get("spec") or {}).get("type") in svcmodel.PUBLISHED_TYPES}
        with self._lock:
            keys.update(k for k in self._published if k[0] == ns)
        return keys

    # ------------------------------------------------------------------ reconcile
    def reconcile(self, key: Key) -> None:
        ns, name = key
        try:
            svc: Object | None = self.store.get(kinds.SERVICE, ns, name)
        except NotFound:
            svc = None
        desired = self._desired(ns, svc) if svc is not None else {}
        with self._lock:
            current = dict(self._published.get(key, {}))
        for slot, inst in list(current.items()):
            want = desired.get(slot)
            if want is None or want[0] != inst.vmi_uid or want[1].guest_port != inst.forward.guest_port \
                    or not self._alive(inst):
                hostfwd.forwards_of(inst.host).remove(inst.domain, inst.netdev, inst.forward)
                del current[slot]
                log.info("service %s/%s: unpublished 127.0.0.1:%d/%s", ns, name, slot[1], slot[0])
        failed = []
        for slot, (uid, pub, vmi) in desired.items():
            if slot in current:
                continue
            try:
                current[slot] = self._install(vmi, uid, pub)
                log.info("service %s/%s: published 127.0.0.1:%d/%s to %s port %d", ns, name, pub.node_port,
                         pub.protocol, _meta(vmi).get("name"), pub.guest_port)
            except InternalError as e:
                failed.append(pub)
                if svc is not None:
                    self.events.warning(svc, "PortNotAvailable",
                                        f"cannot publish node port {pub.node_port}/{pub.protocol.upper()} on "
                                        f"127.0.0.1 for {_meta(vmi).get('name')}: {e}")
            except VirtctlError as e:           # the guest stopped meanwhile: its VMI's change requeues
                log.info("service %s/%s: %s", ns, name, e)
        with self._lock:
            if current:
                self._published[key] = current
            else:
                self._published.pop(key, None)
        if failed:
            raise Requeue(RETRY_SECONDS)
        if current:
            self.loop.add_after(key, RECHECK_SECONDS)

    def _desired(self, ns: str, svc: Object) -> dict[Slot, tuple[str, svcmodel.Publication, Object]]:
        spec = svc.get("spec") or {}
        if spec.get("type") not in svcmodel.PUBLISHED_TYPES or not spec.get("selector"):
            return {}
        vmis = [v for v in self.store.list(kinds.VMI, ns)[0] if _running(v)]
        vmis.sort(key=lambda v: (str(_meta(v).get("creationTimestamp") or ""), str(_meta(v).get("name") or "")))
        out: dict[Slot, tuple[str, svcmodel.Publication, Object]] = {}
        for vmi in vmis:
            if not svcmodel.selects(spec.get("selector"), svcmodel.launcher_labels(vmi)):
                continue
            for pub in svcmodel.publications(svc, vmi):
                out.setdefault((pub.protocol, pub.node_port), (str(_meta(vmi).get("uid") or ""), pub, vmi))
        return out

    def _host(self, vmi: Object) -> Hypervisor | None:
        node = (vmi.get("status") or {}).get("nodeName")
        return next((h for h in self.hosts if h.node_name == node), None)

    def _alive(self, inst: Installed) -> bool:
        ds = inst.host.status(inst.domain)
        return ds.state in (DomainState.RUNNING, DomainState.PAUSED) and (not ds.vmi_uid or ds.vmi_uid == inst.vmi_uid)

    def _install(self, vmi: Object, uid: str, pub: svcmodel.Publication) -> Installed:
        host = self._host(vmi)
        if host is None:
            raise VirtctlError(f"VMI {_meta(vmi).get('name')} runs on no known node")
        dom = domain_name(_meta(vmi).get("namespace") or "", _meta(vmi).get("name") or "")
        nics = parse_live(host.domain_xml(dom)).nics
        if not nics or not nics[0][0]:
            raise VirtctlError(f"VMI {_meta(vmi).get('name')} has no network interface to publish to")
        netdev = hostfwd.netdev_id(nics[0][0])
        fw = hostfwd.forwards_of(host)
        wanted = hostfwd.Forward(pub.protocol, pub.node_port, pub.guest_port)
        if wanted in fw.list(dom):              # added before a controller restart
            return Installed(host, dom, netdev, wanted, uid)
        return Installed(host, dom, netdev, fw.add(dom, netdev, pub.protocol, pub.guest_port,
                                                  host_port=pub.node_port), uid)
