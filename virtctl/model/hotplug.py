"""Volume hot-plug as KubeVirt decides it (pure functions, no I/O): which volumes are hotpluggable,
virt-api's checks of an ``addvolume`` / ``removevolume`` request against a spec (with its
messages), the spec after the request, and how a running VMI follows its VM's hotpluggable
volumes (docs/standalone.md#volume-hot-plug).

A request is ``AddVolumeOptions`` (``{"name", "disk", "volumeSource": {"dataVolume"|
"persistentVolumeClaim"}}``) or ``RemoveVolumeOptions`` (``{"name"}``), as JSON objects.
"""

from __future__ import annotations

import copy
from typing import Any

SOURCE_KEYS = ("dataVolume", "persistentVolumeClaim")

# status.volumeStatus phases of a hotplugged volume (KubeVirt's VolumePhase values)
PENDING = "Pending"
ATTACHED_TO_NODE = "AttachedToNode"
READY = "Ready"
DETACHING = "Detaching"


class HotplugRefused(Exception):
    """virt-api refuses the request; the message is virt-api's (wrapped in a 409 Conflict)."""


def source_name(volume_source: dict | None) -> str:
    """The claim a volume (or a hotplug volume source) refers to: ``dataVolume.name`` or
    ``persistentVolumeClaim.claimName``; "" for any other volume."""
    src = volume_source or {}
    if isinstance(src.get("dataVolume"), dict):
        return str(src["dataVolume"].get("name") or "")
    if isinstance(src.get("persistentVolumeClaim"), dict):
        return str(src["persistentVolumeClaim"].get("claimName") or "")
    return ""


def is_hotpluggable(volume: dict) -> bool:
    return any(isinstance(volume.get(k), dict) and volume[k].get("hotpluggable") is True for k in SOURCE_KEYS)


def _volumes(spec: dict) -> list[dict]:
    return [v for v in spec.get("volumes") or [] if isinstance(v, dict)]


def _disks(spec: dict) -> list[dict]:
    return [d for d in ((spec.get("domain") or {}).get("devices") or {}).get("disks") or [] if isinstance(d, dict)]


def verify(volumes: list[dict], add: dict | None = None, remove: dict | None = None) -> None:
    """virt-api's ``verifyVolumeOption``: a name or claim that is already there cannot be added; a
    volume to remove must exist and be hotpluggable."""
    for volume in volumes:
        if add is not None:
            name, claim = add.get("name"), source_name(add.get("volumeSource"))
            if volume.get("name") == name:
                raise HotplugRefused(f"Unable to add volume [{name}] because volume with that name already exists")
            if claim and source_name(volume) == claim:
                raise HotplugRefused(f"Unable to add volume source [{claim}] because it already exists")
        elif remove is not None and remove.get("name") in (volume.get("name"), source_name(volume) or None):
            if not is_hotpluggable(volume):
                raise HotplugRefused(f"Unable to remove volume [{volume.get('name')}] because it is not "
                                     "hotpluggable")
            return
    if remove is not None:
        raise HotplugRefused(f"Unable to remove volume [{remove.get('name')}] because it does not exist")


def apply(spec: dict, add: dict | None = None, remove: dict | None = None) -> dict:
    """A copy of the VMI ``spec`` with the request applied (KubeVirt's ``ApplyVolumeRequestOnVMISpec``):
    an added volume is marked hotpluggable and gets its disk; a removed one loses its disk too."""
    out = copy.deepcopy(spec)
    volumes = _volumes(out)
    devices = out.setdefault("domain", {}).setdefault("devices", {})
    disks = _disks(out)
    if add is not None:
        name = add["name"]
        if not any(v.get("name") == name for v in volumes):
            src = add.get("volumeSource") or {}
            key = next(k for k in SOURCE_KEYS if isinstance(src.get(k), dict))
            volumes.append({"name": name, key: {**src[key], "hotpluggable": True}})
            disk = copy.deepcopy(add.get("disk") or {})
            disk["name"] = name
            if not any(d.get("name") == name for d in disks):
                disks.append(disk)
    elif remove is not None:
        target = remove["name"]
        gone = {v.get("name") for v in volumes if target in (v.get("name"), source_name(v) or None)}
        volumes = [v for v in volumes if v.get("name") not in gone]
        disks = [d for d in disks if d.get("name") not in gone]
    out["volumes"] = volumes
    devices["disks"] = disks
    return out


def follow_vm(vmi_spec: dict, template_spec: dict) -> dict | None:
    """The running VMI's spec after its VM's hotpluggable volumes changed (what virt-controller
    does for a running VM): hotpluggable volumes of the template that the VMI lacks are added with
    their disks, hotpluggable ones of the VMI that the template no longer has are removed. None
    when nothing changes."""
    want = {v["name"]: v for v in _volumes(template_spec) if is_hotpluggable(v) and v.get("name")}
    have = {v["name"]: v for v in _volumes(vmi_spec) if v.get("name")}
    to_add = [n for n in want if n not in have]
    to_remove = [n for n, v in have.items() if is_hotpluggable(v) and n not in want
                 and n not in {t.get("name") for t in _volumes(template_spec)}]
    if not to_add and not to_remove:
        return None
    out = copy.deepcopy(vmi_spec)
    template_disks = {d.get("name"): d for d in _disks(template_spec)}
    volumes = [v for v in _volumes(out) if v.get("name") not in to_remove]
    disks = [d for d in _disks(out) if d.get("name") not in to_remove]
    for name in to_add:
        volumes.append(copy.deepcopy(want[name]))
        if name in template_disks and not any(d.get("name") == name for d in disks):
            disks.append(copy.deepcopy(template_disks[name]))
    out["volumes"] = volumes
    out.setdefault("domain", {}).setdefault("devices", {})["disks"] = disks
    return out


def _named_options_errors(body: Any, options: str) -> str | None:
    """virt-api's 400 for an ``<options>`` body that is missing or names nothing, else None."""
    if not isinstance(body, dict) or not body:
        return "Request with no body, a new name is expected as the request body"
    if not body.get("name"):
        return f"{options} requires name to be set"
    return None


def add_options_errors(body: Any) -> str | None:
    """virt-api's 400 for a malformed ``AddVolumeOptions`` body, else None."""
    error = _named_options_errors(body, "AddVolumeOptions")
    if error is not None:
        return error
    if not isinstance(body.get("disk"), dict):
        return "AddVolumeOptions requires disk to not be nil"
    src = body.get("volumeSource")
    if not isinstance(src, dict):
        return "AddVolumeOptions requires VolumeSource to not be nil"
    if not any(isinstance(src.get(k), dict) for k in SOURCE_KEYS):
        return "AddVolumeOptions requires VolumeSource to name a dataVolume or persistentVolumeClaim"
    if not source_name(src):
        return "AddVolumeOptions requires the VolumeSource to name its claim"
    return None


def remove_options_errors(body: Any) -> str | None:
    return _named_options_errors(body, "RemoveVolumeOptions")


def volume_status(spec: dict, targets: dict[str, str], *, missing: dict[str, str] | None = None,
                  failed: dict[str, str] | None = None, detaching: dict[str, str] | None = None,
                  on_node: frozenset[str] = frozenset()) -> list[dict]:
    """``status.volumeStatus`` of a running VMI: every volume with its guest ``target`` (from
    ``targets``, the volumes in the domain); hotpluggable ones also with ``hotplugVolume`` and
    their phase: Ready once in the domain, AttachedToNode while its file is found and about to be
    attached (``on_node``), Pending while their claim is missing (``missing``: name → why) or the
    attach failed (``failed``: name → why), Detaching while the guest lets go of one that left the
    spec (``detaching``: name → target)."""
    missing, failed, detaching = missing or {}, failed or {}, detaching or {}
    out: list[dict] = []
    for v in _volumes(spec):
        name = v.get("name") or ""
        entry: dict[str, Any] = {"name": name, "target": targets.get(name, "")}   # target is required
        if is_hotpluggable(v):
            entry["hotplugVolume"] = {}
            if name in targets:
                entry.update(phase=READY, reason="VolumeReady",
                             message=f"Successfully attach hotplugged volume {name} to VM")
            elif name in on_node:
                entry.update(phase=ATTACHED_TO_NODE, reason="SuccessfulMountVolume",
                             message=f"Volume {name} is found on the node and is being attached")
            elif name in failed:
                entry.update(phase=PENDING, reason="FailedAttachVolume", message=failed[name])
            else:
                entry.update(phase=PENDING, reason="VolumePending",
                             message=missing.get(name) or f"Volume {name} is not attached yet")
        out.append(entry)
    for name, target in detaching.items():
        out.append({"name": name, "target": target, "hotplugVolume": {}, "phase": DETACHING,
                    "reason": "VolumeDetaching", "message": f"Volume {name} is being detached from the VM"})
    return out
