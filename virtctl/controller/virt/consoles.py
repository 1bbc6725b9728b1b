"""The controller's serial consoles: one started ``SerialConsole`` per running domain, opened as soon as
the domain starts so that its ring holds the output since boot (``console --show-log``,
``consolelog``). Built by the composition root (``virtctl.controller.daemon``) over the libvirt
hosts and reached by the console subresources through ``Runtime.consoles``.

Only the controller's own domains are ever seen here: a host with an owner id drops the events of
every other domain on its libvirtd (docs/standalone.md#domains), so a controller never opens, with
VIR_DOMAIN_CONSOLE_FORCE, the console of another controller's or a user's domain.

Consoles are opened by one thread, in event order: an event never costs a thread, and a libvirt
call that hangs holds up that thread only (never the registry's lock, so ``get`` always answers).
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from virtctl.controller.virt.hypervisor import DomainEvent, DomainState, Hypervisor

if TYPE_CHECKING:                                  # console.py imports libvirt; annotations only
    from virtctl.controller.virt.console import SerialConsole

log = logging.getLogger(__name__)

FRESH = "fresh"          # a new boot: a new console (a new ring) even if the old one is connected
ARRIVED = "arrived"      # the domain runs here now (a migration finished): open unless already here


def console_action(ev: DomainEvent) -> str | None:
    """What a domain event means for the domain's console on the host that reported it.

    * started (booted, wakeup): a fresh console. Not ``started/migrated``: libvirt reports it on the
      *target* when the incoming QEMU is prepared, and the guest still runs on the source, whose
      console must stay (a cancelled migration leaves it there).
    * resumed/migrated: the migration finished and the guest runs on this host now.
    * snapshot reverts and restores: the console reopens its own stream (same ring).
    """
    if ev.event == "started" and ev.detail not in ("migrated", "from-snapshot", "restored"):
        return FRESH
    if ev.event == "resumed" and ev.detail == "migrated":
        return ARRIVED
    return None


class ConsoleRegistry:
    """A stopped domain's console stays (closed to new output) so its log can still be read; a fresh
    boot or an arrival by migration replaces it. The old console is closed *before* the new one is
    opened: both use VIR_DOMAIN_CONSOLE_FORCE and would otherwise keep stealing the stream.
    """

    def __init__(self, hosts: Sequence[Hypervisor] = ()):
        self._lock = threading.Lock()              # the maps only: never held across a libvirt call
        self._opening: dict[str, threading.RLock] = {}   # per domain: one open at a time (FORCE: two would steal)
        self._wake = threading.Condition(self._lock)
        self._consoles: dict[str, tuple[Hypervisor, SerialConsole]] = {}
        self._pending: dict[str, tuple[Hypervisor, str]] = {}   # domain → (host, FRESH|ARRIVED), in order
        self._closed = False
        self._hosts = list(hosts)
        self._opener: threading.Thread | None = None

    def start(self) -> ConsoleRegistry:
        """Open the consoles of the domains running now and follow the hosts' events."""
        with self._lock:
            if self._opener is not None or self._closed:
                return self
            self._opener = threading.Thread(target=self._run, name="console-opener", daemon=True)
        for host in self._hosts:
            host.on_event(functools.partial(self._on_event, host))
        for host in self._hosts:
            try:
                domains = host.list_domains()
            except Exception as e:                        # a host that is down: its domains come back by event
                log.warning("console registry: listing domains on %s failed: %s", host.node_name, e)
                continue
            for dom, status in domains.items():
                if status.state in (DomainState.RUNNING, DomainState.PAUSED):
                    self._enqueue(host, dom, ARRIVED)
        self._opener.start()
        return self

    def _on_event(self, host: Hypervisor, ev: DomainEvent) -> None:
        # libvirt's event thread: never block it
        action = console_action(ev)
        if action is not None:
            self._enqueue(host, ev.domain, action)

    def _enqueue(self, host: Hypervisor, domain: str, action: str) -> None:
        with self._lock:
            if self._closed:
                return
            previous = self._pending.pop(domain, None)
            if previous is not None and previous[1] == FRESH and previous[0] is host:
                action = FRESH                            # a boot not yet served stays a boot
            self._pending[domain] = (host, action)
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._pending and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                domain = next(iter(self._pending))
                host, action = self._pending.pop(domain)
            try:
                if action == FRESH:
                    self.open(host, domain)
                else:
                    self.live(host, domain)
            except Exception as e:
                if not self._closed:
                    log.warning("console of %s not opened: %s", domain, e)

    def open(self, host: Hypervisor, domain: str) -> SerialConsole:
        """A new console for ``domain`` on ``host``, replacing (after closing) the one kept so far."""
        with self._open_lock(domain):
            with self._lock:
                if self._closed:
                    raise RuntimeError("the console registry is closed")
                old = self._consoles.pop(domain, None)
            if old is not None:
                old[1].close()
            console: SerialConsole = host.open_console(domain, True)
            with self._lock:
                if not self._closed:
                    self._consoles[domain] = (host, console)
                    return console
            console.close()
            raise RuntimeError("the console registry is closed")

    def _open_lock(self, domain: str) -> threading.RLock:
        """Opens of one domain wait for each other; a hung open holds up no other domain."""
        with self._lock:
            return self._opening.setdefault(domain, threading.RLock())

    def get(self, domain: str) -> SerialConsole | None:
        with self._lock:
            found = self._consoles.get(domain)
        return found[1] if found is not None else None

    def live(self, host: Hypervisor, domain: str) -> SerialConsole:
        """The domain's console on ``host``, (re)opened when it is missing, not connected, or on
        another host (the guest moved, or a migration to that host was cancelled)."""
        with self._lock:
            found = self._consoles.get(domain)
        if found is not None and found[0] is host and found[1].connected:
            return found[1]
        with self._open_lock(domain):                     # someone may have opened it meanwhile
            with self._lock:
                found = self._consoles.get(domain)
            if found is not None and found[0] is host and found[1].connected:
                return found[1]
            return self.open(host, domain)

    def close(self) -> None:
        """Close every console and stop following events (host callbacks cannot be removed: they
        become inert). Does not wait for an open that libvirt holds up."""
        with self._lock:
            self._closed = True
            self._pending.clear()
            consoles, self._consoles = [c for _, c in self._consoles.values()], {}
            opener = self._opener
            self._wake.notify_all()
        for c in consoles:
            c.close()
        if opener is not None and opener is not threading.current_thread() and opener.is_alive():
            opener.join(timeout=1.0)
