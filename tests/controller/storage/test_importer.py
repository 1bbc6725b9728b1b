"""dataVolumeTemplates → persistent volumes: blank, http (a real HTTP server), registry, pvc clones."""

from __future__ import annotations

import copy
import gzip
import io
import shutil
import subprocess
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from tests.controller.storage.registry_fixture import local_registry  # noqa: F401
from tests.controller.storage.volume_fixtures import EXAMPLES, MARKER, NS, UID, blank_template, disk_image, \
    read_at_zero, volume_settings  # noqa: F401
from virtctl.controller.storage import qemu_img
from virtctl.controller.storage.importer import ensure_data_volumes
from virtctl.controller.storage.layout import VolumeError, delete_volume
from virtctl.controller.storage.plan import prepare_volumes
from virtctl.errors import Invalid

pytestmark = pytest.mark.skipif(shutil.which("qemu-img") is None, reason="qemu-img is not installed")


# --- dataVolumeTemplates -------------------------------------------------------------------------


def test_data_volume_blank_is_created_once(tmp_path: Path) -> None:
    settings = volume_settings(tmp_path)
    vm = {"spec": {"dataVolumeTemplates": [blank_template("blank-dv", "1Gi", key="pvc")]}}
    path = ensure_data_volumes(vm, settings, NS)["blank-dv"]
    assert qemu_img.info(path)["format"] == "qcow2" and qemu_img.virtual_size(path) == 1 << 30
    inode = path.stat().st_ino
    assert ensure_data_volumes(vm, settings, NS)["blank-dv"].stat().st_ino == inode
    assert sorted(p.name for p in path.parent.iterdir()) == [".blank-dv.qcow2.lock", "blank-dv.qcow2"]
    assert delete_volume(settings, NS, "blank-dv") and not path.exists()
    assert not delete_volume(settings, NS, "blank-dv")


def test_data_volume_from_registry(disk_image: str, tmp_path: Path) -> None:
    vm = yaml.safe_load((EXAMPLES / "vm-alpine-datavolume.yaml").read_text())
    vm["spec"]["dataVolumeTemplates"][0]["spec"]["source"]["registry"]["url"] = f"docker://{disk_image}"
    vm["spec"]["dataVolumeTemplates"][0]["spec"]["pvc"]["resources"]["requests"]["storage"] = "128Mi"
    settings = volume_settings(tmp_path)
    path = ensure_data_volumes(vm, settings, NS)["alpine-dv"]
    info = qemu_img.info(path)
    assert info["format"] == "qcow2" and info["virtual-size"] == 128 << 20 and "backing-filename" not in info
    assert read_at_zero(path, "qcow2") == MARKER
    # the VM's template uses it through dataVolume: name
    vmi = {"metadata": {"name": "vm-alpine-datavolume", "uid": UID}, "spec": vm["spec"]["template"]["spec"]}
    assert Path(prepare_volumes(vmi, settings, namespace=NS).disks["datavolumedisk1"].path) == path


def test_data_volume_smaller_than_its_image_is_refused(disk_image: str, tmp_path: Path) -> None:
    tmpl = {"metadata": {"name": "small"}, "spec": {"storage": {"resources": {"requests": {"storage": "1Mi"}}},
                                                    "source": {"registry": {"url": f"docker://{disk_image}"}}}}
    settings = volume_settings(tmp_path)
    with pytest.raises(VolumeError, match=r"virtual size 33554432 is larger than the requested size 1048576$"):
        ensure_data_volumes({"spec": {"dataVolumeTemplates": [tmpl]}}, settings, NS)
    assert [p.name for p in (settings.volumes_dir / NS).iterdir()] == [".small.qcow2.lock"]


@pytest.fixture()
def http_files(tmp_path: Path):
    served = tmp_path / "www"
    served.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(served)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield served, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def test_data_volume_from_http_gzip_and_404(tmp_path: Path, http_files) -> None:
    served, base = http_files
    raw = io.BytesIO()
    raw.write(MARKER)
    raw.write(b"\0" * ((4 << 20) - len(MARKER)))
    (served / "disk.img.gz").write_bytes(gzip.compress(raw.getvalue(), compresslevel=1))
    settings = volume_settings(tmp_path)
    progress: list[tuple[str, int, int]] = []
    tmpl = {"metadata": {"name": "http-dv"}, "spec": {"storage": {"resources": {"requests": {"storage": "16Mi"}}},
                                                      "source": {"http": {"url": f"{base}/disk.img.gz"}}}}
    path = ensure_data_volumes({"spec": {"dataVolumeTemplates": [tmpl]}}, settings, NS,
                               progress=lambda *a: progress.append(a))["http-dv"]
    assert qemu_img.info(path)["format"] == "qcow2" and qemu_img.virtual_size(path) == 16 << 20
    assert read_at_zero(path, "qcow2") == MARKER
    assert progress and progress[-1][1] == progress[-1][2] == (served / "disk.img.gz").stat().st_size
    tmpl = copy.deepcopy(tmpl)
    tmpl["metadata"]["name"] = "missing"
    tmpl["spec"]["source"]["http"]["url"] = f"{base}/nothing.img"
    with pytest.raises(VolumeError, match=rf"^downloading {base}/nothing.img: HTTP 404 File not found$"):
        ensure_data_volumes({"spec": {"dataVolumeTemplates": [tmpl]}}, settings, NS)
    assert sorted(p.name for p in (settings.volumes_dir / NS).iterdir() if not p.name.endswith(".lock")) == \
        ["http-dv.qcow2"]


def test_data_volume_clone_of_a_pvc(tmp_path: Path) -> None:
    settings = volume_settings(tmp_path)
    source = ensure_data_volumes({"spec": {"dataVolumeTemplates": [blank_template("golden")]}},
                                 settings, NS)["golden"]
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", f"write -P 0x42 0 {len(MARKER)}", str(source)], check=True,
                   capture_output=True)
    tmpl = {"metadata": {"name": "clone"}, "spec": {"storage": {"resources": {"requests": {"storage": "64Mi"}}},
                                                    "source": {"pvc": {"namespace": NS, "name": "golden"}}}}
    path = ensure_data_volumes({"spec": {"dataVolumeTemplates": [tmpl]}}, settings, NS)["clone"]
    assert read_at_zero(path, "qcow2") == b"\x42" * len(MARKER)


@pytest.mark.parametrize("template, message", [
    ({"metadata": {"name": "x"}, "spec": {"source": {"blank": {}}}},
     "spec.dataVolumeTemplates[0].spec.storage.resources.requests.storage: Required value: a blank volume needs a "
     "size"),
    ({"metadata": {"name": "x"}, "spec": {"source": {"s3": {"url": "s3://b/k"}}}},
     "spec.dataVolumeTemplates[0].spec.source.s3: s3 data volume sources are not supported in standalone mode "
     "(supported: blank, http, registry, pvc)"),
    ({"metadata": {"name": "Bad_Name"}, "spec": {"source": {"blank": {}}}},
     'spec.dataVolumeTemplates[0].metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain'),
    ({"metadata": {"name": "x"}, "spec": {"source": {"registry": {"url": "quay.io/a/b"}}}},
     'spec.dataVolumeTemplates[0].spec.source.registry.url: Invalid value: "quay.io/a/b": must be '
     'docker://<image reference>'),
    ({"metadata": {"name": "x"}, "spec": {"source": {"http": {"url": "ftp://h/x"}}}},
     'spec.dataVolumeTemplates[0].spec.source.http.url: Invalid value: "ftp://h/x": must be an http or https URL'),
    ({"metadata": {"name": "x"}, "spec": {"storage": {"resources": {"requests": {"storage": "lots"}}},
                                          "source": {"blank": {}}}},
     'spec.dataVolumeTemplates[0].spec.storage.resources.requests.storage: Invalid value: "lots": quantities must '
     'match'),
])
def test_data_volume_template_errors(tmp_path: Path, template: dict, message: str) -> None:
    settings = volume_settings(tmp_path)
    with pytest.raises(Invalid) as e:
        ensure_data_volumes({"spec": {"dataVolumeTemplates": [template]}}, settings, NS)
    assert str(e.value).startswith(message)
    assert not settings.volumes_dir.exists()
