"""The OCI distribution client against a real docker-registry on loopback (and a tiny token server)."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.controller.storage.registry_fixture import (  # noqa: F401  (fixture)
    LocalRegistry, free_loopback_port, gzip_bytes, local_registry, make_tar, registry_binary, sha256_digest,
)
from virtctl.controller.storage.registry import (
    BlobStore, DigestMismatch, ImageNotFound, ImagePullError, ImageReference, InsecureRegistry, InvalidReference,
    RegistryAuthError, RegistryClient, RegistryUnreachable, docker_config_credentials, parse_reference,
    plain_http_allowed,
)
from virtctl.errors import VirtctlError

# --- references -------------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("alpine", ImageReference("docker.io", "library/alpine", "latest", None)),
    ("alpine:3.19", ImageReference("docker.io", "library/alpine", "3.19", None)),
    ("kubevirt/cirros-container-disk-demo", ImageReference("docker.io", "kubevirt/cirros-container-disk-demo",
                                                           "latest", None)),
    ("docker.io/library/busybox:1", ImageReference("docker.io", "library/busybox", "1", None)),
    ("index.docker.io/busybox", ImageReference("docker.io", "library/busybox", "latest", None)),
    ("quay.io/kubevirt/fedora:tag", ImageReference("quay.io", "kubevirt/fedora", "tag", None)),
    ("registry:5000/kubevirt/alpine-ext-kernel-boot-demo:devel",
     ImageReference("registry:5000", "kubevirt/alpine-ext-kernel-boot-demo", "devel", None)),
    ("localhost/foo", ImageReference("localhost", "foo", "latest", None)),
    ("localhost:5000/virtctl-test/kernel-boot:latest",
     ImageReference("localhost:5000", "virtctl-test/kernel-boot", "latest", None)),
    ("[::1]:5000/a/b", ImageReference("[::1]:5000", "a/b", "latest", None)),
    ("127.0.0.1:5000/a@sha256:" + "a" * 64, ImageReference("127.0.0.1:5000", "a", None, "sha256:" + "a" * 64)),
    ("a/b:t@sha256:" + "b" * 64, ImageReference("docker.io", "a/b", "t", "sha256:" + "b" * 64)),
])
def test_parse_reference_like_docker(text: str, expected: ImageReference) -> None:
    assert parse_reference(text) == expected


def test_docker_hub_api_host_and_reference() -> None:
    ref = parse_reference("busybox")
    assert ref.api_host == "registry-1.docker.io"
    assert ref.reference == "latest"
    assert str(ref) == "docker.io/library/busybox:latest"
    assert parse_reference("h:1/a@sha256:" + "c" * 64).reference == "sha256:" + "c" * 64


@pytest.mark.parametrize("text", ["", "library/UPPER", "a//b", "a:b:c", "a@sha256:short", "a@md5:" + "a" * 32,
                                  " alpine", "host:port/x", "-a/b", "a/b:" + "t" * 129])
def test_parse_reference_rejects(text: str) -> None:
    with pytest.raises(InvalidReference, match=r'^invalid reference format: "'):
        parse_reference(text)


# --- transport decision -----------------------------------------------------------------------


@pytest.mark.parametrize("hostport, insecure, allowed", [
    ("localhost:5000", [], True),
    ("localhost", [], True),
    ("127.0.0.1:5000", [], True),
    ("127.9.9.9:80", [], True),
    ("[::1]:5000", [], True),
    ("registry.example.com:5000", [], False),
    ("registry.example.com", [], False),
    ("10.0.0.5:5000", [], False),
    ("registry.example.com:5000", ["registry.example.com:5000"], True),
    ("registry.example.com:5000", ["registry.example.com"], True),
    ("registry.example.com:5000", ["registry.example.com:6000"], False),
    ("registry.example.com:5000", ["http://registry.example.com:5000/"], True),
    ("localhost.example.com:5000", [], False),
])
def test_plain_http_only_for_loopback_or_listed(hostport: str, insecure: list[str], allowed: bool) -> None:
    assert plain_http_allowed(hostport, insecure) is allowed


def test_non_loopback_registry_is_spoken_to_over_https_only() -> None:
    client = RegistryClient()
    ref = parse_reference("registry.example.com:5000/a/b:c")
    assert client._base_scheme(ref) == "https"        # decided without any network traffic
    with pytest.raises(InsecureRegistry, match=r"refusing plain HTTP to registry\.example\.com:5000"):
        client._open("GET", "http://registry.example.com:5000/v2/", {}, ref)


# --- credentials ------------------------------------------------------------------------------


def test_docker_config_auths(tmp_path: Path) -> None:
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"auths": {
        "https://index.docker.io/v1/": {"auth": base64.b64encode(b"hub:secret").decode()},
        "127.0.0.1:5000": {"username": "u", "password": "p:w"},
        "broken": "x",
    }, "credsStore": "desktop"}))
    assert docker_config_credentials(cfg) == {"docker.io": ("hub", "secret"), "127.0.0.1:5000": ("u", "p:w")}
    assert docker_config_credentials(tmp_path / "missing.json") == {}
    cfg.write_text("{not json")
    with pytest.raises(RegistryAuthError, match="unreadable Docker config"):
        docker_config_credentials(cfg)


# --- pulling from the real registry -------------------------------------------------------------


def _client() -> RegistryClient:
    return RegistryClient(docker_config=Path("/nonexistent/config.json"))


def test_pull_manifest_by_tag_and_by_digest(local_registry: LocalRegistry) -> None:
    layer = make_tar([("hello.txt", b"by tag and digest")])
    digest = local_registry.push_image("reg/tagdigest", "v1", [layer])
    client = _client()
    by_tag = client.get_manifest(parse_reference(f"{local_registry.host}/reg/tagdigest:v1"))
    by_digest = client.get_manifest(parse_reference(f"{local_registry.host}/reg/tagdigest@{digest}"))
    assert by_tag.digest == by_digest.digest == digest
    assert [layer["digest"] for layer in by_tag.layers] == [sha256_digest(gzip_bytes(layer))]


def test_index_resolves_to_linux_amd64(local_registry: LocalRegistry) -> None:
    amd = local_registry.push_image("reg/multi", "amd64", [make_tar([("arch", b"amd64")])])
    arm = local_registry.push_image("reg/multi", "arm64", [make_tar([("arch", b"arm64")])])
    index = local_registry.push_index("reg/multi", "latest", {("linux", "arm64"): arm, ("linux", "amd64"): amd})
    client = _client()
    assert client.get_manifest(parse_reference(f"{local_registry.host}/reg/multi")).digest == amd
    assert client.get_manifest(parse_reference(f"{local_registry.host}/reg/multi@{index}")).digest == amd
    local_registry.push_index("reg/multi", "armonly", {("linux", "arm64"): arm})
    with pytest.raises(ImagePullError, match=r'has no linux/amd64 manifest$'):
        client.get_manifest(parse_reference(f"{local_registry.host}/reg/multi:armonly"))


def test_blob_download_is_verified_and_cached(local_registry: LocalRegistry, tmp_path: Path) -> None:
    layer = gzip_bytes(make_tar([("blob.bin", b"x" * 5000)]))
    digest = local_registry.push_blob("reg/blob", layer)
    store = BlobStore(tmp_path / "blobs")
    calls: list[tuple[str, int, int]] = []
    ref = parse_reference(f"{local_registry.host}/reg/blob")
    path = _client().fetch_blob(ref, digest, store, size=len(layer), progress=lambda *a: calls.append(a))
    assert path == store.path(digest) and path.read_bytes() == layer
    assert calls[0] == (digest, 0, len(layer)) and calls[-1] == (digest, len(layer), len(layer))
    calls.clear()
    _client().fetch_blob(ref, digest, store, size=len(layer), progress=lambda *a: calls.append(a))
    assert calls == []                      # served from the store
    assert [p.name for p in (tmp_path / "blobs" / "sha256").iterdir()] == [digest.split(":")[1]]


def test_corrupt_served_blob_is_a_digest_mismatch(local_registry: LocalRegistry, tmp_path: Path) -> None:
    data = b"served blob that will be corrupted " * 10
    digest = local_registry.push_blob("reg/corrupt", data)
    served = local_registry.blob_file(digest)
    served.write_bytes(data[:-1] + b"!")         # same size, other bytes
    store = BlobStore(tmp_path / "blobs")
    with pytest.raises(DigestMismatch) as e:
        _client().fetch_blob(parse_reference(f"{local_registry.host}/reg/corrupt"), digest, store, size=len(data))
    assert str(e.value) == f"blob {digest} digest mismatch"
    assert not store.has(digest)
    assert list((tmp_path / "blobs" / "sha256").iterdir()) == []     # no temp file left


def test_missing_image_is_not_found(local_registry: LocalRegistry) -> None:
    ref = f"{local_registry.host}/reg/does-not-exist:v1"
    with pytest.raises(ImageNotFound) as e:
        _client().get_manifest(parse_reference(ref))
    assert str(e.value) == f'image "{ref}" not found: manifest unknown'      # then the registry's own words
    local_registry.push_image("reg/sometags", "v1", [make_tar([("f", b"1")])])
    with pytest.raises(ImageNotFound, match=r'not found: manifest unknown$'):
        _client().get_manifest(parse_reference(f"{local_registry.host}/reg/sometags:v2"))
    with pytest.raises(ImageNotFound, match=r'not found'):
        _client().get_manifest(parse_reference(f"{local_registry.host}/reg/sometags@sha256:" + "0" * 64))


def test_unreachable_registries(monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_loopback_port()                  # nothing listens there
    with pytest.raises(RegistryUnreachable, match=rf"registry 127\.0\.0\.1:{port} unreachable: connection refused"):
        _client().get_manifest(parse_reference(f"127.0.0.1:{port}/a/b"))

    def no_dns(*args, **kwargs):                 # name resolution fails, without asking a resolver
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    with pytest.raises(RegistryUnreachable, match=r"unknown registry host no-such-host\.invalid$"):
        _client().get_manifest(parse_reference("no-such-host.invalid:5000/a/b"))


def test_errors_are_one_line_virtctl_errors(local_registry: LocalRegistry) -> None:
    with pytest.raises(VirtctlError) as e:
        _client().get_manifest(parse_reference(f"{local_registry.host}/reg/nothing"))
    assert "\n" not in str(e.value)


# --- auth and digests: a small fake registry with a token server ---------------------------------


class _FakeRegistry(BaseHTTPRequestHandler):
    """Bearer-token registry: /token wants Basic u:p; /v2/ wants the token; serves one manifest."""

    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"digest": "sha256:" + "1" * 64, "size": 2}, "layers": []}).encode()
    seen_auth: list[str] = []

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        auth = self.headers.get("Authorization", "")
        if self.path.startswith("/token"):
            self.seen_auth.append(auth)
            if auth != "Basic " + base64.b64encode(b"u:p").decode():
                return self._send(401, b"{}")
            assert "scope=repository%3Aprivate%2Fimg%3Apull" in self.path and "service=fake" in self.path
            return self._send(200, json.dumps({"token": "tok123"}).encode())
        if auth != "Bearer tok123":
            realm = f"http://127.0.0.1:{self.server.server_address[1]}/token"
            return self._send(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', {
                "WWW-Authenticate": f'Bearer realm="{realm}",service="fake",scope="repository:private/img:pull"'})
        if self.path == "/v2/private/img/manifests/v1":
            return self._send(200, self.manifest, {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
        if self.path.startswith("/v2/private/img/manifests/sha256:"):
            # wrong bytes for any digest: the client must notice
            return self._send(200, self.manifest + b" ", {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
        return self._send(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture()
def fake_registry():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeRegistry)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    _FakeRegistry.seen_auth = []
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_bearer_token_with_docker_config_credentials(fake_registry: str, tmp_path: Path) -> None:
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"auths": {fake_registry: {"auth": base64.b64encode(b"u:p").decode()}}}))
    client = RegistryClient(docker_config=cfg)
    m = client.get_manifest(parse_reference(f"{fake_registry}/private/img:v1"))
    assert m.digest == sha256_digest(_FakeRegistry.manifest)
    client.get_manifest(parse_reference(f"{fake_registry}/private/img:v1"))
    assert len(_FakeRegistry.seen_auth) == 1          # the token is reused


def test_bearer_token_refused_without_credentials(fake_registry: str) -> None:
    with pytest.raises(RegistryAuthError, match=r"token request to 127\.0\.0\.1:\d+ failed with status 401$"):
        _client().get_manifest(parse_reference(f"{fake_registry}/private/img:v1"))
    assert _FakeRegistry.seen_auth == [""]             # asked anonymously


def test_manifest_digest_is_verified_when_pulling_by_digest(fake_registry: str, tmp_path: Path) -> None:
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"auths": {fake_registry: {"username": "u", "password": "p"}}}))
    digest = sha256_digest(_FakeRegistry.manifest)
    with pytest.raises(DigestMismatch) as e:
        RegistryClient(docker_config=cfg).get_manifest(parse_reference(f"{fake_registry}/private/img@{digest}"))
    assert str(e.value) == f"manifest {digest} digest mismatch"


# --- Basic auth against the real registry (htpasswd) ---------------------------------------------


def _bcrypt(password: str) -> str | None:
    try:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt
        hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))
        return hashed if hashed and hashed.startswith("$2") else None
    except (ImportError, AttributeError, OSError):
        return None


def test_basic_auth_with_real_registry(tmp_path: Path) -> None:
    binary = registry_binary()
    if binary is None:
        pytest.skip("the docker-registry program is not installed")
    hashed = _bcrypt("s3cret")
    if hashed is None:
        pytest.skip("no bcrypt hashing here (Python crypt module) to write an htpasswd file")
    (tmp_path / "htpasswd").write_text(f"alice:{hashed}\n")
    registry = LocalRegistry(tmp_path)
    registry.port = free_loopback_port()
    registry.storage.mkdir()
    (tmp_path / "config.yml").write_text(
        "version: 0.1\nlog: {level: error, accesslog: {disabled: true}}\n"
        f"storage: {{filesystem: {{rootdirectory: {registry.storage}}}}}\n"
        f"http: {{addr: {registry.host}}}\n"
        f"auth: {{htpasswd: {{realm: test, path: {tmp_path / 'htpasswd'}}}}}\n")
    import subprocess
    import time
    proc = subprocess.Popen([binary, "serve", str(tmp_path / "config.yml")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if registry.request("GET", "/v2/")[0] == 401:
                    break
            except OSError:
                time.sleep(0.05)
        ref = parse_reference(f"{registry.host}/private/none:v1")
        with pytest.raises(RegistryAuthError, match="requires credentials"):
            _client().get_manifest(ref)
        cfg = tmp_path / "config.json"
        cfg.write_text(json.dumps({"auths": {registry.host: {"username": "alice", "password": "wrong"}}}))
        with pytest.raises(RegistryAuthError, match="access denied"):
            RegistryClient(docker_config=cfg).get_manifest(ref)
        cfg.write_text(json.dumps({"auths": {registry.host: {"username": "alice", "password": "s3cret"}}}))
        with pytest.raises(ImageNotFound):           # authenticated: now the real answer, 404
            RegistryClient(docker_config=cfg).get_manifest(ref)
    finally:
        proc.terminate()
        proc.wait(5)


def test_digest_helper_rejects_garbage() -> None:
    with pytest.raises(ImagePullError):
        BlobStore(Path("/tmp")).path("sha256:../../etc")
    assert hashlib.sha256(b"").hexdigest() in str(BlobStore(Path("/x")).path(sha256_digest(b"")))
