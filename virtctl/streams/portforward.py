"""Client side of ``port-forward`` (docs/compatibility.md#port-forward).

The websocket ``…/{virtualmachineinstances|virtualmachines}/{name}/portforward/{port}/{protocol}``
(``plain.kubevirt.io``) carries, in binary frames, the byte stream of one TCP connection, or UDP
datagrams as they are. TCP: one local listener per port, every accepted connection opens its own
websocket. UDP: one local socket per port, one websocket per distinct client address.
``--stdio``: one websocket bridged to stdin/stdout (an ssh ProxyCommand).

Argument parsing is plain functions with Go virtctl's messages; the bridges take a ``dial(port,
protocol) -> websocket`` callable so the same code serves both modes.
"""

from __future__ import annotations

import os
import select
import socket
import sys
import threading
from collections.abc import Callable
from typing import Any, BinaryIO, NamedTuple

from virtctl.errors import VirtctlError

CHUNK = 256 * 1024

_KINDS = {"vm": "vm", "vms": "vm", "virtualmachine": "vm", "virtualmachines": "vm",
          "vmi": "vmi", "vmis": "vmi", "virtualmachineinstance": "vmi", "virtualmachineinstances": "vmi"}


class Target(NamedTuple):
    kind: str                 # vm | vmi
    name: str
    namespace: str            # "" = the current one


class PortSpec(NamedTuple):
    protocol: str             # tcp | udp
    local: int
    remote: int


def parse_target(arg: str) -> Target:
    """``type/name[/namespace]`` with Go virtctl's errors."""
    if not arg:
        raise VirtctlError("target cannot be empty")
    parts = arg.split("/")
    if len(parts) < 2:
        raise VirtctlError("target must contain type and name separated by '/'")
    if len(parts) > 3:
        raise VirtctlError("target is not valid with more than two '/'")
    namespace = ""
    if len(parts) == 3:
        namespace = parts[2]
        if not namespace:
            raise VirtctlError("namespace cannot be empty")
    kind_word, name = parts[0], parts[1]
    if not name:
        raise VirtctlError("name cannot be empty")
    kind = _KINDS.get(kind_word.lower())
    if kind is None:
        raise VirtctlError(f"unsupported resource type '{kind_word}'")
    return Target(kind, name, namespace)


def _atoi(text: str) -> int:
    """Go's strconv.Atoi, with its message."""
    digits = text[1:] if text[:1] in "+-" else text
    if not digits.isascii() or not digits.isdigit():
        raise VirtctlError(f'strconv.Atoi: parsing "{text}": invalid syntax')
    return int(text)


def parse_port(arg: str) -> PortSpec:
    """``[protocol/]localPort[:targetPort]`` as Go virtctl reads it: protocol defaults to tcp, the target
    port to the local one; only ``tcp`` and ``udp`` (lower case) are forwarded."""
    protocol = "tcp"
    parts = arg.split("/")
    if len(parts) > 1:
        protocol, arg = parts[0], parts[1]
    ports = [p for p in arg.split(":") if p]
    if not ports:
        raise VirtctlError("invalid port, missing local and/or remote port")
    local = _atoi(ports[0])
    remote = _atoi(ports[1]) if len(ports) > 1 else local
    if protocol not in ("tcp", "udp"):
        raise VirtctlError(f"unknown protocol: {protocol}")
    for p in (local, remote):
        if not 0 <= p <= 65535:
            raise VirtctlError(f"port {p} out of range")
    return PortSpec(protocol, local, remote)


def subresource(port: int, protocol: str) -> str:
    return f"portforward/{port}/{protocol}"


Dial = Callable[[int, str], Any]         # (remote port, protocol) -> open websocket


# ---------------------------------------------------------------- byte pumps

def _close(ws: Any) -> None:
    try:
        ws.close()
    except Exception:
        pass


def ws_to_writer(ws: Any, write: Callable[[bytes], Any]) -> None:
    """Received binary frames → ``write`` until the websocket closes."""
    try:
        while True:
            msg = ws.recv()
            if isinstance(msg, bytes):
                write(msg)
    except Exception:
        pass


def _bridge(ws: Any, read: Callable[[], bytes], write: Callable[[bytes], None], ws_ended: Callable[[], None],
            name: str) -> None:
    """``read()`` → websocket until it gives ``b""`` (or fails); websocket → ``write`` in a thread
    of its own, then ``ws_ended()``. Both directions end when either side ends."""
    def pump() -> None:
        ws_to_writer(ws, write)
        ws_ended()

    t = threading.Thread(target=pump, name=name, daemon=True)
    t.start()
    try:
        while data := read():
            ws.send(data)
    except Exception:
        pass
    _close(ws)
    t.join(timeout=5)


def bridge_socket(ws: Any, conn: socket.socket) -> None:
    """One local TCP connection ↔ one websocket; both end when either side ends."""
    def shut() -> None:
        try:
            conn.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    _bridge(ws, lambda: conn.recv(CHUNK), conn.sendall, shut, "portforward-in")
    conn.close()


def bridge_stdio(ws: Any, stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> None:
    """stdin → websocket, websocket → stdout, until either ends (``--stdio``)."""
    fd = (stdin or sys.stdin.buffer).fileno()
    dst = stdout or sys.stdout.buffer
    done = threading.Event()

    def write(data: bytes) -> None:
        dst.write(data)
        dst.flush()

    def read() -> bytes:                 # b"" once the websocket side has ended
        while not done.is_set():
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready:
                return os.read(fd, CHUNK)
        return b""

    _bridge(ws, read, write, done.set, "portforward-stdout")


# ---------------------------------------------------------------- listeners

def _bound(address: str, spec: PortSpec, kind: socket.SocketKind) -> socket.socket:
    """A socket of ``kind`` bound to ``address:spec.local`` (TCP: listening), errors worded as Go's."""
    try:
        infos = socket.getaddrinfo(address, spec.local, type=kind)
    except socket.gaierror as e:
        raise VirtctlError(f"can't resolve the address: {e}") from None
    family, _, _, _, addr = infos[0]
    sock = socket.socket(family, kind)
    tcp = kind == socket.SOCK_STREAM
    if tcp:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
        if tcp:
            sock.listen(64)
    except OSError as e:
        sock.close()
        net = "tcp" if tcp else "udp"
        raise VirtctlError(f"listen {net} {address}:{spec.local}: bind: {(e.strerror or str(e)).lower()}") from None
    return sock


def listen_tcp(address: str, spec: PortSpec) -> socket.socket:
    return _bound(address, spec, socket.SOCK_STREAM)


def serve_tcp(listener: socket.socket, spec: PortSpec, dial: Dial, log: Callable[[str], None]) -> None:
    """Accept forever; each connection gets its own websocket."""
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def handle(c: socket.socket = conn) -> None:
            try:
                ws = dial(spec.remote, spec.protocol)
            except VirtctlError as e:
                log(str(e))
                c.close()
                return
            bridge_socket(ws, c)

        threading.Thread(target=handle, name=f"portforward-{spec.local}", daemon=True).start()


def listen_udp(address: str, spec: PortSpec) -> socket.socket:
    return _bound(address, spec, socket.SOCK_DGRAM)


def serve_udp(sock: socket.socket, spec: PortSpec, dial: Dial, log: Callable[[str], None]) -> None:
    """One websocket per client address; datagrams go through as they are."""
    peers: dict[Any, Any] = {}
    lock = threading.Lock()
    while True:
        try:
            data, peer = sock.recvfrom(65536)
        except OSError:
            return
        with lock:
            ws = peers.get(peer)
        if ws is None:
            try:
                ws = dial(spec.remote, spec.protocol)
            except VirtctlError as e:
                log(str(e))
                continue
            with lock:
                peers[peer] = ws

            def back(w: Any = ws, p: Any = peer) -> None:
                ws_to_writer(w, lambda d: sock.sendto(d, p))
                with lock:
                    peers.pop(p, None)

            threading.Thread(target=back, name=f"portforward-udp-{spec.local}", daemon=True).start()
        try:
            ws.send(data)
        except Exception:
            with lock:
                peers.pop(peer, None)
