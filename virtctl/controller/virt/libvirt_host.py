"""The :class:`~virtctl.controller.virt.hypervisor.Hypervisor` protocol on libvirt-python.

One connection per host, served by libvirt's default event loop (registered once per process,
before any ``libvirt.open``; a daemon thread runs it). Lifecycle and reboot events become
:class:`DomainEvent` callbacks. The connection has a keep-alive and is reopened when it drops.

A host with an ``owner_id`` (the controller's id) sees only the domains of that controller: it
names them :func:`~virtctl.controller.virt.hypervisor.libvirt_domain_name` on libvirt and by their
``<namespace>_<name>`` everywhere else, lists only those whose metadata carries its id, and drops
the events of every other domain on the libvirtd, so nothing above it (consoles, VNC, reaping,
reconciling) can touch another controller's or a user's domain. Domains started before names were
tagged (plain ``<namespace>_<name>``, our id in their metadata) are adopted under their old name.
"""

from __future__ import annotations

import logging
import struct
import threading
import time
import uuid as uuidlib
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Callable
from typing import Any

import libvirt

from virtctl.controller.virt import host as hostinfo
from virtctl.controller.virt.console import SerialConsole
from virtctl.controller.virt.domain import METADATA_NS, owner_from_metadata, parse_live, parse_owner
from virtctl.controller.virt.hypervisor import (
    BackupReport,
    DomainEvent,
    DomainState,
    DomainStatus,
    libvirt_domain_name,
    owner_tag,
)
from virtctl.errors import InternalError, NotFound, VirtctlError

log = logging.getLogger(__name__)

_loop_lock = threading.Lock()
_loop_started = False


def ensure_event_loop() -> None:
    """Register libvirt's default event loop and run it on a daemon thread (once per process)."""
    global _loop_started
    with _loop_lock:
        if _loop_started:
            return
        libvirt.virEventRegisterDefaultImpl()

        def run() -> None:
            while True:
                try:
                    libvirt.virEventRunDefaultImpl()
                except Exception:            # keep serving other connections
                    log.exception("libvirt event loop iteration failed")

        threading.Thread(target=run, name="libvirt-event-loop", daemon=True).start()
        _loop_started = True


# libvirt's silence on errors it already reports to us as exceptions
libvirt.registerErrorHandler(lambda _ctx, _err: None, None)

_EVENTS = {
    libvirt.VIR_DOMAIN_EVENT_DEFINED: ("defined", {0: "added", 1: "updated", 2: "renamed", 3: "from-snapshot"}),
    libvirt.VIR_DOMAIN_EVENT_UNDEFINED: ("undefined", {0: "removed", 1: "renamed"}),
    libvirt.VIR_DOMAIN_EVENT_STARTED: ("started", {0: "booted", 1: "migrated", 2: "restored",
                                                   3: "from-snapshot", 4: "wakeup"}),
    libvirt.VIR_DOMAIN_EVENT_SUSPENDED: ("suspended", {0: "paused", 1: "migrated", 2: "ioerror",
                                                       3: "watchdog", 4: "restored", 5: "from-snapshot",
                                                       6: "api-error", 7: "postcopy", 8: "postcopy-failed"}),
    libvirt.VIR_DOMAIN_EVENT_RESUMED: ("resumed", {0: "unpaused", 1: "migrated", 2: "from-snapshot",
                                                   3: "postcopy", 4: "postcopy-failed"}),
    libvirt.VIR_DOMAIN_EVENT_STOPPED: ("stopped", {0: "shutdown", 1: "destroyed", 2: "crashed",
                                                   3: "migrated", 4: "saved", 5: "failed", 6: "from-snapshot"}),
    libvirt.VIR_DOMAIN_EVENT_SHUTDOWN: ("shutdown", {0: "finished", 1: "guest", 2: "host"}),
    libvirt.VIR_DOMAIN_EVENT_PMSUSPENDED: ("pmsuspended", {0: "memory", 1: "disk"}),
    libvirt.VIR_DOMAIN_EVENT_CRASHED: ("crashed", {0: "panicked", 1: "crashloaded"}),
}

_SHUTOFF_REASONS = {
    libvirt.VIR_DOMAIN_SHUTOFF_UNKNOWN: "unknown", libvirt.VIR_DOMAIN_SHUTOFF_SHUTDOWN: "shutdown",
    libvirt.VIR_DOMAIN_SHUTOFF_DESTROYED: "destroyed", libvirt.VIR_DOMAIN_SHUTOFF_CRASHED: "crashed",
    libvirt.VIR_DOMAIN_SHUTOFF_MIGRATED: "migrated", libvirt.VIR_DOMAIN_SHUTOFF_SAVED: "saved",
    libvirt.VIR_DOMAIN_SHUTOFF_FAILED: "failed", libvirt.VIR_DOMAIN_SHUTOFF_FROM_SNAPSHOT: "from-snapshot",
    libvirt.VIR_DOMAIN_SHUTOFF_DAEMON: "daemon",
}
_PAUSED_REASONS = {
    libvirt.VIR_DOMAIN_PAUSED_USER: "user", libvirt.VIR_DOMAIN_PAUSED_MIGRATION: "migration",
    libvirt.VIR_DOMAIN_PAUSED_SAVE: "save", libvirt.VIR_DOMAIN_PAUSED_DUMP: "dump",
    libvirt.VIR_DOMAIN_PAUSED_IOERROR: "ioerror", libvirt.VIR_DOMAIN_PAUSED_WATCHDOG: "watchdog",
    libvirt.VIR_DOMAIN_PAUSED_FROM_SNAPSHOT: "from-snapshot", libvirt.VIR_DOMAIN_PAUSED_SHUTTING_DOWN: "shutting-down",
    libvirt.VIR_DOMAIN_PAUSED_SNAPSHOT: "snapshot", libvirt.VIR_DOMAIN_PAUSED_CRASHED: "crashed",
    libvirt.VIR_DOMAIN_PAUSED_STARTING_UP: "starting-up", libvirt.VIR_DOMAIN_PAUSED_POSTCOPY: "postcopy",
}
_RUNNING_REASONS = {
    libvirt.VIR_DOMAIN_RUNNING_BOOTED: "booted", libvirt.VIR_DOMAIN_RUNNING_MIGRATED: "migrated",
    libvirt.VIR_DOMAIN_RUNNING_RESTORED: "restored", libvirt.VIR_DOMAIN_RUNNING_FROM_SNAPSHOT: "from-snapshot",
    libvirt.VIR_DOMAIN_RUNNING_UNPAUSED: "unpaused",
    libvirt.VIR_DOMAIN_RUNNING_MIGRATION_CANCELED: "migration-canceled",
    libvirt.VIR_DOMAIN_RUNNING_SAVE_CANCELED: "save-canceled", libvirt.VIR_DOMAIN_RUNNING_WAKEUP: "wakeup",
    libvirt.VIR_DOMAIN_RUNNING_CRASHED: "crashed",
}
_GONE = (libvirt.VIR_ERR_NO_DOMAIN,)
_MAX_REMEMBERED = 4096
_NOT_RUNNING = (libvirt.VIR_ERR_OPERATION_INVALID,)


def status_from_state(state: int, reason: int, vmi_uid: str = "") -> DomainStatus:
    """libvirt's ``(state, reason)`` pair as a :class:`DomainStatus`."""
    if state in (libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_BLOCKED):
        return DomainStatus(DomainState.RUNNING, _RUNNING_REASONS.get(reason, ""), vmi_uid)
    if state == libvirt.VIR_DOMAIN_PMSUSPENDED:
        return DomainStatus(DomainState.PAUSED, "pmsuspended", vmi_uid)
    if state == libvirt.VIR_DOMAIN_PAUSED:
        return DomainStatus(DomainState.PAUSED, _PAUSED_REASONS.get(reason, ""), vmi_uid)
    if state == libvirt.VIR_DOMAIN_SHUTDOWN:
        return DomainStatus(DomainState.SHUTTING_DOWN, "", vmi_uid)
    if state == libvirt.VIR_DOMAIN_SHUTOFF:
        return DomainStatus(DomainState.SHUTOFF, _SHUTOFF_REASONS.get(reason, "unknown"), vmi_uid)
    if state == libvirt.VIR_DOMAIN_CRASHED:
        return DomainStatus(DomainState.CRASHED, "crashed", vmi_uid)
    return DomainStatus(DomainState.MISSING, "unknown-state", vmi_uid)


def _fail(action: str, domain: str, err: libvirt.libvirtError) -> Exception:
    if err.get_error_code() in _GONE:
        return NotFound(f"domain {domain!r} not found")
    return InternalError(f"{action} {domain}: {err.get_error_message() or err}")


def _alive(conn: libvirt.virConnect | None) -> bool:
    try:
        return conn is not None and bool(conn.isAlive())
    except libvirt.libvirtError:
        return False


class LibvirtHost:
    """One libvirt host ("node"): ``LibvirtHost("qemu:///system", "node01")``.

    With ``owner_id`` (the controller's identity), the domains it starts are stamped with it and
    only domains carrying it count as ours: several controllers (a user's, a test run's) can share
    one libvirtd without adopting or reaping each other's domains.
    """

    def __init__(self, uri: str, node_name: str, *, owner_id: str = "", keepalive_interval: int = 5,
                 keepalive_count: int = 3):
        ensure_event_loop()
        self.uri = uri
        self.node_name = node_name
        self.owner_id = owner_id
        self._keepalive = (keepalive_interval, keepalive_count)
        self._lock = threading.RLock()
        self._callbacks: list[Callable[[DomainEvent], None]] = []
        self._callback_ids: list[int] = []
        self._conn: libvirt.virConnect | None = None
        self._streams_conn: libvirt.virConnect | None = None
        self._closed = False
        self._host_info: hostinfo.HostInfo | None = None
        # transient domains vanish when they stop: remember why (from the STOPPED event) and whose
        self._stopped: dict[str, str] = {}
        self._uids: dict[str, str] = {}
        self._suffix = f"_{owner_tag(owner_id)}" if owner_id else ""
        self._legacy: set[str] = set()          # ours, started under the untagged name (before an upgrade)
        try:
            self._connect()
        except InternalError as e:
            # the API keeps serving while libvirtd is down; every use retries the connection and
            # the controllers' queues back off until it answers
            log.warning("%s; retrying on next use", e)

    # --- connection ---
    def _open(self) -> libvirt.virConnect:
        try:
            conn = libvirt.open(self.uri)
        except libvirt.libvirtError as e:
            raise InternalError(f"cannot connect to libvirt at {self.uri}: {e.get_error_message() or e}") from None
        try:
            conn.setKeepAlive(*self._keepalive)
        except libvirt.libvirtError:
            pass                               # the test driver has no keep-alive (nothing to lose)
        return conn

    def _connect(self) -> libvirt.virConnect:
        conn = self._open()
        try:
            conn.registerCloseCallback(self._on_close, None)
        except libvirt.libvirtError:
            pass
        self._callback_ids = [
            conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._on_lifecycle, None),
            conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_REBOOT, self._on_reboot, None),
            conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED, self._on_device_removed,
                                        None),
            conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_AGENT_LIFECYCLE, self._on_agent, None),
        ]
        self._conn = conn
        return conn

    def _on_close(self, _conn: Any, reason: int, _opaque: Any) -> None:
        log.warning("libvirt connection to %s closed (reason %s); reconnecting on next use", self.uri, reason)
        with self._lock:
            self._conn = None

    def _check_open(self) -> None:
        if self._closed:
            raise InternalError(f"libvirt host {self.node_name} is closed")

    def conn(self) -> libvirt.virConnect:
        """The live connection (with our event callbacks), reopened if it dropped."""
        with self._lock:
            self._check_open()
            if _alive(self._conn):
                return self._conn
            return self._connect()

    def _stream_conn(self) -> libvirt.virConnect:
        """A second connection for console streams only: a busy or failing stream then never
        holds up the control calls (status, metadata, start/stop) that share the RPC socket."""
        with self._lock:
            self._check_open()
            if not _alive(self._streams_conn):
                self._streams_conn = self._open()
            return self._streams_conn

    def close(self) -> None:
        with self._lock:
            self._closed = True
            conn, self._conn = self._conn, None
            streams, self._streams_conn = self._streams_conn, None
        if streams is not None:
            try:
                streams.close()
            except libvirt.libvirtError:
                pass
        if conn is not None:
            for cid in self._callback_ids:
                try:
                    conn.domainEventDeregisterAny(cid)
                except libvirt.libvirtError:
                    pass
            try:
                conn.unregisterCloseCallback()
            except libvirt.libvirtError:
                pass
            try:
                conn.close()
            except libvirt.libvirtError:
                pass

    # --- events ---
    def on_event(self, callback: Callable[[DomainEvent], None]) -> None:
        with self._lock:
            self._callbacks.append(callback)

    def _emit(self, event: DomainEvent) -> None:
        for cb in list(self._callbacks):
            try:
                cb(event)
            except Exception:
                log.exception("domain event callback failed for %s", event)

    def _on_lifecycle(self, _conn: Any, dom: Any, event: int, detail: int, _opaque: Any) -> None:
        domain = self.domain_of(dom.name())
        if domain is None:
            return                             # another controller's or a user's domain: not ours to see
        name, details = _EVENTS.get(event, (f"event-{event}", {}))
        detail_name = details.get(detail, str(detail))
        if event == libvirt.VIR_DOMAIN_EVENT_STOPPED:
            with self._lock:
                self._stopped[domain] = detail_name
                while len(self._stopped) > _MAX_REMEMBERED:
                    self._stopped.pop(next(iter(self._stopped)))
        self._emit(DomainEvent(domain, name, detail_name))

    def _on_reboot(self, _conn: Any, dom: Any, _opaque: Any) -> None:
        domain = self.domain_of(dom.name())
        if domain is not None:
            self._emit(DomainEvent(domain, "reboot", ""))

    def _on_device_removed(self, _conn: Any, dom: Any, alias: str, _opaque: Any) -> None:
        domain = self.domain_of(dom.name())
        if domain is not None:
            self._emit(DomainEvent(domain, "device-removed", alias))

    def _on_agent(self, _conn: Any, dom: Any, state: int, _reason: int, _opaque: Any) -> None:
        domain = self.domain_of(dom.name())
        if domain is not None:
            connected = state == libvirt.VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_STATE_CONNECTED
            self._emit(DomainEvent(domain, "agent", "connected" if connected else "disconnected"))

    # --- names ---
    def libvirt_name(self, domain: str) -> str:
        """What libvirt calls our domain ``domain`` (``<namespace>_<name>``)."""
        with self._lock:
            if domain in self._legacy:
                return domain
        return libvirt_domain_name(domain, self.owner_id)

    def domain_of(self, libvirt_name: str) -> str | None:
        """Our name for the libvirt domain ``libvirt_name``; None when it is not one of ours.
        Decided by the name alone (events arrive on libvirt's event thread: no calls there)."""
        if not self._suffix:
            return libvirt_name
        if libvirt_name.endswith(self._suffix) and libvirt_name.count("_") == 2:
            return libvirt_name[:-len(self._suffix)]
        with self._lock:
            return libvirt_name if libvirt_name in self._legacy else None

    def _adopt_legacy(self, dom: libvirt.virDomain) -> bool:
        """An untagged domain whose metadata names this controller: adopt it under that name."""
        name = dom.name()
        if not self._suffix or name.count("_") != 1 or self._owner_uid(dom) is None:
            return False
        with self._lock:
            self._legacy.add(name)
        return True

    # --- host ---
    def host_info(self) -> hostinfo.HostInfo:
        if self._host_info is None:
            conn = self.conn()
            self._host_info = hostinfo.detect(conn.getCapabilities(), uri=self.uri,
                                              libvirt_version=conn.getLibVersion())
        return self._host_info

    def capabilities(self) -> dict:
        info = self.host_info()
        return {"domain_type": info.domain_type, "arch": info.arch, "machine": info.default_machine,
                "machines": list(info.machines), "efi": info.efi is not None}

    # --- domains ---
    def _lookup(self, domain: str) -> libvirt.virDomain:
        try:
            return self._find(domain)
        except libvirt.libvirtError as e:
            raise _fail("lookup", domain, e) from None

    def _find(self, domain: str, conn: libvirt.virConnect | None = None) -> libvirt.virDomain:
        """Our domain ``domain`` (libvirt's lookup error when there is none): under its tagged name,
        else under the old untagged one if its metadata says it is ours (it arrived by migration)."""
        conn = conn or self.conn()
        try:
            return conn.lookupByName(self.libvirt_name(domain))
        except libvirt.libvirtError as e:
            if not self._suffix or e.get_error_code() not in _GONE or domain in self._legacy:
                raise
            try:
                dom = conn.lookupByName(domain)
            except libvirt.libvirtError:
                raise e from None
            if not self._adopt_legacy(dom):
                raise e from None
            return dom

    def _owner_uid(self, dom: libvirt.virDomain) -> str | None:
        """The VMI uid from our metadata; None when the domain is not ours."""
        try:
            xml = dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, METADATA_NS)
        except libvirt.libvirtError:
            return None
        owner = owner_from_metadata(xml)
        if owner is None or (self.owner_id and owner.controller != self.owner_id):
            return None
        return owner.uid

    def _stamp_owner(self, root: ET.Element, domain: str) -> str:
        """The XML of our domain ``domain`` with this controller's identity in its owner metadata
        and its (libvirt) name."""
        name = root.find("name")
        if name is not None:
            name.text = libvirt_domain_name(domain, self.owner_id)
        vmi = root.find(f"metadata/{{{METADATA_NS}}}vmi")
        if vmi is not None and self.owner_id:
            el = vmi.find(f"{{{METADATA_NS}}}controller")
            if el is None:
                el = ET.SubElement(vmi, f"{{{METADATA_NS}}}controller")
            el.text = self.owner_id
        return ET.tostring(root, encoding="unicode")

    def _unique_uuid(self, root: ET.Element) -> bool:
        """When another domain on this libvirtd (another controller's VMI of the same namespace and
        name) holds our UUID, take one derived from it and our id, in ``<uuid>`` and in the SMBIOS
        entry that libvirt requires to match it (True). Otherwise the UUID stays what the VMI asked
        for (False)."""
        el = root.find("uuid")
        if not self._suffix or el is None or not el.text:
            return False
        try:
            other = self.conn().lookupByUUIDString(el.text)
        except libvirt.libvirtError:
            return False                           # free (or unknown: createXML will say)
        if self.domain_of(other.name()) is not None:
            return False                           # our own: createXML reports it
        new = str(uuidlib.uuid5(uuidlib.UUID(el.text), self.owner_id))
        for entry in root.iterfind("sysinfo/system/entry[@name='uuid']"):
            entry.text = new
        el.text = new
        return True

    def list_domains(self) -> dict[str, DomainStatus]:
        out: dict[str, DomainStatus] = {}
        for dom in self.conn().listAllDomains(0):
            try:
                domain = self.domain_of(dom.name())
                if domain is None:
                    if not self._adopt_legacy(dom):
                        continue                   # another controller's or a user's: not even its metadata
                    domain = dom.name()
                uid = self._owner_uid(dom)
                if uid is None:
                    continue
                state, reason = dom.state()
                out[domain] = status_from_state(state, reason, uid)
            except libvirt.libvirtError as e:
                if e.get_error_code() not in _GONE:
                    raise _fail("list", dom.name(), e) from None
        return out

    def status(self, domain: str) -> DomainStatus:
        try:
            dom = self._find(domain)
            state, reason = dom.state()
            uid = self._owner_uid(dom) or ""
        except libvirt.libvirtError as e:
            if e.get_error_code() in _GONE:
                with self._lock:
                    reason = self._stopped.get(domain)
                    uid = self._uids.get(domain, "")
                if reason is not None:
                    return DomainStatus(DomainState.SHUTOFF, reason, uid)
                return DomainStatus(DomainState.MISSING)
            raise _fail("status", domain, e) from None
        return status_from_state(state, reason, uid)

    def start(self, domain_xml: str, paused: bool = False) -> None:
        root = ET.fromstring(domain_xml)
        name = root.findtext("name", "?")
        owner = parse_owner(root)
        with self._lock:
            self._legacy.discard(name)             # a fresh start always gets the tagged name
        self._unique_uuid(root)
        with self._lock:
            self._stopped.pop(name, None)
            self._uids[name] = owner.uid if owner else ""
            while len(self._uids) > _MAX_REMEMBERED:
                self._uids.pop(next(iter(self._uids)))
        try:
            self._create(self._stamp_owner(root, name), paused)
        except libvirt.libvirtError as e:
            if not self._unique_uuid(root):
                raise _fail("start", name, e) from None
            # another controller's VMI of the same namespace and name took the UUID meanwhile
            try:
                self._create(self._stamp_owner(root, name), paused)
            except libvirt.libvirtError as e2:
                raise _fail("start", name, e2) from None

    def _create(self, domain_xml: str, paused: bool) -> None:
        try:
            self.conn().createXML(domain_xml, libvirt.VIR_DOMAIN_START_PAUSED if paused else 0)
        except libvirt.libvirtError as e:
            if not (paused and e.get_error_code() == libvirt.VIR_ERR_INVALID_ARG):
                raise
            # the test driver has no START_PAUSED: start, then pause at once
            self.conn().createXML(domain_xml, 0).suspend()

    def _call(self, action: str, domain: str, fn: Callable[[libvirt.virDomain], Any]) -> Any:
        dom = self._lookup(domain)
        try:
            return fn(dom)
        except libvirt.libvirtError as e:
            raise _fail(action, domain, e) from None

    def shutdown(self, domain: str) -> None:
        """The ACPI power button, as KubeVirt's graceful stop (never the guest agent, which
        libvirt would pick by itself when one is connected)."""
        def press(d: libvirt.virDomain) -> None:
            try:
                d.shutdownFlags(libvirt.VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN)
            except libvirt.libvirtError as e:
                if e.get_error_code() not in (libvirt.VIR_ERR_INVALID_ARG, libvirt.VIR_ERR_NO_SUPPORT):
                    raise
                d.shutdown()                       # a driver without flags (test)

        self._call("shutdown", domain, press)

    def destroy(self, domain: str) -> None:
        try:
            self._find(domain).destroy()
        except libvirt.libvirtError as e:
            if e.get_error_code() not in _GONE + _NOT_RUNNING:
                raise _fail("destroy", domain, e) from None

    def suspend(self, domain: str) -> None:
        self._call("suspend", domain, lambda d: d.suspend())

    def resume(self, domain: str) -> None:
        self._call("resume", domain, lambda d: d.resume())

    def reboot(self, domain: str) -> None:
        """Soft reboot as KubeVirt does it: through the guest agent when one answers, else ACPI."""
        dom = self._lookup(domain)
        try:
            dom.reboot(libvirt.VIR_DOMAIN_REBOOT_GUEST_AGENT)
            return
        except libvirt.libvirtError as e:
            if e.get_error_code() in _GONE:
                raise _fail("reboot", domain, e) from None
        self._call("reboot", domain, lambda d: d.reboot(0))

    def reset(self, domain: str) -> None:
        self._call("reset", domain, lambda d: d.reset(0))

    def domain_xml(self, domain: str) -> str:
        return self._call("dumpxml", domain, lambda d: d.XMLDesc(0))

    # --- online backup (snapshots of a running VM) ---
    def backup_disks(self, domain: str, targets: dict[str, str], *, quiesce: bool,
                     timeout: float = 3600.0) -> BackupReport:
        """Copy the disks ``targets`` (guest target → new qcow2 file) of the running domain as
        they are at one instant, without pausing the guest: libvirt's push-mode backup
        (``virDomainBackupBegin``; QEMU copies before-write, so the guest keeps writing). With
        ``quiesce`` the guest's filesystems are frozen through its agent just around the start of
        the job; a freeze that fails is reported, not fatal (crash-consistent copy)."""
        from virtctl.controller.virt.domain import backup_xml

        dom = self._lookup(domain)
        live = {d.target for d in parse_live(dom.XMLDesc(0)).disks}
        missing = sorted(set(targets) - live)
        if missing:
            raise VirtctlError(f"disks {', '.join(missing)} are not in domain {domain}")
        started = time.monotonic()
        frozen, freeze_error, freeze_seconds = False, "", 0.0
        if quiesce:
            try:
                dom.fsFreeze(None, 0)
                frozen = True
            except libvirt.libvirtError as e:
                freeze_error = e.get_error_message() or str(e)
        try:
            dom.backupBegin(backup_xml(targets, sorted(live)), None, 0)
        except libvirt.libvirtError as e:
            raise _fail("backup of", domain, e) from None
        finally:
            if frozen:
                try:
                    dom.fsThaw(None, 0)
                except libvirt.libvirtError as e:
                    log.warning("thawing the filesystems of %s failed: %s", domain, e)
                freeze_seconds = time.monotonic() - started
        deadline = time.monotonic() + timeout
        while True:
            try:
                active = dom.jobStats(0).get("type", libvirt.VIR_DOMAIN_JOB_NONE)
            except libvirt.libvirtError as e:
                raise _fail("backup of", domain, e) from None
            if active == libvirt.VIR_DOMAIN_JOB_NONE:
                break
            if time.monotonic() > deadline:
                self._call("abort backup of", domain, lambda d: d.abortJob())
                raise VirtctlError(f"backup of {domain} did not finish in {timeout:.0f}s")
            time.sleep(0.05)
        done = self._call("backup of", domain, lambda d: d.jobStats(libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED))
        if done.get("type") != libvirt.VIR_DOMAIN_JOB_COMPLETED:
            raise VirtctlError(f"backup of {domain} failed: {done.get('errmsg') or 'job ' + str(done.get('type'))}")
        return BackupReport(frozen=frozen, freeze_error=freeze_error, freeze_seconds=freeze_seconds,
                            seconds=time.monotonic() - started)

    def memory_dump(self, domain: str, path: str) -> None:
        """The guest's memory as an ELF core (QEMU's dump-guest-memory, memory only) in ``path``."""
        self._call("memory dump of", domain, lambda d: d.coreDumpWithFormat(
            path, libvirt.VIR_DOMAIN_CORE_DUMP_FORMAT_RAW, libvirt.VIR_DUMP_MEMORY_ONLY))

    # --- hotplug ---
    def attach_device(self, domain: str, device_xml: str) -> None:
        """Add a device (a ``<disk>``) to the running domain only: the store, not libvirt,
        remembers it for the next start."""
        self._call("attach device to", domain,
                   lambda d: d.attachDeviceFlags(device_xml, libvirt.VIR_DOMAIN_AFFECT_LIVE))

    def detach_device(self, domain: str, device_xml: str) -> None:
        """Ask for a device's removal from the running domain. For PCI devices the guest has to
        let go of it, so it may still be there when this returns (see the device-removed event)."""
        self._call("detach device from", domain,
                   lambda d: d.detachDeviceFlags(device_xml, libvirt.VIR_DOMAIN_AFFECT_LIVE))

    def migrate(self, domain: str, target: LibvirtHost) -> None:
        """Live-migrate a running domain to ``target`` (blocks until done). The hosts share this
        machine's files, so local disks need no copy: hence UNSAFE (docs/standalone.md#migration)."""
        params = {libvirt.VIR_MIGRATE_PARAM_URI: "tcp://127.0.0.1",
                  libvirt.VIR_MIGRATE_PARAM_LISTEN_ADDRESS: "127.0.0.1"}
        flags = libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_UNSAFE
        self._call("migrate", domain, lambda d: d.migrate3(target.conn(), params, flags))

    def abort_migration(self, domain: str) -> bool:
        """Abort the domain's migration job (libvirt abortJob); the blocked :meth:`migrate` then
        fails with "canceled by client" and the domain keeps running here. False when there is no
        job to abort: not begun yet, already over, the domain gone, or a driver without jobs (test)."""
        try:
            self._find(domain).abortJob()
        except libvirt.libvirtError as e:
            if e.get_error_code() in _GONE + _NOT_RUNNING + (libvirt.VIR_ERR_NO_SUPPORT,):
                return False
            raise _fail("abort migration of", domain, e) from None
        return True

    # --- guest access: QEMU monitor (host forwards) and guest agent ---
    def monitor_command(self, domain: str, command: str) -> str:
        """One HMP command on the domain's QEMU monitor (``hostfwd_add``, ``info usernet``…)."""
        import libvirt_qemu

        return self._call("monitor command on", domain, lambda d: libvirt_qemu.qemuMonitorCommand(
            d, command, libvirt_qemu.VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP))

    def agent_command(self, domain: str, command: str, timeout: int = 5) -> str:
        """One guest-agent command (JSON text in, JSON text out); :class:`AgentUnavailable` when no
        agent answers."""
        import libvirt_qemu

        from virtctl.controller.virt.guest_agent import AgentUnavailable

        dom = self._lookup(domain)
        try:
            return str(libvirt_qemu.qemuAgentCommand(dom, command, timeout, 0))
        except libvirt.libvirtError as e:
            if e.get_error_code() in _GONE:
                raise _fail("guest agent of", domain, e) from None
            raise AgentUnavailable(e.get_error_message() or str(e)) from None

    # --- streams ---
    def open_console(self, domain: str, force: bool = True, *, ring_bytes: int = 1 << 20) -> SerialConsole:
        """A started :class:`SerialConsole` (ring of all output + one client); reopens after QEMU restarts."""
        flags = libvirt.VIR_DOMAIN_CONSOLE_FORCE if force else 0

        def open_stream() -> Any:
            conn = self._stream_conn()
            try:
                dom = self._find(domain, conn)
            except libvirt.libvirtError as e:
                if e.get_error_code() in _GONE:
                    return None
                raise
            if not dom.isActive():
                return False                   # restarting (snapshot revert): retry shortly
            stream = conn.newStream(libvirt.VIR_STREAM_NONBLOCK)
            dom.openConsole(None, stream, flags)
            return stream

        console = SerialConsole(open_stream, ring_bytes=ring_bytes)
        try:
            return console.start()
        except libvirt.libvirtError as e:
            raise _fail("console", domain, e) from None
        except RuntimeError:
            raise NotFound(f"domain {domain!r} not found") from None

    def open_graphics_fd(self, domain: str) -> int:
        """A connected socket to the domain's VNC server (RFB); the caller owns the fd."""
        return self._call("vnc", domain, lambda d: d.openGraphicsFD(0, 0))

    def screenshot(self, domain: str) -> bytes:
        """The first screen as PNG."""
        dom = self._lookup(domain)
        stream = self.conn().newStream(0)
        try:
            mime = dom.screenshot(stream, 0, 0)
            chunks = []
            while True:
                data = stream.recv(1 << 20)
                if not data or data == -2:
                    break
                chunks.append(data)
            stream.finish()
        except libvirt.libvirtError as e:
            try:
                stream.abort()
            except libvirt.libvirtError:
                pass
            raise _fail("screenshot", domain, e) from None
        image = b"".join(chunks)
        if mime == "image/png":
            return image
        return ppm_to_png(image)


# --- PPM (what QEMU's screendump gives) → PNG, without an imaging library ---

def _ppm_fields(data: bytes) -> tuple[int, int, int, int]:
    """width, height, maxval and the offset of the pixel data of a binary (P6) PPM."""
    fields: list[bytes] = []
    pos = 0
    while len(fields) < 4:
        while pos < len(data) and data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.index(b"\n", pos) + 1
            continue
        start = pos
        while pos < len(data) and not data[pos:pos + 1].isspace():
            pos += 1
        fields.append(data[start:pos])
    if fields[0] != b"P6":
        raise ValueError(f"not a binary PPM (magic {fields[0]!r})")
    return int(fields[1]), int(fields[2]), int(fields[3]), pos + 1


def ppm_to_png(data: bytes) -> bytes:
    width, height, maxval, offset = _ppm_fields(data)
    if maxval != 255:
        raise ValueError(f"unsupported PPM maxval {maxval}")
    row = width * 3
    pixels = data[offset:offset + row * height]
    if len(pixels) != row * height:
        raise ValueError("truncated PPM")
    raw = b"".join(b"\x00" + pixels[y * row:(y + 1) * row] for y in range(height))   # filter 0 per row

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)   # 8-bit RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")
