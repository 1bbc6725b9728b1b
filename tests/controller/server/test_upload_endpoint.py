"""PersistentVolumeClaims, DataVolumes and CDI's upload protocol over real HTTPS: discovery, the
apiserver's and CDI's validation messages, tokens (missing, expired, for a claim that takes no
upload), two uploads to one claim at once, a client that goes away mid upload (nothing left
behind, the retry succeeds), and kube-controller-manager's pvc-protection."""

from __future__ import annotations

import http.client
import socket
import ssl
import subprocess
import time
import uuid
from typing import Any, Callable, Iterator

import pytest

from tests.conftest import ApiServerFixture, load_example
from virtctl.controller.pki import ensure_pki
from virtctl.controller.reconcile.manager import Manager
from virtctl.controller.reconcile.vmi import Requeue
from virtctl.controller.reconcile.volumes import VolumeController
from virtctl.controller.server.app import tls_context
from virtctl.controller.server.upload import UploadServer
from virtctl.model import kinds

MiB = 1 << 20
PVCS = "/api/v1/namespaces/default/persistentvolumeclaims"
DVS = "/apis/cdi.kubevirt.io/v1beta1/namespaces/default/datavolumes"
TOKENS = "/apis/upload.cdi.kubevirt.io/v1beta1/namespaces/default/uploadtokenrequests"


def wait_for(fn: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def cdi(api_server: ApiServerFixture) -> Iterator[tuple[ApiServerFixture, UploadServer]]:
    manager = Manager(api_server.store, api_server.settings, []).start()
    uploads = UploadServer(api_server.runtime, tls_context(ensure_pki(api_server.settings.pki_dir))).start()
    try:
        yield api_server, uploads
    finally:
        uploads.shutdown()
        manager.stop()


def upload_dv(api: ApiServerFixture, size: str = "4Mi") -> str:
    name = f"up-{uuid.uuid4().hex[:6]}"
    r = api.request("POST", DVS, {"metadata": {"name": name}, "spec": {
        "source": {"upload": {}}, "storage": {"resources": {"requests": {"storage": size}}}}})
    assert r.status == 201, r.body
    wait_for(lambda: (api.request("GET", f"{DVS}/{name}").json().get("status") or {}).get("phase") == "UploadReady",
             what="UploadReady")
    return name


def token(api: ApiServerFixture, claim: str) -> str:
    r = api.request("POST", TOKENS, {"apiVersion": "upload.cdi.kubevirt.io/v1beta1", "kind": "UploadTokenRequest",
                                     "metadata": {"generateName": "token-for-virtctl-"}, "spec": {"pvcName": claim}})
    assert r.status == 201, r.body
    assert r.json()["metadata"]["name"].startswith("token-for-virtctl-")
    return str(r.json()["status"]["token"])


def call(uploads: UploadServer, method: str, tok: str | None, body: bytes = b"",
         path: str = "/v1beta1/upload") -> tuple[int, str]:
    ctx = ssl._create_unverified_context()
    conn = http.client.HTTPSConnection("127.0.0.1", uploads.httpd.server_address[1], context=ctx, timeout=30)
    headers = {"Authorization": f"Bearer {tok}"} if tok is not None else {}
    try:
        conn.request(method, path, body=body if method == "POST" else None, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def disk(marker: bytes, size: int = MiB) -> bytes:
    return marker + bytes(size - len(marker))


def dv_phase(api: ApiServerFixture, name: str) -> str:
    r = api.request("GET", f"{DVS}/{name}")
    return str((r.json().get("status") or {}).get("phase")) if r.status == 200 else ""


def test_discovery_lists_the_cdi_groups(api_server):
    cdi = api_server.request("GET", "/apis/cdi.kubevirt.io/v1beta1").json()
    names = {r["name"]: r for r in cdi["resources"]}
    assert names["datavolumes"]["shortNames"] == ["dv", "dvs"] and names["datavolumes"]["namespaced"]
    assert names["cdiconfigs"]["namespaced"] is False
    up = api_server.request("GET", "/apis/upload.cdi.kubevirt.io/v1beta1").json()
    assert [(r["name"], r["verbs"]) for r in up["resources"]] == [("uploadtokenrequests", ["create"])]
    core = {r["name"]: r for r in api_server.request("GET", "/api/v1").json()["resources"]}
    assert core["persistentvolumeclaims"]["shortNames"] == ["pvc"]
    assert api_server.request("GET", TOKENS).status == 405


@pytest.mark.parametrize("spec,message", [
    ({"resources": {"requests": {"storage": "1Gi"}}},
     'PersistentVolumeClaim "p" is invalid: spec.accessModes: Required value: at least 1 access mode is required'),
    ({"accessModes": ["ReadWriteOnce"]},
     'PersistentVolumeClaim "p" is invalid: spec.resources[storage]: Required value'),
    ({"accessModes": ["ReadWriteSometimes"], "resources": {"requests": {"storage": "1Gi"}}},
     'spec.accessModes: Unsupported value: "ReadWriteSometimes": supported values: "ReadOnlyMany", '
     '"ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"'),
    ({"accessModes": ["ReadWriteOnce"], "volumeMode": "Disk", "resources": {"requests": {"storage": "1Gi"}}},
     'spec.volumeMode: Unsupported value: "Disk": supported values: "Block", "Filesystem"'),
    ({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "0"}}},
     'spec.resources[storage]: Invalid value: "0": must be greater than zero'),
])
def test_claims_are_validated_like_the_apiserver(api_server, spec, message):
    r = api_server.request("POST", PVCS, {"metadata": {"name": "p"}, "spec": spec})
    assert r.status == 422 and message in r.json()["message"], r.body
    assert api_server.request("GET", f"{PVCS}/p").status == 404


def test_a_claims_spec_is_immutable(api_server):
    body = {"metadata": {"name": "imm"}, "spec": {"accessModes": ["ReadWriteOnce"],
                                                  "resources": {"requests": {"storage": "1Gi"}}}}
    created = api_server.request("POST", PVCS, body).json()
    assert created["spec"]["volumeMode"] == "Filesystem" and created["status"] == {"phase": "Pending"}
    assert created["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
    r = api_server.request("PATCH", f"{PVCS}/imm", {"spec": {"accessModes": ["ReadWriteMany"]}},
                           headers={"Content-Type": "application/merge-patch+json"})
    assert r.status == 422 and "spec: Forbidden: spec is immutable after creation" in r.json()["message"]
    r = api_server.request("PATCH", f"{PVCS}/imm", {"spec": {"resources": {"requests": {"storage": "2Gi"}}}},
                           headers={"Content-Type": "application/merge-patch+json"})
    assert r.status == 422 and "only dynamically provisioned pvc can be resized" in r.json()["message"]


@pytest.mark.parametrize("spec,message", [
    ({"storage": {"resources": {"requests": {"storage": "1Gi"}}}},
     "Data volume should have either Source or SourceRef, or be externally populated"),
    ({"source": {"blank": {}, "upload": {}}, "storage": {"resources": {"requests": {"storage": "1Gi"}}}},
     "Multiple Data volume sources"),
    ({"source": {"upload": {}}, "storage": {}}, "Storage size is missing"),
    ({"source": {"blank": {}}, "contentType": "archive", "storage": {"resources": {"requests": {"storage": "1Gi"}}}},
     "SourceType cannot be blank and the contentType be archive"),
])
def test_datavolumes_are_validated_like_cdis_webhook(api_server, spec, message):
    r = api_server.request("POST", DVS, {"metadata": {"name": "d"}, "spec": spec})
    assert r.status == 422, r.body
    assert r.json()["message"] == f'admission webhook "datavolume-validate.cdi.kubevirt.io" denied the request:  ' \
                                  f'{message}'


def test_a_blank_datavolume_is_bound_and_succeeds(cdi):
    api, _ = cdi
    r = api.request("POST", DVS, {"metadata": {"name": "blank1"}, "spec": {
        "source": {"blank": {}}, "pvc": {"accessModes": ["ReadWriteMany"],
                                         "resources": {"requests": {"storage": "8Mi"}}}}})
    assert r.status == 201
    wait_for(lambda: dv_phase(api, "blank1") == "Succeeded", what="Succeeded")
    dv = api.request("GET", f"{DVS}/blank1").json()
    assert dv["status"]["progress"] == "100.0%" and dv["status"]["claimName"] == "blank1"
    assert {c["type"]: c["status"] for c in dv["status"]["conditions"]} == {"Bound": "True", "Running": "False",
                                                                            "Ready": "True"}
    pvc = api.request("GET", f"{PVCS}/blank1").json()
    assert pvc["status"] == {"phase": "Bound", "accessModes": ["ReadWriteMany"], "capacity": {"storage": "8Mi"}}
    assert pvc["metadata"]["ownerReferences"][0]["kind"] == "DataVolume"
    assert (api.settings.volumes_dir / "default" / "blank1.qcow2").is_file()


def test_tokens_and_targets(cdi):
    api, uploads = cdi
    name = upload_dv(api)
    good = token(api, name)
    assert call(uploads, "HEAD", good, path="/v1beta1/upload-async")[0] == 200
    assert call(uploads, "HEAD", None, path="/v1beta1/upload-async")[0] == 401
    assert call(uploads, "POST", None, disk(b"X")) == (401, "Unauthorized")
    expired = api.runtime.upload_tokens.issue("default", name, now=time.time() - 3600)
    assert call(uploads, "POST", expired, disk(b"X")) == (401, "Unauthorized")
    # a claim that takes no upload (a plain PVC), and one that does not exist
    api.request("POST", PVCS, {"metadata": {"name": "plain"}, "spec": {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Mi"}}}})
    assert call(uploads, "POST", token(api, "plain"), disk(b"X")) == (400, "PVC default/plain is not an upload target")
    assert call(uploads, "POST", token(api, "nope"), disk(b"X")) == (404, 'persistentvolumeclaims "nope" not found')
    assert call(uploads, "POST", good, disk(b"X"), path="/v1beta1/other")[0] == 404
    assert dv_phase(api, name) == "UploadReady"
    assert call(uploads, "POST", good, disk(b"GOOD")) == (200, "")
    wait_for(lambda: dv_phase(api, name) == "Succeeded", what="Succeeded")
    assert (api.settings.volumes_dir / "default" / f"{name}.qcow2").read_bytes()[:4] == b"GOOD"
    assert call(uploads, "POST", good, disk(b"AGAIN"))[0] == 400       # a second upload once it succeeded


def test_two_uploads_at_once_and_a_client_gone_mid_upload(cdi):
    api, uploads = cdi
    name = upload_dv(api, "16Mi")
    tok = token(api, name)
    port = uploads.httpd.server_address[1]
    raw = socket.create_connection(("127.0.0.1", port))
    first = ssl._create_unverified_context().wrap_socket(raw, server_hostname="127.0.0.1")
    first.sendall(f"POST /v1beta1/upload-async HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tok}\r\n"
                  f"Content-Length: {8 * MiB}\r\nContent-Type: application/octet-stream\r\n\r\n".encode())
    first.sendall(b"FIRST" + bytes(2 * MiB))
    volume_dir = api.settings.volumes_dir / "default"
    wait_for(lambda: volume_dir.is_dir() and any(p.name.startswith(f".upload-{name}") for p in volume_dir.iterdir()),
             what="a temp file")
    status, text = call(uploads, "POST", tok, disk(b"SECOND", 2 * MiB))
    assert (status, text) == (503, f"an upload to PVC default/{name} is already in progress")
    first.close()                                                    # the first client goes away mid upload
    wait_for(lambda: not any(p.name.startswith(".upload-") for p in volume_dir.iterdir()), what="cleanup")
    assert not (volume_dir / f"{name}.qcow2").exists()
    assert dv_phase(api, name) == "UploadReady"
    assert call(uploads, "POST", tok, disk(b"RETRY", 2 * MiB)) == (200, "")
    wait_for(lambda: dv_phase(api, name) == "Succeeded", what="Succeeded")
    assert (volume_dir / f"{name}.qcow2").read_bytes()[:5] == b"RETRY"
    out = subprocess.run(["qemu-img", "info", str(volume_dir / f"{name}.qcow2")], capture_output=True, text=True)
    assert "virtual size: 16 MiB" in out.stdout


def test_pvc_protection_defers_deletion_while_a_vmi_uses_the_claim(api_server):
    api = api_server
    store, settings = api.store, api.settings
    controller = VolumeController(store, settings)
    api.request("POST", PVCS, {"metadata": {"name": "kept"}, "spec": {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Mi"}}}})
    controller.reconcile_pvc(("default", "kept"))
    path = settings.volumes_dir / "default" / "kept.qcow2"
    assert path.is_file()
    vmi: dict[str, Any] = load_example("vmi-pvc")
    vmi["metadata"] = {"name": "user"}
    vmi["spec"]["volumes"] = [{"name": "disk0", "persistentVolumeClaim": {"claimName": "kept"}}]
    vmi["spec"]["domain"]["devices"]["disks"] = [{"name": "disk0", "disk": {"bus": "virtio"}}]
    store.create(kinds.VMI, "default", vmi)
    assert api.request("DELETE", f"{PVCS}/kept").status == 200
    with pytest.raises(Requeue):
        controller.reconcile_pvc(("default", "kept"))
    pvc = api.request("GET", f"{PVCS}/kept").json()
    assert pvc["metadata"]["deletionTimestamp"] and path.is_file()
    store.delete(kinds.VMI, "default", "user")
    controller.reconcile_pvc(("default", "kept"))
    assert api.request("GET", f"{PVCS}/kept").status == 404
    assert not path.exists()


def test_data_volume_templates_become_datavolumes_owned_by_the_vm(cdi):
    api, _ = cdi
    vm: dict[str, Any] = load_example("vm-alpine-datavolume")
    vm["metadata"] = {"name": "tmplvm"}
    vm["spec"].pop("running", None)
    vm["spec"]["runStrategy"] = "Halted"
    vm["spec"]["dataVolumeTemplates"] = [{"metadata": {"name": "tmpl-disk", "labels": {"app": "x"}}, "spec": {
        "source": {"blank": {}}, "storage": {"resources": {"requests": {"storage": "4Mi"}}}}}]
    vm["spec"]["template"]["spec"]["volumes"] = [{"name": "datavolumedisk1", "dataVolume": {"name": "tmpl-disk"}}]
    r = api.request("POST", "/apis/kubevirt.io/v1/namespaces/default/virtualmachines", vm)
    assert r.status == 201, r.body
    wait_for(lambda: dv_phase(api, "tmpl-disk") == "Succeeded", what="the template's DataVolume")
    dv = api.request("GET", f"{DVS}/tmpl-disk").json()
    owner = dv["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("VirtualMachine", "tmplvm", True)
    assert dv["metadata"]["labels"] == {"app": "x"}
    path = api.settings.volumes_dir / "default" / "tmpl-disk.qcow2"
    assert path.is_file()
    # the VM's deletion takes its DataVolume, the claim and the file with it
    assert api.request("DELETE", "/apis/kubevirt.io/v1/namespaces/default/virtualmachines/tmplvm").status == 200
    wait_for(lambda: api.request("GET", f"{PVCS}/tmpl-disk").status == 404 and not path.exists(), what="cleanup")
    assert api.request("GET", f"{DVS}/tmpl-disk").status == 404


def test_an_upload_to_a_claim_deleted_meanwhile_leaves_no_volume(cdi):
    api, uploads = cdi
    name = upload_dv(api, "4Mi")
    tok = token(api, name)
    body = disk(b"LATE", 2 * MiB)
    conn = ssl._create_unverified_context().wrap_socket(
        socket.create_connection(("127.0.0.1", uploads.httpd.server_address[1])), server_hostname="127.0.0.1")
    conn.sendall(f"POST /v1beta1/upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tok}\r\n"
                 f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:MiB])
    volume_dir = api.settings.volumes_dir / "default"
    wait_for(lambda: volume_dir.is_dir() and any(p.name.startswith(f".upload-{name}") for p in volume_dir.iterdir()),
             what="a temp file")
    assert api.request("DELETE", f"{DVS}/{name}").status == 200
    wait_for(lambda: api.request("GET", f"{PVCS}/{name}").status == 404, what="the claim to go")
    conn.sendall(body[MiB:])
    answer = b""
    while chunk := conn.recv(4096):                   # the server closes after its answer
        answer += chunk
    conn.close()
    text = answer.decode()
    assert text.startswith("HTTP/1.1 400") and text.endswith(f"PVC default/{name} was deleted during the upload")
    assert not (volume_dir / f"{name}.qcow2").exists()
    assert not [p for p in volume_dir.iterdir() if p.name.startswith(".upload-")]


@pytest.fixture
def http_images(tmp_path):
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
    (tmp_path / "www").mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path / "www")))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield tmp_path / "www", f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_http_import_and_pvc_clone_datavolumes(cdi, http_images):
    api, _ = cdi
    www, base = http_images
    (www / "disk.img").write_bytes(disk(b"HTTP-MARKER", 2 * MiB))
    spec = {"source": {"http": {"url": f"{base}/disk.img"}}, "storage": {"resources": {"requests": {"storage": "4Mi"}}}}
    assert api.request("POST", DVS, {"metadata": {"name": "fromhttp"}, "spec": spec}).status == 201
    wait_for(lambda: dv_phase(api, "fromhttp") == "Succeeded", what="the http import")
    clone = {"source": {"pvc": {"namespace": "default", "name": "fromhttp"}}, "storage": {}}
    assert api.request("POST", DVS, {"metadata": {"name": "theclone"}, "spec": clone}).status == 201
    wait_for(lambda: dv_phase(api, "theclone") == "Succeeded", what="the clone")
    pvc = api.request("GET", f"{PVCS}/theclone").json()
    assert pvc["status"]["capacity"] == {"storage": "4Mi"}            # the source claim's size
    for name in ("fromhttp", "theclone"):
        raw = www.parent / f"{name}.raw"
        subprocess.run(["qemu-img", "convert", "-O", "raw", str(api.settings.volumes_dir / "default" / f"{name}.qcow2"),
                        str(raw)], check=True)
        assert raw.read_bytes()[:11] == b"HTTP-MARKER", name
    missing = {"source": {"http": {"url": f"{base}/missing.img"}}, "storage": {"resources": {"requests": {
        "storage": "4Mi"}}}}
    assert api.request("POST", DVS, {"metadata": {"name": "broken"}, "spec": missing}).status == 201
    wait_for(lambda: dv_phase(api, "broken") == "Failed", what="Failed")
    dv = api.request("GET", f"{DVS}/broken").json()
    running = next(c for c in dv["status"]["conditions"] if c["type"] == "Running")
    assert "404" in running["message"], running
    assert not (api.settings.volumes_dir / "default" / "broken.qcow2").exists()
