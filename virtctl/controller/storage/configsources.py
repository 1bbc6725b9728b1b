"""What a VMI takes from Secrets, ConfigMaps and its own metadata, resolved before its volumes are
made (docs/standalone.md, "Secrets and ConfigMaps in VMs"):

* ``cloudInitNoCloud`` / ``cloudInitConfigDrive`` ``secretRef`` (user data from the Secret's
  ``userdata`` or ``userData`` key, as KubeVirt reads it) and ``networkDataSecretRef``
  (``networkdata`` / ``networkData``);
* ``secret``, ``configMap`` and ``downwardAPI`` volumes: the files KubeVirt puts on the ISO it
  attaches (one file per key; the volume label ``cfgdata`` unless ``volumeLabel`` says otherwise);
* ``accessCredentials``: ``sshPublicKey`` with ``noCloud`` / ``configDrive`` propagation becomes
  the ``public-keys`` of the cloud-init meta-data (each value of the Secret one key, as KubeVirt
  does); every referenced Secret (also for ``qemuGuestAgent`` and ``userPassword``) must exist.

A Secret or ConfigMap that does not exist (and is not ``optional``) raises :class:`SourceNotFound`:
the VMI waits, as its launcher pod would wait for the volume to mount. A downward API field is
taken from the VMI (there is no launcher pod): its name, namespace, uid, annotations and the labels
its pod would carry.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from virtctl.errors import VirtctlError, field_invalid
from virtctl.model.services import launcher_labels

CONFIG_LABEL = "cfgdata"
USER_DATA_KEYS = ("userdata", "userData")
NETWORK_DATA_KEYS = ("networkdata", "networkData")

Lookup = Callable[[str, str, str], "dict[str, Any] | None"]
"""``lookup(kind, namespace, name)``: the stored Secret or ConfigMap (kind ``Secret``/``ConfigMap``), or None."""


class SourceNotFound(VirtctlError):
    """A Secret or ConfigMap a VMI needs does not exist (yet)."""

    def __init__(self, kind: str, name: str, volume: str):
        # kubelet's words for a volume it cannot mount
        super().__init__(f'MountVolume.SetUp failed for volume "{volume}" : {kind.lower()} "{name}" not found')
        self.kind, self.name, self.volume = kind, name, volume


@dataclass
class CloudInitSecrets:
    user_data: bytes | None = None
    network_data: bytes | None = None


@dataclass
class ResolvedSources:
    files: dict[str, dict[str, bytes]] = field(default_factory=dict)        # config volume -> file -> bytes
    labels: dict[str, str] = field(default_factory=dict)                    # config volume -> ISO label
    cloud_init: dict[str, CloudInitSecrets] = field(default_factory=dict)   # cloud-init volume -> data
    nocloud_keys: list[str] = field(default_factory=list)
    config_drive_keys: list[str] = field(default_factory=list)


def references(vmi: dict[str, Any]) -> set[tuple[str, str]]:
    """(kind, name) of every Secret and ConfigMap the VMI refers to (for requeueing on their change)."""
    spec = vmi.get("spec") or {}
    out: set[tuple[str, str]] = set()
    for vol in spec.get("volumes") or []:
        if not isinstance(vol, dict):
            continue
        for key in ("cloudInitNoCloud", "cloudInitConfigDrive"):
            src = vol.get(key) or {}
            for ref in ("secretRef", "networkDataSecretRef"):
                if isinstance(src.get(ref), dict) and src[ref].get("name"):
                    out.add(("Secret", str(src[ref]["name"])))
        if isinstance(vol.get("secret"), dict) and vol["secret"].get("secretName"):
            out.add(("Secret", str(vol["secret"]["secretName"])))
        if isinstance(vol.get("configMap"), dict) and vol["configMap"].get("name"):
            out.add(("ConfigMap", str(vol["configMap"]["name"])))
    for cred in spec.get("accessCredentials") or []:
        name = _credential_secret(cred)
        if name:
            out.add(("Secret", name))
    return out


def _credential_secret(cred: Any) -> str:
    if not isinstance(cred, dict):
        return ""
    for key in ("sshPublicKey", "userPassword"):
        src = ((cred.get(key) or {}).get("source") or {}).get("secret") or {}
        if src.get("secretName"):
            return str(src["secretName"])
    return ""


def secret_values(obj: dict[str, Any]) -> dict[str, bytes]:
    """A stored Secret's data, decoded (``stringData`` too, should a writer have left it)."""
    out: dict[str, bytes] = {}
    for k, v in (obj.get("data") or {}).items():
        try:
            out[str(k)] = base64.b64decode(str(v), validate=True)
        except (ValueError, binascii.Error):
            continue
    for k, v in (obj.get("stringData") or {}).items():
        out[str(k)] = str(v).encode()
    return out


def configmap_values(obj: dict[str, Any]) -> dict[str, bytes]:
    out = {str(k): str(v).encode() for k, v in (obj.get("data") or {}).items()}
    for k, v in (obj.get("binaryData") or {}).items():
        try:
            out[str(k)] = base64.b64decode(str(v), validate=True)
        except (ValueError, binascii.Error):
            continue
    return out


def _first(values: dict[str, bytes], keys: tuple[str, ...]) -> bytes | None:
    return next((values[k] for k in keys if k in values), None)


def _format_map(m: dict[str, Any]) -> bytes:
    """kubelet's downward API rendering of labels/annotations: sorted ``key="value"`` lines."""
    import json
    return "\n".join(f"{k}={json.dumps(str(v))}" for k, v in sorted(m.items())).encode()


def _downward_field(vmi: dict[str, Any], path: str, field_path: str) -> bytes:
    meta = vmi.get("metadata") or {}
    simple = {"metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace"),
              "metadata.uid": meta.get("uid")}
    if path in simple:
        return str(simple[path] or "").encode()
    if path == "metadata.labels":
        return _format_map(launcher_labels(vmi))
    if path == "metadata.annotations":
        return _format_map(meta.get("annotations") or {})
    for prefix, source in (("metadata.labels", launcher_labels(vmi)), ("metadata.annotations",
                                                                         meta.get("annotations") or {})):
        if path.startswith(f"{prefix}['") and path.endswith("']"):
            return str(source.get(path[len(prefix) + 2:-2], "")).encode()
    raise field_invalid(field_path, f'Unsupported value: "{path}": supported values: "metadata.annotations", '
                                    '"metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid"',
                        "FieldValueNotSupported")


def _downward_files(vmi: dict[str, Any], src: dict[str, Any], src_path: str) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for j, item in enumerate(src.get("fields") or []):
        item_path = f"{src_path}.fields[{j}]"
        if not isinstance(item, dict) or not isinstance(item.get("path"), str) or not item["path"]:
            raise field_invalid(f"{item_path}.path", "Required value", "FieldValueRequired")
        rel = item["path"]
        if rel.startswith("/") or ".." in rel.split("/"):
            raise field_invalid(f"{item_path}.path", f'Invalid value: "{rel}": must be a relative path without ".."')
        if item.get("resourceFieldRef"):
            raise field_invalid(f"{item_path}.resourceFieldRef", "resource fields are not supported in standalone "
                                "mode: there is no container", "FieldValueNotSupported")
        ref = item.get("fieldRef") or {}
        if not isinstance(ref, dict) or not ref.get("fieldPath"):
            raise field_invalid(f"{item_path}.fieldRef", "Required value", "FieldValueRequired")
        files[rel] = _downward_field(vmi, str(ref["fieldPath"]), f"{item_path}.fieldRef.fieldPath")
    return files


# volumes whose files come from one object: (volume key, its name field, the object's kind, its files)
_FILE_SOURCES: tuple[tuple[str, str, str, Callable[[dict[str, Any]], dict[str, bytes]]], ...] = (
    ("secret", "secretName", "Secret", secret_values),
    ("configMap", "name", "ConfigMap", configmap_values),
)


def resolve(vmi: dict[str, Any], lookup: Lookup) -> ResolvedSources:
    """Everything the VMI takes from Secrets, ConfigMaps and its metadata. Raises
    :class:`SourceNotFound` for a missing Secret/ConfigMap, a 422 for a source that cannot work."""
    meta, spec = vmi.get("metadata") or {}, vmi.get("spec") or {}
    ns = str(meta.get("namespace") or "default")
    out = ResolvedSources()

    def get(kind: str, name: str, volume: str, optional: bool = False) -> dict[str, Any] | None:
        obj = lookup(kind, ns, name)
        if obj is None and not optional:
            raise SourceNotFound(kind, name, volume)
        return obj

    for i, vol in enumerate(spec.get("volumes") or []):
        if not isinstance(vol, dict):
            continue
        vol_name = str(vol.get("name") or "")
        base = f"spec.volumes[{i}]"
        for key in ("cloudInitNoCloud", "cloudInitConfigDrive"):
            src = vol.get(key)
            if not isinstance(src, dict) or not (src.get("secretRef") or src.get("networkDataSecretRef")):
                continue
            data = CloudInitSecrets()
            found = False
            for ref_key, keys, attr in (("secretRef", USER_DATA_KEYS, "user_data"),
                                        ("networkDataSecretRef", NETWORK_DATA_KEYS, "network_data")):
                ref = src.get(ref_key)
                if not ref:
                    continue
                if not isinstance(ref, dict) or not ref.get("name"):
                    raise field_invalid(f"{base}.{key}.{ref_key}.name", "Required value", "FieldValueRequired")
                secret = get("Secret", str(ref["name"]), vol_name)
                value = _first(secret_values(secret or {}), keys)
                if value is not None:
                    setattr(data, attr, value)
                    found = True
            if not found:
                raise VirtctlError(f"no cloud-init data-source found at volume: {vol_name}")
            out.cloud_init[vol_name] = data
        for key, name_key, kind, values in _FILE_SOURCES:
            src = vol.get(key)
            if not isinstance(src, dict):
                continue
            name = src.get(name_key)
            if not isinstance(name, str) or not name:
                raise field_invalid(f"{base}.{key}.{name_key}", "Required value", "FieldValueRequired")
            obj = get(kind, name, vol_name, bool(src.get("optional")))
            out.files[vol_name] = values(obj) if obj else {}
            out.labels[vol_name] = str(src.get("volumeLabel") or CONFIG_LABEL)
        if isinstance(vol.get("downwardAPI"), dict):
            out.files[vol_name] = _downward_files(vmi, vol["downwardAPI"], f"{base}.downwardAPI")
            out.labels[vol_name] = str(vol["downwardAPI"].get("volumeLabel") or CONFIG_LABEL)

    for i, cred in enumerate(spec.get("accessCredentials") or []):
        name = _credential_secret(cred)
        if not name:
            raise field_invalid(f"spec.accessCredentials[{i}]", "a secret source is required",
                                "FieldValueRequired")
        secret = get("Secret", name, f"{name}-access-cred")
        ssh = (cred or {}).get("sshPublicKey") or {}
        method = ssh.get("propagationMethod") or {}
        if ssh and ("noCloud" in method or "configDrive" in method):
            pubkeys = [v.decode(errors="replace").strip() for _, v in sorted(secret_values(secret or {}).items())]
            target = out.nocloud_keys if "noCloud" in method else out.config_drive_keys
            target.extend(k for k in pubkeys if k)
    return out


def needed(vmi: dict[str, Any]) -> bool:
    """Does the VMI take anything from Secrets, ConfigMaps or the downward API?"""
    spec = vmi.get("spec") or {}
    return bool(references(vmi)) or any(isinstance(v, dict) and "downwardAPI" in v for v in spec.get("volumes") or [])


def referencing(vmis: list[dict[str, Any]], kind: str, name: str) -> list[str]:
    """Names of the VMIs (of one namespace) that refer to the Secret/ConfigMap ``name``."""
    return [str((v.get("metadata") or {}).get("name")) for v in vmis if (kind, name) in references(v)]
