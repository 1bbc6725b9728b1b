"""A domain's serial console: a bounded ring of everything the guest printed, one live client.

The stream is a NONBLOCK libvirt stream served by the default event loop, the fast pattern
(docs/standalone.md#measured-libvirt-and-qemu-facts). The guest UART delivers ~25-byte chunks, so
the readable callback only appends to the ring and hands the chunk to the attached client;
searching is incremental (``wait_for``), never a rescan of the whole buffer. When the stream ends
while the domain still exists (QEMU restarted by a snapshot revert, or the domain migrated), the
console is reopened and the ring keeps going.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

import libvirt

DEFAULT_RING_BYTES = 1 << 20
TAKEN_OVER = "taken over by another client"
CLOSED = "console closed"


class RingBuffer:
    """The last ``capacity`` bytes written, addressed by absolute offsets since the first byte."""

    def __init__(self, capacity: int = DEFAULT_RING_BYTES):
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self.capacity = capacity
        self._buf = bytearray()
        self._start = 0                      # absolute offset of _buf[0]

    @property
    def end(self) -> int:
        """Absolute offset just past the newest byte (= total bytes ever written)."""
        return self._start + len(self._buf)

    @property
    def start(self) -> int:
        return self._start

    def append(self, data: bytes) -> None:
        self._buf += data
        excess = len(self._buf) - self.capacity
        if excess > 0:
            del self._buf[:excess]           # CPython trims a bytearray's head without copying
            self._start += excess

    def read_from(self, offset: int) -> tuple[bytes, int]:
        """Bytes from ``offset`` (or the oldest kept byte) to the end, and the end offset."""
        begin = max(offset, self._start) - self._start
        return bytes(self._buf[begin:]), self.end

    def getvalue(self) -> bytes:
        return bytes(self._buf)


class Attachment:
    """One client's hold on the console: data goes to ``on_data`` until it is detached."""

    def __init__(self, console: SerialConsole, on_data: Callable[[bytes], None],
                 on_detach: Callable[[str], None] | None):
        self._console = console
        self.on_data = on_data
        self.on_detach = on_detach
        self.active = True

    def write(self, data: bytes) -> None:
        if not self.active:
            raise RuntimeError("console attachment is no longer active")
        self._console.write(data)

    def detach(self) -> None:
        self._console.detach(self)


class SerialConsole:
    """The serial console of one domain (real QEMU only: the test driver has no openConsole).

    ``open_stream`` opens a fresh console stream (NONBLOCK, FORCE) or returns None when the domain
    is gone; it is called again after the stream ends, until it returns None or ``reopen_timeout``
    passes without success.
    """

    def __init__(self, open_stream: Callable[[], Any], *, ring_bytes: int = DEFAULT_RING_BYTES,
                 reopen_timeout: float = 30.0):
        self._open_stream = open_stream
        self._reopen_timeout = reopen_timeout
        self.ring = RingBuffer(ring_bytes)
        self._cond = threading.Condition()
        self._stream: Any = None
        self._client: Attachment | None = None
        self._closed = False
        self.reopens = 0                     # how often the stream was reopened after EOF

    # --- lifecycle ---
    def start(self) -> SerialConsole:
        stream = self._open_stream()
        if stream is None:
            raise RuntimeError("the domain has no console to open")
        self._install(stream)
        return self

    def close(self) -> None:
        with self._cond:
            self._closed = True
            stream, self._stream = self._stream, None
            client, self._client = self._client, None
            self._cond.notify_all()
        if stream is not None:
            _drop_stream(stream)
        if client is not None:
            client.active = False
            if client.on_detach:
                client.on_detach(CLOSED)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def connected(self) -> bool:
        return self._stream is not None

    # --- clients ---
    def attach(self, on_data: Callable[[bytes], None],
               on_detach: Callable[[str], None] | None = None) -> Attachment:
        """Make this client the one receiving live output; a previous client is told it was taken over."""
        new = Attachment(self, on_data, on_detach)
        with self._cond:
            old, self._client = self._client, new
        if old is not None:
            old.active = False
            if old.on_detach:
                old.on_detach(TAKEN_OVER)
        return new

    def detach(self, attachment: Attachment) -> None:
        with self._cond:
            if self._client is attachment:
                self._client = None
        attachment.active = False

    def write(self, data: bytes, timeout: float = 5.0) -> None:
        """Send ``data`` to the guest's serial port."""
        deadline = time.monotonic() + timeout
        view = memoryview(data)
        while view:
            stream = self._stream
            if stream is None:
                if self._closed or time.monotonic() > deadline:
                    raise RuntimeError("console is not connected")
                time.sleep(0.05)
                continue
            sent = stream.send(bytes(view))
            if sent == -2:                   # EAGAIN
                if time.monotonic() > deadline:
                    raise TimeoutError("console write timed out")
                time.sleep(0.005)
                continue
            view = view[sent:]

    # --- reading ---
    def output(self) -> bytes:
        """Everything kept in the ring (the last ``ring_bytes`` of output since boot)."""
        with self._cond:
            return self.ring.getvalue()

    def read_from(self, offset: int) -> tuple[bytes, int]:
        with self._cond:
            return self.ring.read_from(offset)

    @property
    def offset(self) -> int:
        with self._cond:
            return self.ring.end

    def wait_for(self, pattern: bytes, timeout: float, since: int = 0) -> int | None:
        """Wait until ``pattern`` appears at or after offset ``since``; its end offset, or None on timeout."""
        deadline = time.monotonic() + timeout
        checked = since
        with self._cond:
            while True:
                data, end = self.ring.read_from(max(checked - len(pattern) + 1, since))
                base = end - len(data)
                i = data.find(pattern)
                if i >= 0:
                    return base + i + len(pattern)
                checked = end
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closed:
                    return None
                self._cond.wait(remaining)

    # --- stream plumbing (event-loop thread) ---
    def _install(self, stream: Any) -> None:
        with self._cond:
            if self._closed:
                _drop_stream(stream)
                return
            self._stream = stream
        stream.eventAddCallback(libvirt.VIR_STREAM_EVENT_READABLE | libvirt.VIR_STREAM_EVENT_ERROR
                                | libvirt.VIR_STREAM_EVENT_HANGUP, self._on_event, None)

    def _on_event(self, stream: Any, events: int, _opaque: Any) -> None:
        ended = bool(events & (libvirt.VIR_STREAM_EVENT_ERROR | libvirt.VIR_STREAM_EVENT_HANGUP))
        chunks = []
        while True:
            try:
                data = stream.recv(65536)
            except libvirt.libvirtError:
                ended = True
                break
            if data == -2:
                break
            if not data:
                ended = True
                break
            chunks.append(data)
        client = None
        with self._cond:
            for c in chunks:
                self.ring.append(c)
            client = self._client
            if ended and self._stream is stream:
                self._stream = None
            self._cond.notify_all()
        if client is not None and chunks:
            for c in chunks:
                client.on_data(c)
        if ended:
            _drop_stream(stream)
            if not self._closed:
                threading.Thread(target=self._reopen, name="console-reopen", daemon=True).start()

    def _reopen(self) -> None:
        deadline = time.monotonic() + self._reopen_timeout
        delay = 0.1
        while not self._closed and time.monotonic() < deadline:
            try:
                stream = self._open_stream()
            except libvirt.libvirtError:
                stream = False               # domain exists but QEMU is not ready yet: retry
            if stream is None:               # the domain is gone: nothing to reopen
                break
            if stream:
                self.reopens += 1
                self._install(stream)
                return
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
        with self._cond:
            self._cond.notify_all()


def _drop_stream(stream: Any) -> None:
    try:
        stream.eventRemoveCallback()
    except libvirt.libvirtError:
        pass
    try:
        stream.abort()
    except libvirt.libvirtError:
        pass
