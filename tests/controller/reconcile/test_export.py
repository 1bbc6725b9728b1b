"""The VirtualMachineExport controller and the export server's request decisions, on a real
SQLite store with real volume files (no sockets): phases for each source, the token Secret, links,
TTL deletion, and 401/404/503 before any byte is served."""

from __future__ import annotations

import base64
import subprocess
from datetime import datetime, timedelta, timezone

import pytest

from virtctl.controller.reconcile.export import ExportController, generated_secret_name
from virtctl.controller.runtime import Runtime
from virtctl.controller.server.export import Answer, Download, decide
from virtctl.controller.settings import Settings
from virtctl.controller.storage.layout import persistent_volume_path
from virtctl.controller.store.objects import ObjectStore
from virtctl.errors import NotFound
from virtctl.model import kinds

pytestmark = pytest.mark.skipif(subprocess.run(["which", "qemu-img"], capture_output=True).returncode != 0,
                                reason="qemu-img is not installed")
BASE = "https://127.0.0.1:4443"


@pytest.fixture
def env(tmp_path):
    settings = Settings(state_dir=tmp_path)
    store = ObjectStore(tmp_path / "store.db")
    runtime = Runtime.create(store, settings)
    yield runtime, ExportController(store, settings, lambda: BASE, "CA-PEM")
    store.close()


def volume(runtime, claim):
    path = persistent_volume_path(runtime.settings, "default", claim)
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), "1M"], check=True)


def export(runtime, name, kind, source, **spec):
    return runtime.store.create(kinds.VMEXPORT, "default", {
        "apiVersion": "export.kubevirt.io/v1", "kind": "VirtualMachineExport", "metadata": {"name": name},
        "spec": {"source": {"apiGroup": "", "kind": kind, "name": source}, **spec}})


def get(runtime, name):
    return runtime.store.get(kinds.VMEXPORT, "default", name)


def test_pvc_export_becomes_ready_with_a_generated_token(env):
    runtime, ctl = env
    volume(runtime, "disk1")
    export(runtime, "e1", "PersistentVolumeClaim", "disk1")
    ctl.reconcile("default", "e1")
    status = get(runtime, "e1")["status"]
    assert status["phase"] == "Ready" and status["tokenSecretRef"] == generated_secret_name("e1")
    assert status["serviceName"] == "virt-export-e1"
    link = status["links"]["external"]
    assert link == status["links"]["internal"] and link["cert"] == "CA-PEM"
    assert link["volumes"] == [{"name": "disk1", "formats": [
        {"format": "raw", "url": f"{BASE}/api/export.kubevirt.io/v1/namespaces/default/virtualmachineexports/e1/"
                                 "volumes/disk1/disk.img"},
        {"format": "gzip", "url": f"{BASE}/api/export.kubevirt.io/v1/namespaces/default/virtualmachineexports/e1/"
                                  "volumes/disk1/disk.img.gz"}]}]
    secret = runtime.store.get(kinds.SECRET, "default", generated_secret_name("e1"))
    token = base64.b64decode(secret["data"]["token"]).decode()
    assert len(token) == 20 and secret["metadata"]["ownerReferences"][0]["kind"] == "VirtualMachineExport"

    path = link["volumes"][0]["formats"][1]["url"].removeprefix(BASE)
    assert decide(runtime, "GET", path, None) == Answer(401, "Unauthorized")
    assert decide(runtime, "GET", path, "x" * 20) == Answer(401, "Unauthorized")
    assert decide(runtime, "POST", path, token) == Answer(405, "Method Not Allowed")
    assert decide(runtime, "GET", path.replace("disk1", "other"), token) == \
        Answer(404, "volume other is not exported by default/e1")
    assert decide(runtime, "GET", "/elsewhere", token).status == 404
    found = decide(runtime, "GET", path, token)
    assert isinstance(found, Download) and found.gzip and found.path.name == "disk1.qcow2"


def test_a_named_token_secret_is_waited_for(env):
    runtime, ctl = env
    volume(runtime, "disk1")
    export(runtime, "e2", "PersistentVolumeClaim", "disk1", tokenSecretRef="secret-e2")
    ctl.reconcile("default", "e2")
    status = get(runtime, "e2")["status"]
    assert status["phase"] == "Pending" and "links" not in status
    runtime.store.create(kinds.SECRET, "default", {"apiVersion": "v1", "kind": "Secret",
                                                   "metadata": {"name": "secret-e2"},
                                                   "data": {"token": base64.b64encode(b"t" * 20).decode()}})
    ctl.reconcile("default", "e2")
    assert get(runtime, "e2")["status"]["phase"] == "Ready"


def test_vm_sources(env):
    runtime, ctl = env
    runtime.store.create(kinds.VM, "default", {
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {"name": "vm1"},
        "spec": {"runStrategy": "Halted", "template": {"spec": {
            "domain": {"devices": {}}, "volumes": [{"name": "c", "containerDisk": {"image": "x"}}]}}}})
    export(runtime, "e3", "VirtualMachine", "vm1")
    ctl.reconcile("default", "e3")
    status = get(runtime, "e3")["status"]
    assert status["phase"] == "Skipped" and status["virtualMachineName"] == "vm1"
    export(runtime, "e4", "VirtualMachine", "ghost")
    ctl.reconcile("default", "e4")
    assert get(runtime, "e4")["status"]["phase"] == "Pending"
    assert decide(runtime, "GET", "/api/export.kubevirt.io/v1/namespaces/default/virtualmachineexports/e4/volumes/"
                                  "x/disk.img", "t").status == 401


def test_ttl_deletes_the_export(env, tmp_path):
    runtime, _ = env
    volume(runtime, "disk1")
    export(runtime, "e5", "PersistentVolumeClaim", "disk1", ttlDuration="1m")
    later = ExportController(runtime.store, runtime.settings, lambda: BASE, "CA-PEM",
                             now=lambda: datetime.now(timezone.utc) + timedelta(minutes=2))
    assert later.reconcile("default", "e5") is None
    with pytest.raises(NotFound):
        get(runtime, "e5")
