"""Real misbehaving servers on 127.0.0.1:0 for the transport tests.

* :class:`DroppingProxy`: a plain-HTTP reverse proxy in front of the embedded API server (real TLS
  behind it) that forwards every request and then, when its policy says so, resets the client's
  connection instead of relaying the answer — what a flaky load balancer does to a keep-alive
  connection. It records every request it forwarded.
* :class:`SilentServer`: accepts connections and never answers a byte.
* :class:`ConnectProxy`: an HTTP CONNECT proxy that relays bytes and records the tunnels asked for.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import struct
import threading
from collections.abc import Callable
from pathlib import Path

# policy(method, target) -> "relay" | "drop" (forward, then reset) | "close" (relay, then close)
Policy = Callable[[str, str], str]


def _reset(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class ThreadedServer:
    """A TCP listener on 127.0.0.1:0 that hands each accepted connection to ``_serve`` in a thread of
    its own (subclasses set their state before calling ``__init__``: serving starts at once)."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        raise NotImplementedError


class DroppingProxy(ThreadedServer):
    def __init__(self, upstream_port: int, ca_path: Path, policy: Policy):
        self.upstream_port = upstream_port
        self.ctx = ssl.create_default_context(cafile=str(ca_path))
        self.policy = policy
        self.forwarded: list[tuple[str, str]] = []
        self.closed = threading.Event()          # set each time the proxy closed a client connection
        self._lock = threading.Lock()
        super().__init__()

    def kubeconfig(self, path: Path, token: str) -> Path:
        path.write_text(
            "apiVersion: v1\nkind: Config\ncurrent-context: p\n"
            f"clusters:\n- name: p\n  cluster:\n    server: http://127.0.0.1:{self.port}\n"
            f"users:\n- name: p\n  user:\n    token: {token}\n"
            "contexts:\n- name: p\n  context:\n    cluster: p\n    user: p\n    namespace: default\n")
        return path

    def stop(self) -> None:
        self.listener.close()

    def _serve(self, client: socket.socket) -> None:
        upstream = http.client.HTTPSConnection("127.0.0.1", self.upstream_port, context=self.ctx, timeout=30)
        rfile = client.makefile("rb")
        try:
            while True:
                request_line = rfile.readline()
                if not request_line:
                    return
                method, target, _ = request_line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while True:
                    line = rfile.readline().decode("latin-1")
                    if line in ("\r\n", "\n", ""):
                        break
                    k, _, v = line.partition(":")
                    headers[k.strip()] = v.strip()
                length = int(headers.get("Content-Length", "0"))
                body = rfile.read(length) if length else None
                for hop in ("Host", "Connection", "Content-Length"):
                    headers.pop(hop, None)
                upstream.request(method, target, body=body, headers=headers)
                resp = upstream.getresponse()
                data = resp.read()
                with self._lock:
                    self.forwarded.append((method, target))
                    action = self.policy(method, target)
                if action == "drop":
                    rfile.close()
                    _reset(client)
                    self.closed.set()
                    return
                head = [f"HTTP/1.1 {resp.status} {resp.reason}"]
                head += [f"{k}: {v}" for k, v in resp.getheaders()
                         if k.lower() not in ("content-length", "connection", "transfer-encoding")]
                head.append(f"Content-Length: {len(data)}")
                client.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + data)
                if action == "close":             # an idle keep-alive connection the proxy ends
                    rfile.close()
                    client.close()
                    self.closed.set()
                    return
        except OSError:
            return
        finally:
            upstream.close()
            try:
                client.close()
            except OSError:
                pass

    def count(self, method: str, path_part: str) -> int:
        with self._lock:
            return sum(1 for m, t in self.forwarded if m == method and path_part in t)


class SilentServer(ThreadedServer):
    """Accepts TCP connections and never sends a byte (nor closes them) until stopped."""

    def __init__(self) -> None:
        self.accepted: list[socket.socket] = []
        super().__init__()

    def _serve(self, client: socket.socket) -> None:
        self.accepted.append(client)

    def kubeconfig(self, path: Path, scheme: str = "https") -> Path:
        path.write_text(
            "apiVersion: v1\nkind: Config\ncurrent-context: s\n"
            f"clusters:\n- name: s\n  cluster:\n    server: {scheme}://127.0.0.1:{self.port}\n"
            "    insecure-skip-tls-verify: true\n"
            "users:\n- name: s\n  user:\n    token: t\n"
            "contexts:\n- name: s\n  context:\n    cluster: s\n    user: s\n")
        return path

    def stop(self) -> None:
        self.listener.close()
        for conn in self.accepted:
            conn.close()


class ConnectProxy(ThreadedServer):
    """A real HTTP CONNECT proxy that relays bytes and records the tunnels asked for."""

    def __init__(self) -> None:
        self.targets: list[str] = []
        super().__init__()

    def _serve(self, client: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(4096)
            if not chunk:
                return
            head += chunk
        method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ")
        self.targets.append(f"{method} {target}")
        host, port = target.rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)))
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")

        def pump(src: socket.socket, dst: socket.socket) -> None:
            try:
                while data := src.recv(65536):
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                for s in (src, dst):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        threading.Thread(target=pump, args=(upstream, client), daemon=True).start()
        pump(client, upstream)

    def close(self) -> None:
        self.listener.close()
