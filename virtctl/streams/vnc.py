"""The local VNC proxy: one TCP listener, one accepted viewer, bytes piped to the VNC websocket
(docs/compatibility.md#vnc). The caller dials the websocket first, as Go virtctl does, so a refused VMI is
reported before anything listens."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, TextIO

from virtctl.errors import VirtctlError
from virtctl.streams import protocol


def log_line(msg: str, level: str = "info", stream: TextIO | None = None) -> None:
    """A klog-style JSON log line on stderr, the shape Go virtctl's vnc logs have
    (docs/compatibility.md#output-errors-and-exit-codes)."""
    ts = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    entry = {"component": "portforward", "level": level, "msg": msg, "pos": "vnc.go:0", "timestamp": ts}
    out = stream or sys.stderr
    out.write(json.dumps(entry, separators=(",", ":")) + "\n")
    out.flush()


def listen(address: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError, OverflowError) as e:
        raise VirtctlError(f"can't resolve the address: {e}") from None
    family, _, _, _, sockaddr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(sockaddr)
        sock.listen(1)
    except OSError as e:
        sock.close()
        raise VirtctlError(f"can't listen on unix socket: {e.strerror or e}") from None   # sic, Go's text
    return sock


@dataclass
class ProxyOptions:
    vmi: str
    address: str = "127.0.0.1"
    port: int = 0
    proxy_only: bool = False


class _Done:
    """First reason the session ended (a thread finishing, an error, the viewer exiting)."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.error: str | None = None

    def set(self, error: str | None = None) -> None:
        if not self.event.is_set():
            self.error = error
            self.event.set()


def _ws_to_sock(ws: Any, conn: socket.socket, done: _Done) -> None:
    from websockets.exceptions import ConnectionClosed

    try:
        while True:
            msg = ws.recv()
            if isinstance(msg, bytes):
                conn.sendall(msg)
    except ConnectionClosed:
        done.set()
    except OSError:
        done.set()


def _sock_to_ws(ws: Any, conn: socket.socket, done: _Done) -> None:
    from websockets.exceptions import ConnectionClosed

    try:
        while True:
            data = conn.recv(65536)
            if not data:
                break
            ws.send(data)
    except (ConnectionClosed, OSError):
        pass
    done.set()


def run_proxy(ws: Any, opts: ProxyOptions, *, stdout: TextIO,
              launch: Callable[[int], subprocess.Popen] | None = None,
              on_connect: Callable[[], None] | None = None) -> None:
    """Serve one viewer. ``launch(port)`` starts the viewer (not with ``proxy_only``);
    ``on_connect`` runs once it connected (the paused-VMI warning)."""
    address = protocol.vnc_listen_address(opts.address, opts.proxy_only)
    lsock = listen(address, opts.port)
    port = lsock.getsockname()[1]
    done = _Done()
    viewer: subprocess.Popen | None = None
    accept_timeout = protocol.vnc_accept_timeout(opts.proxy_only)
    log_line("connection timeout: 1m0s")
    try:
        if opts.proxy_only:
            stdout.write(protocol.proxy_only_line(port) + "\n")
            stdout.flush()
        elif launch is not None:
            viewer = launch(port)
            threading.Thread(target=_watch_viewer, args=(viewer, done), daemon=True).start()
        conn = _accept(lsock, accept_timeout, done, address, port)
        if conn is None:
            if done.error:
                raise VirtctlError(f"error encountered: {done.error}")
            return
        lsock.close()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if on_connect is not None:
            on_connect()
        threading.Thread(target=_ws_to_sock, args=(ws, conn, done), daemon=True).start()
        threading.Thread(target=_sock_to_ws, args=(ws, conn, done), daemon=True).start()
        while not done.event.wait(0.5):            # short waits keep Ctrl+C responsive
            pass
        if done.error:
            raise VirtctlError(f"error encountered: {done.error}")
    except KeyboardInterrupt:
        pass
    finally:
        lsock.close()
        try:
            ws.close(1000)
        except Exception:                          # already gone
            pass
        if viewer is not None and viewer.poll() is None:
            viewer.terminate()


def _accept(lsock: socket.socket, timeout: float | None, done: _Done, address: str,
            port: int) -> socket.socket | None:
    start = time.monotonic()
    lsock.settimeout(0.5)
    while True:
        if done.event.is_set():                    # the viewer failed before connecting
            return None
        try:
            conn, _ = lsock.accept()
            conn.settimeout(None)
            return conn
        except TimeoutError:
            if timeout is not None and time.monotonic() - start >= timeout:
                raise VirtctlError(f"error encountered: accept tcp {address}:{port}: i/o timeout") from None


def _watch_viewer(viewer: subprocess.Popen, done: _Done) -> None:
    output, _ = viewer.communicate()
    if viewer.returncode != 0:
        text = (output or b"").decode(errors="replace")
        program = viewer.args[0] if isinstance(viewer.args, (list, tuple)) else viewer.args
        log_line(f"{program!s} execution failed: exit status {viewer.returncode}, output: {text}", "error")
        done.set(f"exit status {viewer.returncode}")
    else:
        done.set()


def launch_viewer(argv: list[str]) -> subprocess.Popen:
    try:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
    except OSError as e:
        raise VirtctlError(f"error encountered: {e.strerror or e}") from None
