"""virtctl vmexport in standalone mode, end to end: the real CLI against a real controller process
and its loopback export server. An uploaded volume comes back byte for byte (raw, and gzip
decompressed by --format raw, and the gzip file itself), from a PVC, from a stopped VM and from a
snapshot; a VM's manifests (YAML with the header Secret, JSON List) point at links that work with
that Secret; the token protects the links; a running VM's export waits; bad flags get Go's messages."""

from __future__ import annotations

import base64
import gzip
import json
import ssl
import subprocess
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml

from tests.controller.storage.registry_fixture import local_registry  # noqa: F401  (fixture)
from tests.e2e.test_standalone import Standalone, busybox_vm, kernel_image, standalone  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]
MiB = 1 << 20


def raw_of(env: Standalone, claim: str, tmp_path: Path) -> bytes:
    """The volume's content as raw bytes, read with qemu-img from the controller's file."""
    out = tmp_path / f"{claim}.expected.raw"
    src = env.state_dir / "volumes" / "default" / f"{claim}.qcow2"
    subprocess.run(["qemu-img", "convert", "-U", "-O", "raw", str(src), str(out)], check=True)
    return out.read_bytes()


def test_vmexport_download_gives_back_the_same_bytes(standalone, kernel_image, tmp_path):  # noqa: F811
    sfx = uuid.uuid4().hex[:6]
    dv = f"exp-{sfx}"
    image = tmp_path / "disk.raw"
    head = f"EXPORT-MARKER-{sfx}".encode() + bytes(range(256)) * 4096
    image.write_bytes(head + bytes(4 * MiB - len(head)))
    standalone.run("image-upload", "dv", dv, "--size=8Mi", f"--image-path={image}")
    expected = raw_of(standalone, dv, tmp_path)
    assert expected.startswith(f"EXPORT-MARKER-{sfx}".encode())

    # from a PVC: create, then download raw (gunzipped on the way) and gzip as served
    out = standalone.run("vmexport", "create", f"e-{sfx}", f"--pvc={dv}").stdout
    assert out == f"VirtualMachineExport 'default/e-{sfx}' created succesfully\n"
    vme = standalone.obj("vmexport", f"e-{sfx}")
    raw_file, gz_file = tmp_path / "out.img", tmp_path / "out.img.gz"
    out = standalone.run("vmexport", "download", f"e-{sfx}", f"--output={raw_file}", "--format=raw").stdout
    assert out.endswith("Download finished succesfully\n")
    assert raw_file.read_bytes() == expected
    standalone.run("vmexport", "download", f"e-{sfx}", f"--output={gz_file}", f"--volume={dv}")
    assert gzip.decompress(gz_file.read_bytes()) == expected
    vme = standalone.obj("vmexport", f"e-{sfx}")          # an existing export is kept after a download
    status = vme["status"]
    assert status["phase"] == "Ready" and status["tokenSecretRef"] == f"secret-e-{sfx}"
    formats = {f["format"]: f["url"] for f in status["links"]["external"]["volumes"][0]["formats"]}
    assert set(formats) == {"raw", "gzip"} and formats["raw"].endswith(f"/volumes/{dv}/disk.img")
    assert status["links"]["internal"]["cert"].startswith("-----BEGIN CERTIFICATE-----")

    # the links need the token
    ctx = ssl.create_default_context(cadata=status["links"]["external"]["cert"])
    for headers in ({}, {"x-kubevirt-export-token": "wrong"}):
        with pytest.raises(urllib.error.HTTPError) as ei:
            urllib.request.urlopen(urllib.request.Request(formats["raw"], headers=headers), context=ctx, timeout=30)
        assert ei.value.code == 401
    secret = standalone.obj("secret", f"secret-e-{sfx}")
    token = base64.b64decode(secret["data"]["token"]).decode()
    body = urllib.request.urlopen(urllib.request.Request(formats["raw"], headers={"x-kubevirt-export-token": token}),
                                  context=ctx, timeout=60).read()
    assert body == expected

    # a PVC's export has no manifests: Go's message
    r = standalone.run("vmexport", "download", f"e-{sfx}", "--manifest", check=False)
    assert r.returncode == 1 and r.stderr.strip().endswith(
        f"unable to access the manifest info from 'default/e-{sfx}' VirtualMachineExport"), r.stderr

    out = standalone.run("vmexport", "delete", f"e-{sfx}").stdout
    assert out == f"VirtualMachineExport 'default/e-{sfx}' deleted succesfully\n"
    assert standalone.run("vmexport", "delete", f"e-{sfx}").stdout == \
        f"VirtualMachineExport 'default/e-{sfx}' does not exist\n"

    # from a stopped VM, created by download itself and deleted after it
    name = f"expvm-{sfx}"
    manifest = busybox_vm(name, kernel_image)
    manifest["spec"]["template"]["spec"]["volumes"][0] = {"name": "data", "dataVolume": {"name": dv}}
    manifest["spec"].pop("dataVolumeTemplates")
    (tmp_path / "vm.yaml").write_text(yaml.safe_dump(manifest))
    standalone.run("apply", "-f", str(tmp_path / "vm.yaml"))
    vm_file = tmp_path / "vm.img"
    standalone.run("vmexport", "download", f"v-{sfx}", f"--vm={name}", f"--output={vm_file}", "--format=raw")
    assert vm_file.read_bytes() == expected
    assert standalone.run("get", "vmexport", f"v-{sfx}", check=False).returncode != 0

    # the VM's manifests: YAML on stdout with the header Secret; the export is kept afterwards
    out = standalone.run("vmexport", "download", f"m-{sfx}", f"--vm={name}", "--manifest", "--include-secret").stdout
    docs = [d for d in yaml.safe_load_all(out) if d]
    assert [d["kind"] for d in docs] == ["ConfigMap", "VirtualMachine", "DataVolume", "Secret"], out
    cm, vm, dvm, sec = docs
    assert "status" not in vm and vm["metadata"]["name"] == name
    assert set(vm["metadata"]) <= {"name", "namespace", "labels", "annotations"}
    assert dvm["metadata"]["name"] == dv and dvm["spec"]["pvc"]["resources"]["requests"]["storage"] == "8Mi"
    http = dvm["spec"]["source"]["http"]
    assert http["certConfigMap"] == cm["metadata"]["name"] and http["secretExtraHeaders"] == [sec["metadata"]["name"]]
    links = standalone.obj("vmexport", f"m-{sfx}")["status"]["links"]["external"]
    assert http["url"] == next(f["url"] for f in links["volumes"][0]["formats"] if f["format"] == "gzip")
    assert {m["type"] for m in links["manifests"]} == {"all", "auth-header-secret"}
    header, _, value = sec["stringData"]["token"].partition(":")      # what CDI would send: it works
    body = urllib.request.urlopen(urllib.request.Request(http["url"], headers={header: value}),
                                  context=ssl.create_default_context(cadata=cm["data"]["ca.pem"]), timeout=60).read()
    assert gzip.decompress(body) == expected
    # JSON into a file: one List
    standalone.run("vmexport", "download", f"m-{sfx}", "--manifest", "--manifest-output-format=json",
                   f"--output={tmp_path / 'm.json'}")
    listed = json.loads((tmp_path / "m.json").read_text())
    assert listed["kind"] == "List" and [i["kind"] for i in listed["items"]] == ["ConfigMap", "VirtualMachine",
                                                                                 "DataVolume"]
    standalone.run("vmexport", "delete", f"m-{sfx}")

    # from a snapshot of the VM
    standalone.run("snapshot", "create", name, "--name", f"s-{sfx}", "--wait", "--timeout", "2m")
    snap_file = tmp_path / "snap.img"
    standalone.run("vmexport", "download", f"sn-{sfx}", f"--snapshot=s-{sfx}", f"--output={snap_file}",
                   "--format=raw")
    assert snap_file.read_bytes() == expected

    # a running VM: the export waits (and the download gives up at --readiness-timeout)
    standalone.run("start", name, "--wait", "--timeout", "3m")
    r = standalone.run("vmexport", "download", f"r-{sfx}", f"--vm={name}", f"--output={tmp_path / 'r.img'}",
                       "--readiness-timeout=3s", check=False)
    assert r.returncode == 1 and "waiting for VM Export" in r.stdout, r.stdout + r.stderr
    assert not (tmp_path / "r.img").exists()
    standalone.run("stop", name, "--wait", "--timeout", "2m")
    standalone.run("snapshot", "delete", f"s-{sfx}")
    standalone.run("delete", "vm", name)


@pytest.mark.parametrize("args, message", [
    (["create", "x"], "need to specify export kind when attempting to create a VirtualMachineExport "
                      "[--pvc|--vm|--snapshot]"),
    (["create", "x", "--pvc=p", "--output=f"], "the '--output' flag is incompatible with 'create'"),
    (["delete", "x", "--vm=v"], "should not specify export kind"),
    (["download", "x"], "warning: Binary output can mess up your terminal. Use '--output -' to output into stdout "
                        "anyway or consider '--output <FILE>' to save to a file"),
    (["download", "x", "--output=f", "--format=zip"], "--format is not a valid value, acceptable values are gzip/raw"),
    (["download", "x", "--output=f", "--port-forward"], "--port-forward is not supported by this virtctl: download "
                                                        "through the export's external link (standalone mode serves it "
                                                        "on 127.0.0.1) or give --service-url"),
    (["upload", "x"], "invalid function 'upload'"),
    (["create", "x", "--vm=a", "--pvc=b"], "if any flags in the group [vm snapshot pvc] are set none of the others "
                                           "can be; [pvc vm] were all set"),
])
def test_bad_flags_get_gos_messages(standalone, args, message):  # noqa: F811
    r = standalone.run("vmexport", *args, check=False)
    assert r.returncode == 1 and message in r.stderr, r.stderr
    assert standalone.run("get", "vmexport", "x", check=False).returncode == 1     # nothing was created
