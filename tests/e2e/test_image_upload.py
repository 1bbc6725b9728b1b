"""virtctl image-upload in standalone mode, end to end: the real CLI against a real controller
process (its own CDI upload endpoint), real QEMU and real kubectl 1.30. A raw image with a marker
goes into a DataVolume and a qcow2 image into a PVC; a VM reads both markers from its disks;
kubectl lists the claims and DataVolumes with its columns; deleting a claim a running VM uses waits
until the VM stops. Bad uploads (too large, truncated gzip, not a disk image) fail with CDI's
message and leave no volume; a second upload while one runs is refused; a client killed mid upload
leaves nothing behind and the retry succeeds."""

from __future__ import annotations

import gzip
import json
import signal
import socket
import ssl
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.controller.storage.registry_fixture import local_registry  # noqa: F401  (fixture)
from tests.e2e.standalone_env import KUBECTL, VIRTCTL, Standalone, kernel_vm, push_kernel_image, running_controller
from tests.e2e.standalone_env import kubectl as shared_kubectl
from tests.e2e.standalone_env import wait_until as shared_wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

MiB = 1 << 20


@pytest.fixture(scope="module")
def env(libvirt_host, tmp_path_factory):
    yield from running_controller(libvirt_host, tmp_path_factory, "upload")


@pytest.fixture(scope="module")
def image(guest, local_registry) -> str:  # noqa: F811
    return push_kernel_image(guest, local_registry, "upload")


def kubectl(env: Standalone, *args: str) -> str:
    return shared_kubectl(env, *args).stdout


def wait_until(fn, timeout: float, what: str):
    return shared_wait_until(fn, timeout, what, every=0.5)


def raw_disk(path: Path, marker: str, size: int = 2 * MiB) -> Path:
    path.write_bytes(marker.encode() + bytes(size - len(marker)))
    return path


def volume_dir(env: Standalone) -> Path:
    return env.state_dir / "volumes" / "default"


def temps(env: Standalone, prefix: str = ".upload-") -> list[Path]:
    d = volume_dir(env)
    return [p for p in d.iterdir() if p.name.startswith(prefix)] if d.is_dir() else []


def dv_phase(env: Standalone, name: str) -> str:
    dv = json.loads(kubectl(env, "get", "dv", name, "-o", "json"))
    return str((dv.get("status") or {}).get("phase"))


def test_uploaded_raw_and_qcow2_images_are_read_by_a_vm(env, image, tmp_path):
    sfx = uuid.uuid4().hex[:6]
    raw_mark, qcow_mark = f"RAWMARK-{sfx}", f"QCOWMARK-{sfx}"
    raw = raw_disk(tmp_path / "disk.raw", raw_mark)
    raw_disk(tmp_path / "src.raw", qcow_mark)
    subprocess.run(["qemu-img", "convert", "-O", "qcow2", str(tmp_path / "src.raw"), str(tmp_path / "disk.qcow2")],
                   check=True)
    dv, pvc = f"dv-{sfx}", f"pvc-{sfx}"
    out = env.run("image-upload", "dv", dv, "--size=8Mi", f"--image-path={raw}").stdout
    lines = [ln for ln in out.splitlines() if ln.strip()]
    assert lines[0] == f"PVC default/{dv} not found "          # Go virtctl prints the trailing space
    assert lines[1] == f"DataVolume default/{dv} created"
    assert lines[-3:] == ["Uploading data completed successfully, waiting for processing to complete, you can hit "
                          "ctrl-c without interrupting the progress", "Processing completed successfully",
                          f"Uploading {raw} completed successfully"], out
    assert any(ln.startswith("Uploading data to https://127.0.0.1:") for ln in lines), out
    out = env.run("image-upload", "pvc", pvc, "--size=8Mi", f"--image-path={tmp_path / 'disk.qcow2'}",
                  "--access-mode=ReadWriteOnce").stdout
    assert f"PersistentVolumeClaim default/{pvc} created" in out

    pvcs = kubectl(env, "get", "pvc").splitlines()
    assert pvcs[0].split() == ["NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS", "MODES", "STORAGECLASS",
                               "VOLUMEATTRIBUTESCLASS", "AGE"]
    row = next(ln.split() for ln in pvcs if ln.startswith(dv + " "))
    assert row[1] == "Bound" and row[2].startswith("pvc-") and row[3:5] == ["8Mi", "RWO"] and row[5] == "<unset>"
    dvs = kubectl(env, "get", "dv").splitlines()
    assert dvs[0].split() == ["NAME", "PHASE", "PROGRESS", "RESTARTS", "AGE"]
    assert next(ln.split() for ln in dvs if ln.startswith(dv + " "))[1:4] == ["Succeeded", "100.0%", "0"]

    name = f"reader-{sfx}"
    script = ("#!/bin/sh\nfor d in /dev/vda /dev/vdb; do echo \"READ $d $(head -c 15 $d)\"; done > /dev/ttyS0\n")
    env.apply(kernel_vm(name, image, memory="192Mi",
                        devices={"disks": [{"name": "a", "disk": {"bus": "virtio"}},
                                           {"name": "b", "disk": {"bus": "virtio"}},
                                           {"name": "ci", "disk": {"bus": "virtio"}}]},
                        volumes=[{"name": "a", "dataVolume": {"name": dv}},
                                 {"name": "b", "persistentVolumeClaim": {"claimName": pvc}},
                                 {"name": "ci", "cloudInitNoCloud": {"userData": script}}]))
    log = env.wait_log(name, f"READ /dev/vdb {qcow_mark}", timeout=240)
    assert f"READ /dev/vda {raw_mark}" in log, log[-2000:]

    # pvc-protection: the claim stays (Terminating) while the VM runs, and goes once it stopped
    kubectl(env, "delete", "pvc", pvc, "--wait=false")
    row = next(ln.split() for ln in kubectl(env, "get", "pvc").splitlines() if ln.startswith(pvc + " "))
    assert row[1] == "Terminating"
    assert (volume_dir(env) / f"{pvc}.qcow2").is_file()
    env.run("stop", name)
    wait_until(lambda: pvc not in kubectl(env, "get", "pvc", "-o", "name"), 120, "the claim to go")
    assert not (volume_dir(env) / f"{pvc}.qcow2").exists()
    env.run("delete", "vm", name, check=False)


@pytest.mark.parametrize("case", ["too-large", "truncated-gzip", "not-a-disk"])
def test_bad_uploads_fail_with_cdis_message_and_leave_no_volume(env, tmp_path, case):
    name = f"bad-{uuid.uuid4().hex[:6]}"
    data = raw_disk(tmp_path / "d.raw", "BAD", 4 * MiB).read_bytes()
    src = tmp_path / "upload.img"
    if case == "too-large":
        src.write_bytes(data)
        want = "Virtual image size 4194304 is larger than the reported available storage 2097152. A larger PVC is " \
               "required."
    elif case == "truncated-gzip":
        src.write_bytes(gzip.compress(data)[:-64])
        want = "Saving stream failed: unexpected EOF"
    else:
        src.write_text("#!/bin/sh\necho this is a script, not a disk\n")
        want = "Unable to process data: not a disk image"
    r = env.run("image-upload", "dv", name, "--size=2Mi", f"--image-path={src}", "--retry=2", check=False)
    assert r.returncode == 1, r.stdout
    assert f"error uploading image after 2 retries: unexpected return value 400, {want}" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    assert dv_phase(env, name) == "UploadReady"
    assert not temps(env, name) and not temps(env, f".upload-{name}")


def test_a_second_upload_is_refused_and_a_killed_upload_can_be_retried(env, tmp_path):
    name = f"race-{uuid.uuid4().hex[:6]}"
    small = raw_disk(tmp_path / "small.raw", "SMALL")
    r = env.run("image-upload", "dv", name, f"--image-path={small}", "--no-create", check=False)
    assert r.returncode == 1 and f'persistentvolumeclaims "{name}" not found' in r.stderr, r.stderr
    # a DataVolume created with kubectl, for upload
    subprocess.run([str(KUBECTL), "create", "-f", "-"], env=env.env, check=True, capture_output=True, text=True,
                   input=json.dumps({"apiVersion": "cdi.kubevirt.io/v1beta1", "kind": "DataVolume",
                                     "metadata": {"name": name},
                                     "spec": {"source": {"upload": {}},
                                              "storage": {"resources": {"requests": {"storage": "4Gi"}}}}}))
    wait_until(lambda: dv_phase(env, name) == "UploadReady", 60, "UploadReady")
    token = json.loads(subprocess.run(
        [str(KUBECTL), "create", "-o", "json", "-f", "-"], env=env.env, capture_output=True, text=True, check=True,
        input=json.dumps({"apiVersion": "upload.cdi.kubevirt.io/v1beta1", "kind": "UploadTokenRequest",
                          "metadata": {"name": "t"}, "spec": {"pvcName": name}})).stdout)["status"]["token"]
    cfg = json.loads(kubectl(env, "get", "cdiconfig", "config", "-o", "json"))
    host, port = cfg["status"]["uploadProxyURL"].removeprefix("https://").split(":")
    # an upload that is under way (a client that sends half its body and waits)
    held = ssl._create_unverified_context().wrap_socket(socket.create_connection((host, int(port))))
    held.sendall(f"POST /v1beta1/upload HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
                 f"Content-Length: {64 * MiB}\r\n\r\n".encode() + b"HELD" + bytes(8 * MiB))
    wait_until(lambda: temps(env, f".upload-{name}"), 30, "a temp file")
    r = env.run("image-upload", "dv", name, "--no-create", f"--image-path={small}", "--retry=1", check=False)
    assert r.returncode == 1
    assert f"unexpected return value 503, an upload to PVC default/{name} is already in progress" in r.stderr
    held.close()
    wait_until(lambda: not temps(env), 30, "cleanup")

    # the real CLI killed mid upload: nothing is left, and the retry succeeds
    big = tmp_path / "big.raw"
    with open(big, "wb") as f:
        f.write(b"BIGMARK")
        f.truncate(3 << 30)
    proc = subprocess.Popen([*VIRTCTL, "image-upload", "dv", name, "--no-create", f"--image-path={big}"],
                            env=env.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: temps(env, f".upload-{name}") or proc.poll() is not None, 120, "the upload to start")
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    wait_until(lambda: not temps(env), 60, "cleanup")
    assert not (volume_dir(env) / f"{name}.qcow2").exists()
    assert dv_phase(env, name) == "UploadReady"
    out = env.run("image-upload", "dv", name, "--no-create", f"--image-path={small}").stdout
    assert f"Using existing PVC default/{name}" in out and f"Uploading {small} completed successfully" in out
    assert dv_phase(env, name) == "Succeeded"
    with open(volume_dir(env) / f"{name}.qcow2", "rb") as f:
        assert f.read(5) == b"SMALL"
