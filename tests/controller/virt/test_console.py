"""The console ring and client hand-over, driven by a fake libvirt stream (the test driver has no
consoles; the real one is exercised in tests/e2e/test_boot.py)."""

from __future__ import annotations

import threading
import time

import libvirt

from virtctl.controller.virt.console import TAKEN_OVER, RingBuffer, SerialConsole


class FakeStream:
    def __init__(self):
        self.pending: list[bytes] = []
        self.sent: list[bytes] = []
        self.callback = None
        self.aborted = False
        self.eof = False

    def eventAddCallback(self, events, cb, opaque):
        self.callback = cb

    def eventRemoveCallback(self):
        self.callback = None

    def abort(self):
        self.aborted = True

    def recv(self, n):
        if self.pending:
            return self.pending.pop(0)
        return b"" if self.eof else -2

    def send(self, data):
        self.sent.append(data)
        return len(data)

    def feed(self, *chunks: bytes, eof: bool = False):
        self.pending.extend(chunks)
        self.eof = eof
        self.callback(self, libvirt.VIR_STREAM_EVENT_READABLE, None)


def test_ring_keeps_the_newest_bytes_with_absolute_offsets():
    ring = RingBuffer(10)
    ring.append(b"0123456789")
    ring.append(b"abc")
    assert ring.getvalue() == b"3456789abc"
    assert (ring.start, ring.end) == (3, 13)
    assert ring.read_from(11) == (b"bc", 13)
    assert ring.read_from(0) == (b"3456789abc", 13)       # older than kept: from the oldest byte


def test_ring_of_one_mib_under_many_small_chunks_is_fast():
    ring = RingBuffer(1 << 20)
    chunk = b"x" * 25                                      # the guest UART's typical burst
    t = time.monotonic()
    for _ in range(200_000):                               # 5 MB
        ring.append(chunk)
    assert time.monotonic() - t < 2.0
    assert len(ring.getvalue()) == 1 << 20 and ring.end == 5_000_000


def test_attach_takeover_write_and_wait():
    streams = [FakeStream()]
    console = SerialConsole(lambda: streams[-1]).start()
    first, second = [], []
    detached = []
    a = console.attach(first.append, detached.append)
    streams[0].feed(b"GUEST-", b"BOOT-OK\r\n")
    assert console.wait_for(b"GUEST-BOOT-OK", 1) == len(b"GUEST-BOOT-OK")
    console.attach(second.append)
    assert detached == [TAKEN_OVER] and not a.active
    streams[0].feed(b"guest# ")
    assert first == [b"GUEST-", b"BOOT-OK\r\n"] and second == [b"guest# "]
    console.write(b"echo hi\n")
    assert streams[0].sent == [b"echo hi\n"]
    assert console.output() == b"GUEST-BOOT-OK\r\nguest# "


def test_wait_for_finds_a_pattern_split_across_chunks_and_times_out():
    stream = FakeStream()
    console = SerialConsole(lambda: stream).start()
    threading.Timer(0.05, lambda: stream.feed(b"hel", b"lo-4", b"2\r\n")).start()
    assert console.wait_for(b"hello-42", 2) is not None
    since = console.offset
    assert console.wait_for(b"hello-42", 0.1, since=since) is None    # only new output counts


def test_reopens_after_eof_while_the_domain_exists_and_keeps_the_ring():
    streams = [FakeStream(), FakeStream()]
    opened = []

    def open_stream():
        s = streams[len(opened)] if len(opened) < len(streams) else None
        opened.append(s)
        return s

    console = SerialConsole(open_stream).start()
    streams[0].feed(b"before ", eof=True)                 # QEMU restarted (snapshot revert)
    deadline = time.monotonic() + 2
    while streams[1].callback is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert streams[0].aborted and console.reopens == 1
    streams[1].feed(b"after")
    assert console.output() == b"before after"
    streams[1].feed(eof=True)                             # domain gone: open_stream returns None
    time.sleep(0.3)
    assert not console.connected and console.reopens == 1
    console.close()
