"""What the small loopback TLS servers beside the API server share (CDI's upload proxy in
``upload.py``, the export server in ``export.py``; docs/standalone.md): a thread per connection, the
TLS handshake in that thread (never in the accept loop) under a per-connection timeout, and
plain-text answers. TLS is done on memory buffers (``streams/tlsbio.py``): bodies of gigabytes
move in 1 MiB socket reads and writes instead of a system call per TLS record."""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from virtctl.controller.runtime import Runtime
from virtctl.streams.tlsbio import TLSConnection


@dataclass(frozen=True)
class Answer:
    """A short plain-text answer: a refusal, or the empty 200 of a ``HEAD`` probe."""
    status: int
    text: str = ""


class PlainTextHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self, answer: Answer) -> None:
        body = answer.text.encode()
        self.send_response(answer.status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class TLSThreadingServer(ThreadingHTTPServer):
    """A loopback HTTPS server on a free port; ``io_timeout`` bounds each socket operation."""

    daemon_threads = True
    io_timeout = 60.0

    def __init__(self, runtime: Runtime, tls: ssl.SSLContext, handler: type[BaseHTTPRequestHandler]):
        self.runtime = runtime
        self.tls = tls
        super().__init__(("127.0.0.1", 0), handler)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server_address[1]}"

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(self.io_timeout)
        conn = TLSConnection(request, self.tls, server_side=True)
        try:
            conn.do_handshake()
        except (OSError, ssl.SSLError):
            return
        try:
            super().finish_request(conn, client_address)      # type: ignore[arg-type]  # a socket to the handler
        finally:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
