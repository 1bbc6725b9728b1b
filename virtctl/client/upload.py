"""The HTTP side of ``virtctl image-upload``: CDI's upload proxy protocol (a ``HEAD`` probe of
``/v1beta1/upload-async``, then a ``POST`` of the image with ``Authorization: Bearer <token>``),
streamed from the file in 1 MiB blocks (docs/standalone.md#image-upload).

Go virtctl trusts the system's roots for the upload proxy; we trust them and also the CA of the
kubeconfig in use (the standalone controller signs its upload endpoint with that CA), so a local
upload needs no ``--insecure``.
"""

from __future__ import annotations

import http.client
import io
import ssl
from typing import Callable
from urllib.parse import urlsplit

from virtctl.client.kubeconfig import ClientConfig
from virtctl.client.transport import system_tls_context
from virtctl.errors import ConnectionFailed
from virtctl.streams.tlsbio import TLSConnection

BLOCK = 1 << 20
ASYNC_PATH = "/v1beta1/upload-async"
SYNC_PATH = "/v1beta1/upload"


def tls_context(cfg: ClientConfig | None, insecure: bool) -> ssl.SSLContext:
    """The system's roots plus the kubeconfig's CA (not read at all with ``insecure``)."""
    return system_tls_context(None if insecure or cfg is None else cfg.ca_pem(), insecure)


def join(base: str, path: str) -> str:
    """Go virtctl's ConstructUploadProxyPath: ``path`` appended unless the URL already has it."""
    if path in base:
        return base
    parts = urlsplit(base)
    joined = "/".join(p for p in (parts.path.strip("/"), path.strip("/")) if p)
    return f"{parts.scheme}://{parts.netloc}/{joined}"


class _HTTPSConnection(http.client.HTTPConnection):
    """HTTPS with TLS done on memory buffers (``streams/tlsbio.py``): the image leaves in 1 MiB
    socket writes instead of a system call per 16 KiB TLS record."""

    default_port = 443

    def __init__(self, host: str, port: int, ctx: ssl.SSLContext):
        super().__init__(host, port, timeout=300, blocksize=BLOCK)
        self.tls_context = ctx

    def connect(self) -> None:
        super().connect()
        conn = TLSConnection(self.sock, self.tls_context, server_side=False, server_hostname=self.host)
        conn.do_handshake()
        self.sock = conn


def _connection(url: str, ctx: ssl.SSLContext) -> tuple[http.client.HTTPConnection, str]:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "https":
        conn: http.client.HTTPConnection = _HTTPSConnection(host, parts.port or 443, ctx)
    else:
        conn = http.client.HTTPConnection(host, parts.port or 80, timeout=300, blocksize=BLOCK)
    return conn, (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _failed(method: str, url: str, e: BaseException) -> ConnectionFailed:
    return ConnectionFailed(f'{method.capitalize()} "{url}": {e}')


def upload_url(base: str, token: str, ctx: ssl.SSLContext) -> str:
    """The async endpoint when its HEAD probe answers 200, else the synchronous one."""
    url = join(base, ASYNC_PATH)
    conn, path = _connection(url, ctx)
    try:
        conn.request("HEAD", path, headers={"Authorization": f"Bearer {token}"})
        ok = conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        ok = False
    finally:
        conn.close()
    return url if ok else join(base, SYNC_PATH)


def post(url: str, token: str, src: io.BufferedReader, length: int, ctx: ssl.SSLContext,
         progress: Callable[[int], None] | None = None) -> tuple[int, str]:
    """POST ``length`` bytes of ``src``; (status, body text). A server that answers before the body
    is all sent (a refusal) is still heard."""
    conn, path = _connection(url, ctx)
    try:
        try:
            conn.putrequest("POST", path, skip_accept_encoding=True)
            conn.putheader("Authorization", f"Bearer {token}")
            conn.putheader("Content-Type", "application/octet-stream")
            conn.putheader("Content-Length", str(length))
            conn.endheaders()
            sent = 0
            buf = bytearray(BLOCK)
            view = memoryview(buf)
            while sent < length:
                n = src.readinto(view[:min(BLOCK, length - sent)])     # one buffer for the whole body
                if not n:
                    break
                try:
                    conn.send(view[:n])
                except (BrokenPipeError, ConnectionResetError):
                    break                      # the server answered early; read what it said
                sent += n
                if progress is not None:
                    progress(sent)
            resp = conn.getresponse()
            return resp.status, resp.read().decode(errors="replace")
        except (OSError, http.client.HTTPException) as e:
            raise _failed("POST", url, e) from None
    finally:
        conn.close()
