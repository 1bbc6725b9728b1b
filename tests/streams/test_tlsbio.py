"""TLSConnection (virtctl/streams/tlsbio.py): real TLS over real loopback sockets, against itself and
against ``ssl.SSLSocket`` on the other end."""

from __future__ import annotations

import hashlib
import os
import socket
import ssl
import threading
from pathlib import Path
from typing import Any, Callable

import pytest

from virtctl.controller.pki import ensure_pki
from virtctl.streams.tlsbio import TLSConnection


@pytest.fixture(scope="module")
def contexts(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    pki = ensure_pki(Path(tmp_path_factory.mktemp("pki")))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(pki.server_cert, pki.server_key)
    client = ssl.create_default_context(cadata=pki.ca_pem().decode())
    return server, client


def _serve(server_ctx: ssl.SSLContext, handle: Callable[[Any], None], *, bio: bool) -> tuple[int, threading.Thread]:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    errors: list[BaseException] = []

    def run() -> None:
        with listener:
            sock, _ = listener.accept()
        sock.settimeout(30)
        try:
            if bio:
                conn: Any = TLSConnection(sock, server_ctx, server_side=True)
                conn.do_handshake()
            else:
                conn = server_ctx.wrap_socket(sock, server_side=True)
            handle(conn)
        except BaseException as e:   # noqa: BLE001 - reported to the test below
            errors.append(e)
        finally:
            sock.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.errors = errors         # type: ignore[attr-defined]
    return port, thread


def _client(ctx: ssl.SSLContext, port: int, hostname: str = "127.0.0.1") -> TLSConnection:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    conn = TLSConnection(sock, ctx, server_side=False, server_hostname=hostname)
    conn.do_handshake()
    return conn


def _read_all(f: Any) -> bytes:
    digest, buf = hashlib.sha256(), bytearray(3 << 20)
    while n := f.readinto(buf):
        digest.update(buf[:n])
    return digest.digest()


@pytest.mark.parametrize("server_bio", [True, False], ids=["tlsbio-server", "sslsocket-server"])
def test_a_large_body_arrives_intact_both_ways(contexts: tuple[ssl.SSLContext, ssl.SSLContext],
                                               server_bio: bool) -> None:
    server_ctx, client_ctx = contexts
    body = os.urandom((5 << 20) + 12345)         # not a whole number of records or blocks
    got: dict[str, bytes] = {}

    def handle(conn: Any) -> None:
        f = conn.makefile("rb")
        got["hash"] = hashlib.sha256(f.read(len(body))).digest()
        conn.sendall(body[::-1])
        f.close()

    port, thread = _serve(server_ctx, handle, bio=server_bio)
    conn = _client(client_ctx, port)
    conn.sendall(memoryview(body))
    back = conn.makefile("rb")
    answer = hashlib.sha256()
    left = len(body)
    while left:
        chunk = back.read(min(left, 1 << 20))
        assert chunk
        answer.update(chunk)
        left -= len(chunk)
    back.close()
    conn.close()
    thread.join(30)
    assert not thread.errors                     # type: ignore[attr-defined]
    assert got["hash"] == hashlib.sha256(body).digest()
    assert answer.digest() == hashlib.sha256(body[::-1]).digest()


def test_a_peer_gone_mid_stream_is_the_end_of_the_stream(contexts: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    server_ctx, client_ctx = contexts
    got: dict[str, bytes] = {}

    def handle(conn: Any) -> None:
        got["hash"] = _read_all(conn.makefile("rb", 0))

    port, thread = _serve(server_ctx, handle, bio=True)
    conn = _client(client_ctx, port)
    conn.sendall(b"x" * 100_000)
    conn.sock.shutdown(socket.SHUT_RDWR)         # no close_notify: a client killed mid upload
    conn.close()
    thread.join(30)
    assert not thread.errors                     # type: ignore[attr-defined]
    assert got["hash"] == hashlib.sha256(b"x" * 100_000).digest()


def test_the_server_name_is_verified(contexts: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    server_ctx, client_ctx = contexts
    port, thread = _serve(server_ctx, lambda conn: None, bio=True)
    with pytest.raises(ssl.SSLCertVerificationError):
        _client(client_ctx, port, hostname="not-this-host.example")
    thread.join(30)


def test_close_waits_for_the_files_made_from_the_connection(contexts: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    server_ctx, client_ctx = contexts
    port, thread = _serve(server_ctx, lambda conn: conn.sendall(b"answer"), bio=True)
    conn = _client(client_ctx, port)
    f = conn.makefile("rb")
    conn.close()                                  # as http.client does when the answer closes the connection
    assert f.read() == b"answer"
    f.close()
    assert conn.sock.fileno() == -1
    thread.join(30)
