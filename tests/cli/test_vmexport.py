"""vmexport's decisions without a server: the export object Go virtctl creates, which link a
download takes, and Go's flag checks."""

from __future__ import annotations

import pytest

from virtctl.cli.commands.vmexport import Options, check_flags, download_url, export_object, manifest_urls
from virtctl.errors import VirtctlError


def vme(*volumes, internal=True):
    link = {"cert": "CERT", "volumes": [
        {"name": v, "formats": [{"format": "raw", "url": f"https://127.0.0.1:1/v/{v}/disk.img"},
                                {"format": "gzip", "url": f"https://127.0.0.1:1/v/{v}/disk.img.gz"}]}
        for v in volumes]}
    return {"metadata": {"name": "e", "namespace": "ns"},
            "status": {"links": {"external": link, **({"internal": link} if internal else {})}}}


def test_export_object_matches_go():
    o = Options(pvc="p", ttl="1h", labels=["a=b", "nokey"], annotations=["x=y=z"])
    assert export_object("e", "ns", o) == {
        "apiVersion": "export.kubevirt.io/v1", "kind": "VirtualMachineExport",
        "metadata": {"name": "e", "namespace": "ns", "labels": {"a": "b"}, "annotations": {"x": "y=z"}},
        "spec": {"tokenSecretRef": "secret-e", "source": {"apiGroup": "", "kind": "PersistentVolumeClaim",
                                                          "name": "p"}, "ttlDuration": "1h"}}


def test_download_prefers_gzip_and_gunzips_for_raw():
    assert download_url(vme("d"), Options()) == ("https://127.0.0.1:1/v/d/disk.img.gz", "CERT", False)
    assert download_url(vme("d"), Options(format="raw")) == ("https://127.0.0.1:1/v/d/disk.img.gz", "CERT", True)
    url, _, _ = download_url(vme("a", "b"), Options(volume="b", service_url="localhost:9"))
    assert url == "https://localhost:9/v/b/disk.img.gz"


def test_download_needs_a_volume_choice():
    with pytest.raises(VirtctlError, match="detected more than one downloadable volume in 'ns/e'"):
        download_url(vme("a", "b"), Options())
    with pytest.raises(VirtctlError, match="unable to access the volume info from 'ns/e' VirtualMachineExport"):
        download_url({"metadata": {"name": "e", "namespace": "ns"}, "status": {}}, Options())
    with pytest.raises(VirtctlError, match="unable to get a valid URL from 'ns/e' VirtualMachineExport"):
        download_url(vme("a", "b"), Options(volume="c"))


@pytest.mark.parametrize("function, o, message", [
    ("create", Options(vm="v", retry=2), "the '--retry' flag is incompatible with 'create'"),
    ("delete", Options(labels=["a=b"]), "the '--labels' flag is incompatible with 'delete'"),
    ("download", Options(output="f", port_forward=True, local_port="x"),
     "--local-port is not a valid value, acceptable values are valid port numbers"),
    ("download", Options(manifest=True, volume="v"), "the '--volume' flag is incompatible with '--manifest'"),
    ("download", Options(manifest=True, pvc="p"), "the '--pvc' flag is incompatible with '--manifest'"),
    ("download", Options(output="f", retry=-1), "--retry is not a valid value, acceptable values are positive integers"),
])
def test_flag_checks(function, o, message):
    with pytest.raises(VirtctlError) as ei:
        check_flags(function, o)
    assert ei.value.message == message


def test_manifest_urls_as_go_picks_them():
    e = vme("d")
    with pytest.raises(VirtctlError, match="^unable to access the manifest info from 'ns/e' VirtualMachineExport$"):
        manifest_urls(e, Options())
    e["status"]["links"] = {
        "external": {"cert": "EXT", "manifests": [{"type": "all", "url": "https://ext:1/x/external/manifests/all"}]},
        "internal": {"cert": "INT", "manifests": [
            {"type": "all", "url": "https://svc:443/x/internal/manifests/all"},
            {"type": "auth-header-secret", "url": "https://svc:443/x/internal/manifests/secret"}]}}
    assert manifest_urls(e, Options()) == ({"all": "https://ext:1/x/external/manifests/all"}, "EXT")
    assert manifest_urls(e, Options(service_url="127.0.0.1:9")) == (
        {"all": "https://127.0.0.1:9/x/internal/manifests/all",
         "auth-header-secret": "https://127.0.0.1:9/x/internal/manifests/secret"}, "INT")
