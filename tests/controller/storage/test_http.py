"""The controller's outbound HTTP (storage/http.py) against real local servers: redirects and the
Authorization header, plain-HTTP refusal per hop, bodies as sent, short bodies, transport errors."""

from __future__ import annotations

import gzip
import io
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest

from tests.controller.storage.registry_fixture import free_loopback_port
from virtctl.controller.storage import http


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[tuple[str, str | None]] = []

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.send_response(status)
        fields = {"Content-Length": str(len(body))} | {k.replace("_", "-"): v for k, v in headers.items()}
        for k, v in fields.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.seen.append((self.path, self.headers.get("Authorization")))
        port = self.server.server_address[1]
        if self.path == "/same":
            self._send(302, Location="/final")
        elif self.path == "/other":           # same server, another host name: another origin
            self._send(307, Location=f"http://localhost:{port}/final")
        elif self.path == "/loop":
            self._send(302, Location="/loop")
        elif self.path == "/gzip":
            self._send(200, gzip.compress(b"as sent"), Content_Encoding="gzip")
        elif self.path == "/short":
            self._send(200, b"0123456789", Content_Length="100")
            self.close_connection = True
        else:
            self._send(200, b"final")


@pytest.fixture()
def server() -> Iterator[str]:
    _Handler.seen = []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


def _body(resp: http.Response) -> bytes:
    out = io.BytesIO()
    http.copy_body(resp, out)
    resp.close()
    return out.getvalue()


def test_redirect_keeps_authorization_on_the_same_host_only(server: str) -> None:
    assert _body(http.open_url("GET", f"http://{server}/same", {"Authorization": "Bearer t"})) == b"final"
    assert _Handler.seen == [("/same", "Bearer t"), ("/final", "Bearer t")]
    _Handler.seen = []
    assert _body(http.open_url("GET", f"http://{server}/other", {"Authorization": "Bearer t"})) == b"final"
    assert _Handler.seen == [("/other", "Bearer t"), ("/final", None)]


def test_every_hop_is_checked_for_plain_http(server: str) -> None:
    only_this = server.lower()
    with pytest.raises(http.PlainHTTPRefused, match=r"^refusing plain HTTP to localhost:\d+$"):
        http.open_url("GET", f"http://{server}/other", allow_plain=lambda hp: hp.lower() == only_this)
    assert [p for p, _ in _Handler.seen] == ["/other"]


def test_too_many_redirects(server: str) -> None:
    with pytest.raises(http.TooManyRedirects):
        http.open_url("GET", f"http://{server}/loop", max_redirects=3)
    assert len(_Handler.seen) == 4


def test_bodies_are_streamed_as_sent(server: str) -> None:
    resp = http.open_url("GET", f"http://{server}/gzip")
    assert resp.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(_body(resp)) == b"as sent"


def test_a_short_body_just_ends(server: str) -> None:
    resp = http.open_url("GET", f"http://{server}/short")
    assert resp.headers["Content-Length"] == "100" and _body(resp) == b"0123456789"


def test_tls_to_a_plain_http_server_is_a_handshake_failure(server: str) -> None:
    with pytest.raises(http.TransportError) as e:
        http.open_url("GET", f"https://{server}/", verify=False)
    assert e.value.handshake and not e.value.refused and e.value.hostport == server
    assert "\n" not in str(e.value)


def test_refused_and_unknown_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_loopback_port()
    with pytest.raises(http.TransportError, match="^connection refused$") as e:
        http.open_url("GET", f"http://127.0.0.1:{port}/")
    assert e.value.refused and not e.value.handshake

    def no_dns(*args: object, **kwargs: object) -> None:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    with pytest.raises(http.TransportError) as e:
        http.open_url("GET", "http://no-such-host.invalid:8080/")
    assert e.value.unknown_host and e.value.hostport == "no-such-host.invalid:8080"


def test_unsupported_scheme() -> None:
    with pytest.raises(http.UnsupportedScheme):
        http.open_url("GET", "ftp://127.0.0.1/x")
