"""TLS for bulk transfers over a connected socket, done by OpenSSL on memory buffers
(docs/standalone.md#image-upload). ``ssl.SSLSocket`` makes one or two system calls for each 16 KiB
TLS record and one Python call per record; here the socket is read in 1 MiB blocks and written in
one ``sendall`` per 1 MiB of plaintext, and a read decrypts every record already received. On a
loopback upload that is about half the system time of the transfer.

:class:`TLSConnection` stands in for the ``ssl.SSLSocket`` that ``http.client`` and
``http.server`` use (``sendall``, ``makefile``, ``recv_into``, timeouts, ``shutdown``, ``close``).
"""

from __future__ import annotations

import io
import socket
import ssl
from typing import Any, cast

BLOCK = 1 << 20          # plaintext encrypted per sendall, ciphertext asked of the socket per read


class TLSConnection:
    """A client or server TLS connection over ``sock``; :meth:`do_handshake` before use."""

    def __init__(self, sock: socket.socket, context: ssl.SSLContext, *, server_side: bool,
                 server_hostname: str | None = None):
        self.sock = sock
        self._in, self._out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = context.wrap_bio(self._in, self._out, server_side=server_side, server_hostname=server_hostname)
        self._recv = memoryview(bytearray(BLOCK))
        self._io_refs = 0
        self._closed = False

    def _flush(self) -> None:
        if self._out.pending:
            self.sock.sendall(self._out.read())

    def _flush_reading(self) -> None:
        """What reading made OpenSSL send (session tickets, key updates): a peer that is gone is
        told by the read, not by this write."""
        try:
            self._flush()
        except OSError:
            pass

    def _fill(self) -> bool:
        """More ciphertext from the socket; False at its end."""
        n = self.sock.recv_into(self._recv)
        if not n:
            self._in.write_eof()
            return False
        self._in.write(self._recv[:n])
        return True

    def do_handshake(self) -> None:
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._flush()
                if not self._fill():
                    raise ssl.SSLEOFError(ssl.SSL_ERROR_EOF, "EOF occurred in violation of protocol") from None
        self._flush()

    def cipher(self) -> tuple[str, str, int] | None:
        return self.tls.cipher()

    def recv_into(self, buffer: Any, nbytes: int = 0) -> int:
        """Up to ``nbytes`` of plaintext: whatever is already received once there is some, else it
        waits for the socket. 0 at the end of the stream (a peer gone without close_notify
        included, as ``SSLSocket``'s ``suppress_ragged_eofs``)."""
        view = memoryview(buffer).cast("B")
        want = min(nbytes or len(view), len(view))
        got = 0
        while got < want:
            try:
                got += cast(int, self.tls.read(want - got, view[got:want]))   # with a buffer: a count
            except ssl.SSLWantReadError:
                if got:
                    break
                self._flush_reading()
                if not self._fill():
                    continue                     # the next read tells EOF from a cut record
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                break
            if not self._in.pending and not self.tls.pending():
                break
        self._flush_reading()
        return got

    def recv(self, n: int) -> bytes:
        buf = bytearray(n)
        return bytes(buf[:self.recv_into(buf)])

    def sendall(self, data: Any) -> None:
        view = memoryview(data).cast("B")
        for start in range(0, len(view), BLOCK):
            self.tls.write(view[start:start + BLOCK])
            self.sock.sendall(self._out.read())

    def send(self, data: Any) -> int:
        self.sendall(data)
        return memoryview(data).nbytes

    def makefile(self, mode: str = "r", buffering: int | None = None, **_: Any) -> Any:
        if "w" in mode:
            raw: io.RawIOBase = _Writer(self)
            self._io_refs += 1
            return raw if buffering == 0 else io.BufferedWriter(raw, buffering or io.DEFAULT_BUFFER_SIZE)
        raw = _Reader(self)
        self._io_refs += 1
        if buffering == 0:
            return raw
        return io.BufferedReader(raw, buffering if buffering and buffering > 0 else io.DEFAULT_BUFFER_SIZE)

    def settimeout(self, timeout: float | None) -> None:
        self.sock.settimeout(timeout)

    def gettimeout(self) -> float | None:
        return self.sock.gettimeout()

    def setsockopt(self, *args: Any) -> None:
        self.sock.setsockopt(*args)

    def getpeername(self) -> Any:
        return self.sock.getpeername()

    def fileno(self) -> int:
        return self.sock.fileno()

    def shutdown(self, how: int) -> None:
        self.sock.shutdown(how)

    def _decref(self) -> None:
        self._io_refs -= 1
        if self._closed and self._io_refs <= 0:
            self.sock.close()

    def close(self) -> None:
        """Closes the socket once no file made by :meth:`makefile` is open (as ``socket.close``)."""
        self._closed = True
        if self._io_refs <= 0:
            self.sock.close()


class _Reader(io.RawIOBase):
    def __init__(self, conn: TLSConnection):
        self.conn = conn

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        return self.conn.recv_into(b)

    def close(self) -> None:
        if not self.closed:
            super().close()
            self.conn._decref()


class _Writer(io.RawIOBase):
    def __init__(self, conn: TLSConnection):
        self.conn = conn

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        self.conn.sendall(b)
        return memoryview(b).nbytes

    def close(self) -> None:
        if not self.closed:
            super().close()
            self.conn._decref()
