"""Malformed and hostile input gets kube-apiserver's 4xx answer: never a 500, never a traceback."""

from __future__ import annotations

import json
import socket
import ssl

import pytest

from tests.controller.server.helpers import VMS
from virtctl.model import kinds

VM = {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {"name": "h"},
      "spec": {"runStrategy": "Halted", "template": {"spec": {"domain": {"devices": {}}}}}}


pytestmark = pytest.mark.usefixtures("no_traceback_logged")


def _deep(depth: int) -> bytes:
    return json.dumps(VM).replace('"devices": {}', '"devices": ' + "{\"a\":" * depth + "1" + "}" * depth).encode()


@pytest.mark.parametrize("method,path", [("POST", VMS), ("DELETE", f"{VMS}/h"), ("PUT", f"{VMS}/h")])
def test_deep_nesting_is_refused_before_decoding(api_server, method, path):
    r = api_server.request(method, path, _deep(5000), headers={"Content-Type": "application/json"})
    assert r.status == 400, r.body
    assert "exceeded max depth" in r.json()["message"]


@pytest.mark.parametrize("body,message", [
    ("x: 2001-13-45", None), ("x: 2001-01-01", None), ("x: !!binary aGVsbG8=", None),
    ("x: !!timestamp 2001-01-01", None),
    ('x: !!float "abc"', "yaml: cannot decode !!str `abc` as a !!float"),
    ("a: &a {x: *a}", "yaml: anchor 'a' value contains itself"),
    ("x: .nan", "json: unsupported value: NaN"),
])
def test_yaml_bodies_decode_as_sigs_yaml(api_server, body, message):
    # (not "name: y": go-yaml v2 reads a plain y as the boolean true, as kubectl sends it)
    doc = "apiVersion: kubevirt.io/v1\nkind: VirtualMachine\nmetadata: {name: yv, annotations: {a: b}}\n" \
          "spec:\n  runStrategy: Halted\n  template: {spec: {domain: {devices: {}}}}\n" + \
          body.replace("x:", "extra:")
    r = api_server.request("POST", VMS, doc.encode(), headers={"Content-Type": "application/yaml"})
    if message is None:
        assert r.status == 201, r.body                    # the unknown field is pruned (Warn)
    else:
        assert r.status == 400, r.body
        assert r.json()["message"].endswith(message)


def test_apply_patch_yaml_values_as_sigs_yaml(api_server):
    doc = b"apiVersion: kubevirt.io/v1\nkind: VirtualMachine\nmetadata:\n  name: ap\n  annotations:\n" \
          b"    when: 2001-01-01\n    raw: !!binary aGVsbG8=\nspec:\n  runStrategy: Halted\n" \
          b"  template: {spec: {domain: {devices: {}}}}\n"
    r = api_server.request("PATCH", f"{VMS}/ap?fieldManager=t", doc,
                           headers={"Content-Type": "application/apply-patch+yaml"})
    assert r.status == 201, r.body
    assert r.json()["metadata"]["annotations"] == {"when": "2001-01-01", "raw": "hello"}
    bad = doc.replace(b"2001-01-01", b'!!float "abc"')
    r = api_server.request("PATCH", f"{VMS}/ap?fieldManager=t", bad,
                           headers={"Content-Type": "application/apply-patch+yaml"})
    assert r.status == 400 and "cannot decode !!str `abc` as a !!float" in r.json()["message"]


@pytest.mark.parametrize("body,message", [
    (b'{"apiVersion":"kubevirt.io/v1","kind":"VirtualMachine","metadata":{"name":"n"},"spec":{"x":NaN}}',
     "invalid character 'N' looking for beginning of value"),
    (json.dumps(VM).replace('"devices": {}', '"cpu": {"cores": ' + "7" * 4000 + "}").encode(),
     "json: cannot unmarshal number 7777"),
])
def test_values_that_are_not_json_are_refused(api_server, body, message):
    r = api_server.request("POST", VMS, body, headers={"Content-Type": "application/json"})
    assert r.status == 400, r.body
    assert message in r.json()["message"]
    assert api_server.store.list(kinds.VM)[0] == []
    assert api_server.request("GET", VMS).status == 200      # the namespace still lists


@pytest.mark.parametrize("query,code,message", [
    ("watch=1&timeoutSeconds=1" + "0" * 400, 400, "strconv.ParseInt: parsing \"1000"),
    ("limit=abc", 400, 'strconv.ParseInt: parsing "abc": invalid syntax'),
    ("timeoutSeconds=9223372036854775808", 400, "value out of range"),
    ("resourceVersion=abc", 400,
     ('invalid resource version: resourceVersion: Invalid value: "abc": strconv.ParseUint: parsing "abc": '
      "invalid syntax")),
    ("watch=1&resourceVersion=abc", 400, "invalid resource version"),
    ("continue=zzz", 400, "invalid continue token: invalid continue key: invalid character"),
    ("continue=%21%21", 400, "invalid continue token: invalid continue key: illegal base64 data at input byte 0"),
    ("resourceVersionMatch=Exact", 422,
     ('ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is '
      "forbidden unless resourceVersion is provided")),
])
def test_list_parameters_refused_as_the_apiserver_does(api_server, query, code, message):
    r = api_server.request("GET", f"{VMS}?{query}")
    assert r.status == code, r.body
    assert message in r.json()["message"]


@pytest.mark.parametrize("method,path,kind", [("POST", VMS, "CreateOptions"), ("PUT", f"{VMS}/h", "UpdateOptions"),
                                              ("PATCH", f"{VMS}/h", "PatchOptions")])
def test_write_options_validated_as_the_apiserver_does(api_server, method, path, kind):
    api_server.store.create(kinds.VM, "default", VM)
    ctype = {"Content-Type": "application/merge-patch+json" if method == "PATCH" else "application/json"}
    body = json.dumps(VM if method != "PATCH" else {}).encode()
    r = api_server.request(method, f"{path}?fieldValidation=bogus", body, headers=ctype)
    assert r.status == 422, r.body
    assert r.json()["message"] == (f'{kind}.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "bogus": '
                                   'supported values: "", "Ignore", "Strict", "Warn"')
    r = api_server.request(method, f"{path}?dryRun=bogus", body, headers=ctype)
    assert r.status == 422
    assert r.json()["message"] == (f'{kind}.meta.k8s.io "" is invalid: dryRun: Unsupported value: '
                                   '[]string{"bogus"}: supported values: "All"')


def test_get_ignores_write_options_as_the_apiserver_does(api_server):
    """GetOptions/ListOptions have no fieldValidation or dryRun: the apiserver's parameter codec ignores them."""
    assert api_server.request("GET", f"{VMS}?fieldValidation=bogus&dryRun=bogus").status == 200


def _raw(api_server, head: bytes, body_parts: list[bytes]) -> bytes:
    ctx = api_server.ssl_context()
    with socket.create_connection(("127.0.0.1", api_server.server.port), timeout=20) as raw, \
            ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
        s.sendall(head)
        for part in body_parts:
            try:
                s.sendall(part)
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                break
        out = b""
        while True:
            try:
                got = s.recv(65536)
            except (ConnectionResetError, ssl.SSLError):
                break
            if not got:
                break
            out += got
        return out


def test_a_negative_chunk_size_is_a_bad_request(api_server):
    head = (f"POST {VMS} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {api_server.token}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    out = _raw(api_server, head, [b"-5\r\nhello\r\n0\r\n\r\n"])
    assert out.startswith(b"HTTP/1.1 400"), out[:200]
    assert b"invalid byte in chunk length" in out


@pytest.mark.parametrize("chunked,size", [(False, 33 << 20), (True, 20 << 20)])
def test_an_oversized_body_is_answered_413(api_server, chunked, size):
    block = b"x" * (1 << 20)
    if chunked:
        head_extra = "Transfer-Encoding: chunked\r\n"
        parts = [b"%x\r\n" % len(block) + block + b"\r\n"] * (size >> 20) + [b"0\r\n\r\n"]
    else:
        head_extra = f"Content-Length: {size}\r\n"
        parts = [block] * (size >> 20)
    head = (f"POST {VMS} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {api_server.token}\r\n"
            f"Content-Type: application/json\r\n{head_extra}\r\n").encode()
    out = _raw(api_server, head, parts)
    assert out.startswith(b"HTTP/1.1 413"), out[:200]
    status = json.loads(out.split(b"\r\n\r\n", 1)[1])
    assert status["message"] == "Request entity too large: limit is 3145728"
    assert status["reason"] == "RequestEntityTooLarge"


def test_a_watch_from_a_uint64_resource_version_waits_for_the_future(api_server):
    """Found by the hostile-parameter fuzz: a valid uint64 beyond int64 made SQLite overflow (500)."""
    r = api_server.request("GET", f"{VMS}?watch=1&resourceVersion=18446744073709551615&timeoutSeconds=1")
    assert r.status == 200 and r.body == b""


def test_a_4000_digit_yaml_number_is_not_an_integer(api_server):
    """go-yaml keeps a number too big for int64/float64 as its text: the schema then refuses it."""
    doc = ("apiVersion: kubevirt.io/v1\nkind: VirtualMachine\nmetadata: {name: digits}\nspec:\n  runStrategy: Halted\n"
           "  template: {spec: {domain: {cpu: {cores: " + "7" * 4000 + "}, devices: {}}}}\n")
    r = api_server.request("POST", VMS, doc.encode(), headers={"Content-Type": "application/yaml"})
    assert r.status == 422, r.body[:300]
    assert r.json()["details"]["causes"][0]["field"] == "spec.template.spec.domain.cpu.cores"
    assert api_server.store.list(kinds.VM)[0] == []


def test_a_deeply_nested_docker_config_secret_is_invalid_not_a_crash(api_server):
    import base64

    deep = base64.b64encode(b"[" * 5000 + b"]" * 5000).decode()
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "dc"},
              "type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": deep}}
    r = api_server.request("POST", "/api/v1/namespaces/default/secrets", secret)
    assert r.status == 422, r.body[:300]
    assert "exceeded max depth" in r.json()["message"]


def _head_only(api_server, head: str) -> bytes:
    """Send a request head and read the answer without sending any body."""
    ctx = api_server.ssl_context()
    with socket.create_connection(("127.0.0.1", api_server.server.port), timeout=10) as raw, \
            ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
        s.sendall(head.encode())
        return s.recv(65536)


def test_an_announced_oversized_body_is_answered_before_it_is_sent(api_server):
    """kube-apiserver answers 413 on the Content-Length alone; a client reading before it sends
    (curl, Go) must not wait for its own upload."""
    out = _head_only(api_server, f"POST {VMS} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {api_server.token}\r\n"
                                 "Content-Type: application/json\r\nContent-Length: 99999999999\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 413"), out[:200]


@pytest.mark.parametrize("headers,message", [
    ("Content-Length: 5\r\nContent-Length: 7\r\n", 'multiple Content-Length headers; got ["5" "7"]'),
    ("Transfer-Encoding: gzip, chunked\r\n", 'unsupported transfer encoding: "gzip, chunked"'),
    ("Content-Length: -1\r\n", "invalid Content-Length"),
])
def test_unframeable_bodies_are_bad_requests(api_server, headers, message):
    out = _head_only(api_server, f"POST {VMS} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {api_server.token}\r\n"
                                 f"Content-Type: application/json\r\n{headers}\r\n")
    assert out.startswith(b"HTTP/1.1 400"), out[:200]
    assert message in json.loads(out.split(b"\r\n\r\n", 1)[1])["message"]
