"""The core ``services/{id}/proxy`` subresource: its decisions as plain functions, and the whole
path through the real API server (TLS, token, routing, endpoint choice, the request and answer
relayed) to a real HTTP server on 127.0.0.1 standing in for the guest's port. Only the dial into
the guest (a loopback host forward into QEMU, see tests/e2e/test_service_proxy_standalone.py) is
replaced by a connection to that server."""

from __future__ import annotations

import gzip
import http.client
import http.server
import json
import socket
import ssl
import threading
import uuid
from typing import Any

import pytest

from tests.conftest import _start_server, _stop_server
from virtctl import errors
from virtctl.controller.pki import ensure_pki
from virtctl.controller.server import service_proxy as sp
from virtctl.controller.server import upgrade_stream
from virtctl.controller.virt.libvirt_host import LibvirtHost
from virtctl.model.kinds import SERVICE, VMI

PROXY = "/api/v1/namespaces/default/services"


# ---------------------------------------------------------------- decisions

def test_split_id_is_split_scheme_name_port():
    assert sp.split_id("web") == ("", "web", "")
    assert sp.split_id("web:80") == ("", "web", "80")
    assert sp.split_id("web:http") == ("", "web", "http")
    assert sp.split_id("https:web:443") == ("https", "web", "443")
    assert sp.split_id("http:web:") == ("http", "web", "")
    for bad in ("ftp:web:21", ":80", "a:b:c:d", ""):
        with pytest.raises(errors.BadRequest) as e:
            sp.split_id(bad)
        assert e.value.message == f'invalid service request "{bad}"'


def _svc(ports: list[dict], selector: dict | None = None, name: str = "web") -> dict:
    return {"metadata": {"name": name, "namespace": "default"},
            "spec": {"ports": ports, **({"selector": selector} if selector is not None else {})}}


def _vmi(name: str, labels: dict, phase: str = "Running", paused: bool = False, ports: list | None = None) -> dict:
    conditions = [{"type": "Paused", "status": "True"}] if paused else []
    return {"metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", "labels": labels},
            "spec": {"domain": {"devices": {"interfaces": [{"name": "default", "ports": ports or []}]}}},
            "status": {"phase": phase, "conditions": conditions}}


def test_port_number_names_the_service_port():
    svc = _svc([{"name": "http", "port": 80}, {"name": "alt", "port": 8080}])
    assert sp.port_name(svc, "web", "8080") == "alt"
    assert sp.port_name(svc, "web", "http") == "http"
    assert sp.port_name(svc, "web", "") == ""
    assert sp.port_name(_svc([{"port": 80}]), "web", "80") == ""
    with pytest.raises(errors.ServiceUnavailable) as e:
        sp.port_name(svc, "web", "81")
    assert (e.value.code, e.value.message) == (503, 'no service port 81 found for service "web"')


def test_endpoints_are_the_running_selected_vmis_and_their_target_ports():
    svc = _svc([{"name": "http", "port": 80, "targetPort": 8080}, {"name": "named", "port": 81, "targetPort": "web"}],
               selector={"app": "x"})
    a = _vmi("a", {"app": "x"}, ports=[{"name": "web", "port": 9090}])
    b = _vmi("b", {"app": "x"})
    stopped = _vmi("c", {"app": "x"}, phase="Scheduling")
    other = _vmi("d", {"app": "y"})
    got = sp.endpoints(svc, [a, b, stopped, other], "web", "http", "web:http")
    assert [(v["metadata"]["name"], p) for v, p in got] == [("a", 8080), ("b", 8080)]
    # a named target port resolves on the VMIs that declare it only
    got = sp.endpoints(svc, [a, b], "web", "named", "web:81")
    assert [(v["metadata"]["name"], p) for v, p in got] == [("a", 9090)]
    # the launcher's labels select too
    by_id = _svc([{"port": 80}], selector={"vmi.kubevirt.io/id": "b"})
    assert [v["metadata"]["name"] for v, _ in sp.endpoints(by_id, [a, b], "web", "", "web")] == ["b"]


def test_endpoint_errors_are_kubes():
    svc = _svc([{"name": "http", "port": 80}], selector={"app": "x"})
    with pytest.raises(errors.ServiceUnavailable) as e:
        sp.endpoints(svc, [_vmi("a", {"app": "y"})], "web", "http", "web:80")
    assert e.value.message == 'no endpoints available for service "web"'
    # endpoints exist but none for this port name: the message names the whole id
    with pytest.raises(errors.ServiceUnavailable) as e:
        sp.endpoints(svc, [_vmi("a", {"app": "x"})], "web", "nosuch", "web:nosuch")
    assert e.value.message == 'no endpoints available for service "web:nosuch"'
    # a paused VMI is a not-ready address: there are endpoints, none ready
    with pytest.raises(errors.ServiceUnavailable) as e:
        sp.endpoints(svc, [_vmi("a", {"app": "x"}, paused=True)], "web", "http", "web")
    assert e.value.message == 'no endpoints available for service "web"' and e.value.code == 503
    # no selector: no Endpoints object at all
    with pytest.raises(errors.NotFound) as nf:
        sp.endpoints(_svc([{"port": 80}]), [_vmi("a", {"app": "x"})], "web", "", "web")
    assert nf.value.message == 'endpoints "web" not found'


def test_subpath_and_backend_target():
    base = "/api/v1/namespaces/default/services/web:80/proxy"
    assert sp.subpath(base) == ""
    assert sp.subpath(base + "/") == "/"
    assert sp.subpath(base + "/a/b") == "/a/b"
    assert sp.subpath(base + "/a/b/") == "/a/b/"
    assert sp.subpath("/api//v1/namespaces/default/services/web/proxy/x") == "/x"
    assert sp.backend_target("", "") == "/"
    assert sp.backend_target("/", "a=1&b=2") == "/?a=1&b=2"
    assert sp.backend_target("/a//b/", "") == "/a/b/"
    assert sp.backend_target("/a b/ü(x)", "q=%20") == "/a%20b/%C3%BC%28x%29?q=%20"
    assert sp.backend_target("/x:y@z;p=1,2$&+", "") == "/x:y@z;p=1,2$&+"
    assert sp.path_prepend(base + "/a b/", "/a b/") == base
    assert sp.path_prepend(base + "/", "/") == base
    assert sp.path_prepend(base + "/a//b", "/a//b") == base + "/a//b"      # not the guest's path: kept whole


def test_request_headers_drop_hop_by_hop_and_authorization():
    got = sp.request_headers(
        [("Host", "127.0.0.1:6443"), ("Authorization", "Bearer secret"), ("Connection", "keep-alive, X-Drop"),
         ("X-Drop", "1"), ("Keep-Alive", "5"), ("Upgrade", "h2c"), ("Te", "trailers"), ("Content-Length", "3"),
         ("Transfer-Encoding", "chunked"), ("Accept", "text/html"), ("X-Forwarded-For", "10.1.1.1"),
         ("Proxy-Authorization", "Basic x")],
        "127.0.0.1", "/api/v1/namespaces/default/services/web/proxy/", 3)
    assert got == [("Host", "127.0.0.1:6443"), ("Accept", "text/html"), ("X-Forwarded-For", "10.1.1.1, 127.0.0.1"),
                   ("X-Forwarded-Uri", "/api/v1/namespaces/default/services/web/proxy/"), ("Content-Length", "3")]


def test_response_headers_and_location_rewrite():
    prepend = "/api/v1/namespaces/default/services/web/proxy"
    got = sp.response_headers(
        [("Content-Type", "text/plain"), ("Content-Length", "5"), ("Connection", "close"), ("Set-Cookie", "a=1"),
         ("Set-Cookie", "b=2"), ("Access-Control-Allow-Origin", "*"), ("Location", "/login?next=/")],
        lambda url: sp.rewrite_location(url, prepend, "10.0.2.15:80", "127.0.0.1:6443"))
    assert got == [("Content-Type", "text/plain"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"),
                   ("Location", prepend + "/login?next=/")]
    rw = sp.rewrite_location
    assert rw("http://10.0.2.15:80/x/", prepend, "10.0.2.15:80", "h:1") == prepend + "/x/"
    assert rw("https://h:1/x", prepend, "10.0.2.15:80", "h:1") == "https://h:1" + prepend + "/x"
    assert rw("http://example.com/x", prepend, "10.0.2.15:80", "h:1") == "http://example.com/x"
    assert rw("relative/x", prepend, "10.0.2.15:80", "h:1") == "relative/x"
    assert rw(prepend + "/already", prepend, "10.0.2.15:80", "h:1") == prepend + "/already"


def test_upgrade_decisions():
    assert sp.is_upgrade_request(["Upgrade"]) and sp.is_upgrade_request(["keep-alive, upgrade"])
    assert not sp.is_upgrade_request(["keep-alive"]) and not sp.is_upgrade_request([])
    head = upgrade_stream.request_head("GET", "/ws?a=1", [("Host", "h"), ("Authorization", "Bearer t"),
                                                          ("Connection", "Upgrade"), ("Upgrade", "websocket"),
                                                          ("X-Forwarded-For", "10.0.0.1")], "127.0.0.1", 0)
    assert head == (b"GET /ws?a=1 HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                    b"X-Forwarded-For: 10.0.0.1, 127.0.0.1\r\n\r\n")
    assert upgrade_stream.answer_status(b"HTTP/1.1 101 Switching Protocols\r\n\r\n") == 101
    with pytest.raises(ValueError):
        upgrade_stream.answer_status(b"SSH-2.0-dropbear\r\n\r\n")
    assert upgrade_stream.body_left(b"HTTP/1.1 403 F\r\nContent-Length: 6\r\n\r\nden") == 3
    assert upgrade_stream.body_left(b"HTTP/1.1 403 F\r\n\r\n") is None


def test_reach_errors_in_gos_words():
    assert sp.reach_error(TimeoutError()) == "net/http: timeout awaiting response headers"
    assert sp.reach_error(http.client.RemoteDisconnected("x")) == "EOF"


# ---------------------------------------------------------------- through the API server

class Guest(http.server.ThreadingHTTPServer):
    """The guest's web server: answers with what it was asked, records every request."""

    daemon_threads = True

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        super().__init__(("127.0.0.1", 0), _GuestHandler)


class _GuestHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Guest

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.seen.append({"method": self.command, "path": self.path, "headers": dict(self.headers.items()),
                                 "body": body})
        if self.path.startswith("/big"):
            chunk = b"x" * 65536
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(80):                        # 5 MiB, more than the request body limit
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
            return
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", "/landing")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path.startswith("/upgrade") and self.headers.get("Upgrade"):
            if self.path.startswith("/upgrade-refused"):
                self.send_response(403)
                self.send_header("Content-Length", "6")
                self.end_headers()
                self.wfile.write(b"denied")
                return
            self.send_response(101)
            self.send_header("Connection", "Upgrade")
            self.send_header("Upgrade", self.headers["Upgrade"])
            self.end_headers()
            self.wfile.flush()
            self.close_connection = True
            while data := self.connection.recv(4096):      # the upgraded protocol: an upper-casing echo
                self.connection.sendall(data.upper())
            return
        if self.path.startswith("/page"):
            page = gzip.compress(b'<html><a href="/docs/">d</a><a href="http://10.0.2.15:8080/abs">a</a>'
                                 b'<a href="rel">r</a></html>')
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
            return
        if self.path.startswith("/hang-up"):
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        out = json.dumps({"method": self.command, "path": self.path, "body": body.decode()}).encode()
        self.send_response(201 if self.command == "POST" else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.send_header("Connection", "X-Private")
        self.send_header("X-Private", "hop")
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("X-Guest", "yes")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _any


@pytest.fixture
def env(tmp_path, monkeypatch, no_traceback_logged):
    host = LibvirtHost("test:///default", "node01", owner_id=f"svcproxy-{uuid.uuid4().hex}")
    api, handles = _start_server(tmp_path / "state", hosts=[host])
    guest = Guest()
    threading.Thread(target=guest.serve_forever, daemon=True).start()
    dialled: list[tuple[str, int]] = []

    def to_local_server(state: Any, vmi: dict, port: int) -> sp.Backend:
        dialled.append((vmi["metadata"]["name"], port))
        sock = socket.create_connection(("127.0.0.1", guest.server_address[1]))
        return sp.Backend(sock, sock.close)

    yield api, guest, dialled, to_local_server, monkeypatch
    guest.shutdown()
    guest.server_close()
    _stop_server(handles)
    host.close()


def _create(api: Any, svc: dict, *vmis: dict) -> None:
    api.store.create(SERVICE, "default", {"apiVersion": "v1", "kind": "Service", **svc})
    for v in vmis:
        status = v.pop("status")
        api.store.create(VMI, "default", {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance", **v})
        api.store.mutate(VMI, "default", v["metadata"]["name"],
                         lambda o, s=status: o.update(status={**s, "nodeName": "node01"}), subresource="status")


def _web(api: Any) -> None:
    _create(api, _svc([{"port": 80, "targetPort": 8080, "protocol": "TCP"}], selector={"app": "web"}),
            _vmi("vm1", {"app": "web"}))


def test_get_post_head_relayed_with_path_query_and_headers(env):
    api, guest, dialled, to_local, mp = env
    mp.setattr(sp, "connect_guest", to_local)
    _web(api)
    r = api.request("GET", f"{PROXY}/web:80/proxy/a/b%20c/?x=1&y=%2F", headers={"X-Client": "1"})
    assert r.status == 200, r.body
    assert r.json() == {"method": "GET", "path": "/a/b%20c/?x=1&y=%2F", "body": ""}
    assert dialled[-1] == ("vm1", 8080)                   # the Service port's targetPort in the chosen VMI
    assert r.headers["X-Guest"] == "yes" and r.headers["Content-Type"] == "application/json"
    assert r.headers["X-Private"] is None and r.headers["Access-Control-Allow-Origin"] is None
    seen = guest.seen[-1]["headers"]
    assert "Authorization" not in seen                    # the apiserver's token never reaches the guest
    assert seen["X-Client"] == "1" and seen["X-Forwarded-For"] == "127.0.0.1"
    assert seen["X-Forwarded-Uri"] == "/api/v1/namespaces/default/services/web:80/proxy/a/b%20c/"

    _create(api, _svc([{"name": "http", "port": 80, "targetPort": 8081}], selector={"app": "web"}, name="named"))
    r = api.request("POST", f"{PROXY}/named:http/proxy/submit", body="hello", headers={"Content-Type": "text/plain"})
    assert dialled[-1] == ("vm1", 8081)
    assert (r.status, r.json()) == (201, {"method": "POST", "path": "/submit", "body": "hello"})
    r = api.request("HEAD", f"{PROXY}/http:web:80/proxy/")
    assert r.status == 200 and r.body == b"" and guest.seen[-1]["method"] == "HEAD"
    for method in ("PUT", "PATCH", "DELETE", "OPTIONS"):
        r = api.request(method, f"{PROXY}/web/proxy/m", body="{}")
        assert (r.status, r.json()["method"]) == (200, method)


def test_a_big_chunked_answer_is_streamed(env):
    api, guest, dialled, to_local, mp = env
    mp.setattr(sp, "connect_guest", to_local)
    _web(api)
    conn = http.client.HTTPSConnection("127.0.0.1", api.port, context=api.ssl_context(), timeout=30)
    conn.request("GET", f"{PROXY}/web/proxy/big", headers={"Authorization": f"Bearer {api.token}"})
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("Transfer-Encoding") == "chunked"
    total = 0
    while data := resp.read(1 << 20):
        total += len(data)
    assert total == 80 * 65536
    # the kept-alive connection serves the next request
    conn.request("GET", f"{PROXY}/web/proxy/again", headers={"Authorization": f"Bearer {api.token}"})
    assert json.loads(conn.getresponse().read())["path"] == "/again"
    conn.close()


def test_redirects(env):
    api, guest, dialled, to_local, mp = env
    mp.setattr(sp, "connect_guest", to_local)
    _web(api)
    # an empty path on GET: kube's 301 to the path with "/", nothing sent to the guest
    r = api.request("GET", f"{PROXY}/web/proxy?a=1")
    assert (r.status, r.headers["Location"]) == (301, f"{PROXY}/web/proxy/?a=1")
    assert dialled == []
    # a redirect of the guest's to its own absolute path stays under the proxy path
    r = api.request("GET", f"{PROXY}/web/proxy/redirect")
    assert (r.status, r.headers["Location"]) == (302, f"{PROXY}/web/proxy/landing")


def test_errors_are_kubes(env):
    api, guest, dialled, to_local, mp = env
    mp.setattr(sp, "connect_guest", to_local)
    _web(api)
    _create(api, _svc([{"name": "http", "port": 80}], selector={"app": "nobody"}, name="empty"))

    def status(path: str, method: str = "GET") -> tuple[int, str]:
        r = api.request(method, path)
        body = r.json()
        assert body["kind"] == "Status" and body["code"] == r.status
        return r.status, body["message"]

    assert status(f"{PROXY}/nosuch/proxy/") == (404, 'endpoints "nosuch" not found')
    assert status(f"{PROXY}/nosuch:80/proxy/") == (404, 'services "nosuch" not found')
    assert status(f"{PROXY}/empty/proxy/") == (503, 'no endpoints available for service "empty"')
    assert status(f"{PROXY}/web:81/proxy/") == (503, 'no service port 81 found for service "web"')
    assert status(f"{PROXY}/web:other/proxy/") == (503, 'no endpoints available for service "web:other"')
    assert status(f"{PROXY}/ftp:web:80/proxy/") == (400, 'invalid service request "ftp:web:80"')
    assert status(f"{PROXY}/web/proxy/hang-up") == (503, "error trying to reach service: EOF")
    # TLS to a guest port that speaks plain HTTP
    assert status(f"{PROXY}/https:web:80/proxy/") == \
        (503, "error trying to reach service: tls: first record does not look like a TLS handshake")


def test_a_silent_guest_times_out(env):
    api, guest, dialled, to_local, mp = env
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)

    def to_silent(state: Any, vmi: dict, port: int) -> sp.Backend:
        sock = socket.create_connection(silent.getsockname())
        return sp.Backend(sock, sock.close)

    mp.setattr(sp, "connect_guest", to_silent)
    mp.setattr(sp, "HEAD_TIMEOUT", 0.5)
    _web(api)
    r = api.request("GET", f"{PROXY}/web/proxy/")
    silent.close()
    assert (r.status, r.json()["message"]) == (503, "error trying to reach service: net/http: timeout awaiting "
                                                    "response headers")


def test_https_to_the_guest_without_verifying_it(env, tmp_path):
    api, guest, dialled, to_local, mp = env
    pki = ensure_pki(tmp_path / "guest-pki")
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(pki.server_cert, pki.server_key)
    guest.socket = tls.wrap_socket(guest.socket, server_side=True)
    mp.setattr(sp, "connect_guest", to_local)
    _web(api)
    r = api.request("GET", f"{PROXY}/https:web:80/proxy/secure")
    assert (r.status, r.json()["path"]) == (200, "/secure")


def test_a_guest_that_cannot_be_dialled_is_503(env):
    """The real dial on the libvirt test driver: no QEMU monitor to add the host forward with."""
    api, guest, dialled, to_local, mp = env
    _web(api)
    r = api.request("GET", f"{PROXY}/web/proxy/")
    body = r.json()
    assert r.status == 503 and body["reason"] == "ServiceUnavailable"
    assert body["message"].startswith("error trying to reach service: ")


def _raw_request(api: Any, path: str, extra: str) -> ssl.SSLSocket:
    sock = api.ssl_context().wrap_socket(socket.create_connection(("127.0.0.1", api.port), timeout=10),
                                         server_hostname="127.0.0.1")
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {api.token}\r\n{extra}\r\n"
                 .encode())
    return sock


def _read_head(sock: ssl.SSLSocket) -> tuple[bytes, bytes]:
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(4096)
        assert data, buf
        buf += data
    head, _, rest = buf.partition(b"\r\n\r\n")
    return head, rest


def test_an_upgrade_is_joined_to_the_guest(env):
    api, guest, dialled, to_local, mp = env
    mp.setattr(sp, "connect_guest", to_local)
    _web(api)
    sock = _raw_request(api, f"{PROXY}/web/proxy/upgrade?x=1", "Connection: Upgrade\r\nUpgrade: echo-proto\r\n")
    head, rest = _read_head(sock)
    assert head.startswith(b"HTTP/1.1 101 ") and b"Upgrade: echo-proto" in head and rest == b""
    seen = guest.seen[-1]
    assert seen["path"] == "/upgrade?x=1" and seen["headers"]["Upgrade"] == "echo-proto"
    assert "Authorization" not in seen["headers"] and seen["headers"]["X-Forwarded-For"] == "127.0.0.1"
    for word in (b"hello", b"more bytes"):
        sock.sendall(word)
        got = b""
        while len(got) < len(word):
            got += sock.recv(4096)
        assert got == word.upper()
    sock.close()


def test_upgrade_refusals(env):
    api, guest, dialled, to_local, mp = env
    mp.setattr(sp, "connect_guest", to_local)
    _web(api)
    upgrade = "Connection: Upgrade\r\nUpgrade: echo-proto\r\n"
    # the guest's error answer is passed on, and the connection ends
    sock = _raw_request(api, f"{PROXY}/web/proxy/upgrade-refused", upgrade)
    head, rest = _read_head(sock)
    while data := sock.recv(4096):
        rest += data
    assert head.startswith(b"HTTP/1.1 403 ") and rest == b"denied"
    sock.close()
    # an answer that is neither 101 nor an error: kube's 500
    sock = _raw_request(api, f"{PROXY}/web/proxy/plain", upgrade)
    head, rest = _read_head(sock)
    assert head.startswith(b"HTTP/1.1 500 ")
    assert b"invalid upgrade response: status code 200" in rest
    sock.close()


def test_an_upgrade_to_a_guest_that_cannot_be_dialled(env):
    api, guest, dialled, to_local, mp = env
    _web(api)
    r = api.request("GET", f"{PROXY}/web/proxy/", headers={"Connection": "Upgrade", "Upgrade": "websocket"})
    assert r.status == 500 and r.json()["message"].startswith("error dialing backend: ")


def test_links_in_an_html_page_stay_under_the_proxy_path(env):
    api, guest, dialled, to_local, mp = env
    mp.setattr(sp, "connect_guest", to_local)
    _web(api)
    r = api.request("GET", f"{PROXY}/web:80/proxy/page", headers={"Accept-Encoding": "gzip"})
    assert r.status == 200 and r.headers["Content-Encoding"] == "gzip" and r.headers["Content-Length"] is None
    assert gzip.decompress(r.body).decode() == (
        f'<html><a href="{PROXY}/web:80/proxy/docs/">d</a><a href="{PROXY}/web:80/proxy/abs">a</a>'
        '<a href="rel">r</a></html>')
