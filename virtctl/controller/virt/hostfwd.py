"""Loopback host forwards into a guest's user-mode NIC, added and removed at run time.

The guest keeps QEMU's user-mode network (slirp: guest 10.0.2.15, host 10.0.2.2). QEMU's monitor
adds a forward from ``127.0.0.1:<host port>`` to a guest port on a running guest
(``hostfwd_add <netdev> tcp:127.0.0.1:<hp>-:<gp>``) and removes it (``hostfwd_remove``); libvirt
names the netdev ``host`` + the NIC's alias (``ua-default`` → ``hostua-default``). Nothing ever
listens on another address than 127.0.0.1 (docs/standalone.md, "Reaching the guest").

The commands and the parsing of their answers are plain functions; :class:`HostForwards` runs
them through a ``monitor(domain, command) -> str`` callable (the hypervisor's HMP monitor).
"""

from __future__ import annotations

import re
import socket
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from virtctl.errors import InternalError, VirtctlError

PROTOCOLS = ("tcp", "udp")
LOOPBACK = "127.0.0.1"
GUEST_IP = "10.0.2.15"          # what QEMU's user-mode DHCP hands out first
ADD_ATTEMPTS = 5                # a picked port may be taken between the probe and hostfwd_add


@dataclass(frozen=True)
class Forward:
    protocol: str               # tcp | udp
    host_port: int              # on 127.0.0.1
    guest_port: int


def netdev_id(alias: str) -> str:
    """libvirt's netdev id of the user-mode NIC with device alias ``alias``."""
    return f"host{alias}"


def _check(protocol: str, *ports: int) -> None:
    if protocol not in PROTOCOLS:
        raise ValueError(f"unsupported protocol {protocol!r}")
    for p in ports:
        if isinstance(p, bool) or not isinstance(p, int) or not 0 < p < 65536:
            raise ValueError(f"invalid port {p!r}")


def add_command(netdev: str, fwd: Forward) -> str:
    _check(fwd.protocol, fwd.host_port, fwd.guest_port)
    return f"hostfwd_add {netdev} {fwd.protocol}:{LOOPBACK}:{fwd.host_port}-:{fwd.guest_port}"


def remove_command(netdev: str, protocol: str, host_port: int) -> str:
    _check(protocol, host_port)
    return f"hostfwd_remove {netdev} {protocol}:{LOOPBACK}:{host_port}"


def add_failed(answer: str) -> str:
    """The error in an answer to ``hostfwd_add`` ("" on success: QEMU says nothing then)."""
    return answer.strip()


def remove_failed(answer: str) -> str:
    """The error in an answer to ``hostfwd_remove``: QEMU 7.2 prints ``host forwarding rule for …
    removed`` on success, ``invalid format`` / ``host forwarding rule for … not found`` otherwise."""
    text = answer.strip()
    return "" if text.endswith("removed") else text


_USERNET_ROW = re.compile(
    r"^\s*(?P<proto>TCP|UDP)\[HOST_FORWARD\]\s+\d+\s+(?P<src>\S+)\s+(?P<sport>\d+)\s+(?P<dst>\S+)\s+(?P<dport>\d+)")


def parse_usernet(text: str) -> list[Forward]:
    """The host forwards listed by ``info usernet`` (rows ``TCP[HOST_FORWARD] fd src sport dst dport …``)."""
    out: list[Forward] = []
    for line in text.splitlines():
        m = _USERNET_ROW.match(line)
        if m:
            out.append(Forward(m["proto"].lower(), int(m["sport"]), int(m["dport"])))
    return out


_USERNET_CONN = re.compile(r"^\s*TCP\[(?P<state>[A-Z_0-9]+)\]\s+\d+\s+\S+\s+(?P<sport>\d+)\s")


def connection_state(text: str, host_port: int) -> str | None:
    """The state (``SYN_SENT``, ``ESTABLISHED``…) of the TCP connection that came in through the
    forward on ``host_port``, from ``info usernet``; None when there is none (the guest refused it,
    or it is over). QEMU lists it under the forward's own address and port."""
    for line in text.splitlines():
        m = _USERNET_CONN.match(line)
        if m and m["state"] != "HOST_FORWARD" and int(m["sport"]) == host_port:
            return m["state"]
    return None


def free_port(protocol: str) -> int:
    """A port that is free on 127.0.0.1 right now (the kernel's pick)."""
    kind = socket.SOCK_STREAM if protocol == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


Monitor = Callable[[str, str], str]       # (domain, HMP command) -> answer


class HostForwards:
    """Adds and removes loopback forwards of running domains through their HMP monitor."""

    def __init__(self, monitor: Monitor, pick_port: Callable[[str], int] = free_port):
        self._monitor = monitor
        self._pick = pick_port
        self._lock = threading.Lock()         # one monitor conversation at a time per controller

    def add(self, domain: str, netdev: str, protocol: str, guest_port: int, host_port: int = 0) -> Forward:
        """Forward ``127.0.0.1:<host_port>`` (a free one when 0) to the guest port; the Forward added."""
        attempts = 1 if host_port else ADD_ATTEMPTS
        error = ""
        for _ in range(attempts):
            fwd = Forward(protocol, host_port or self._pick(protocol), guest_port)
            with self._lock:
                error = add_failed(self._monitor(domain, add_command(netdev, fwd)))
            if not error:
                return fwd
        raise InternalError(f"cannot forward 127.0.0.1:{host_port or 'any'} to guest port "
                            f"{guest_port}/{protocol}: {error}")

    def remove(self, domain: str, netdev: str, fwd: Forward) -> bool:
        """Remove a forward; False when QEMU did not have it (or the domain is gone)."""
        try:
            with self._lock:
                return not remove_failed(self._monitor(domain, remove_command(netdev, fwd.protocol, fwd.host_port)))
        except Exception:
            return False

    def usernet(self, domain: str) -> str:
        with self._lock:
            return self._monitor(domain, "info usernet")

    def list(self, domain: str) -> list[Forward]:
        return parse_usernet(self.usernet(domain))


class _HasMonitor(Protocol):
    def monitor_command(self, domain: str, command: str) -> str: ...


_BY_HOST: weakref.WeakKeyDictionary[Any, HostForwards] = weakref.WeakKeyDictionary()
_BY_HOST_LOCK = threading.Lock()


def forwards_of(host: _HasMonitor) -> HostForwards:
    """The one :class:`HostForwards` of a host (its lock keeps monitor conversations apart)."""
    with _BY_HOST_LOCK:
        fw = _BY_HOST.get(host)
        if fw is None:
            fw = _BY_HOST[host] = HostForwards(host.monitor_command)
        return fw


class PortsUnavailable(VirtctlError):
    """A port of ``spec.domain.devices.interfaces[].ports`` cannot be forwarded (the host port is taken)."""


@dataclass(frozen=True)
class NicPorts:
    index: int                   # position in spec.domain.devices.interfaces
    alias: str                   # the NIC's device alias (ua-<name>)
    ports: Sequence[Any]         # domain.PortForward: protocol, port (guest), host_port


def install_ports(host: _HasMonitor, domain: str, nics: Sequence[NicPorts]) -> list[Forward]:
    """Forward every declared port from 127.0.0.1:<port> into the guest, as the field documents;
    all or nothing: on a failure the ones added are removed and :class:`PortsUnavailable` names
    the port."""
    fw = forwards_of(host)
    added: list[tuple[str, Forward]] = []
    for nic in nics:
        netdev = netdev_id(nic.alias)
        for j, p in enumerate(nic.ports):
            try:
                added.append((netdev, fw.add(domain, netdev, p.protocol, p.port, host_port=p.host_port)))
            except InternalError:
                for nd, f in added:
                    fw.remove(domain, nd, f)
                raise PortsUnavailable(
                    f"spec.domain.devices.interfaces[{nic.index}].ports[{j}]: cannot forward 127.0.0.1:"
                    f"{p.host_port}/{p.protocol} to the guest: the host port is already in use") from None
    return [f for _, f in added]


def spec_ports(vmi: dict) -> list[NicPorts]:
    """The declared ``interfaces[].ports`` of a (validated) VMI, as the converter maps them: host port =
    guest port, on the NIC with alias ``ua-<interface name>``; for re-adding them where the domain
    now runs (after a live migration the new QEMU has only what its command line gave it)."""
    from virtctl.controller.virt.domain import PortForward

    ifaces = ((vmi.get("spec") or {}).get("domain") or {}).get("devices", {}).get("interfaces") or []
    out = []
    for n, iface in enumerate(ifaces):
        ports = [PortForward(str(p.get("protocol") or "TCP").lower(), int(p["port"]), int(p["port"]))
                 for p in iface.get("ports") or [] if isinstance(p.get("port"), int)]
        if ports and "passt" not in iface:
            out.append(NicPorts(n, f"ua-{iface.get('name') or ''}", ports))
    return out
