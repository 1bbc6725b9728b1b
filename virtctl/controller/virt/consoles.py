"""The controller's serial consoles: one started ``SerialConsole`` per running domain, opened as soon as
the domain starts so that its ring holds the output since boot (``console --show-log``,
``consolelog``). Built by the composition root (``virtctl.controller.daemon``) over the libvirt
hosts and reached by the console subresources through ``Runtime.consoles``.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Sequence

from virtctl.controller.virt.hypervisor import DomainEvent, DomainState, Hypervisor

if TYPE_CHECKING:                                  # console.py imports libvirt; annotations only
    from virtctl.controller.virt.console import SerialConsole

log = logging.getLogger(__name__)


class ConsoleRegistry:
    """A stopped domain's console stays (closed to new output) so its log can still be read; a fresh
    boot or an arrival by migration replaces it. The old console is closed *before* the new one is
    opened: both use VIR_DOMAIN_CONSOLE_FORCE and would otherwise keep stealing the stream.
    """

    def __init__(self, hosts: Sequence[Hypervisor] = ()):
        self._lock = threading.Lock()
        self._consoles: dict[str, SerialConsole] = {}
        self._closed = False
        self._hosts = list(hosts)

    def start(self) -> ConsoleRegistry:
        """Open the consoles of the domains running now and follow the hosts' start events."""
        for host in self._hosts:
            host.on_event(lambda ev, host=host: self._on_event(host, ev))
            try:
                domains = host.list_domains()
            except Exception as e:                        # a host that is down: its domains come back by event
                log.warning("console registry: listing domains failed: %s", e)
                continue
            for dom, status in domains.items():
                if status.state in (DomainState.RUNNING, DomainState.PAUSED):
                    self._open_quietly(host, dom)
        return self

    def _on_event(self, host: Hypervisor, ev: DomainEvent) -> None:
        # libvirt's event thread: never block it; snapshot reverts are handled by the console itself
        if not self._closed and ev.event == "started" and ev.detail not in ("from-snapshot", "restored"):
            threading.Thread(target=self._open_quietly, args=(host, ev.domain), name="console-open",
                             daemon=True).start()

    def _open_quietly(self, host: Hypervisor, domain: str) -> None:
        try:
            self.open(host, domain)
        except Exception as e:
            log.warning("console of %s not opened: %s", domain, e)

    def open(self, host: Hypervisor, domain: str) -> SerialConsole:
        with self._lock:
            old = self._consoles.pop(domain, None)
            if old is not None:
                old.close()
            console: SerialConsole = host.open_console(domain, True)
            self._consoles[domain] = console
            return console

    def get(self, domain: str) -> SerialConsole | None:
        with self._lock:
            return self._consoles.get(domain)

    def live(self, host: Hypervisor, domain: str) -> SerialConsole:
        """The domain's console, (re)opened when it is missing or not connected."""
        console = self.get(domain)
        if console is not None and console.connected:
            return console
        return self.open(host, domain)

    def close(self) -> None:
        with self._lock:
            self._closed = True                           # host callbacks cannot be removed: make them inert
            consoles, self._consoles = list(self._consoles.values()), {}
        for c in consoles:
            c.close()
