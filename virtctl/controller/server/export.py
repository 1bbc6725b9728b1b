"""The export server of standalone mode: KubeVirt's VirtualMachineExport download endpoint on its own
loopback TLS listener, and the loop that keeps every export's status (links to this listener)
current (docs/standalone.md#vm-export).

``GET /api/export.kubevirt.io/v1/namespaces/{ns}/virtualmachineexports/{name}/volumes/{volume}/disk.img``
(raw) or ``…/disk.img.gz`` (gzip), and for a VM's export ``…/{internal,external}/manifests/all`` and
``…/manifests/secret`` (built by virtctl/controller/reconcile/export_manifests.py; JSON ``List`` or,
with ``Accept: application/yaml``, YAML documents), with the export's token in the
``x-kubevirt-export-token`` header (401 without it or with another one). A qcow2 volume is served
as its raw content: converted to a sparse temporary file first, streamed, removed. The gzip form
is compressed while it streams.

:func:`decide` holds the request decisions without sockets.
"""

from __future__ import annotations

import hmac
import logging
import os
import queue
import re
import ssl
import tempfile
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from virtctl.controller.reconcile import export_manifests
from virtctl.controller.reconcile.export import ExportController, Exported, export_files, token_of
from virtctl.controller.runtime import Runtime
from virtctl.controller.server.side_http import Answer, PlainTextHandler, TLSThreadingServer
from virtctl.controller.storage import qemu_img
from virtctl.errors import NotFound
from virtctl.model import kinds

log = logging.getLogger(__name__)

TOKEN_HEADER = "x-kubevirt-export-token"
CHUNK = 1 << 20
_PATH = re.compile(r"^/api/export\.kubevirt\.io/v1(?:beta1|alpha1)?/namespaces/([a-z0-9-]+)/virtualmachineexports/"
                   r"([a-z0-9.-]+)/volumes/([a-z0-9.-]+)/(disk\.img|disk\.img\.gz)$")
_MANIFEST = re.compile(r"^/api/export\.kubevirt\.io/v1(?:beta1|alpha1)?/namespaces/([a-z0-9-]+)/"
                       r"virtualmachineexports/([a-z0-9.-]+)/(internal|external)/manifests/(all|secret)$")
WATCHED = {kinds.VMEXPORT.kind, kinds.VM.kind, kinds.VMI.kind, kinds.VMSNAPSHOT.kind, kinds.PVC.kind,
           kinds.SECRET.kind}


@dataclass(frozen=True)
class Manifest:
    body: bytes
    content_type: str


@dataclass(frozen=True)
class Download:
    path: Path
    gzip: bool
    name: str


def decide(runtime: Runtime, method: str, path: str, token: str | None, accept: str | None = None,
           ca_pem: str = "") -> Answer | Download | Manifest:
    """What a request gets: an answer, the file to stream, or a manifest."""
    m = _PATH.match(path.split("?")[0])
    manifest = _MANIFEST.match(path.split("?")[0]) if m is None else None
    matched = m or manifest
    if matched is None:
        return Answer(404, "404 page not found")
    if method not in ("GET", "HEAD"):
        return Answer(405, "Method Not Allowed")
    ns, name = matched.group(1), matched.group(2)
    try:
        vme = runtime.store.get(kinds.VMEXPORT, ns, name)
    except NotFound:
        return Answer(404, f'virtualmachineexports.export.kubevirt.io "{name}" not found')
    expected = token_of(runtime.store, vme)
    if not token or expected is None or not hmac.compare_digest(token.encode(), expected.encode()):
        return Answer(401, "Unauthorized")
    if (vme.get("status") or {}).get("phase") != "Ready":
        return Answer(503, f"VirtualMachineExport {ns}/{name} is not ready")
    exported = export_files(runtime.store, runtime.settings, vme)
    if exported.phase != "Ready":
        return Answer(503, exported.message)
    if manifest is not None:
        return _manifest(vme, exported, manifest.group(3), manifest.group(4), expected, accept, ca_pem)
    assert m is not None
    volume, file = m.group(3), m.group(4)
    if volume not in exported.files:
        return Answer(404, f"volume {volume} is not exported by {ns}/{name}")
    return Download(exported.files[volume], file.endswith(".gz"), volume)


def _manifest(vme: dict[str, Any], exported: Exported, link_type: str, which: str, token: str,
              accept: str | None, ca_pem: str) -> Answer | Manifest:
    """The ``all`` or ``secret`` manifest, with the gzip URLs of the link the request came by."""
    name = str(vme["metadata"]["name"])
    if exported.vm is None:
        return Answer(404, "404 page not found")
    if which == "secret":
        objects = export_manifests.secret_manifests(token, name)
    else:
        link = ((vme.get("status") or {}).get("links") or {}).get(link_type) or {}
        urls = {str(v.get("name")): str(f.get("url")) for v in link.get("volumes") or []
                for f in v.get("formats") or [] if f.get("format") == "gzip"}
        objects = export_manifests.all_manifests(exported.vm, exported.pvc_specs, urls,
                                                 link.get("cert") or ca_pem, name)
    body, content_type = export_manifests.render(objects, accept)
    return Manifest(body, content_type)


class _Handler(PlainTextHandler):
    server: ExportHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("export %s: " + format, self.client_address[0], *args)

    def _decide(self, method: str) -> Answer | Download | Manifest:
        return decide(self.server.runtime, method, self.path, self.headers.get(TOKEN_HEADER),
                      self.headers.get("Accept"), self.server.ca_pem)

    def do_HEAD(self) -> None:
        result = self._decide("HEAD")
        self._answer(result if isinstance(result, Answer) else Answer(200))

    def do_GET(self) -> None:
        result = self._decide("GET")
        if isinstance(result, Answer):
            self._answer(result)
            return
        if isinstance(result, Manifest):
            self.send_response(200)
            self.send_header("Content-Type", result.content_type)
            self.send_header("Content-Length", str(len(result.body)))
            self.end_headers()
            self.wfile.write(result.body)
            return
        tmpdir = Path(self.server.runtime.settings.state_dir) / "exports"
        tmpdir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, raw_name = tempfile.mkstemp(prefix=f".{result.name}-", suffix=".raw", dir=tmpdir)
        os.close(fd)
        raw = Path(raw_name)
        try:
            try:
                qemu_img.convert(result.path, raw, dst_format="raw", src_format=qemu_img.detect_format(result.path))
            except qemu_img.QemuImgError as e:
                self._answer(Answer(500, e.message))
                return
            self._stream(raw, result.gzip)
        except OSError as e:                  # the client went away
            log.info("export download of %s ended: %s", result.name, e)
            self.close_connection = True
        finally:
            raw.unlink(missing_ok=True)

    def _stream(self, raw: Path, gzipped: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if gzipped:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(raw.stat().st_size))
        self.end_headers()
        with open(raw, "rb") as f:
            if not gzipped:
                while chunk := f.read(CHUNK):
                    self.wfile.write(chunk)
                return
            z = zlib.compressobj(6, zlib.DEFLATED, 31)          # wbits 31: a gzip stream
            while chunk := f.read(CHUNK):
                self._chunk(z.compress(chunk))
            self._chunk(z.flush())
            self.wfile.write(b"0\r\n\r\n")

    def _chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")


class ExportHTTPServer(TLSThreadingServer):
    io_timeout = 300.0

    def __init__(self, runtime: Runtime, tls: ssl.SSLContext, ca_pem: str = ""):
        super().__init__(runtime, tls, _Handler)
        self.ca_pem = ca_pem


class ExportServer:
    """The listener and the export controller's loop (``start()``/``shutdown()``)."""

    def __init__(self, runtime: Runtime, tls: ssl.SSLContext, ca_pem: str):
        self.httpd = ExportHTTPServer(runtime, tls, ca_pem)
        self.controller = ExportController(runtime.store, runtime.settings, lambda: self.url, ca_pem)
        self._queue: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        return self.httpd.url

    def start(self, controllers: bool = True) -> ExportServer:
        self._threads.append(threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                              name="export-server", daemon=True))
        if controllers:
            self.httpd.runtime.store.subscribe(self._on_event)
            self._threads.append(threading.Thread(target=self._work, name="reconcile-vmexport", daemon=True))
        for t in self._threads:
            t.start()
        if controllers:
            self._resync()
        return self

    def shutdown(self) -> None:
        self._stop.set()
        self._queue.put(None)
        self.httpd.shutdown()
        self.httpd.server_close()
        for t in self._threads:
            t.join(timeout=5)

    def _on_event(self, _event: str, kind: Any, obj: Any) -> None:
        name = getattr(kind, "kind", kind)
        if name not in WATCHED or not isinstance(obj, dict):
            return
        ns = str((obj.get("metadata") or {}).get("namespace") or "")
        if name == kinds.VMEXPORT.kind:
            self._queue.put((ns, str(obj["metadata"]["name"])))
            return
        for vme in self.httpd.runtime.store.list(kinds.VMEXPORT, ns)[0]:
            self._queue.put((ns, str(vme["metadata"]["name"])))

    def _resync(self) -> None:
        for vme in self.httpd.runtime.store.list(kinds.VMEXPORT, None)[0]:
            self._queue.put((str(vme["metadata"].get("namespace")), str(vme["metadata"]["name"])))

    def _work(self) -> None:
        due: dict[tuple[str, str], float] = {}
        while not self._stop.is_set():
            try:
                key = self._queue.get(timeout=0.5)
            except queue.Empty:
                key = None
                now = time.monotonic()
                for k, at in list(due.items()):
                    if at <= now:
                        due.pop(k)
                        self._queue.put(k)
                continue
            if key is None:
                continue
            try:
                again = self.controller.reconcile(*key)
            except Exception:
                log.exception("reconciling VirtualMachineExport %s/%s failed", *key)
                again = 5.0
            if again is not None:
                due[key] = time.monotonic() + max(again, 0.1)
            else:
                due.pop(key, None)
