"""The console ring and client hand-over, driven by a fake libvirt stream (the test driver has no
consoles; the real one is exercised in tests/e2e/test_boot.py)."""

from __future__ import annotations

import threading
import time

import libvirt

from virtctl.controller.virt.console import TAKEN_OVER, RingBuffer, SerialConsole
from virtctl.controller.virt.consoles import ARRIVED, FRESH, ConsoleRegistry, console_action
from virtctl.controller.virt.hypervisor import DomainEvent, DomainState, DomainStatus


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


# ------------------------------------------------------------------ the registry

class RecordingHost:
    """A host whose consoles are FakeStream-backed SerialConsoles; records what was opened."""

    def __init__(self, node_name: str):
        self.node_name = node_name
        self.opened: list[str] = []
        self.callbacks: list = []
        self.running: dict[str, DomainStatus] = {}

    def on_event(self, cb) -> None:
        self.callbacks.append(cb)

    def emit(self, domain: str, event: str, detail: str) -> None:
        for cb in self.callbacks:
            cb(DomainEvent(domain, event, detail))

    def list_domains(self) -> dict[str, DomainStatus]:
        return dict(self.running)

    def open_console(self, domain: str, force: bool = True) -> SerialConsole:
        self.opened.append(domain)
        return SerialConsole(FakeStream).start()


def wait_until(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


def test_console_action_of_each_event():
    assert console_action(DomainEvent("ns_a", "started", "booted")) == FRESH
    assert console_action(DomainEvent("ns_a", "started", "wakeup")) == FRESH
    # the target of a migration reports started/migrated while the guest still runs on the source
    assert console_action(DomainEvent("ns_a", "started", "migrated")) is None
    assert console_action(DomainEvent("ns_a", "resumed", "migrated")) == ARRIVED
    for event, detail in (("started", "from-snapshot"), ("started", "restored"), ("resumed", "unpaused"),
                          ("stopped", "destroyed"), ("suspended", "paused"), ("reboot", "")):
        assert console_action(DomainEvent("ns_a", event, detail)) is None


def test_registry_opens_by_events_on_one_thread_and_follows_a_migration():
    node1, node2 = RecordingHost("node01"), RecordingHost("node02")
    node1.running["ns_up"] = DomainStatus(DomainState.RUNNING, "booted", "u0")
    registry = ConsoleRegistry([node1, node2]).start()
    try:
        wait_until(lambda: registry.get("ns_up") is not None)      # running at start: opened
        threads = threading.active_count()
        for i in range(50):
            node1.emit(f"ns_vm{i}", "started", "booted")
        wait_until(lambda: all(registry.get(f"ns_vm{i}") is not None for i in range(50)))
        assert threading.active_count() == threads                  # no thread per event
        source = registry.get("ns_vm0")

        node2.emit("ns_vm0", "started", "migrated")                 # incoming QEMU prepared on node02
        node1.emit("ns_vm1", "started", "booted")                   # (a later event, to know it was seen)
        wait_until(lambda: node1.opened.count("ns_vm1") == 2)
        assert "ns_vm0" not in node2.opened and registry.get("ns_vm0") is source and not source.closed
        assert registry.live(node1, "ns_vm0") is source             # a cancelled migration: still here

        node2.emit("ns_vm0", "resumed", "migrated")                 # the migration finished
        wait_until(lambda: "ns_vm0" in node2.opened)
        wait_until(lambda: registry.get("ns_vm0") is not source)
        assert source.closed
        moved = registry.get("ns_vm0")
        assert registry.live(node2, "ns_vm0") is moved
        back = registry.live(node1, "ns_vm0")                       # asked for on another host: reopened there
        assert back is not moved and moved.closed and node1.opened.count("ns_vm0") == 2
    finally:
        registry.close()
    assert not any(t.name == "console-opener" and t.is_alive() for t in threading.enumerate())
    assert registry.get("ns_vm0") is None
    node1.emit("ns_late", "started", "booted")                       # closed: events are inert
    time.sleep(0.05)
    assert "ns_late" not in node1.opened
