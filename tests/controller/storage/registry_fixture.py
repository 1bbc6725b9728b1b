"""A real Docker distribution registry (Debian's docker-registry) on a free loopback port.

``local_registry`` is a session fixture; tests push tiny images into it with :class:`LocalRegistry`
helpers (the distribution push API over http.client) and pull them with the code under test.
Skipped, with the reason, when the registry program is not installed.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import io
import json
import shutil
import socket
import subprocess
import tarfile
import time
import urllib.parse
from pathlib import Path
from typing import Iterator

import pytest

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"


def registry_binary() -> str | None:
    return shutil.which("docker-registry") or shutil.which("registry")


def free_loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def make_tar(entries: list[tarfile.TarInfo | tuple[str, bytes]]) -> bytes:
    """An uncompressed layer tar; ``(name, data)`` is a regular file, a TarInfo is taken as is."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            if isinstance(entry, tarfile.TarInfo):
                tar.addfile(entry)
                continue
            name, data = entry
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def gzip_bytes(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=1, mtime=0)


class LocalRegistry:
    def __init__(self, root: Path):
        self.root = root
        self.storage = root / "storage"
        self.port = 0
        self.process: subprocess.Popen | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, binary: str) -> None:
        self.port = free_loopback_port()
        self.storage.mkdir(parents=True, exist_ok=True)
        config = self.root / "config.yml"
        config.write_text(
            "version: 0.1\n"
            "log: {level: error, accesslog: {disabled: true}}\n"
            f"storage: {{filesystem: {{rootdirectory: {self.storage}}}, delete: {{enabled: true}}}}\n"
            f"http: {{addr: {self.host}}}\n")
        log = open(self.root / "registry.log", "wb")
        self.process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"registry exited: {(self.root / 'registry.log').read_text()[-500:]}")
            try:
                status, _, _ = self.request("GET", "/v2/")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("registry did not answer /v2/ within 15 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def request(self, method: str, target: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, target, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    # --- pushing ---------------------------------------------------------------------------

    def push_blob(self, repo: str, data: bytes) -> str:
        digest = sha256_digest(data)
        status, _, _ = self.request("HEAD", f"/v2/{repo}/blobs/{digest}")
        if status == 200:
            return digest
        status, headers, body = self.request("POST", f"/v2/{repo}/blobs/uploads/")
        assert status == 202, (status, body)
        location = urllib.parse.urlsplit(headers["location"])
        query = (location.query + "&" if location.query else "") + urllib.parse.urlencode({"digest": digest})
        status, _, body = self.request("PUT", f"{location.path}?{query}", data,
                                       {"Content-Type": "application/octet-stream"})
        assert status == 201, (status, body)
        return digest

    def push_manifest(self, repo: str, reference: str, manifest: dict, media_type: str) -> str:
        raw = json.dumps(manifest, separators=(",", ":")).encode()
        status, _, body = self.request("PUT", f"/v2/{repo}/manifests/{reference}", raw,
                                       {"Content-Type": media_type})
        assert status == 201, (status, body)
        return sha256_digest(raw)

    def push_image(self, repo: str, tag: str, layers: list[bytes], *, compress: bool = True) -> str:
        """Push an image of uncompressed layer tars (gzipped on the way unless told not to)."""
        blobs = [gzip_bytes(t) if compress else t for t in layers]
        config = json.dumps({"architecture": "amd64", "os": "linux",
                             "rootfs": {"type": "layers", "diff_ids": [sha256_digest(t) for t in layers]}}).encode()
        manifest = {
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": self.push_blob(repo, config), "size": len(config)},
            "layers": [{"mediaType": OCI_LAYER_GZIP if compress else OCI_LAYER_TAR,
                        "digest": self.push_blob(repo, b), "size": len(b)} for b in blobs],
        }
        return self.push_manifest(repo, tag, manifest, OCI_MANIFEST)

    def push_index(self, repo: str, tag: str, platforms: dict[tuple[str, str], str]) -> str:
        """An OCI index over already pushed manifests: {(os, arch): manifest digest}."""
        manifests = []
        for (os_name, arch), digest in platforms.items():
            status, headers, _ = self.request("HEAD", f"/v2/{repo}/manifests/{digest}",
                                              headers={"Accept": OCI_MANIFEST})
            assert status == 200, status
            manifests.append({"mediaType": OCI_MANIFEST, "digest": digest, "size": int(headers["content-length"]),
                              "platform": {"os": os_name, "architecture": arch}})
        return self.push_manifest(repo, tag, {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests},
                                  OCI_INDEX)

    def blob_file(self, digest: str) -> Path:
        """Where the registry keeps a blob (to corrupt it on purpose)."""
        hexd = digest.split(":", 1)[1]
        return self.storage / "docker" / "registry" / "v2" / "blobs" / "sha256" / hexd[:2] / hexd / "data"


@pytest.fixture(scope="session")
def local_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    binary = registry_binary()
    if binary is None:
        pytest.skip("the docker-registry program is not installed (apt-get install docker-registry)")
    registry = LocalRegistry(tmp_path_factory.mktemp("registry"))
    registry.start(binary)
    try:
        yield registry
    finally:
        registry.stop()
