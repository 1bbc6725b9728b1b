"""The hypervisor as the controllers see it: one libvirt host ("node").

Implemented on libvirt by :mod:`virtctl.controller.virt.libvirt_host`. Domains that belong to a
VMI are named ``<namespace>_<vmi-name>`` (both DNS-1123, so the name is unambiguous) and carry the
VMI's namespace, name and uid in their ``<metadata>`` so that a restarted controller re-adopts them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Callable, Protocol


class DomainState(str, enum.Enum):
    RUNNING = "running"
    PAUSED = "paused"
    SHUTTING_DOWN = "shutting-down"
    SHUTOFF = "shutoff"          # stopped; see DomainStatus.reason
    CRASHED = "crashed"
    MISSING = "missing"          # no such domain


@dataclass(frozen=True)
class DomainStatus:
    state: DomainState
    reason: str = ""             # e.g. "shutdown" (guest powered off), "destroyed", "crashed", "migrated", "user"
    vmi_uid: str = ""            # from the domain metadata


@dataclass(frozen=True)
class DomainEvent:
    domain: str                  # libvirt domain name (<namespace>_<name>)
    event: str                   # started | suspended | resumed | stopped | shutdown | reboot | defined | undefined
    detail: str = ""             # e.g. "booted", "shutdown", "destroyed", "crashed", "migrated", "from-snapshot"


def domain_name(namespace: str, name: str) -> str:
    return f"{namespace}_{name}"


def split_domain_name(domain: str) -> tuple[str, str] | None:
    ns, sep, name = domain.partition("_")
    return (ns, name) if sep and ns and name else None


class Hypervisor(Protocol):
    uri: str
    node_name: str

    def capabilities(self) -> dict: ...                    # {"domain_type": "qemu"|"kvm"|"test", "arch": ..., "machine": ...}
    def list_domains(self) -> dict[str, DomainStatus]: ...  # our domains only (those with our metadata)
    def status(self, domain: str) -> DomainStatus: ...
    def start(self, domain_xml: str, paused: bool = False) -> None: ...  # transient domain (createXML)
    def shutdown(self, domain: str) -> None: ...           # ACPI power button
    def destroy(self, domain: str) -> None: ...            # hard stop; no error if already gone
    def suspend(self, domain: str) -> None: ...
    def resume(self, domain: str) -> None: ...
    def reboot(self, domain: str) -> None: ...             # ACPI reboot (soft-reboot)
    def reset(self, domain: str) -> None: ...              # hard reset
    def domain_xml(self, domain: str) -> str: ...          # live XML
    def migrate(self, domain: str, target: "Hypervisor") -> None: ...  # live migration, blocking
    def abort_migration(self, domain: str) -> bool: ...    # from another thread; False: none under way
    def on_event(self, callback: Callable[[DomainEvent], None]) -> None: ...
    def open_console(self, domain: str, force: bool = True): ...   # -> a libvirt stream wrapper (see console module)
    def open_graphics_fd(self, domain: str) -> int: ...    # a connected VNC socket fd
    def screenshot(self, domain: str) -> bytes: ...        # PNG
    def close(self) -> None: ...
