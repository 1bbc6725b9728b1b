"""The hypervisor as the controllers see it: one libvirt host ("node").

Implemented on libvirt by :mod:`virtctl.controller.virt.libvirt_host`. The controllers name the
domain of a VMI ``<namespace>_<vmi-name>`` (both DNS-1123, so the name is unambiguous); it carries
the VMI's namespace, name and uid and the controller's id in its ``<metadata>`` so that a restarted
controller re-adopts it. On libvirt the domain is called :func:`libvirt_domain_name`: the same name
with a short tag of the controller's id, so that several controllers (two users, a test run) can
run a VMI of the same namespace and name on one libvirtd (docs/standalone.md#domains).
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


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
    domain: str                  # the controller's domain name (<namespace>_<name>)
    # started | suspended | resumed | stopped | shutdown | reboot | defined | undefined | device-removed | agent
    event: str
    detail: str = ""             # e.g. "booted", "shutdown", "destroyed", "crashed", "migrated", "from-snapshot";
                                 # the alias of the removed device for device-removed; connected or
                                 # disconnected for agent (the guest agent's channel)


@dataclass(frozen=True)
class BackupReport:
    """How an online copy of a running domain's disks went."""

    frozen: bool                 # the guest's filesystems were frozen through its agent at the start
    freeze_error: str = ""       # why a requested freeze did not happen
    freeze_seconds: float = 0.0  # how long they stayed frozen (the guest itself never pauses)
    seconds: float = 0.0         # the whole copy


def domain_name(namespace: str, name: str) -> str:
    return f"{namespace}_{name}"


def owner_tag(owner_id: str) -> str:
    """8 hex digits that tell one controller's domains from another's ("" without an owner id)."""
    return hashlib.sha256(owner_id.encode()).hexdigest()[:8] if owner_id else ""


def libvirt_domain_name(domain: str, owner_id: str) -> str:
    """What libvirt calls the domain ``domain`` (``<namespace>_<name>``) of the controller
    ``owner_id``: ``<namespace>_<name>_<tag>``. Neither part contains ``_``, so the tag is never
    ambiguous. Domains started before the tag existed keep their old name (adopted by metadata)."""
    tag = owner_tag(owner_id)
    return f"{domain}_{tag}" if tag else domain


def split_domain_name(domain: str) -> tuple[str, str] | None:
    ns, sep, name = domain.partition("_")
    return (ns, name) if sep and ns and name else None


class Hypervisor(Protocol):
    uri: str
    node_name: str

    # {"domain_type": "qemu"|"kvm"|"test", "arch": ..., "machine": ...}
    def capabilities(self) -> dict: ...
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
    def attach_device(self, domain: str, device_xml: str) -> None: ...   # hotplug, live only
    def memory_dump(self, domain: str, path: str) -> None: ...           # ELF core of the guest memory
    # copies of running disks (guest target → new qcow2 file), filesystems frozen through the agent with quiesce
    def backup_disks(self, domain: str, targets: dict[str, str], *, quiesce: bool,
                     timeout: float = 3600.0) -> BackupReport: ...
    def detach_device(self, domain: str, device_xml: str) -> None: ...   # hot-unplug request, live only
    def migrate(self, domain: str, target: Hypervisor) -> None: ...  # live migration, blocking
    def abort_migration(self, domain: str) -> bool: ...    # from another thread; False: none under way
    def on_event(self, callback: Callable[[DomainEvent], None]) -> None: ...
    def open_console(self, domain: str, force: bool = True): ...   # -> a libvirt stream wrapper (see console module)
    def open_graphics_fd(self, domain: str) -> int: ...    # a connected VNC socket fd
    def screenshot(self, domain: str) -> bytes: ...        # PNG
    def monitor_command(self, domain: str, command: str) -> str: ...   # QEMU HMP (host forwards)
    def agent_command(self, domain: str, command: str, timeout: int = 5) -> str: ...  # guest agent JSON
    def close(self) -> None: ...
