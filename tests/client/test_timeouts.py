"""Time-outs like client-go's, against real servers on 127.0.0.1:0 that misbehave: one that accepts
connections and never answers (TLS or plain HTTP), and one that cuts a watch stream."""

from __future__ import annotations

import socket
import struct
import threading

import pytest

from tests.cli.conftest import run_cli
from tests.client.proxies import SilentServer
from virtctl.client import KubeVirtClient, Overrides, resolve
from virtctl.client.transport import WebSocketParams
from virtctl.errors import ConnectionFailed
from virtctl.model import kinds
from virtctl.streams.dial import dial_once

WAITING_FOR_CONNECTION = ("Unable to connect to the server: net/http: request canceled while waiting for connection "
                          "(Client.Timeout exceeded while awaiting headers)\n")
AWAITING_HEADERS = ("Unable to connect to the server: net/http: request canceled (Client.Timeout exceeded while "
                    "awaiting headers)\n")


@pytest.fixture
def silent(tmp_path, monkeypatch):
    server = SilentServer()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KUBECONFIG", str(server.kubeconfig(tmp_path / "silent.kubeconfig")))
    yield server
    server.stop()


@pytest.mark.parametrize("command", [["get", "vm"], ["get", "vm", "x"], ["start", "x"], ["stop", "x"],
                                     ["snapshot", "create", "x"], ["console", "x"],
                                     ["vnc", "x", "--proxy-only"]])
def test_a_silent_server_fails_every_command_within_the_request_timeout(silent, command):
    res = run_cli(["--request-timeout=1s", *command])
    # ends in client-go's words (a command may name what it was doing first, as Go's do)
    last = res.err.splitlines()[-1] if res.err else ""
    assert res.code == 1 and last.endswith(WAITING_FOR_CONNECTION.split(": ", 1)[1].strip()), res
    assert "Traceback" not in res.err
    assert silent.accepted                        # it did connect: the time-out cut the TLS handshake


def test_request_timeout_in_seconds_bounds_waiting_for_the_answer(tmp_path, monkeypatch):
    server = SilentServer()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KUBECONFIG", str(server.kubeconfig(tmp_path / "plain.kubeconfig", scheme="http")))
    try:
        res = run_cli(["--request-timeout", "1", "get", "vm"])   # plain HTTP: connected, then no answer
    finally:
        server.stop()
    assert (res.code, res.err) == (1, AWAITING_HEADERS), res


def test_without_request_timeout_the_tls_handshake_gives_up_like_client_go(silent):
    res = run_cli(["get", "vm"])                  # client-go's 10 s TLS handshake time-out
    assert (res.code, res.err) == (1, "Unable to connect to the server: net/http: TLS handshake timeout\n"), res


def test_websocket_dial_honours_the_request_timeout(silent):
    params = WebSocketParams(f"wss://127.0.0.1:{silent.port}/apis/x", None, {}, timeout=0.5)
    with pytest.raises(ConnectionFailed) as e:
        dial_once(params)
    assert e.value.message == WAITING_FOR_CONNECTION.strip()


# ---- a watch cut by a socket error says so; a watch the server ends cleanly ends quietly

EVENT = b'{"type":"ADDED","object":{"apiVersion":"kubevirt.io/v1","kind":"VirtualMachine","metadata":{"name":"a"}}}\n'


def watch_server(end: bytes, reset: bool) -> tuple[socket.socket, int]:
    """Answers one watch request with one event, then ``end`` and a close (an RST when ``reset``)."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = listener.accept()
        f = conn.makefile("rb")
        while f.readline() not in (b"\r\n", b""):
            pass
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                     + b"%x\r\n" % len(EVENT) + EVENT + b"\r\n" + end)
        f.close()
        if reset:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()
    threading.Thread(target=serve, daemon=True).start()
    return listener, listener.getsockname()[1]


def watch_events(port: int) -> tuple[list[str], BaseException | None]:
    kv = KubeVirtClient.from_config(resolve(Overrides(server=f"http://127.0.0.1:{port}")))
    seen: list[str] = []
    try:
        for _, obj in kv.watch(kinds.VM):
            seen.append(obj["metadata"]["name"])
    except ConnectionFailed as e:
        return seen, e
    finally:
        kv.close()
    return seen, None


def test_a_watch_cut_in_the_middle_reports_the_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    listener, port = watch_server(b"40\r\n{\"type\":", reset=True)
    try:
        seen, error = watch_events(port)
    finally:
        listener.close()
    assert seen == ["a"]
    assert isinstance(error, ConnectionFailed) and error.message.startswith("Unable to connect to the server:")


def test_a_watch_the_server_ends_ends_quietly(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    listener, port = watch_server(b"0\r\n\r\n", reset=False)
    try:
        assert watch_events(port) == (["a"], None)
    finally:
        listener.close()


def scripted_api(cut_watch: bool) -> tuple[socket.socket, int]:
    """A raw HTTP server: VM lists answer an empty list, a watch gets one event and then is cut
    (an RST in the middle of its chunked body) or ended cleanly; anything else is a 404 Status."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve(conn: socket.socket) -> None:
        f = conn.makefile("rb")
        try:
            while True:
                request_line = f.readline()
                if not request_line:
                    return
                while f.readline() not in (b"\r\n", b""):
                    pass
                target = request_line.split()[1].decode()
                if "watch=true" in target:
                    end = b"40\r\n{\"type\":" if cut_watch else b"0\r\n\r\n"
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                 b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % len(EVENT) + EVENT + b"\r\n" + end)
                    if cut_watch:
                        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    return
                if target.split("?")[0].endswith("/virtualmachines"):
                    body = (b'{"kind":"VirtualMachineList","apiVersion":"kubevirt.io/v1",'
                            b'"metadata":{"resourceVersion":"5"},"items":[]}')
                    status = b"200 OK"
                else:
                    body = b'{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}'
                    status = b"404 Not Found"
                conn.sendall(b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\nContent-Length: "
                             + str(len(body)).encode() + b"\r\n\r\n" + body)
        except OSError:
            return
        finally:
            f.close()
            conn.close()

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()
    threading.Thread(target=accept, daemon=True).start()
    return listener, listener.getsockname()[1]


@pytest.mark.parametrize("cut", [True, False])
def test_get_watch_reports_a_cut_stream_and_ends_quietly_otherwise(tmp_path, monkeypatch, cut) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    listener, port = scripted_api(cut_watch=cut)
    try:
        res = run_cli(["--server", f"http://127.0.0.1:{port}", "get", "vm", "-w", "-o", "name"])
    finally:
        listener.close()
    assert res.out.splitlines()[-1:] == ["virtualmachine.kubevirt.io/a"], res
    if cut:
        last = res.err.splitlines()[-1]
        assert res.code == 1 and last.startswith("Unable to connect to the server:") and "Traceback" not in res.err
    else:
        assert res.code == 0, res


def test_connections_keep_alive_like_client_go(api_server) -> None:
    from virtctl.client.http11 import KEEPALIVE

    kv = KubeVirtClient.from_config(resolve(Overrides(kubeconfig=str(api_server.kubeconfig_path))))
    try:
        kv.list(kinds.VM)
        sock = kv.transport._conn.sock             # the live connection the request used
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == KEEPALIVE == 30
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == 30
    finally:
        kv.close()


# ---- --request-timeout bounds the whole exchange (Go's Client.Timeout), not each read

def trickling_server(answer: bytes, step: int = 1, after_head: bytes = b"") -> tuple[socket.socket, int, list[int]]:
    """Reads one request, sends ``after_head`` at once and then ``answer`` ``step`` bytes at a time,
    every 0.25 s: each read gets something well within a second, the whole takes far longer.
    ``sent`` counts the bytes it managed to send before the client hung up."""
    import time

    listener = socket.create_server(("127.0.0.1", 0))
    sent = [0]

    def serve() -> None:
        conn, _ = listener.accept()
        f = conn.makefile("rb")
        try:
            while f.readline() not in (b"\r\n", b""):
                pass
            conn.sendall(after_head)
            for i in range(0, len(answer), step):
                conn.sendall(answer[i:i + step])
                sent[0] += len(answer[i:i + step])
                time.sleep(0.25)
        except OSError:
            return
        finally:
            f.close()
            conn.close()
    threading.Thread(target=serve, daemon=True).start()
    return listener, listener.getsockname()[1], sent


def test_a_server_that_answers_a_byte_at_a_time_is_cut_at_the_request_timeout(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    slow_head = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 60 + b"\r\nContent-Length: 2\r\n\r\n{}"
    listener, port, sent = trickling_server(slow_head)
    try:
        res = run_cli(["--server", f"http://127.0.0.1:{port}", "--request-timeout=1s", "get", "vm", "x"])
    finally:
        listener.close()
    assert (res.code, res.err.splitlines()[-1:]) == (1, [AWAITING_HEADERS.strip()]), res
    assert sent[0] < len(slow_head)               # it gave up long before the answer could be complete


def test_a_watch_ends_at_the_request_timeout_even_while_events_flow(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunk = b"%x\r\n" % len(EVENT) + EVENT + b"\r\n"
    listener, port, sent = trickling_server(chunk * 400, step=len(chunk), after_head=head)   # 4 events a second
    kv = KubeVirtClient.from_config(resolve(Overrides(server=f"http://127.0.0.1:{port}", request_timeout="1")))
    try:
        events = sum(1 for _ in kv.watch(kinds.VM))   # ends quietly, as kubectl get -w does
    finally:
        kv.close()
        listener.close()
    assert sent[0] < 400 * len(chunk) and 0 < events < 400     # the first event comes at once
