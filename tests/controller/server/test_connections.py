"""Connections are bounded: idle sockets cost no thread, deadlines drop slow or silent clients,
unauthenticated connections are closed, long watches leave the worker pool."""

from __future__ import annotations

import dataclasses
import gc
import socket
import ssl
import threading
import time

from tests.controller.server.helpers import VMS, WatchStream
from virtctl.controller.server.connections import ConnectionLimits


def _limits(api_server, **changes) -> None:
    httpd = api_server.server.httpd
    httpd.limits = dataclasses.replace(httpd.limits, **changes)


def _tls(api_server) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", api_server.server.port), timeout=10)
    return api_server.ssl_context().wrap_socket(raw, server_hostname="127.0.0.1")


def _closed_by_server(sock: ssl.SSLSocket, within: float = 10) -> bool:
    sock.settimeout(within)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except (ConnectionResetError, ssl.SSLError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def _rss_kib() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def test_a_thousand_idle_tls_connections_hold_no_threads(api_server):
    api_server.request("GET", VMS)                        # warm up: a worker exists
    gc.collect()
    threads, rss = threading.active_count(), _rss_kib()
    idle = [_tls(api_server) for _ in range(1000)]
    try:
        time.sleep(0.5)
        assert threading.active_count() <= threads + 2, threading.active_count() - threads
        stats = api_server.server.httpd.stats()
        assert stats["connections"] >= 1000 and stats["workers"] <= ConnectionLimits().max_workers
        r = api_server.request("GET", VMS)                # an authenticated client is still served
        assert r.status == 200
        grown_mib = (_rss_kib() - rss) / 1024
        assert grown_mib < 150, f"{grown_mib:.0f} MiB for 1000 idle connections (both ends in this process)"
    finally:
        for s in idle:
            s.close()


def test_the_connection_cap_drops_the_oldest_unauthenticated_connection(api_server):
    _limits(api_server, max_connections=50)
    idle = [_tls(api_server) for _ in range(120)]
    try:
        time.sleep(0.3)
        assert api_server.server.httpd.stats()["connections"] <= 50
        assert api_server.request("GET", VMS).status == 200
        assert _closed_by_server(idle[0], within=5)
    finally:
        for s in idle:
            s.close()


def test_a_silent_connection_is_closed_after_the_first_request_deadline(api_server):
    _limits(api_server, first_request_timeout=0.5)
    s = _tls(api_server)
    try:
        assert _closed_by_server(s, within=10)
    finally:
        s.close()


def test_an_unauthenticated_request_closes_the_connection(api_server):
    s = _tls(api_server)
    try:
        s.sendall(f"GET {VMS} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        s.settimeout(10)
        head = s.recv(65536)
        assert head.startswith(b"HTTP/1.1 401")
        assert _closed_by_server(s)
    finally:
        s.close()


def _dribble(sock: ssl.SSLSocket, data: bytes, pause: float) -> int:
    """Send ``data`` a byte at a time; how many bytes went out before the server hung up."""
    for i in range(len(data)):
        try:
            sock.sendall(data[i:i + 1])
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            return i
        time.sleep(pause)
    return len(data)


def test_a_slow_loris_head_is_dropped(api_server):
    _limits(api_server, head_timeout=1.0)
    s = _tls(api_server)
    try:
        head = f"GET {VMS} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {api_server.token}\r\nX-Pad: {'a' * 60}\r\n\r\n"
        sent = _dribble(s, head.encode(), 0.1)
        assert sent < len(head) or _closed_by_server(s, within=5)
        assert not s.recv(65536) if sent == len(head) else True
    finally:
        s.close()
    assert api_server.request("GET", VMS).status == 200


def test_a_slow_body_is_dropped(api_server):
    _limits(api_server, body_timeout=1.0)
    s = _tls(api_server)
    try:
        s.sendall((f"POST {VMS} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {api_server.token}\r\n"
                   "Content-Type: application/json\r\nContent-Length: 200\r\n\r\n").encode())
        sent = _dribble(s, b"{" + b" " * 199, 0.1)
        assert sent < 200, "the server waited for the whole slow body"
    finally:
        s.close()
    assert api_server.request("GET", VMS).status == 200


def test_keep_alive_and_pipelined_requests(api_server):
    s = _tls(api_server)
    try:
        one = f"GET /version HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {api_server.token}\r\n\r\n".encode()
        s.sendall(one + one)                               # pipelined
        s.settimeout(10)
        data = b""
        while data.count(b"HTTP/1.1 200") < 2:
            data += s.recv(65536)
        time.sleep(0.3)                                    # parked between requests
        s.sendall(one)
        data = s.recv(65536)
        assert data.startswith(b"HTTP/1.1 200")
    finally:
        s.close()


def test_watches_leave_the_worker_pool(api_server):
    _limits(api_server, max_workers=2)
    watches = [WatchStream(api_server, f"{VMS}?watch=1") for _ in range(4)]
    try:
        assert all(w.resp.status == 200 for w in watches)
        assert api_server.request("GET", VMS).status == 200
        assert api_server.server.httpd.stats()["streams"] == 4
    finally:
        for w in watches:
            w.close()


def test_an_unauthenticated_post_gets_its_401_not_a_reset(api_server):
    body = b"{" + b" " * 200_000 + b"}"
    r = api_server.request("POST", VMS, body, headers={"Content-Type": "application/json"}, token="wrong")
    assert r.status == 401 and r.json()["reason"] == "Unauthorized"


def test_clients_that_reset_mid_request_leave_no_error_in_the_log(api_server, caplog):
    import logging
    import struct

    caplog.set_level(logging.INFO, logger="virtctl")
    for partial in (b"GET /ver", f"POST {VMS} HTTP/1.1\r\nContent-Length: 100\r\n".encode()):
        s = _tls(api_server)
        s.sendall(partial)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))    # close with a RST
        s.close()
    time.sleep(0.5)
    assert api_server.request("GET", VMS).status == 200
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
