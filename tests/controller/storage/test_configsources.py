"""Secrets, ConfigMaps and the downward API in a VMI: resolution (KubeVirt's keys and rules) and the
ISOs made from them by the volume plan (real ISOs read back with pycdlib)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tests.controller.storage.test_cloudinit import read_iso
from tests.controller.storage.volume_fixtures import NS, vmi_with, volume_settings
from virtctl.controller.storage.configsources import SourceNotFound, needed, references, referencing, resolve
from virtctl.controller.storage.layout import VolumeError
from virtctl.controller.storage.plan import prepare_volumes
from virtctl.errors import Invalid, VirtctlError


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


STORE = {
    ("Secret", "ud"): {"data": {"userData": b64("#!/bin/sh\necho from-secret\n"), "networkdata": b64("version: 2\n")}},
    ("Secret", "keys"): {"data": {"a": b64("ssh-ed25519 AAAA one\n"), "b": b64("ssh-rsa BBBB two")}},
    ("Secret", "creds"): {"data": {"user": b64("pw\n"), "other": b64("x")}},
    ("ConfigMap", "cm"): {"data": {"app.conf": "port=80\n"}, "binaryData": {"blob": b64("\x00\x01")}},
}


def lookup(kind: str, namespace: str, name: str):
    assert namespace == NS
    return STORE.get((kind, name))


def with_volumes(volumes, **spec):
    vmi = vmi_with(volumes)
    vmi["metadata"].update(namespace=NS, labels={"app": "web"}, annotations={"note": 'say "hi"'})
    vmi["spec"].update(spec)
    return vmi


def test_cloud_init_secret_refs_take_kubevirts_keys(tmp_path: Path) -> None:
    vmi = with_volumes([{"name": "ci", "cloudInitNoCloud": {"secretRef": {"name": "ud"},
                                                            "networkDataSecretRef": {"name": "ud"}}}],
                       accessCredentials=[{"sshPublicKey": {"source": {"secret": {"secretName": "keys"}},
                                                            "propagationMethod": {"noCloud": {}}}}])
    assert needed(vmi) and references(vmi) == {("Secret", "ud"), ("Secret", "keys")}
    sources = resolve(vmi, lookup)
    prepared = prepare_volumes(vmi, volume_settings(tmp_path), namespace=NS, sources=sources)
    label, files = read_iso(Path(prepared.disks["ci"].path))
    assert label == "cidata"
    assert files["/user-data"] == b"#!/bin/sh\necho from-secret\n"
    assert files["/network-config"] == b"version: 2\n"
    meta = files["/meta-data"].decode()
    assert 'public-keys:\n  "0": "ssh-ed25519 AAAA one"\n  "1": "ssh-rsa BBBB two"\n' in meta


def test_config_drive_keys_go_to_public_keys(tmp_path: Path) -> None:
    vmi = with_volumes([{"name": "ci", "cloudInitConfigDrive": {"secretRef": {"name": "ud"}}}],
                       accessCredentials=[{"sshPublicKey": {"source": {"secret": {"secretName": "keys"}},
                                                            "propagationMethod": {"configDrive": {}}}}])
    prepared = prepare_volumes(vmi, volume_settings(tmp_path), namespace=NS, sources=resolve(vmi, lookup))
    label, files = read_iso(Path(prepared.disks["ci"].path))
    assert label == "config-2" and files["/openstack/latest/user_data"].startswith(b"#!/bin/sh")
    meta = json.loads(files["/openstack/latest/meta_data.json"])
    assert meta["public_keys"] == {"0": "ssh-ed25519 AAAA one", "1": "ssh-rsa BBBB two"}


def test_secret_configmap_and_downward_api_volumes_are_cfgdata_isos(tmp_path: Path) -> None:
    vmi = with_volumes([
        {"name": "sec", "secret": {"secretName": "creds"}},
        {"name": "conf", "configMap": {"name": "cm", "volumeLabel": "appconf"}},
        {"name": "opt", "secret": {"secretName": "absent", "optional": True}},
        {"name": "meta", "downwardAPI": {"fields": [
            {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
            {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
            {"path": "sub/app", "fieldRef": {"fieldPath": "metadata.labels['app']"}},
            {"path": "annotations", "fieldRef": {"fieldPath": "metadata.annotations"}}]}},
    ])
    prepared = prepare_volumes(vmi, volume_settings(tmp_path), namespace=NS, sources=resolve(vmi, lookup))
    assert read_iso(Path(prepared.disks["sec"].path)) == ("cfgdata", {"/user": b"pw\n", "/other": b"x"})
    assert read_iso(Path(prepared.disks["conf"].path)) == ("appconf", {"/app.conf": b"port=80\n",
                                                                     "/blob": b"\x00\x01"})
    assert read_iso(Path(prepared.disks["opt"].path)) == ("cfgdata", {})
    label, files = read_iso(Path(prepared.disks["meta"].path))
    assert label == "cfgdata" and files["/name"] == b"vmi-a" and files["/sub/app"] == b"web"
    assert b'app="web"\n' in files["/labels"] and b'vmi.kubevirt.io/id="vmi-a"' in files["/labels"]
    assert files["/annotations"] == b'note="say \\"hi\\""'
    assert all(d.readonly for d in prepared.disks.values())


def test_a_missing_source_says_what_kubelet_says() -> None:
    vmi = with_volumes([{"name": "ci", "cloudInitNoCloud": {"secretRef": {"name": "nope"}}}])
    with pytest.raises(SourceNotFound) as e:
        resolve(vmi, lookup)
    assert str(e.value) == 'MountVolume.SetUp failed for volume "ci" : secret "nope" not found'
    vmi = with_volumes([{"name": "c", "configMap": {"name": "gone"}}])
    with pytest.raises(SourceNotFound, match='volume "c" : configmap "gone" not found'):
        resolve(vmi, lookup)
    vmi = with_volumes([], accessCredentials=[{"userPassword": {"source": {"secret": {"secretName": "pw"}},
                                                                "propagationMethod": {"qemuGuestAgent": {}}}}])
    with pytest.raises(SourceNotFound, match='volume "pw-access-cred" : secret "pw" not found'):
        resolve(vmi, lookup)
    assert referencing([vmi, with_volumes([])], "Secret", "pw") == ["vmi-a"]


def test_bad_sources() -> None:
    vmi = with_volumes([{"name": "ci", "cloudInitNoCloud": {"secretRef": {"name": "creds"}}}])
    with pytest.raises(VirtctlError, match="^no cloud-init data-source found at volume: ci$"):
        resolve(vmi, lookup)
    vmi = with_volumes([{"name": "d", "downwardAPI": {"fields": [
        {"path": "cpu", "resourceFieldRef": {"resource": "limits.cpu"}}]}}])
    with pytest.raises(Invalid, match=r"^spec.volumes\[0\].downwardAPI.fields\[0\].resourceFieldRef: resource"):
        resolve(vmi, lookup)
    vmi = with_volumes([{"name": "d", "downwardAPI": {"fields": [
        {"path": "../x", "fieldRef": {"fieldPath": "metadata.name"}}]}}])
    with pytest.raises(Invalid, match=r"fields\[0\].path: Invalid value"):
        resolve(vmi, lookup)
    vmi = with_volumes([{"name": "d", "downwardAPI": {"fields": [
        {"path": "x", "fieldRef": {"fieldPath": "spec.nodeName"}}]}}])
    with pytest.raises(Invalid, match=r'fieldPath: Unsupported value: "spec.nodeName"'):
        resolve(vmi, lookup)


def test_unresolved_config_volume_is_refused(tmp_path: Path) -> None:
    with pytest.raises(VolumeError, match="data was not resolved"):
        prepare_volumes(with_volumes([{"name": "s", "secret": {"secretName": "creds"}}]),
                        volume_settings(tmp_path), namespace=NS)
