"""Port-forward keep-alive: a peer that answers pings stays, one that went silent is dropped."""

from __future__ import annotations

import socket
import threading
import time

from virtctl.controller import guest_access


class Peer:
    """The server's view of a websocket: ``ping()`` and the underlying socket."""

    def __init__(self, answers: bool):
        self.socket, self.remote = socket.socketpair()
        self.answers = answers
        self.pings = 0

    def ping(self) -> threading.Event:
        self.pings += 1
        pong = threading.Event()
        if self.answers:
            pong.set()
        return pong


def test_silent_peer_is_dropped_and_live_one_kept(monkeypatch):
    monkeypatch.setattr(guest_access, "PING_INTERVAL", 0.02)
    monkeypatch.setattr(guest_access, "PONG_TIMEOUT", 0.3)
    keepalive = guest_access._Keepalive()
    live, silent = Peer(True), Peer(False)
    keepalive.add(live)
    keepalive.add(silent)
    silent.remote.settimeout(5)
    assert silent.remote.recv(1) == b""                 # shut down by the keep-alive
    time.sleep(0.1)
    live.remote.setblocking(False)
    try:
        live.remote.recv(1)
        raise AssertionError("the live peer was dropped")
    except BlockingIOError:
        pass                                            # still open
    assert live.pings > 5
    keepalive.remove(live)
    deadline = time.monotonic() + 5
    while keepalive._thread is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert keepalive._thread is None                    # no connection left: its thread ended
