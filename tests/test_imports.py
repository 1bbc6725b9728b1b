"""Start-up cost: the hot paths must not import kubernetes, libvirt or websockets, and
rich only when something is rendered with it (docs/architecture.md#start-up-cost)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = """
import io, json, sys
sys.argv = {argv!r}
out = io.StringIO()
real = sys.stdout
sys.stdout = out
from virtctl.cli.main import main
code = main(sys.argv[1:])
sys.stdout = real
print(json.dumps({{"code": code, "modules": sorted(sys.modules)}}))
"""

HEAVY = ("kubernetes", "libvirt", "websockets", "rich", "jsonschema")


@pytest.mark.parametrize("argv", [
    ["virtctl", "--help"],
    ["virtctl", "version", "--client"],
    ["virtctl", "create", "vm", "--name", "x"],
    ["virtctl", "start", "--help"],
    ["virtctl", "__complete", "st"],
    ["kubectl_complete-virt", "__complete", "create", ""],
], ids=lambda a: " ".join(a[1:]))
def test_hot_paths_stay_light(argv: list[str], tmp_path) -> None:
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "VIRTCTL_STATE_DIR": str(tmp_path / "state")}
    r = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True, env=env,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert result["code"] == 0
    loaded = {m.split(".")[0] for m in result["modules"]}
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_help_does_not_even_import_typer(tmp_path) -> None:
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    r = subprocess.run([sys.executable, "-c", PROBE.format(argv=["virtctl", "--help"])], capture_output=True,
                       text=True, env=env, timeout=60)
    modules = json.loads(r.stdout.strip().splitlines()[-1])["modules"]
    assert "typer" not in modules
