"""virtctl image-upload's argument checks, with Go virtctl's messages (before any connection), and
the bodies it creates."""

from __future__ import annotations

from pathlib import Path

import pytest

from virtctl.cli.ops.image_upload import Options, datavolume_body, parse_args, pvc_body
from virtctl.errors import VirtctlError


@pytest.fixture
def img(tmp_path: Path) -> Path:
    p = tmp_path / "d.img"
    p.write_bytes(bytes(512))
    return p


@pytest.mark.parametrize("extra,message", [
    ([], "either image-path or archive-path must be provided"),
    (["--image-path={img}", "--archive-path={img}"], "cannot handle both image-path and archive-path, provide only one"),
    (["--image-path={img}", "--volume-mode=disk"], "Invalid volume mode 'disk'. Valid values are 'block' and "
                                                   "'filesystem'."),
    (["--archive-path={img}", "--volume-mode=block"], "In archive upload the volume mode should always be filesystem"),
    (["--image-path={img}", "--block-volume", "--volume-mode=filesystem"],
     "incompatible --volume-mode 'filesystem' and --block-volume"),
    (["--image-path={img}", "--size=1Gi", "--pvc-size=2Gi"], "--pvc-size and --size can not be specified at the "
                                                             "same time"),
    (["--image-path={img}", "--default-instancetype-kind=x"], "--default-instancetype must be provided with "
                                                              "--default-instancetype-kind"),
    (["--image-path={img}", "--no-create", "--default-preference=p"], "--default-instancetype and "
                                                                      "--default-preference cannot be used with "
                                                                      "--no-create"),
    (["--image-path=/does/not/exist"], "open /does/not/exist: no such file or directory"),
    (["--image-path={img}", "--wait-secs=x"], 'invalid argument "x" for "--wait-secs" flag: strconv.ParseUint: '
                                              'parsing "x": invalid syntax'),
])
def test_bad_arguments(cli, img, extra, message):
    r = cli(["image-upload", "dv", "disk", *[e.format(img=img) for e in extra]])
    assert r.code == 1
    assert message in r.err, r.err
    assert "Traceback" not in r.err


@pytest.mark.parametrize("args,message", [
    (["pvc"], "expecting two args"), (["vm", "x"], "invalid resource type vm"),
    (["dv", "a", "b"], "accepts at most 2 arg(s), received 3"),
])
def test_bad_positional_arguments(cli, img, args, message):
    r = cli(["image-upload", *args, f"--image-path={img}"])
    assert r.code == 1 and message in r.err, r.err


def test_deprecated_flags_are_announced(cli, img):
    r = cli(["image-upload", "--pvc-name=x", "--pvc-size=1Gi", f"--image-path={img}", "--server=https://127.0.0.1:1"])
    assert "Flag --pvc-name has been deprecated, specify the name as the second argument instead." in r.err
    assert "Flag --pvc-size has been deprecated, use --size instead." in r.err


def test_bodies_as_go_virtctl_builds_them():
    o = Options(name="d", size="2Gi", access_mode="ReadWriteMany", volume_mode="block", force_bind=True,
                default_preference="fedora")
    parse_args(o, [])
    dv = datavolume_body(o, "ns")
    assert dv["spec"] == {"source": {"upload": {}}, "contentType": "kubevirt",
                          "storage": {"resources": {"requests": {"storage": "2Gi"}}, "accessModes": ["ReadWriteMany"],
                                      "volumeMode": "Block"}}
    assert dv["metadata"]["annotations"] == {"cdi.kubevirt.io/storage.bind.immediate.requested": ""}
    assert dv["metadata"]["labels"] == {"instancetype.kubevirt.io/default-preference": "fedora"}
    o = Options(size="1Gi", archive=True)
    pvc = pvc_body(o, "ns")
    assert pvc["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert pvc["metadata"]["annotations"] == {"cdi.kubevirt.io/storage.upload.target": "",
                                              "cdi.kubevirt.io/storage.contentType": "archive"}
    with pytest.raises(VirtctlError, match="cannot upload to a readonly volume"):
        pvc_body(Options(size="1Gi", access_mode="ReadOnlyMany"), "ns")
    with pytest.raises(VirtctlError, match="validation failed for size=lots"):
        pvc_body(Options(size="lots"), "ns")
