"""ApiServer: the threaded HTTPS server of standalone mode, on 127.0.0.1 only. It serves one
:class:`~virtctl.controller.runtime.Runtime` (built by ``daemon.build_runtime``); the subresource
handlers are those of ``subresource_routes.SUBRESOURCES`` unless a test brings its own table."""

from __future__ import annotations

import logging
import ssl
import threading
from pathlib import Path
from typing import Any

from virtctl.controller.pki import PKI
from virtctl.controller.runtime import Runtime
from virtctl.controller.server.connections import ConnectionServer
from virtctl.controller.server.handler import ApiHandler
from virtctl.controller.server.messages import ServerState
from virtctl.controller.server.subresource_routes import SUBRESOURCES
from virtctl.controller.subresource import SubresourceTable
from virtctl.errors import ConfigError

log = logging.getLogger("virtctl.controller.server")

LOOPBACK = ("127.0.0.1", "localhost")


def tls_context(pki: PKI) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(pki.server_cert), str(pki.server_key))
    ctx.set_alpn_protocols(["http/1.1"])        # Go offers h2 first; we speak HTTP/1.1 only
    # No TLS 1.3 session tickets. They arrive after the handshake, while a websocket client that
    # reads in one thread and writes in another (the `websockets` sync client) is sending its
    # upgrade request on the same SSL object; that race lost the request now and then. Nothing
    # here resumes sessions anyway.
    ctx.num_tickets = 0
    return ctx


class ApiHTTPServer(ConnectionServer):
    """The connection server with what the request handlers share: the state and the open websockets."""

    def __init__(self, address: tuple[str, int], state: ServerState, tls: ssl.SSLContext | None):
        self.state = state
        self._open: set[Any] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, tls, ApiHandler)

    def track(self, conn: Any) -> None:
        with self._open_lock:
            self._open.add(conn)

    def untrack(self, conn: Any) -> None:
        with self._open_lock:
            self._open.discard(conn)

    def close_streams(self) -> None:
        with self._open_lock:
            conns = list(self._open)
        for c in conns:
            try:
                c.close(1001, "server shutting down")
            except Exception:
                pass


class ApiServer:
    """``start()`` serves in a background thread; ``serve_forever()`` in the caller's; ``shutdown()``."""

    def __init__(self, runtime: Runtime, *, token: str, pki: PKI | None, host: str = "127.0.0.1", port: int = 0,
                 max_body: int = 3 * 1024 * 1024, subresources: SubresourceTable = SUBRESOURCES):
        if host not in LOOPBACK:
            raise ConfigError(f"refusing to listen on {host}: the local API server binds 127.0.0.1 only")
        self.state = ServerState(runtime=runtime, token=token, subresources=subresources, max_body=max_body)
        self.pki = pki
        try:
            self.httpd = ApiHTTPServer(("127.0.0.1", port), self.state, tls_context(pki) if pki else None)
        except OSError as e:
            raise ConfigError(f"cannot listen on 127.0.0.1:{port}: {e.strerror or e}") from None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"{'https' if self.pki else 'http'}://127.0.0.1:{self.port}"

    @property
    def ca_path(self) -> Path | None:
        return self.pki.ca_cert if self.pki else None

    def start(self) -> ApiServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="api-server", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.05)

    def shutdown(self) -> None:
        self.state.stopping.set()
        self.httpd.shutdown()
        self.httpd.close_streams()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

