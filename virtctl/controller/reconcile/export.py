"""VirtualMachineExport controller (export.kubevirt.io/v1, also served as v1beta1), as KubeVirt's:
an export of a PersistentVolumeClaim, of a VirtualMachine's claims, or of a VirtualMachineSnapshot's
volume copies becomes ``Ready`` with ``status.links`` (internal and external: the same loopback
export server here) offering each volume as ``raw`` (``disk.img``) and ``gzip`` (``disk.img.gz``),
protected by the token in the Secret ``status.tokenSecretRef`` names (``spec.tokenSecretRef``, or
one this controller generates, ``export-token-<name>``). A claim a running VM uses, or a running
VM, keeps the export ``Pending``; nothing to export is ``Skipped``. After ``spec.ttlDuration``
(default 2h) from its creation the export is deleted (docs/standalone.md#vm-export).

:func:`export_files` is what the export server serves: the same answer, from the same stored objects.
"""

from __future__ import annotations

import base64
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from virtctl.controller.reconcile import export_manifests
from virtctl.controller.settings import Settings
from virtctl.controller.storage import claims
from virtctl.controller.storage.snapshots import snapshot_path
from virtctl.controller.store.protocol import Store
from virtctl.errors import AlreadyExists, NotFound, VirtctlError
from virtctl.model import durations, kinds
from virtctl.model import status as st

log = logging.getLogger(__name__)

DEFAULT_TTL_SECONDS = 2 * 3600.0
TOKEN_KEY = "token"
EXPORT_BASE = "/api/export.kubevirt.io/v1/namespaces/{ns}/virtualmachineexports/{name}"
EXPORT_PATH = EXPORT_BASE + "/volumes/{volume}/{file}"
FORMATS = (("raw", "disk.img"), ("gzip", "disk.img.gz"))


@dataclass(frozen=True)
class Exported:
    """What an export offers, or why it offers nothing yet."""

    files: dict[str, Path]          # volume name (the claim's) → local file
    phase: str = "Ready"            # Ready | Pending | Skipped
    reason: str = "PodReady"
    message: str = ""
    vm_name: str = ""
    vm: dict | None = None          # the VM the manifests describe (VM and snapshot sources)
    pvc_specs: dict[str, dict] = field(default_factory=dict)   # claim → its spec, for the manifests


def generated_secret_name(name: str) -> str:
    return f"export-token-{name}"


def ttl_seconds(vme: dict) -> float:
    value = (vme.get("spec") or {}).get("ttlDuration")
    if not value:
        return DEFAULT_TTL_SECONDS
    try:
        return durations.parse_duration(value)
    except ValueError:
        return DEFAULT_TTL_SECONDS


def _using_vmi(store: Store, namespace: str, claim: str) -> str | None:
    """The name of a running VMI that uses ``claim``, if any."""
    for vmi in store.list(kinds.VMI, namespace)[0]:
        if st.is_final(vmi):
            continue
        for v in (vmi.get("spec") or {}).get("volumes") or []:
            src = v.get("persistentVolumeClaim") or v.get("dataVolume") or {}
            if claim in (src.get("claimName"), src.get("name")):
                return str((vmi.get("metadata") or {}).get("name"))
    return None


def _claims_of_vm(vm: dict) -> list[str]:
    out = []
    for v in ((((vm.get("spec") or {}).get("template") or {}).get("spec") or {}).get("volumes") or []):
        claim = (v.get("persistentVolumeClaim") or {}).get("claimName") or (v.get("dataVolume") or {}).get("name")
        if claim:
            out.append(str(claim))
    return out


def export_files(store: Store, settings: Settings, vme: dict) -> Exported:
    """The volumes ``vme`` exports now, from its source."""
    ns = (vme.get("metadata") or {}).get("namespace") or ""
    source = (vme.get("spec") or {}).get("source") or {}
    kind, name = source.get("kind"), str(source.get("name") or "")
    if kind == "PersistentVolumeClaim":
        user = _using_vmi(store, ns, name)
        if user is not None:
            return Exported({}, "Pending", "InUse", f"pvc {ns}/{name} is in use by VirtualMachineInstance {user}")
        path = claims.claim_file(settings, ns, name)
        if not path.is_file():
            return Exported({}, "Pending", "PVCNotFound", f"pvc {ns}/{name} not found")
        return Exported({name: path})
    if kind == "VirtualMachine":
        try:
            vm = store.get(kinds.VM, ns, name)
        except NotFound:
            return Exported({}, "Pending", "VMNotFound", f"Virtual Machine {ns}/{name} not found", vm_name=name)
        try:
            vmi = store.get(kinds.VMI, ns, name)
        except NotFound:
            vmi = None
        if vmi is not None and not st.is_final(vmi):
            return Exported({}, "Pending", "InUse", f"Virtual Machine {ns}/{name} is running", vm_name=name)
        files = {c: claims.claim_file(settings, ns, c) for c in _claims_of_vm(vm)}
        if not files:
            return Exported({}, "Skipped", "NoVolumes", f"Virtual Machine {ns}/{name} has no volumes to export",
                            vm_name=name)
        missing = [c for c, p in files.items() if not p.is_file()]
        if missing:
            return Exported({}, "Pending", "PVCNotFound", f"pvc {ns}/{missing[0]} not found", vm_name=name)
        specs = {}
        for c in files:
            try:
                specs[c] = dict(store.get(kinds.PVC, ns, c).get("spec") or {})
            except NotFound:
                pass
        return Exported(files, vm_name=name, vm=vm, pvc_specs=specs)
    if kind == "VirtualMachineSnapshot":
        try:
            snap = store.get(kinds.VMSNAPSHOT, ns, name)
        except NotFound:
            return Exported({}, "Pending", "SnapshotNotFound", f"VirtualMachineSnapshot {ns}/{name} not found")
        status = snap.get("status") or {}
        if not status.get("readyToUse"):
            return Exported({}, "Pending", "SnapshotNotReady", f"VirtualMachineSnapshot {ns}/{name} is not ready")
        try:
            content = store.get(kinds.VMSNAPSHOTCONTENT, ns, status.get("virtualMachineSnapshotContentName") or "")
        except NotFound:
            return Exported({}, "Pending", "SnapshotNotReady", f"VirtualMachineSnapshot {ns}/{name} has no content")
        files, specs = {}, {}
        for b in (content.get("spec") or {}).get("volumeBackups") or []:
            pvc = b.get("persistentVolumeClaim") or {}
            claim = str((pvc.get("metadata") or {}).get("name") or b.get("volumeName"))
            files[claim] = snapshot_path(settings, ns, b["volumeSnapshotName"])
            if pvc.get("spec"):
                specs[claim] = dict(pvc["spec"])
        if not files:
            return Exported({}, "Skipped", "NoVolumes", f"VirtualMachineSnapshot {ns}/{name} has no volumes to export")
        copied = ((content.get("spec") or {}).get("source") or {}).get("virtualMachine")
        return Exported(files, vm=dict(copied) if copied else None, pvc_specs=specs)
    return Exported({}, "Pending", "UnsupportedSource", f"unsupported export source kind {kind!r}")


def links(base_url: str, ca_pem: str, vme: dict, volumes: list[str], manifests: bool = False) -> dict[str, Any]:
    """``status.links``: both internal and external are the loopback export server; a VM's export
    (or a VM snapshot's) also lists its ``manifests`` (``all`` and ``auth-header-secret``)."""
    m = vme.get("metadata") or {}
    out: dict[str, Any] = {}
    for link_type in ("internal", "external"):
        link: dict[str, Any] = {"cert": ca_pem}
        if manifests:
            link["manifests"] = export_manifests.manifest_links(
                base_url + EXPORT_BASE.format(ns=m.get("namespace"), name=m.get("name")), link_type)
        link["volumes"] = [
            {"name": v, "formats": [{"format": fmt, "url": base_url + EXPORT_PATH.format(
                ns=m.get("namespace"), name=m.get("name"), volume=v, file=file)} for fmt, file in FORMATS]}
            for v in volumes]
        out[link_type] = link
    return out


def token_of(store: Store, vme: dict) -> str | None:
    """The export's token (from the Secret its status names), or None when there is none yet."""
    ref = (vme.get("status") or {}).get("tokenSecretRef")
    if not ref:
        return None
    try:
        secret = store.get(kinds.SECRET, (vme.get("metadata") or {}).get("namespace"), ref)
    except NotFound:
        return None
    data = (secret.get("data") or {}).get(TOKEN_KEY)
    if data:
        try:
            return base64.b64decode(data).decode()
        except ValueError:
            return None
    value = (secret.get("stringData") or {}).get(TOKEN_KEY)
    return str(value) if value else None


class ExportController:
    kind = kinds.VMEXPORT

    def __init__(self, store: Store, settings: Settings, base_url: Callable[[], str], ca_pem: str, *,
                 now: Callable[[], datetime] | None = None):
        self.store = store
        self.settings = settings
        self.base_url = base_url
        self.ca_pem = ca_pem
        self._now = now or (lambda: datetime.now(timezone.utc))

    def reconcile(self, namespace: str, name: str) -> float | None:
        """Bring one export's status up to date; the seconds until it should be looked at again."""
        try:
            vme = self.store.get(self.kind, namespace, name)
        except NotFound:
            return None
        if st.is_deleting(vme):
            return None
        created = st.parse_iso((vme.get("metadata") or {}).get("creationTimestamp")) or self._now()
        expires = created + timedelta(seconds=ttl_seconds(vme))
        if self._now() >= expires:
            log.info("VirtualMachineExport %s/%s reached its TTL: deleting it", namespace, name)
            try:
                self.store.delete(self.kind, namespace, name)
            except NotFound:
                pass
            return None
        secret = self._ensure_secret(vme)
        exported = export_files(self.store, self.settings, vme)
        uid = (vme.get("metadata") or {}).get("uid")
        now = st.now_iso(self._now())

        def change(obj: dict) -> Any:
            if (obj.get("metadata") or {}).get("uid") != uid:
                return False
            before = obj.get("status")
            s = dict(before or {})
            s["tokenSecretRef"] = secret
            s["serviceName"] = f"virt-export-{name}"
            s["ttlExpirationTime"] = expires.strftime("%Y-%m-%dT%H:%M:%SZ")
            if exported.vm_name:
                s["virtualMachineName"] = exported.vm_name
            ready = exported.phase == "Ready" and secret is not None
            if ready:
                s["phase"] = "Ready"
                s["links"] = links(self.base_url(), self.ca_pem, obj, sorted(exported.files),
                                   manifests=exported.vm is not None)
                st.set_condition(s, "Ready", "True", "PodReady", now=now)
            else:
                s["phase"] = exported.phase if exported.phase != "Ready" else "Pending"
                s.pop("links", None)
                reason = exported.reason if exported.phase != "Ready" else "SecretNotFound"
                message = exported.message if exported.phase != "Ready" else \
                    f"token secret {namespace}/{(vme.get('spec') or {}).get('tokenSecretRef')} not found"
                st.set_condition(s, "Ready", "False", reason, message, now=now)
            if s == before:
                return False
            obj["status"] = s

        self.store.mutate(self.kind, namespace, name, change, subresource="status")
        left = (expires - self._now()).total_seconds()
        return min(left, 5.0) if exported.phase != "Ready" or secret is None else left

    def _ensure_secret(self, vme: dict) -> str | None:
        """The token Secret's name: ``spec.tokenSecretRef`` once it exists (virtctl creates it right
        after the export), else one generated here, owned by the export."""
        m = vme.get("metadata") or {}
        ns, name = m.get("namespace"), m.get("name") or ""
        wanted = (vme.get("spec") or {}).get("tokenSecretRef")
        if wanted:
            try:
                self.store.get(kinds.SECRET, ns, wanted)
                return str(wanted)
            except NotFound:
                return None
        secret_name = generated_secret_name(name)
        token = secrets.token_urlsafe(15)[:20]
        try:
            self.store.create(kinds.SECRET, ns, {
                "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": {"name": secret_name, "namespace": ns, "ownerReferences": [
                    {"apiVersion": kinds.VMEXPORT.api_version, "kind": kinds.VMEXPORT.kind, "name": name,
                     "uid": m.get("uid"), "controller": True, "blockOwnerDeletion": False}]},
                "data": {TOKEN_KEY: base64.b64encode(token.encode()).decode()}})
        except AlreadyExists:
            pass
        except VirtctlError as e:
            log.warning("creating the token secret of VirtualMachineExport %s/%s failed: %s", ns, name, e)
            return None
        return secret_name
