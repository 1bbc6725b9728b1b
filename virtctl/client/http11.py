"""A small HTTP/1.1 client connection over ``socket`` and ``ssl``: what the API transport needs
(keep-alive requests, Content-Length and chunked bodies, a line-by-line stream for watches, an
HTTP CONNECT tunnel for proxies) and what the bulk transfers need (a request body streamed after its
head, a response body read in large pieces, TLS done on memory buffers with ``bulk_tls``:
``streams/tlsbio.py``) and nothing else.

``http.client`` would do, but importing it (with ``email`` for header parsing) costs more than a
whole ``virtctl get vm NAME`` request; this module costs nothing beyond ``socket`` and ``ssl``.
"""

from __future__ import annotations

import io
import socket
import time

TYPE_CHECKING = False
if TYPE_CHECKING:                  # typing costs start-up time; annotations only
    from collections.abc import Callable
    from typing import Any

MAX_LINE = 65536
MAX_HEADERS = 200
# client-go's transport (k8s.io/apimachinery utilnet.SetTransportDefaults): a 30 s dial and a 10 s
# TLS handshake, both also cut short by the request time-out (--request-timeout)
DIAL_TIMEOUT = 30.0
TLS_HANDSHAKE_TIMEOUT = 10.0
# and its dialer's TCP keep-alive (net.Dialer{KeepAlive: 30 s}): a watch over a dead path fails
# instead of waiting for ever
KEEPALIVE = 30


class HTTPError(OSError):
    """The server broke the HTTP protocol (bad status line, bad chunk, oversized header…)."""


class RemoteDisconnected(ConnectionResetError):
    """The server closed the connection before answering (an idle keep-alive connection, usually)."""


class ConnectTimeout(TimeoutError):
    """Setting up the connection took too long: ``phase`` is ``"dial"`` (TCP, and a proxy's CONNECT)
    or ``"tls"``; ``by_request`` when the request's own time-out ran out first."""

    def __init__(self, phase: str, by_request: bool):
        super().__init__(f"{phase} timed out")
        self.phase = phase
        self.by_request = by_request


class _ArmedReader(io.RawIOBase):
    """The socket as a raw stream (what ``makefile("rb")`` gives) that calls ``before`` ahead of
    every receive: the request's deadline then bounds a line that arrives byte by byte."""

    def __init__(self, sock: socket.socket, before: Callable[[], None]):
        super().__init__()
        self._sock = sock
        self._before = before

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self._before()
        return self._sock.recv_into(buffer)


class Response:
    """Status and headers at once; the body with :meth:`read` (whole) or :meth:`readline` (stream)."""

    def __init__(self, conn: Connection, status: int, reason: str, headers: list[tuple[str, str]],
                 method: str):
        self._conn = conn
        self.status = status
        self.reason = reason
        self.headers = headers
        lower = {k.lower(): v for k, v in headers}
        self._lower = lower
        self.will_close = "close" in lower.get("connection", "").lower()
        self._chunked = "chunked" in lower.get("transfer-encoding", "").lower()
        length = lower.get("content-length")
        self._remaining: int | None = None
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            self._remaining = 0
        elif not self._chunked and length is not None:
            try:
                self._remaining = int(length)
            except ValueError:
                raise HTTPError(f"invalid Content-Length {length!r}") from None
        elif not self._chunked:
            self.will_close = True               # body runs until the server closes
        self._chunk_left = 0
        self._done = self._remaining == 0
        self._pending = b""

    def header(self, name: str, default: str = "") -> str:
        return self._lower.get(name.lower(), default)

    def _read_chunk(self) -> bytes:
        """The next piece of a chunked body; b"" at its end."""
        f = self._conn.rfile
        if self._chunk_left == 0:
            line = f.readline(MAX_LINE + 1)
            if not line:
                raise RemoteDisconnected("connection closed in a chunked body")
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise HTTPError(f"invalid chunk size {line[:40]!r}") from None
            if size == 0:
                while True:                       # trailers, up to the blank line
                    trailer = f.readline(MAX_LINE + 1)
                    if trailer in (b"\r\n", b"\n", b""):
                        break
                self._done = True
                return b""
            self._chunk_left = size
        data = f.read1(self._chunk_left) if hasattr(f, "read1") else f.read(self._chunk_left)
        if not data:
            raise RemoteDisconnected("connection closed in a chunked body")
        self._chunk_left -= len(data)
        if self._chunk_left == 0:
            f.readline(MAX_LINE + 1)              # the CRLF after the chunk
        return data

    def read_piece(self, size: int = MAX_LINE) -> bytes:
        """The next piece of the body, at most ``size`` bytes (a chunk may give less); b"" at its end."""
        if self._done:
            return b""
        if self._chunked:
            return self._read_chunk()
        f = self._conn.rfile
        if self._remaining is None:
            data = f.read1(size)
            if not data:
                self._done = True
                self._finish()
            return data
        data = f.read1(min(self._remaining, size))
        if not data:
            raise RemoteDisconnected(f"connection closed with {self._remaining} bytes of the body unread")
        self._remaining -= len(data)
        self._done = self._remaining == 0
        if self._done:
            self._finish()
        return data

    def read(self) -> bytes:
        parts = [self._pending]
        self._pending = b""
        while True:
            piece = self.read_piece()
            if not piece:
                break
            parts.append(piece)
        self._finish()
        return b"".join(parts)

    def readline(self) -> bytes:
        """The next line of the body including its newline; b"" at the end."""
        while b"\n" not in self._pending:
            piece = self.read_piece()
            if not piece:
                line, self._pending = self._pending, b""
                self._finish()
                return line
            self._pending += piece
        line, _, self._pending = self._pending.partition(b"\n")
        return line + b"\n"

    def _finish(self) -> None:
        if self.will_close:
            self._conn.close()


class Connection:
    """One TCP (+TLS) connection to ``host:port``, optionally through an HTTP CONNECT ``tunnel``
    (then ``host:port`` is the proxy and ``tunnel`` the API server's ``(host, port)``)."""

    def __init__(self, host: str, port: int, *, timeout: float | None = None, ssl_context=None,
                 server_hostname: str | None = None, tunnel: tuple[str, int] | None = None,
                 host_header: str = "", bulk_tls: bool = False):
        self.host = host
        self.host_header = host_header           # a plain-HTTP proxy is sent the origin's Host
        self.port = port
        self.timeout = timeout
        self.ssl_context = ssl_context
        self.server_hostname = server_hostname
        self.tunnel = tunnel
        self.bulk_tls = bulk_tls
        self.sock: Any = None                    # socket.socket | ssl.SSLSocket once connected
        self.rfile: Any = None                   # its buffered reader
        # what the last request got through: bytes of it written, whether any answer arrived
        # (the transport's retry rule, :func:`may_retry`, depends on both)
        self.sent = 0
        self.answered = False
        self.deadline: float | None = None        # time.monotonic() by which the request must be done

    def connect(self) -> None:
        start = time.monotonic()
        dial = DIAL_TIMEOUT if self.timeout is None else min(DIAL_TIMEOUT, self.timeout)
        try:
            sock = socket.create_connection((self.host, self.port), dial)
        except TimeoutError:
            raise ConnectTimeout("dial", dial != DIAL_TIMEOUT) from None
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            _keepalive(sock)
            if self.tunnel is not None:
                try:
                    self._open_tunnel(sock)
                except TimeoutError:
                    raise ConnectTimeout("dial", dial != DIAL_TIMEOUT) from None
            if self.ssl_context is not None:
                handshake = TLS_HANDSHAKE_TIMEOUT
                if self.timeout is not None:
                    handshake = min(handshake, max(self.timeout - (time.monotonic() - start), 0.001))
                sock.settimeout(handshake)
                name = self.server_hostname or (self.tunnel[0] if self.tunnel else self.host)
                try:
                    sock = self._wrap(sock, name)
                except TimeoutError:
                    raise ConnectTimeout("tls", handshake != TLS_HANDSHAKE_TIMEOUT) from None
            sock.settimeout(self.timeout)
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        self.rfile = io.BufferedReader(_ArmedReader(sock, self.arm))

    def _wrap(self, sock: socket.socket, name: str) -> Any:
        if not self.bulk_tls:
            return self.ssl_context.wrap_socket(sock, server_hostname=name)
        from virtctl.streams.tlsbio import TLSConnection

        conn = TLSConnection(sock, self.ssl_context, server_side=False, server_hostname=name)
        conn.do_handshake()
        return conn

    def _open_tunnel(self, sock: socket.socket) -> None:
        host, port = self.tunnel  # type: ignore[misc]
        target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode("ascii"))
        f = sock.makefile("rb")
        try:
            status, reason = _status_line(f.readline(MAX_LINE + 1))
            _headers(f)
        finally:
            f.close()
        if status != 200:
            raise OSError(f"proxy refused the tunnel to {target}: {status} {reason}")

    def request(self, method: str, target: str, headers: list[tuple[str, str]],
                body: bytes | None = None, *, deadline: float | None = None) -> Response:
        """Send one request and read the answer's head. ``deadline`` (``time.monotonic()``) bounds
        the whole exchange, body included, as Go's ``Client.Timeout`` does: every read and write
        waits only for what is left of it."""
        head = self._head(method, target, headers, None if body is None else len(body), deadline)
        self.write(head + body if body else head)
        return self.response(method)

    def send_head(self, method: str, target: str, headers: list[tuple[str, str]], length: int) -> None:
        """Start a request whose ``length`` bytes of body follow through :meth:`write`; then
        :meth:`response`."""
        self.write(self._head(method, target, headers, length, None))

    def _head(self, method: str, target: str, headers: list[tuple[str, str]], length: int | None,
              deadline: float | None) -> bytes:
        self.deadline = deadline
        if self.sock is None:
            self.connect()
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host_header or self._host_header()}"]
        for k, v in headers:
            if "\r" in v or "\n" in v:
                raise ValueError(f"invalid value for header {k}")
            lines.append(f"{k}: {v}")
        if length is not None:
            lines.append(f"Content-Length: {length}")
        self.sent, self.answered = 0, False
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def write(self, data: Any) -> None:
        """Bytes of the request (its head, its body)."""
        assert self.sock is not None
        view = memoryview(data).cast("B")
        done = 0
        while done < len(view):                  # counted: "nothing written" makes any request safe to resend
            self.arm()
            n = self.sock.send(view[done:])
            done += n
            self.sent += n

    def response(self, method: str) -> Response:
        """The answer's head (the body is the :class:`Response`'s to read)."""
        assert self.rfile is not None
        line = self.rfile.readline(MAX_LINE + 1)
        if not line:
            raise RemoteDisconnected("the server closed the connection without answering")
        self.answered = True
        status, reason = _status_line(line)
        while status == 100:                      # 100 Continue: the real answer follows
            _headers(self.rfile)
            status, reason = _status_line(self.rfile.readline(MAX_LINE + 1))
        return Response(self, status, reason, _headers(self.rfile), method)

    def arm(self) -> None:
        """Let the next socket operation wait only until the request's deadline (called before
        every send and every receive, so a server trickling bytes cannot stretch it)."""
        if self.deadline is None or self.sock is None:
            return
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request's deadline passed")
        self.sock.settimeout(left)

    def _host_header(self) -> str:
        host, port = self.tunnel if self.tunnel else (self.host, self.port)
        name = f"[{host}]" if ":" in host else host
        return name if port == (443 if self.ssl_context is not None else 80) else f"{name}:{port}"

    def idle_closed(self) -> bool:
        """Whether the server closed (or broke) this idle keep-alive connection: it must not carry
        another request. Go's transport learns this from its background read; here a zero-time
        poll sees the FIN or RST (a TLS record that carries no data, such as a session ticket,
        leaves the connection usable)."""
        if self.sock is None:
            return True
        import select

        readable, _, _ = select.select([self.sock], [], [], 0)
        if not readable:
            return False
        import ssl

        self.sock.settimeout(0)
        try:
            self.sock.recv(1)                     # EOF, or bytes nobody asked for: unusable either way
            return True
        except (ssl.SSLWantReadError, BlockingIOError):
            return False
        except OSError:
            return True
        finally:
            if self.sock is not None:
                self.sock.settimeout(self.timeout)

    def settimeout(self, timeout: float | None) -> None:
        self.timeout = timeout
        if self.sock is not None:
            self.sock.settimeout(timeout)

    def close(self) -> None:
        rfile, sock = self.rfile, self.sock
        self.rfile = self.sock = None
        if rfile is not None:
            rfile.close()
        if sock is not None:
            sock.close()


def _keepalive(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name in ("TCP_KEEPIDLE", "TCP_KEEPINTVL"):        # Linux; elsewhere the system's defaults
        if hasattr(socket, name):
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), KEEPALIVE)


def _status_line(line: bytes) -> tuple[int, str]:
    if not line:
        raise RemoteDisconnected("the server closed the connection without answering")
    if len(line) > MAX_LINE:
        raise HTTPError("status line too long")
    parts = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit() or len(parts[1]) != 3:
        raise HTTPError(f"malformed HTTP status line {line[:60]!r}")
    return int(parts[1]), parts[2] if len(parts) > 2 else ""


def _headers(f) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    while True:
        line = f.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise HTTPError("header line too long")
        if line in (b"\r\n", b"\n"):
            return out
        if not line:
            raise RemoteDisconnected("connection closed in the response headers")
        if len(out) >= MAX_HEADERS:
            raise HTTPError(f"more than {MAX_HEADERS} headers")
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep:
            raise HTTPError(f"malformed header line {line[:60]!r}")
        out.append((name.strip(), value.strip()))
