"""``image-upload dv|pvc NAME``: Go virtctl's flow, flags and messages (docs/standalone.md#image-upload):
create the DataVolume (``source.upload``) or the PersistentVolumeClaim (upload annotations), or use
an existing one; wait until its upload server is ready; find the upload proxy (CDIConfig
``config`` or ``--uploadproxy-url``); ask an ``UploadTokenRequest``; POST the image (async endpoint
if its HEAD probe answers) with retries; wait until the claim's processing succeeded. The
progress bar is drawn only on a terminal."""

from __future__ import annotations

import os
import random
import sys
import time
from typing import Any, Callable

from virtctl.cli.go_errors import go_error
from virtctl.cli.ops.create import int_flag
from virtctl.cli.state import current
from virtctl.client import upload as transfer
from virtctl.client.kubevirt import KubeVirtClient
from virtctl.errors import APIError, ConnectionFailed, NotFound, VirtctlError
from virtctl.model import kinds
from virtctl.model.quantity import QUANTITY_ERROR, parse_quantity

POD_PHASE = "cdi.kubevirt.io/storage.pod.phase"
POD_READY = "cdi.kubevirt.io/storage.pod.ready"
UPLOAD_TARGET = "cdi.kubevirt.io/storage.upload.target"
FORCE_BIND = "cdi.kubevirt.io/storage.bind.immediate.requested"
CONTENT_TYPE = "cdi.kubevirt.io/storage.contentType"
APPLY_STORAGE_PROFILE = "cdi.kubevirt.io/applyStorageProfile"
POLL_FIRST, POLL_MAX = 0.01, 2.0  # seconds between looks at the DV/PVC while waiting
PROCESSING_WAIT = 24 * 3600.0

_LABELS = (("default_instancetype", "instancetype.kubevirt.io/default-instancetype"),
           ("default_instancetype_kind", "instancetype.kubevirt.io/default-instancetype-kind"),
           ("default_preference", "instancetype.kubevirt.io/default-preference"),
           ("default_preference_kind", "instancetype.kubevirt.io/default-preference-kind"))


def out(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


class Options:
    """The flags of one invocation (names as Go virtctl's fields)."""

    insecure = False
    uploadproxy_url = ""
    name = ""
    pvc_size = ""
    size = ""
    storage_class = ""
    access_mode = ""
    block_volume = False
    volume_mode = ""
    image_path = ""
    archive_path = ""
    no_create = False
    wait_secs = 300
    retry = 5
    force_bind = False
    default_instancetype = ""
    default_instancetype_kind = ""
    default_preference = ""
    default_preference_kind = ""
    create_pvc = False
    archive = False

    def __init__(self, **flags: Any):
        for name, value in flags.items():
            if not hasattr(Options, name):
                raise TypeError(f"no image-upload option {name}")
            setattr(self, name, value)


def parse_args(o: Options, args: list[str]) -> None:
    """Go virtctl's parseArgs, with its messages."""
    if o.size and o.pvc_size and o.size != o.pvc_size:
        raise VirtctlError("--pvc-size and --size can not be specified at the same time")
    if o.pvc_size:
        o.size = o.pvc_size
    if o.name:
        if args:
            raise VirtctlError("cannot use --pvc-name and args")
        o.create_pvc = True
        return
    if o.block_volume:
        if not o.volume_mode:
            o.volume_mode = "block"
        elif o.volume_mode != "block":
            raise VirtctlError(f"incompatible --volume-mode '{o.volume_mode}' and --block-volume")
    if o.volume_mode not in ("block", "filesystem", ""):
        raise VirtctlError(f"Invalid volume mode '{o.volume_mode}'. Valid values are 'block' and 'filesystem'.")
    if not o.image_path and not o.archive_path:
        raise VirtctlError("either image-path or archive-path must be provided")
    if o.image_path and o.archive_path:
        raise VirtctlError("cannot handle both image-path and archive-path, provide only one")
    if o.archive_path:
        o.archive = True
        o.image_path = o.archive_path
        if o.volume_mode == "block":
            raise VirtctlError("In archive upload the volume mode should always be filesystem")
    if len(args) != 2:
        raise VirtctlError("expecting two args")
    word = args[0].lower()
    if word not in ("dv", "pvc"):
        raise VirtctlError(f"invalid resource type {args[0]}")
    o.create_pvc = word == "pvc"
    o.name = args[1]


def check_instancetype_args(o: Options) -> None:
    if not o.default_instancetype and o.default_instancetype_kind:
        raise VirtctlError("--default-instancetype must be provided with --default-instancetype-kind")
    if not o.default_preference and o.default_preference_kind:
        raise VirtctlError("--default-preference must be provided with --default-preference-kind")
    if (o.default_instancetype or o.default_preference) and o.no_create:
        raise VirtctlError("--default-instancetype and --default-preference cannot be used with --no-create")


def _size(o: Options) -> str:
    try:
        parse_quantity(o.size)
    except ValueError:
        raise VirtctlError(f"validation failed for size={o.size}: {QUANTITY_ERROR}") from None
    return str(o.size)


def _labels(o: Options, labels: dict[str, str]) -> dict[str, str]:
    for attr, label in _LABELS:
        if getattr(o, attr):
            labels[label] = getattr(o, attr)
    return labels


def storage_spec(o: Options) -> dict[str, Any]:
    spec: dict[str, Any] = {"resources": {"requests": {"storage": _size(o)}}}
    if o.storage_class:
        spec["storageClassName"] = o.storage_class
    if o.access_mode:
        if o.access_mode == "ReadOnlyMany":
            raise VirtctlError("cannot upload to a readonly volume, use either ReadWriteOnce or ReadWriteMany if "
                               "supported")
        spec["accessModes"] = [o.access_mode]
    if o.volume_mode:
        spec["volumeMode"] = "Block" if o.volume_mode == "block" else "Filesystem"
    return spec


def datavolume_body(o: Options, namespace: str) -> dict[str, Any]:
    annotations = {FORCE_BIND: ""} if o.force_bind else {}
    meta: dict[str, Any] = {"name": o.name, "namespace": namespace, "annotations": annotations}
    labels = _labels(o, {})
    if labels:
        meta["labels"] = labels
    return {"apiVersion": kinds.DATAVOLUME.api_version, "kind": "DataVolume", "metadata": meta,
            "spec": {"source": {"upload": {}}, "contentType": "archive" if o.archive else "kubevirt",
                     "storage": storage_spec(o)}}


def pvc_body(o: Options, namespace: str) -> dict[str, Any]:
    if o.access_mode == "ReadOnlyMany":
        raise VirtctlError("cannot upload to a readonly volume, use either ReadWriteOnce or ReadWriteMany if "
                           "supported")
    spec: dict[str, Any] = {"accessModes": [o.access_mode or "ReadWriteOnce"],
                            "resources": {"requests": {"storage": _size(o)}}}
    if o.storage_class:
        spec["storageClassName"] = o.storage_class
    if o.volume_mode:
        spec["volumeMode"] = "Block" if o.volume_mode == "block" else "Filesystem"
    annotations = {UPLOAD_TARGET: "", CONTENT_TYPE: "archive" if o.archive else "kubevirt"}
    if o.force_bind:
        annotations[FORCE_BIND] = ""
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": o.name, "namespace": namespace, "annotations": annotations,
                         "labels": _labels(o, {APPLY_STORAGE_PROFILE: "true"})},
            "spec": spec}


def _poll(seconds: float, done: Callable[[], bool]) -> None:
    """virtwait.PollImmediately: look now, then again until ``seconds`` have passed (every 0.01 s
    at first, backing off to Go's 2 s)."""
    deadline = time.monotonic() + seconds
    interval = POLL_FIRST
    while not done():
        if time.monotonic() >= deadline:
            raise VirtctlError("context deadline exceeded")
        time.sleep(interval)
        interval = min(interval * 2, POLL_MAX)


def _get(kv: KubeVirtClient, kind: kinds.Kind, name: str) -> dict[str, Any] | None:
    try:
        return kv.get(kind, name)
    except NotFound:
        return None


def validate_existing(kv: KubeVirtClient, o: Options, namespace: str, pvc: dict[str, Any]) -> None:
    ann = (pvc.get("metadata") or {}).get("annotations") or {}
    if not o.create_pvc and _get(kv, kinds.DATAVOLUME, o.name) is None:
        raise VirtctlError(f"No DataVolume is associated with the existing PVC {namespace}/{o.name}")
    if ann.get(POD_PHASE) == "Succeeded":
        raise VirtctlError(f"PVC {o.name} already successfully imported/cloned/updated")
    if not o.no_create and UPLOAD_TARGET not in ann:
        raise VirtctlError(f"PVC {o.name} not available for upload")
    if o.archive and ann.get(CONTENT_TYPE) != "archive":
        raise VirtctlError(f"PVC {o.name} doesn't have archive contentType annotation")


def wait_ready(kv: KubeVirtClient, o: Options) -> None:
    logged = [False]

    def ready() -> bool:
        if o.create_pvc:
            pvc = _get(kv, kinds.PVC, o.name)
            done = pvc is not None and ((pvc.get("metadata") or {}).get("annotations") or {}).get(POD_READY) == "true"
        else:
            dv = _get(kv, kinds.DATAVOLUME, o.name)
            if dv is None:
                out(f"DV {o.name} not found... ")
                return False
            phase = (dv.get("status") or {}).get("phase")
            if phase in ("WaitForFirstConsumer", "PendingPopulation") and not o.force_bind:
                raise VirtctlError(f"cannot upload to DataVolume in {phase} phase, make sure the PVC is Bound, or "
                                   "use force-bind flag")
            done = phase == "UploadReady"
        if not done and not logged[0]:
            out(f"Waiting for PVC {o.name} upload pod to be ready...")
            logged[0] = True
        if done and logged[0]:
            out("Pod now ready")
        return done
    _poll(float(o.wait_secs), ready)


def proxy_url(kv: KubeVirtClient) -> str:
    config = kv.get(kinds.CDICONFIG, "config")
    override = (config.get("spec") or {}).get("uploadProxyURLOverride")
    return str(override or (config.get("status") or {}).get("uploadProxyURL") or "")


def token(kv: KubeVirtClient, name: str, namespace: str) -> str:
    body = {"apiVersion": kinds.UPLOADTOKENREQUEST.api_version, "kind": "UploadTokenRequest",
            "metadata": {"generateName": "token-for-virtctl-"}, "spec": {"pvcName": name}}
    answer = kv.create(kinds.UPLOADTOKENREQUEST, body, namespace)
    return str((answer.get("status") or {}).get("token") or "")


class _Bar:
    """The progress bar on a terminal (rich, imported only then); nothing otherwise."""

    def __init__(self, total: int):
        self.total, self.progress, self.task = total, None, None
        if sys.stdout.isatty():
            from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn
            self.progress = Progress(DownloadColumn(), BarColumn(), TransferSpeedColumn(), TimeRemainingColumn())
            self.task = self.progress.add_task("upload", total=total)
            self.progress.start()

    def update(self, done: int) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=done)  # type: ignore[arg-type]

    def finish(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def upload(kv: KubeVirtClient, o: Options, namespace: str, base: str, first_token: str) -> None:
    """Go virtctl's uploadData: up to ``--retry`` tries, a new token after a 401 (not on the first try)."""
    ctx = transfer.tls_context(current().config(), o.insecure)
    path = o.image_path
    length = os.path.getsize(path)
    bar = _Bar(length)
    out()
    tok, refreshes, tries = first_token, 3, 0
    err: VirtctlError | None = None
    try:
        with open(path, "rb") as src:
            while tries < o.retry:
                url = transfer.upload_url(base, tok, ctx)
                if tries > 0:
                    bar.update(0)
                    time.sleep(tries * random.randrange(50) / 1000)
                src.seek(0)
                try:
                    status, text = transfer.post(url, tok, src, length, ctx, bar.update)
                except ConnectionFailed as e:
                    status, err = 0, e
                else:
                    if status == 200:
                        err = None
                        break
                    err = VirtctlError(f"unexpected return value {status}, {text}")
                if status == 401:
                    if tries == 0 or refreshes == 0:
                        raise VirtctlError(f"authentication failed: {err.message}")
                    try:
                        tok = token(kv, o.name, namespace)
                    except (APIError, ConnectionFailed) as e:
                        raise VirtctlError(f"failed to get upload token: {go_error(e)}") from None
                    refreshes -= 1
                tries += 1
    finally:
        bar.finish()
    out()
    if err is not None and tries == o.retry:
        raise VirtctlError(f"error uploading image after {o.retry} retries: {err.message}")


def wait_processed(kv: KubeVirtClient, name: str) -> None:
    def done() -> bool:
        pvc = kv.get(kinds.PVC, name)
        ok = ((pvc.get("metadata") or {}).get("annotations") or {}).get(POD_PHASE) == "Succeeded"
        if ok:
            out("Processing completed successfully")
        return ok
    _poll(PROCESSING_WAIT, done)


def run(o: Options, args: list[str]) -> None:
    parse_args(o, args)
    check_instancetype_args(o)
    try:
        with open(o.image_path, "rb"):
            pass
    except OSError as e:
        raise VirtctlError(f"open {o.image_path}: {(e.strerror or str(e)).lower()}") from None
    inv = current()
    kv = inv.client()
    namespace = inv.namespace
    pvc = _get(kv, kinds.PVC, o.name)
    if pvc is None:
        out(f"PVC {namespace}/{o.name} not found ")
        if o.no_create:
            raise VirtctlError(f'persistentvolumeclaims "{o.name}" not found')
        if not o.size:
            raise VirtctlError("when creating a resource, the size must be specified")
        if o.storage_class:
            kv.call_json("GET", f"/apis/storage.k8s.io/v1/storageclasses/{o.storage_class}")
        if o.create_pvc:
            created = kv.create(kinds.PVC, pvc_body(o, namespace), namespace)
            out(f"PersistentVolumeClaim {namespace}/{created['metadata']['name']} created")
        else:
            created = kv.create(kinds.DATAVOLUME, datavolume_body(o, namespace), namespace)
            out(f"DataVolume {namespace}/{created['metadata']['name']} created")
    else:
        validate_existing(kv, o, namespace, pvc)
        ann = (pvc.get("metadata") or {}).get("annotations") or {}
        if UPLOAD_TARGET not in ann:
            pvc.setdefault("metadata", {}).setdefault("annotations", {})[UPLOAD_TARGET] = ""
            kv.replace(kinds.PVC, pvc, namespace)
        out(f"Using existing PVC {namespace}/{o.name}")
    wait_ready(kv, o)
    base = o.uploadproxy_url or proxy_url(kv)
    if not base:
        raise VirtctlError("uploadproxy URL not found")
    if "://" not in base:
        base = f"https://{base}"
    out(f"Uploading data to {base}")
    upload(kv, o, namespace, base, token(kv, o.name, namespace))
    out("Uploading data completed successfully, waiting for processing to complete, you can hit ctrl-c without "
        "interrupting the progress")
    try:
        wait_processed(kv, o.name)
    except VirtctlError:
        out("Timed out waiting for post upload processing to complete, please check upload pod status for progress")
        raise
    out(f"Uploading {o.image_path} completed successfully")


def _deprecated(flag: str, value: object, advice: str) -> None:
    if value:
        sys.stderr.write(f"Flag --{flag} has been deprecated, {advice}\n")


def image_upload(args: list[str], insecure: bool, uploadproxy_url: str, pvc_name: str, pvc_size: str, size: str,
                 storage_class: str, access_mode: str, block_volume: bool, volume_mode: str, image_path: str,
                 archive_path: str, no_create: bool, wait_secs: str, retry: str, force_bind: bool, datasource: bool,
                 default_instancetype: str, default_instancetype_kind: str, default_preference: str,
                 default_preference_kind: str, changed: frozenset[str] = frozenset()) -> None:
    """The ``image-upload`` command's entry (keyword arguments as :func:`virtctl.cli.args.call_params`
    makes them)."""
    _deprecated("pvc-name", pvc_name, "specify the name as the second argument instead.")
    _deprecated("pvc-size", pvc_size, "use --size instead.")
    _deprecated("block-volume", block_volume, "specify volume mode (filesystem/block) with --volume-mode instead.")
    if datasource:
        raise VirtctlError("--datasource is not supported: DataSources are not served in standalone mode")
    o = Options(insecure=insecure, uploadproxy_url=uploadproxy_url, name=pvc_name, pvc_size=pvc_size, size=size,
                storage_class=storage_class, access_mode=access_mode, block_volume=block_volume,
                volume_mode=volume_mode, image_path=image_path, archive_path=archive_path, no_create=no_create,
                wait_secs=int_flag("wait-secs", wait_secs, 32, unsigned=True),
                retry=int_flag("retry", retry, 32, unsigned=True), force_bind=force_bind,
                default_instancetype=default_instancetype, default_instancetype_kind=default_instancetype_kind,
                default_preference=default_preference, default_preference_kind=default_preference_kind)
    if len(args) > 2:
        raise VirtctlError(f"accepts at most 2 arg(s), received {len(args)}")
    run(o, list(args))
