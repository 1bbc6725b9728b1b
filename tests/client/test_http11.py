"""The small HTTP/1.1 client against the embedded API server over real TLS (keep-alive, chunked
watch stream), through a real CONNECT proxy, and against raw sockets that break the protocol."""

from __future__ import annotations

import json
import socket
import ssl
import threading

import pytest

from tests.client.proxies import ConnectProxy
from virtctl.client import KubeVirtClient, Overrides, resolve
from virtctl.client.http11 import Connection, HTTPError, RemoteDisconnected
from virtctl.client.transport import split_url
from virtctl.errors import ConfigError, ConnectionFailed
from virtctl.model import kinds


def tls(api_server) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(api_server.ca_path))


def auth(api_server) -> list[tuple[str, str]]:
    return [("Authorization", f"Bearer {api_server.token}"), ("Accept", "application/json")]


def test_keep_alive_requests_share_one_socket(api_server):
    conn = Connection("127.0.0.1", api_server.port, timeout=10, ssl_context=tls(api_server),
                      server_hostname="127.0.0.1")
    try:
        first = conn.request("GET", "/version", auth(api_server))
        assert first.status == 200 and "gitVersion" in json.loads(first.read())
        sock = conn.sock
        body = json.dumps({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
                           "metadata": {"name": "kept"}, "spec": {"runStrategy": "Halted",
                           "template": {"spec": {"domain": {"devices": {}}}}}}).encode()
        created = conn.request("POST", "/apis/kubevirt.io/v1/namespaces/default/virtualmachines",
                               auth(api_server) + [("Content-Type", "application/json")], body)
        assert created.status == 201, created.read()
        assert json.loads(created.read())["metadata"]["name"] == "kept"
        missing = conn.request("GET", "/apis/kubevirt.io/v1/namespaces/default/virtualmachines/nope",
                               auth(api_server))
        assert missing.status == 404 and json.loads(missing.read())["reason"] == "NotFound"
        assert conn.sock is sock                  # the same connection all along
    finally:
        conn.close()


def test_watch_stream_reads_line_by_line(api_server):
    kv = KubeVirtClient.from_config(resolve(Overrides(kubeconfig=str(api_server.kubeconfig_path))))
    # the DELETE runs beside the watch; joined before the server is torn down
    deleter = threading.Thread(target=lambda: api_server.request(
        "DELETE", "/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstances/w1"))
    try:
        seen = []
        stream = kv.transport.stream("/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstances",
                                     query={"watch": "true", "timeoutSeconds": "3"})
        for line in stream:
            seen.append(json.loads(line))
            if len(seen) == 1:
                deleter.start()
            if len(seen) == 2:
                break
    finally:
        kv.close()
        if deleter.is_alive():
            deleter.join(timeout=10)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in seen] == [("ADDED", "w1"), ("DELETED", "w1")]


@pytest.fixture
def vmi_w1(api_server):
    api_server.request("POST", "/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstances",
                       body={"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
                             "metadata": {"name": "w1"}, "spec": {"domain": {"devices": {}}}})


test_watch_stream_reads_line_by_line = pytest.mark.usefixtures("vmi_w1")(test_watch_stream_reads_line_by_line)


def test_proxy_url_tunnels_tls_through_connect(api_server):
    proxy = ConnectProxy()
    try:
        cfg = resolve(Overrides(kubeconfig=str(api_server.kubeconfig_path),
                                proxy_url=f"http://127.0.0.1:{proxy.port}"))
        kv = KubeVirtClient.from_config(cfg)
        try:
            assert kv.list(kinds.VM)["items"] == []
        finally:
            kv.close()
    finally:
        proxy.close()
    assert proxy.targets == [f"CONNECT 127.0.0.1:{api_server.port}"]


def raw_server(answer: bytes):
    """A TCP server that reads one request and answers ``answer`` verbatim, then closes."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve():
        conn, _ = listener.accept()
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(4096)
            conn.sendall(answer)
        listener.close()

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1]


def test_chunked_body_and_close_delimited_body():
    port = raw_server(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                      b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n")
    conn = Connection("127.0.0.1", port, timeout=5)
    assert conn.request("GET", "/", []).read() == b"hello world"
    conn.close()
    port = raw_server(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end")
    conn = Connection("127.0.0.1", port, timeout=5)
    resp = conn.request("GET", "/", [])
    assert resp.will_close and resp.read() == b"until the end" and conn.sock is None


@pytest.mark.parametrize("answer, error", [
    (b"", RemoteDisconnected),
    (b"SSH-2.0-OpenSSH\r\n\r\n", HTTPError),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", RemoteDisconnected),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", HTTPError),
    (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", HTTPError),
])
def test_protocol_violations_raise(answer, error):
    conn = Connection("127.0.0.1", raw_server(answer), timeout=5)
    with pytest.raises(error):
        conn.request("GET", "/", []).read()
    conn.close()


def test_header_injection_is_refused():
    conn = Connection("127.0.0.1", 1, timeout=1)
    conn.sock, conn.rfile = object(), object()    # never reaches the network
    with pytest.raises(ValueError, match="invalid value for header X-A"):
        conn.request("GET", "/", [("X-A", "b\r\nX-Evil: 1")])


def test_connection_refused_is_kubectls_message(tmp_path):
    free = socket.create_server(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    (tmp_path / "none").write_text("apiVersion: v1\nkind: Config\n")
    kv = KubeVirtClient.from_config(resolve(Overrides(server=f"https://127.0.0.1:{port}",
                                                      kubeconfig=str(tmp_path / "none"),
                                                      insecure_skip_tls_verify=True)))
    with pytest.raises(ConnectionFailed, match=f"The connection to the server 127.0.0.1:{port} was refused"):
        kv.get(kinds.VM, "x")


@pytest.mark.parametrize("url, parts", [
    ("https://127.0.0.1:6443", ("https", "127.0.0.1", 6443, "")),
    ("https://[::1]:8443/prefix/", ("https", "::1", 8443, "/prefix/")),
    ("HTTP://user@host.example/k8s?x=1", ("http", "host.example", None, "/k8s")),
    ("localhost:6443", ("", "", None, "")),
])
def test_split_url(url, parts):
    assert split_url(url) == parts


def test_split_url_rejects_a_bad_port():
    with pytest.raises(ConfigError, match="bad port"):
        split_url("https://host:99999")
