"""Reaching the guest: the ``portforward`` websockets and the guest-agent GET subresources.

* ``…/{virtualmachineinstances|virtualmachines}/{name}/portforward/{port}[/{tcp|udp}]`` (websocket,
  ``plain.kubevirt.io``, binary frames): each websocket is one connection to the guest's port. As
  virt-api dials the pod before it upgrades, the guest is dialled before the upgrade: a refused
  connection answers 500 ``Internal error occurred: dial tcp 10.0.2.15:<port>: connect: connection
  refused``. The dial goes through a loopback host forward added to the guest's user-mode NIC
  (:mod:`virtctl.controller.virt.hostfwd`): for TCP it is removed as soon as the connection is
  established (the connection lives on in QEMU), for UDP it lives as long as the websocket.
* ``guestosinfo``, ``userlist``, ``filesystemlist`` (GET): the guest agent's answers in KubeVirt's
  shapes; without an agent HTTP 500 with the text ``Operation cannot be fulfilled on
  virtualmachineinstance.kubevirt.io "<name>": VMI does not have guest agent connected``, as
  virt-api writes it. See docs/standalone.md ("Reaching the guest").
"""

from __future__ import annotations

import logging
import select
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from virtctl import errors
from virtctl.controller.streams import find_host, running_vmi
from virtctl.controller.subresource import ActionContext, ActionResult
from virtctl.controller.virt import guest_agent as ga
from virtctl.controller.virt import hostfwd
from virtctl.controller.virt.domain import parse_live
from virtctl.controller.virt.hypervisor import Hypervisor, domain_name
from virtctl.model.kinds import VM, VMI

log = logging.getLogger(__name__)

CHUNK = 256 * 1024
ESTABLISH_TIMEOUT = 10.0       # how long the guest may take to answer the SYN
PENDING_TTL = 30.0             # a dialled tunnel whose upgrade never came is closed after this
PAUSED = "VMI is paused"


# ---------------------------------------------------------------- path → (port, protocol)

def parse_target(subresource: str) -> tuple[int, str]:
    """``portforward/<port>[/<protocol>]`` → (port, protocol). Paths the route does not match
    (non-numeric port, other protocols, more segments) are 404; a port out of range is net.Dial's
    error (500), as in virt-api."""
    parts = subresource.split("/")
    if len(parts) not in (2, 3) or parts[0] != "portforward" or not parts[1].isdigit() or \
            (len(parts) == 3 and parts[2] not in hostfwd.PROTOCOLS):
        raise errors.NotFound("the server could not find the requested resource", details={})
    protocol = parts[2] if len(parts) == 3 else "tcp"
    port = int(parts[1])
    if not 0 < port < 65536:
        raise errors.InternalError(f"Internal error occurred: dial {protocol}: address {parts[1]}: invalid port")
    return port, protocol


def conflict_text(name: str, message: str) -> str:
    return f'Operation cannot be fulfilled on virtualmachineinstance.kubevirt.io "{name}": {message}'


def _paused(vmi: dict) -> bool:
    return any(c.get("type") == "Paused" and str(c.get("status")) == "True"
               for c in (vmi.get("status") or {}).get("conditions") or [])


def _vmi_of(ctx: ActionContext, plural: str) -> dict:
    if plural == VM.plural:
        ctx.store.get(VM, ctx.namespace, ctx.name)                      # 404 for an unknown VM
        try:
            ctx.store.get(VMI, ctx.namespace, ctx.name)
        except errors.NotFound:
            raise errors.BadRequest("VMI is not running") from None
    vmi = running_vmi(ctx)
    if _paused(vmi):
        raise errors.Conflict(conflict_text(ctx.name, PAUSED))
    return vmi


# ---------------------------------------------------------------- forwards per host

def netdev_of(host: Hypervisor, domain: str) -> str:
    nics = parse_live(host.domain_xml(domain)).nics
    if not nics or not nics[0][0]:
        raise errors.BadRequest("no network interface to forward to")
    return hostfwd.netdev_id(nics[0][0])


# ---------------------------------------------------------------- one tunnel

@dataclass
class Tunnel:
    sock: socket.socket
    protocol: str
    host: Any
    domain: str
    netdev: str
    forward: hostfwd.Forward | None          # still installed (UDP), removed on close
    created: float = field(default_factory=time.monotonic)
    closed: bool = False

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        if self.forward is not None:
            hostfwd.forwards_of(self.host).remove(self.domain, self.netdev, self.forward)


def _established(fw: hostfwd.HostForwards, domain: str, sock: socket.socket, host_port: int) -> bool:
    """Wait until QEMU's side of the connection is ESTABLISHED with the guest; False when the guest
    refused it (QEMU then drops our connection: EOF or reset). QEMU accepts our connection from its
    main loop, so a moment may pass before the connection shows at all."""
    deadline = time.monotonic() + ESTABLISH_TIMEOUT
    pause = 0.002
    while time.monotonic() < deadline:
        if hostfwd.connection_state(fw.usernet(domain), host_port) == "ESTABLISHED":
            return True
        readable, _, _ = select.select([sock], [], [], 0)
        if readable:
            try:
                return bool(sock.recv(1, socket.MSG_PEEK))      # data: the guest answered
            except OSError:
                return False
        time.sleep(pause)
        pause = min(pause * 2, 0.05)
    return False


def refused_text(protocol: str, port: int) -> str:
    """Go's net.Dial error for a guest port nothing listens on."""
    return f"dial {protocol} {hostfwd.GUEST_IP}:{port}: connect: connection refused"


def dial(host: Hypervisor, domain: str, port: int, protocol: str) -> Tunnel:
    fw = hostfwd.forwards_of(host)
    netdev = netdev_of(host, domain)
    fwd = fw.add(domain, netdev, protocol, port)
    refused = errors.InternalError(f"Internal error occurred: {refused_text(protocol, port)}")
    if protocol == "udp":
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.connect((hostfwd.LOOPBACK, fwd.host_port))
        return Tunnel(udp, protocol, host, domain, netdev, fwd)
    sock: socket.socket | None = None
    ok = False
    try:
        sock = socket.create_connection((hostfwd.LOOPBACK, fwd.host_port), timeout=ESTABLISH_TIMEOUT)
        ok = _established(fw, domain, sock, fwd.host_port)
    except OSError:
        ok = False
    finally:
        fw.remove(domain, netdev, fwd)          # the connection outlives its forward
    if not ok or sock is None:
        if sock is not None:
            sock.close()
        raise refused
    sock.settimeout(None)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return Tunnel(sock, protocol, host, domain, netdev, None)


# ---------------------------------------------------------------- keep-alive

PING_INTERVAL = 1.0            # as virt-api: a ping every second …
PONG_TIMEOUT = 60.0            # … and a peer silent for a minute is dropped


class _Keepalive:
    """Pings every open port-forward websocket from one thread (which ends when none is open), so
    a client that vanished without closing its connection does not hold a tunnel forever."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._conns: dict[int, list[Any]] = {}       # id(ws) -> [ws, pending pong event, last answer]
        self._thread: threading.Thread | None = None

    def add(self, ws: Any) -> None:
        with self._lock:
            self._conns[id(ws)] = [ws, None, time.monotonic()]
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="portforward-keepalive", daemon=True)
                self._thread.start()

    def remove(self, ws: Any) -> None:
        with self._lock:
            self._conns.pop(id(ws), None)

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._conns:
                    self._thread = None
                    return
                entries = list(self._conns.values())
            now = time.monotonic()
            for entry in entries:
                ws, pending, _last = entry
                if pending is not None and pending.is_set():
                    entry[2] = now
                if now - entry[2] > PONG_TIMEOUT:
                    _drop(ws)
                    self.remove(ws)
                    continue
                if pending is None or pending.is_set():
                    try:
                        entry[1] = ws.ping()
                    except Exception:                # closing: its serve() ends it
                        pass
            time.sleep(PING_INTERVAL)


def _drop(ws: Any) -> None:
    try:
        ws.socket.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


_KEEPALIVE = _Keepalive()


# ---------------------------------------------------------------- the websocket

class PortForwardStream:
    """``portforward/{port}[/{protocol}]`` of one plural (virtualmachineinstances or virtualmachines)."""

    def __init__(self, plural: str):
        self.plural = plural
        self._lock = threading.Lock()
        self._pending: dict[int, Tunnel] = {}

    def _sweep(self) -> None:
        now = time.monotonic()
        with self._lock:
            stale = [k for k, t in self._pending.items() if now - t.created > PENDING_TTL]
            tunnels = [self._pending.pop(k) for k in stale]
        for t in tunnels:
            t.close()

    def check(self, ctx: ActionContext) -> None:
        port, protocol = parse_target(ctx.subresource)
        vmi = _vmi_of(ctx, self.plural)
        host = find_host(ctx, vmi)
        tunnel = dial(host, domain_name(ctx.namespace, ctx.name), port, protocol)
        self._sweep()
        with self._lock:
            self._pending[id(ctx)] = tunnel

    def serve(self, ctx: ActionContext, ws: Any) -> None:
        with self._lock:
            tunnel = self._pending.pop(id(ctx), None)
        if tunnel is None:
            return
        pump = threading.Thread(target=_guest_to_ws, args=(tunnel, ws), name=f"portforward-{ctx.name}",
                                daemon=True)
        pump.start()
        _KEEPALIVE.add(ws)
        try:
            _ws_to_guest(ws, tunnel)
        finally:
            _KEEPALIVE.remove(ws)
            tunnel.close()
            pump.join(timeout=5)


def _guest_to_ws(tunnel: Tunnel, ws: Any) -> None:
    try:
        while True:
            data = tunnel.sock.recv(CHUNK)
            if not data and tunnel.protocol == "tcp":
                break
            ws.send(data)
    except Exception:
        pass
    try:
        ws.close(1000)
    except Exception:
        pass


def _ws_to_guest(ws: Any, tunnel: Tunnel) -> None:
    try:
        while True:
            msg = ws.recv()
            if isinstance(msg, bytes) and msg:
                tunnel.sock.sendall(msg) if tunnel.protocol == "tcp" else tunnel.sock.send(msg)
    except Exception:                          # closed websocket, or the guest went away
        pass


# ---------------------------------------------------------------- guest agent subresources

def _agent_result(ctx: ActionContext, what: str) -> ActionResult:
    # virt-api writes every failure of these GETs as HTTP 500 with the error's text (go-restful's WriteError)
    try:
        vmi = running_vmi(ctx)
    except errors.NotFound:
        return ActionResult(500, f'virtualmachineinstance.kubevirt.io "{ctx.name}" not found',
                            "text/plain; charset=utf-8")
    except errors.APIError:
        return ActionResult(500, conflict_text(ctx.name, "VMI is not running"), "text/plain; charset=utf-8")
    host = find_host(ctx, vmi)
    agent = ga.GuestAgent(host.agent_command, domain_name(ctx.namespace, ctx.name))
    try:
        if what == "guestosinfo":
            body: Any = agent.guest_info()
        elif what == "userlist":
            body = ga.item_list(ga.users(agent.users()))
        else:
            body = ga.item_list(ga.filesystems(agent.filesystems()))
    except ga.AgentUnavailable:
        return ActionResult(500, conflict_text(ctx.name, ga.NO_AGENT), "text/plain; charset=utf-8")
    return ActionResult(200, body)


def guestosinfo(ctx: ActionContext) -> ActionResult:
    return _agent_result(ctx, "guestosinfo")


def userlist(ctx: ActionContext) -> ActionResult:
    return _agent_result(ctx, "userlist")


def filesystemlist(ctx: ActionContext) -> ActionResult:
    return _agent_result(ctx, "filesystemlist")
