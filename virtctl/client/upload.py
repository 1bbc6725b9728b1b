"""The HTTP side of ``virtctl image-upload``: CDI's upload proxy protocol (a ``HEAD`` probe of
``/v1beta1/upload-async``, then a ``POST`` of the image with ``Authorization: Bearer <token>``),
streamed from the file in 1 MiB blocks (docs/standalone.md#image-upload).

Go virtctl trusts the system's roots for the upload proxy; we trust them and also the CA of the
kubeconfig in use (the standalone controller signs its upload endpoint with that CA), so a local
upload needs no ``--insecure``.
"""

from __future__ import annotations

import io
import mmap
import ssl
from typing import Callable
from urllib.parse import urlsplit

from virtctl.client import http11
from virtctl.client.kubeconfig import ClientConfig
from virtctl.client.transport import system_tls_context
from virtctl.errors import ConnectionFailed

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


def _connection(url: str, ctx: ssl.SSLContext) -> tuple[http11.Connection, str]:
    """A connection for ``url`` (TLS on memory buffers: the image leaves in 1 MiB socket writes
    instead of a system call per 16 KiB TLS record) and the request target."""
    parts = urlsplit(url)
    https = parts.scheme == "https"
    conn = http11.Connection(parts.hostname or "", parts.port or (443 if https else 80), timeout=300,
                             ssl_context=ctx if https else None, bulk_tls=True)
    return conn, (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _failed(method: str, url: str, e: BaseException) -> ConnectionFailed:
    return ConnectionFailed(f'{method.capitalize()} "{url}": {e}')


def upload_url(base: str, token: str, ctx: ssl.SSLContext) -> str:
    """The async endpoint when its HEAD probe answers 200, else the synchronous one."""
    url = join(base, ASYNC_PATH)
    conn, path = _connection(url, ctx)
    try:
        ok = conn.request("HEAD", path, [("Authorization", f"Bearer {token}")]).status == 200
    except OSError:
        ok = False
    finally:
        conn.close()
    return url if ok else join(base, SYNC_PATH)


def _send_blocks(src: io.BufferedReader, length: int, send: Callable[[memoryview], bool]) -> None:
    """``send`` each block (at most ``BLOCK``) of the next ``length`` bytes of ``src`` until it
    returns False. A regular file is mapped: TLS encrypts straight from the page cache, with no
    copy into a buffer first."""
    try:
        mapped = mmap.mmap(src.fileno(), 0, access=mmap.ACCESS_READ) if length else None
    except (OSError, ValueError):              # a pipe, a character device, an empty file
        mapped = None
    if mapped is None:
        buf = memoryview(bytearray(BLOCK))      # one buffer for the whole body
        left = length
        while left > 0 and (n := src.readinto(buf[:min(BLOCK, left)])):
            left -= n
            if not send(buf[:n]):
                return
        return
    try:
        start = src.tell()
        end = min(start + length, len(mapped))
        mapped.madvise(mmap.MADV_SEQUENTIAL, start - start % mmap.PAGESIZE)
        for at in range(start, end, BLOCK):
            with memoryview(mapped)[at:min(at + BLOCK, end)] as block:   # released before the unmap
                if not send(block):
                    return
    finally:
        try:
            mapped.close()
        except BufferError:       # a failed send's traceback still holds a view: unmapped when freed
            pass


def post(url: str, token: str, src: io.BufferedReader, length: int, ctx: ssl.SSLContext,
         progress: Callable[[int], None] | None = None) -> tuple[int, str]:
    """POST ``length`` bytes of ``src``; (status, body text). A server that answers before the body
    is all sent (a refusal) is still heard."""
    conn, path = _connection(url, ctx)
    try:
        try:
            conn.send_head("POST", path, [("Authorization", f"Bearer {token}"),
                                          ("Content-Type", "application/octet-stream")], length)
            sent = 0

            def send(block: memoryview) -> bool:
                nonlocal sent
                try:
                    conn.write(block)
                except (BrokenPipeError, ConnectionResetError):
                    return False               # the server answered early; read what it said
                sent += len(block)
                if progress is not None:
                    progress(sent)
                return True
            _send_blocks(src, length, send)
            resp = conn.response("POST")
            return resp.status, resp.read().decode(errors="replace")
        except OSError as e:
            raise _failed("POST", url, e) from None
    finally:
        conn.close()
