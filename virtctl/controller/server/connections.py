"""Connection handling of the API server: one selector thread, a bounded pool of workers.

* The selector thread accepts connections, runs their TLS handshakes without blocking, and keeps
  every connection that is waiting for its next request (new, or kept alive between requests):
  an idle socket costs a file descriptor, never a thread.
* A connection whose request starts to arrive goes to a worker (at most ``max_workers``); the worker
  serves requests while the client has more buffered, then hands the connection back.
* Deadlines bound every phase: the handshake, the first request of a new connection, the idle time
  between requests, a request head and a request body. A connection past its deadline is closed
  (a worker blocked on it is woken by shutting the socket down), so a slow or silent client frees
  what it holds. Long requests (a watch, a websocket) leave the pool: they have their own cap
  (``max_streams``) and the pool starts a replacement worker.
* At most ``max_connections`` are open; the oldest connection that never sent an authenticated
  request makes room for a new one.

See docs/standalone.md ("Limits") for the figures.
"""

from __future__ import annotations

import logging
import queue
import selectors
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("virtctl.controller.server")

HANDSHAKE, PARKED, ACTIVE, CLOSED = "handshake", "parked", "active", "closed"


@dataclass(frozen=True)
class ConnectionLimits:
    handshake_timeout: float = 10.0
    first_request_timeout: float = 10.0      # a new connection must start a request within this
    idle_timeout: float = 120.0              # a kept-alive (authenticated) connection between requests
    head_timeout: float = 10.0               # a request head, from its first byte
    body_timeout: float = 60.0               # a request body, from the end of the head
    max_connections: int = 1024
    max_workers: int = 16
    max_streams: int = 256


class Conn:
    """One client connection and where it is in its life."""

    __slots__ = ("address", "deadline", "handler", "served", "sock", "state")

    def __init__(self, sock: socket.socket, address: Any):
        self.sock = sock
        self.address = address
        self.state = HANDSHAKE
        self.deadline: float | None = None
        self.handler: Any = None
        self.served = False                  # has sent an authenticated request


def _cut(sock: socket.socket) -> None:
    """Wake whoever is blocked on ``sock`` (the plain socket call: SSLSocket.shutdown would drop the
    TLS object under a reader's feet)."""
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass


class ConnectionServer:
    """``serve_forever()`` runs the selector loop; ``shutdown()`` stops it; ``server_close()`` closes
    every connection. ``handler_class.serve_connection(conn, server)`` serves requests on a worker."""

    def __init__(self, address: tuple[str, int], tls: ssl.SSLContext | None, handler_class: Any,
                 limits: ConnectionLimits | None = None):
        self.tls = tls
        self.handler_class = handler_class
        self.limits = limits or ConnectionLimits()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.listener.bind(address)
            self.listener.listen(128)
        except OSError:
            self.listener.close()
            raise
        self.listener.setblocking(False)
        self.server_address = self.listener.getsockname()
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self.listener, selectors.EVENT_READ, "accept")
        self._selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._lock = threading.Lock()
        self._conns: dict[Conn, None] = {}            # every open connection, oldest first
        self._to_park: list[Conn] = []
        self._queue: queue.SimpleQueue[Conn | None] = queue.SimpleQueue()
        self._workers = 0
        self._idle_workers = 0
        self._streams = 0
        self._stop = threading.Event()
        self._stopped = threading.Event()
        self._stopped.set()
        self._local = threading.local()
        self._last_sweep = 0.0

    # ------------------------------------------------------------------ selector thread
    def serve_forever(self, poll_interval: float = 0.25) -> None:
        self._stopped.clear()
        try:
            while not self._stop.is_set():
                for key, events in self._selector.select(timeout=max(poll_interval, 0.05)):
                    if key.data == "accept":
                        self._accept()
                    elif key.data == "wake":
                        self._drain_wake()
                    else:
                        try:
                            self._ready(key.data, events)
                        except Exception as e:          # one broken connection must not stop the loop
                            log.error("connection from %s: %s: %s", key.data.address, type(e).__name__, e)
                            self._close_idle(key.data)
                self._take_parked()
                if time.monotonic() - self._last_sweep >= 0.1:
                    self._sweep()
        finally:
            self._stopped.set()

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    def _accept(self) -> None:
        while True:
            try:
                sock, address = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:                     # EMFILE and friends: try again on the next event
                log.warning("accept failed: %s", e)
                return
            if not self._make_room():
                sock.close()
                continue
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.tls is not None:
                try:
                    sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
                except (OSError, ValueError):
                    sock.close()
                    continue
            conn = Conn(sock, address)
            with self._lock:
                self._conns[conn] = None
            conn.deadline = time.monotonic() + self.limits.handshake_timeout
            if self.tls is None:
                self._parked(conn)
            else:
                self._selector.register(sock, selectors.EVENT_READ, conn)
                self._handshake(conn)

    def _make_room(self) -> bool:
        with self._lock:
            if len(self._conns) < self.limits.max_connections:
                return True
            victim = next((c for c in self._conns if not c.served and c.state in (HANDSHAKE, PARKED)), None)
        if victim is None:
            return False
        self._close_idle(victim)
        return True

    def _handshake(self, conn: Conn) -> None:
        sock: Any = conn.sock
        try:
            sock.do_handshake()
        except ssl.SSLWantReadError:
            self._selector.modify(sock, selectors.EVENT_READ, conn)
            return
        except ssl.SSLWantWriteError:
            self._selector.modify(sock, selectors.EVENT_WRITE, conn)
            return
        except (OSError, ValueError):               # a failed handshake is the client's business
            self._close_idle(conn)
            return
        self._selector.unregister(sock)
        self._parked(conn)

    def _parked(self, conn: Conn) -> None:
        """Wait (without a thread) for the connection's next request."""
        conn.state = PARKED
        limit = self.limits.idle_timeout if conn.served else self.limits.first_request_timeout
        conn.deadline = time.monotonic() + limit
        if isinstance(conn.sock, ssl.SSLSocket) and conn.sock.pending():
            self._dispatch(conn)
            return
        try:
            self._selector.register(conn.sock, selectors.EVENT_READ, conn)
        except (ValueError, OSError):
            self._close_idle(conn)

    def _ready(self, conn: Conn, events: int) -> None:
        if conn.state == HANDSHAKE:
            self._handshake(conn)
        elif conn.state == PARKED:
            self._selector.unregister(conn.sock)
            self._dispatch(conn)

    def _take_parked(self) -> None:
        with self._lock:
            todo, self._to_park = self._to_park, []
        for conn in todo:
            if conn.state != CLOSED:
                self._parked(conn)

    def _sweep(self) -> None:
        now = self._last_sweep = time.monotonic()
        with self._lock:
            late = [c for c in self._conns if c.deadline is not None and c.deadline < now]
        for conn in late:
            if conn.state in (HANDSHAKE, PARKED):
                self._close_idle(conn)
            elif conn.state == ACTIVE:
                conn.deadline = None
                log.debug("connection from %s: request too slow, closing", conn.address)
                _cut(conn.sock)

    def _close_idle(self, conn: Conn) -> None:
        """Close a connection that no worker is serving."""
        try:
            self._selector.unregister(conn.sock)
        except (KeyError, ValueError, OSError):
            pass
        self.close_connection(conn)

    def close_connection(self, conn: Conn) -> None:
        conn.state = CLOSED
        with self._lock:
            self._conns.pop(conn, None)
        if conn.handler is not None:
            try:
                conn.handler.finish()
            except OSError:
                pass
        try:
            conn.sock.close()
        except OSError:
            pass

    # ------------------------------------------------------------------ workers
    def _dispatch(self, conn: Conn) -> None:
        conn.state = ACTIVE
        conn.deadline = time.monotonic() + self.limits.head_timeout
        start = False
        with self._lock:
            if self._idle_workers == 0 and self._workers < self.limits.max_workers:
                self._workers += 1
                start = True
        if start:
            self._start_worker()
        self._queue.put(conn)

    def _start_worker(self) -> None:
        threading.Thread(target=self._work, name="api-worker", daemon=True).start()

    def _work(self) -> None:
        self._local.detached = False
        while True:
            with self._lock:
                self._idle_workers += 1
            conn = self._queue.get()
            with self._lock:
                self._idle_workers -= 1
            if conn is None:
                with self._lock:
                    self._workers -= 1
                return
            try:
                self.handler_class.serve_connection(conn, self)
            except (OSError, ValueError) as e:       # the client reset or vanished: its business
                log.debug("connection from %s ended: %s", conn.address, e)
                self.close_connection(conn)
            except Exception as e:                   # a handler bug must not cost the pool a worker
                log.error("connection from %s failed: %s: %s", conn.address, type(e).__name__, e)
                log.debug("traceback", exc_info=True)
                self.close_connection(conn)
            if self._local.detached:
                return

    def park(self, conn: Conn) -> None:
        """A worker hands back a kept-alive connection with nothing buffered."""
        conn.deadline = None
        with self._lock:
            self._to_park.append(conn)
        self._wake()

    def set_deadline(self, conn: Conn, seconds: float | None) -> None:
        conn.deadline = None if seconds is None else time.monotonic() + seconds

    def begin_stream(self, conn: Conn) -> bool:
        """The request on the calling worker becomes a long stream: it leaves the pool (a new worker
        takes its place). False when too many streams are open."""
        with self._lock:
            if self._streams >= self.limits.max_streams:
                return False
            self._streams += 1
            detach = not getattr(self._local, "detached", True)
            if detach:
                self._local.detached = True
        conn.deadline = None
        if detach:
            self._start_worker()                    # the pool keeps its size; this thread ends with the stream
        return True

    def end_stream(self) -> None:
        with self._lock:
            self._streams -= 1

    def stats(self) -> dict[str, int]:
        with self._lock:
            states = [c.state for c in self._conns]
            return {"connections": len(states), "parked": states.count(PARKED), "active": states.count(ACTIVE),
                    "workers": self._workers, "streams": self._streams}

    # ------------------------------------------------------------------ lifecycle
    def shutdown(self) -> None:
        self._stop.set()
        self._wake()
        self._stopped.wait(timeout=5)

    def server_close(self) -> None:
        self._stop.set()
        with self._lock:
            conns = list(self._conns)
            workers = self._workers
        for conn in conns:
            if conn.state == ACTIVE:
                _cut(conn.sock)
            else:
                self._close_idle(conn)
        for _ in range(workers):
            self._queue.put(None)
        for s in (self.listener, self._wake_r, self._wake_w):
            try:
                s.close()
            except OSError:
                pass
        try:
            self._selector.close()
        except (OSError, ValueError):
            pass
