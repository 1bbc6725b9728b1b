"""cloud-init ISOs read back with pycdlib: labels, names, bytes."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pycdlib
import pytest

from virtctl.controller.storage.cloudinit import (
    CloudInitData, read_cloud_init_source, write_config_drive_iso, write_nocloud_iso,
)
from virtctl.errors import Invalid


def read_iso(path: Path) -> tuple[str, dict[str, bytes]]:
    """(volume label, {Rock Ridge path: bytes}); Joliet names must hold the same bytes."""
    iso = pycdlib.PyCdlib()
    iso.open(str(path))
    try:
        label = iso.pvd.volume_identifier.decode().strip()
        files: dict[str, bytes] = {}
        for dirpath, _, filenames in iso.walk(rr_path="/"):
            for name in filenames:
                rr = f"{dirpath.rstrip('/')}/{name}"
                out, joliet = io.BytesIO(), io.BytesIO()
                iso.get_file_from_iso_fp(out, rr_path=rr)
                iso.get_file_from_iso_fp(joliet, joliet_path=rr)
                assert joliet.getvalue() == out.getvalue()
                files[rr] = out.getvalue()
        return label, files
    finally:
        iso.close()


USER_DATA = b"#cloud-config\npassword: fedora\nchpasswd: { expire: False }\n\xe2\x9c\x93 utf-8\n"


def test_nocloud_iso(tmp_path: Path) -> None:
    iso = tmp_path / "cidata.iso"
    write_nocloud_iso(iso, CloudInitData(USER_DATA, b"version: 2\n"), instance_id="uid-1", hostname="vm-a")
    label, files = read_iso(iso)
    assert label == "cidata"
    assert files == {"/user-data": USER_DATA, "/meta-data": b"instance-id: uid-1\nlocal-hostname: vm-a\n",
                     "/network-config": b"version: 2\n"}
    assert list(tmp_path.iterdir()) == [iso]               # no temp file left


def test_nocloud_without_network_data(tmp_path: Path) -> None:
    iso = tmp_path / "c.iso"
    write_nocloud_iso(iso, CloudInitData(b"#!/bin/sh\n", None), instance_id="u", hostname="h")
    assert sorted(read_iso(iso)[1]) == ["/meta-data", "/user-data"]


def test_config_drive_iso(tmp_path: Path) -> None:
    iso = tmp_path / "config-2.iso"
    write_config_drive_iso(iso, CloudInitData(USER_DATA, b'{"links": []}'), instance_id="uid-2", hostname="vm-b")
    label, files = read_iso(iso)
    assert label == "config-2"
    assert files["/openstack/latest/user_data"] == USER_DATA
    assert files["/openstack/latest/network_data.json"] == b'{"links": []}'
    meta = json.loads(files["/openstack/latest/meta_data.json"])
    assert meta["uuid"] == "uid-2" and meta["hostname"] == "vm-b"


def test_source_fields() -> None:
    data = read_cloud_init_source({"userDataBase64": base64.b64encode(USER_DATA).decode(),
                                   "networkData": "version: 1\n"}, "spec.volumes[0].cloudInitNoCloud")
    assert data == CloudInitData(USER_DATA, b"version: 1\n")


@pytest.mark.parametrize("source, message", [
    ({"secretRef": {}}, "spec.volumes[0].cloudInitNoCloud.secretRef.name: Required value"),
    ({"networkDataSecretRef": {"name": 7}}, "spec.volumes[0].cloudInitNoCloud.networkDataSecretRef.name: Required "
                                            "value"),
    ({"userData": "a", "userDataBase64": "YQ=="}, "spec.volumes[0].cloudInitNoCloud: userData and userDataBase64 "
                                                  "are mutually exclusive"),
    ({"userDataBase64": "not base64!"}, "spec.volumes[0].cloudInitNoCloud.userDataBase64: is not valid base64"),
    ({"userData": 42}, "spec.volumes[0].cloudInitNoCloud.userData: must be a string"),
])
def test_source_errors(source: dict, message: str) -> None:
    with pytest.raises(Invalid) as e:
        read_cloud_init_source(source, "spec.volumes[0].cloudInitNoCloud")
    assert str(e.value).startswith(message)
    assert e.value.code == 422
