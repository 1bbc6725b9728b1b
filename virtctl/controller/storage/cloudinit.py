"""cloud-init data sources as ISO images: NoCloud (label ``cidata``) and ConfigDrive (``config-2``);
:func:`write_iso` also makes the ISOs of Secret, ConfigMap and downward API volumes.

Built with pycdlib, with Joliet and Rock Ridge so that cloud-init sees the real lower-case names
(``user-data``, ``meta-data``, ``openstack/latest/user_data``); the plain ISO 9660 names are only
the mandatory 8.3 fallbacks. An ISO is written to a temp file and renamed into place.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pycdlib

from virtctl.errors import field_invalid

NOCLOUD_LABEL = "cidata"
CONFIG_DRIVE_LABEL = "config-2"


@dataclass(frozen=True)
class CloudInitData:
    user_data: bytes | None
    network_data: bytes | None


def read_cloud_init_source(source: dict, field: str) -> CloudInitData:
    """userData/userDataBase64 and networkData/networkDataBase64 of a cloudInit volume. Data from a
    ``secretRef``/``networkDataSecretRef`` is resolved from the Secret by
    :mod:`virtctl.controller.storage.configsources` and takes the place of these."""
    if not isinstance(source, dict):
        raise field_invalid(f"{field}", "must be an object")
    for key in ("secretRef", "networkDataSecretRef"):
        ref = source.get(key)
        if ref is not None and (not isinstance(ref, dict) or not isinstance(ref.get("name"), str) or not ref["name"]):
            raise field_invalid(f"{field}.{key}.name", "Required value", "FieldValueRequired")
    return CloudInitData(_one_of(source, "userData", field), _one_of(source, "networkData", field))


def _one_of(source: dict, key: str, field: str) -> bytes | None:
    plain, b64 = source.get(key), source.get(f"{key}Base64")
    if plain is not None and b64 is not None:
        raise field_invalid(f"{field}", f"{key} and {key}Base64 are mutually exclusive")
    if plain is not None:
        if not isinstance(plain, str):
            raise field_invalid(f"{field}.{key}", "must be a string")
        return plain.encode()
    if b64 is not None:
        try:
            if not isinstance(b64, str):
                raise ValueError
            return base64.b64decode(b64, validate=True)
        except (ValueError, binascii.Error):
            raise field_invalid(f"{field}.{key}Base64", "is not valid base64") from None
    return None


def nocloud_meta_data(instance_id: str, hostname: str, public_keys: Sequence[str] = ()) -> bytes:
    """NoCloud meta-data; SSH keys of ``accessCredentials`` (noCloud) as ``public-keys`` ("0", "1", …
    as KubeVirt numbers them; JSON strings are valid YAML scalars)."""
    text = f"instance-id: {instance_id}\nlocal-hostname: {hostname}\n"
    if public_keys:
        text += "public-keys:\n" + "".join(f"  {json.dumps(str(i))}: {json.dumps(k)}\n"
                                           for i, k in enumerate(public_keys))
    return text.encode()


def config_drive_meta_data(instance_id: str, hostname: str, public_keys: Sequence[str] = ()) -> bytes:
    meta: dict[str, object] = {"uuid": instance_id, "hostname": hostname, "name": hostname}
    if public_keys:
        meta["public_keys"] = {str(i): k for i, k in enumerate(public_keys)}
    return json.dumps(meta, indent=2).encode()


def write_nocloud_iso(dest: Path, data: CloudInitData, *, instance_id: str, hostname: str,
                      public_keys: Sequence[str] = ()) -> None:
    """NoCloud: user-data, meta-data, network-config at the root of a volume labelled ``cidata``."""
    files = {"user-data": data.user_data or b"", "meta-data": nocloud_meta_data(instance_id, hostname, public_keys)}
    if data.network_data is not None:
        files["network-config"] = data.network_data
    write_iso(dest, NOCLOUD_LABEL, files)


def write_config_drive_iso(dest: Path, data: CloudInitData, *, instance_id: str, hostname: str,
                           public_keys: Sequence[str] = ()) -> None:
    """OpenStack config drive: openstack/latest/{user_data,meta_data.json,network_data.json}."""
    files = {"openstack/latest/meta_data.json": config_drive_meta_data(instance_id, hostname, public_keys)}
    if data.user_data is not None:
        files["openstack/latest/user_data"] = data.user_data
    if data.network_data is not None:
        files["openstack/latest/network_data.json"] = data.network_data
    write_iso(dest, CONFIG_DRIVE_LABEL, files)


def _iso9660_name(name: str, used: set[str], is_dir: bool) -> str:
    """An 8.3 d-character name (interchange level 1), unique in its directory."""
    stem, _, ext = name.upper().rpartition(".") if "." in name and not is_dir else (name.upper(), "", "")
    clean = lambda s, n: "".join(c if c.isalnum() else "_" for c in s)[:n] or "F"  # noqa: E731
    stem, ext = clean(stem, 8), clean(ext, 3) if ext else ""
    base, n = stem, 0
    while True:
        candidate = stem if is_dir else f"{stem}.{ext};1"
        if candidate not in used:
            used.add(candidate)
            return candidate
        n += 1
        stem = f"{base[:8 - len(str(n))]}{n}"


def write_iso(dest: Path, label: str, files: dict[str, bytes]) -> None:
    """An ISO 9660 image (Joliet, Rock Ridge) labelled ``label`` holding ``files`` (path → bytes)."""
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=1, vol_ident=label, joliet=3, rock_ridge="1.09")
    iso_dirs: dict[str, str] = {"": ""}           # logical dir → ISO 9660 path
    used: dict[str, set[str]] = {}
    try:
        for path in sorted(files):
            parts = path.split("/")
            for depth in range(1, len(parts)):
                logical = "/".join(parts[:depth])
                if logical not in iso_dirs:
                    parent = "/".join(parts[:depth - 1])
                    name = _iso9660_name(parts[depth - 1], used.setdefault(parent, set()), True)
                    iso_dirs[logical] = f"{iso_dirs[parent]}/{name}"
                    iso.add_directory(iso_dirs[logical], rr_name=parts[depth - 1], joliet_path=f"/{logical}")
            parent = "/".join(parts[:-1])
            name = _iso9660_name(parts[-1], used.setdefault(parent, set()), False)
            content = files[path]
            iso.add_fp(io.BytesIO(content), len(content), f"{iso_dirs[parent]}/{name}",
                       rr_name=parts[-1], joliet_path=f"/{path}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".tmp-{dest.name}-{uuid.uuid4().hex[:8]}")
        try:
            iso.write(str(tmp))
            os.replace(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    finally:
        iso.close()
