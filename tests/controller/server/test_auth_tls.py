"""TLS + bearer token on every route, loopback only."""

from __future__ import annotations

import socket
import ssl
import stat

import pytest

from virtctl.controller.server.app import ApiServer
from virtctl.errors import ConfigError

PATHS = ["/version", "/apis", "/openapi/v2", "/openapi/v3", "/openapi/v3/apis/kubevirt.io/v1",
         "/apis/kubevirt.io/v1/namespaces/default/virtualmachines", "/apis/subresources.kubevirt.io/v1/version", "/nope"]


@pytest.mark.parametrize("token", [None, "wrong", ""])
def test_rest_routes_need_the_token(api_server_session, token):
    for path in PATHS:
        r = api_server_session.request("GET", path, token=token)
        assert r.status == 401, path
        assert r.json() == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                            "message": "Unauthorized", "reason": "Unauthorized", "code": 401}


def test_basic_auth_is_not_a_token(api_server_session):
    r = api_server_session.request("GET", "/version", headers={"Authorization": "Basic Zm9vOmJhcg=="}, token=None)
    assert r.status == 401


def test_unauthenticated_write_stores_nothing(api_server_session):
    r = api_server_session.request("POST", "/apis/kubevirt.io/v1/namespaces/default/virtualmachines",
                                   {"metadata": {"name": "sneaky"}}, token="wrong")
    assert r.status == 401
    assert api_server_session.store.list("vm", "default")[0] == [] or all(
        o["metadata"]["name"] != "sneaky" for o in api_server_session.store.list("vm", "default")[0])


def test_plain_http_is_refused(api_server_session):
    with socket.create_connection(("127.0.0.1", api_server_session.port), timeout=5) as s:
        s.sendall(b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n")
        s.settimeout(5)
        try:
            data = s.recv(100)
        except (ConnectionResetError, socket.timeout):
            data = b""
        assert not data.startswith(b"HTTP/1.1 200")


def test_certificate_verifies_for_localhost_and_ip(api_server_session):
    ctx = ssl.create_default_context(cafile=str(api_server_session.ca_path))
    for host in ("127.0.0.1", "localhost"):
        with socket.create_connection(("127.0.0.1", api_server_session.port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname=host) as tls:
                assert tls.version() in ("TLSv1.2", "TLSv1.3")


def test_files_are_private(api_server_session):
    s = api_server_session.settings
    for path in (s.token_path, s.pki_dir / "ca.key", s.pki_dir / "server.key", api_server_session.kubeconfig_path,
                 s.db_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(s.pki_dir.stat().st_mode) == 0o700


def test_refuses_non_loopback_addresses(api_server_session):
    for host in ("0.0.0.0", "192.168.1.1", "::"):
        with pytest.raises(ConfigError, match="127.0.0.1 only"):
            ApiServer(api_server_session.runtime, token="t", pki=None, host=host)
