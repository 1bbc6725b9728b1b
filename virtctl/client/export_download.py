"""The HTTP side of ``virtctl vmexport download``: a GET of the export link with the export token
in ``x-kubevirt-export-token``, trusting the certificate the export's status carries (or nothing,
with ``--insecure``), streamed to the output in 1 MiB blocks, gunzipped on the way when asked; the
manifests (``--manifest``) the same way with an ``Accept`` header (docs/compatibility.md#vm-export)."""

from __future__ import annotations

import zlib
from typing import BinaryIO
from urllib.parse import urlsplit

from virtctl.client import http11
from virtctl.client.transport import system_tls_context
from virtctl.errors import ConnectionFailed, VirtctlError

TOKEN_HEADER = "x-kubevirt-export-token"
BLOCK = 1 << 20


def download(url: str, token: str, out: BinaryIO, *, cert_pem: str, insecure: bool, decompress: bool,
             accept: str = "") -> int:
    """Stream ``url`` into ``out``; the bytes written. A status other than 200 is Go's
    ``bad status: <code> <text>``."""
    parts = urlsplit(url)
    ctx = system_tls_context(cert_pem, insecure)
    conn = http11.Connection(parts.hostname or "", parts.port or 443, timeout=300, ssl_context=ctx, bulk_tls=True)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        headers = [(TOKEN_HEADER, token)]
        if accept:
            headers.append(("Accept", accept))
        resp = conn.request("GET", path, headers)
        if resp.status != 200:
            resp.read()
            raise VirtctlError(f"bad status: {resp.status} {resp.reason}")
        gunzip = zlib.decompressobj(31) if decompress else None
        written = 0
        while chunk := resp.read_piece(BLOCK):
            if gunzip is not None:
                try:
                    chunk = gunzip.decompress(chunk)
                except zlib.error as e:
                    raise VirtctlError(f"gzip: invalid data: {e}") from None
            out.write(chunk)
            written += len(chunk)
        if gunzip is not None:
            tail = gunzip.flush()
            out.write(tail)
            written += len(tail)
            if not gunzip.eof:
                raise VirtctlError("unexpected EOF")
        return written
    except OSError as e:
        raise ConnectionFailed(f'Get "{url}": {e}') from None
    finally:
        conn.close()
