"""The upload endpoint of standalone mode: CDI's upload proxy protocol on its own loopback TLS
listener (docs/standalone.md#image-upload). ``CDIConfig`` ``config`` publishes its address in
``status.uploadProxyURL``.

* ``HEAD /v1beta1/upload-async`` and ``/v1beta1/upload``: 200 with a valid token (how virtctl
  finds the async endpoint), 401 without.
* ``POST`` of the same paths (and ``/v1alpha1/upload``): ``Authorization: Bearer <token>`` from an
  ``UploadTokenRequest``; the token names the claim. The body (``application/octet-stream``,
  ``Content-Length``) becomes the claim's volume file (``storage.upload``); one upload per claim at
  a time (a second one is 503, as from CDI's upload server); on success the claim's
  ``cdi.kubevirt.io/storage.pod.phase`` is ``Succeeded`` and its DataVolume too.

:func:`decide` holds the protocol decisions without sockets.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any

from virtctl.controller.reconcile import volumes
from virtctl.controller.runtime import Runtime
from virtctl.controller.schema.core.pvc import requested_bytes
from virtctl.controller.server.side_http import Answer, PlainTextHandler, TLSThreadingServer
from virtctl.controller.storage import claims
from virtctl.controller.storage.upload import UploadError, make_volume
from virtctl.controller.upload_tokens import bearer
from virtctl.errors import NotFound, Unauthorized
from virtctl.model import kinds

log = logging.getLogger(__name__)

PATHS = ("/v1beta1/upload", "/v1beta1/upload-async", "/v1alpha1/upload")
DRAIN_LIMIT = 64 << 20        # a refused body up to this size is read so the client sees the answer


@dataclass(frozen=True)
class Target:
    namespace: str
    claim: str
    available: int
    archive: bool
    datavolume: bool
    uid: str = ""


def decide(runtime: Runtime, method: str, path: str, authorization: str | None) -> Answer | Target:
    """What a request gets before its body is read: an answer, or the claim it uploads to."""
    if path.split("?")[0] not in PATHS:
        return Answer(404, "404 page not found")
    if method not in ("HEAD", "POST"):
        return Answer(405, "Method Not Allowed")
    try:
        ns, claim = runtime.upload_tokens.verify(bearer(authorization))
    except Unauthorized:
        return Answer(401, "Unauthorized")
    if method == "HEAD":
        return Answer(200)
    try:
        pvc = runtime.store.get(kinds.PVC, ns, claim)
    except NotFound:
        return Answer(404, f'persistentvolumeclaims "{claim}" not found')
    ann = (pvc.get("metadata") or {}).get("annotations") or {}
    if claims.UPLOAD_TARGET not in ann:
        return Answer(400, f"PVC {ns}/{claim} is not an upload target")
    if ann.get(claims.POD_PHASE) == "Succeeded":
        return Answer(400, f"PVC {claim} already successfully imported/cloned/updated")
    if (pvc.get("metadata") or {}).get("deletionTimestamp"):
        return Answer(400, f"PVC {ns}/{claim} is being deleted")
    if ann.get(claims.POD_READY) != "true":
        return Answer(503, f"upload server for PVC {ns}/{claim} is not ready")
    return Target(ns, claim, requested_bytes(pvc), ann.get(claims.CONTENT_TYPE) == "archive",
                  claims.populated_by_datavolume(pvc), str((pvc.get("metadata") or {}).get("uid") or ""))


def still_wanted(runtime: Runtime, target: Target) -> bool:
    """The claim an upload went to still exists, is the same one, and is not being deleted."""
    try:
        pvc = runtime.store.get(kinds.PVC, target.namespace, target.claim)
    except NotFound:
        return False
    meta = pvc.get("metadata") or {}
    return meta.get("uid") == target.uid and not meta.get("deletionTimestamp")


def succeeded(runtime: Runtime, target: Target) -> None:
    volumes.set_pod_annotations(runtime.store, target.namespace, target.claim, "Succeeded", False)
    if target.datavolume:
        volumes.set_dv_status(runtime.store, target.namespace, target.claim,
                              volumes.dv_status("Succeeded", target.claim, "100.0%", bound=True,
                                                running=(False, "Completed", ""), ready=True))


class _Handler(PlainTextHandler):
    server: UploadHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("upload %s: " + format, self.client_address[0], *args)

    def _refuse(self, answer: Answer, length: int) -> None:
        if 0 < length <= DRAIN_LIMIT:
            try:
                left = length
                while left > 0:
                    data = self.rfile.read(min(left, 1 << 20))
                    if not data:
                        break
                    left -= len(data)
            except OSError:
                pass
        else:
            self.close_connection = True
        self._answer(answer)

    def do_HEAD(self) -> None:
        result = decide(self.server.runtime, "HEAD", self.path, self.headers.get("Authorization"))
        self._answer(result if isinstance(result, Answer) else Answer(200))

    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or -1)
        except ValueError:
            length = -1
        result = decide(self.server.runtime, "POST", self.path, self.headers.get("Authorization"))
        if isinstance(result, Answer):
            self._refuse(result, length)
            return
        if length < 0:
            self.close_connection = True
            self._answer(Answer(411, "Length Required"))
            return
        key = (result.namespace, result.claim)
        if not self.server.claim(key):
            self._refuse(Answer(503, f"an upload to PVC {result.namespace}/{result.claim} is already in progress"),
                         length)
            return
        started = time.monotonic()
        try:
            target = claims.claim_file(self.server.runtime.settings, result.namespace, result.claim)
            make_volume(self.rfile, length, target, result.available, archive=result.archive)  # type: ignore[arg-type]
        except UploadError as e:
            log.warning("upload to %s/%s failed: %s", result.namespace, result.claim, e.message)
            self.close_connection = True
            self._answer(Answer(400, e.message))
            return
        except OSError as e:
            log.warning("upload to %s/%s failed: %s", result.namespace, result.claim, e)
            self.close_connection = True
            return
        finally:
            self.server.release(key)
        if not still_wanted(self.server.runtime, result):
            target.unlink(missing_ok=True)          # never a volume for a claim that went meanwhile
            self.close_connection = True
            self._answer(Answer(400, f"PVC {result.namespace}/{result.claim} was deleted during the upload"))
            return
        succeeded(self.server.runtime, result)
        took = max(time.monotonic() - started, 1e-6)
        log.info("upload to %s/%s completed: %d bytes in %.2f s (%.0f MiB/s)", result.namespace, result.claim, length,
                 took, length / took / (1 << 20))
        self._answer(Answer(200))


class UploadHTTPServer(TLSThreadingServer):
    def __init__(self, runtime: Runtime, tls: ssl.SSLContext):
        self._busy: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        super().__init__(runtime, tls, _Handler)

    def claim(self, key: tuple[str, str]) -> bool:
        with self._lock:
            if key in self._busy:
                return False
            self._busy.add(key)
            return True

    def release(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._busy.discard(key)


class UploadServer:
    """The listener (``start()``/``shutdown()``) and the CDIConfig that points at it."""

    def __init__(self, runtime: Runtime, tls: ssl.SSLContext):
        self.httpd = UploadHTTPServer(runtime, tls)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return self.httpd.url

    def start(self) -> UploadServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="upload-server", daemon=True)
        self._thread.start()
        publish_config(self.httpd.runtime, self.url)
        return self

    def shutdown(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


def publish_config(runtime: Runtime, upload_proxy: str) -> None:
    """CDIConfig ``config`` with ``status.uploadProxyURL``. With its scheme: Go's url.Parse refuses
    a bare ``127.0.0.1:<port>`` ("first path segment in URL cannot contain colon")."""
    store = runtime.store
    try:
        store.get(kinds.CDICONFIG, None, "config")
    except NotFound:
        store.create(kinds.CDICONFIG, None, {"metadata": {"name": "config"}, "spec": {}})

    def status(obj: dict[str, Any]) -> Any:
        want = {**(obj.get("status") or {}), "uploadProxyURL": upload_proxy}
        if obj.get("status") == want:
            return False
        obj["status"] = want
    store.mutate(kinds.CDICONFIG, None, "config", status, subresource="status")
