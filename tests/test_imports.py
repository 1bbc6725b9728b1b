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


FAST_PATH_HEAVY = ("typer", "click", "rich", "yaml", "kubernetes", "libvirt", "websockets")

# one command line per command of the fast path (virtctl.cli.fast); some end in a server error, which
# must stay as light as success
FAST_COMMAND_LINES = [
    ["start", "vm1", "--dry-run"], ["stop", "vm1", "--dry-run"], ["restart", "vm1", "--dry-run"],
    ["migrate", "vm1", "--dry-run"], ["migrate-cancel", "vm1"], ["pause", "vm", "vm1", "--dry-run"],
    ["unpause", "vmi", "vm1"], ["soft-reboot", "vm1"], ["reset", "vm1"], ["create", "vm", "--name", "x"],
    ["create", "instancetype", "--cpu", "1", "--memory", "1Gi"], ["create", "preference", "--namespaced"],
    ["delete", "vm", "vm1", "--dry-run"], ["snapshot", "create", "vm1"], ["snapshot", "list"],
    ["snapshot", "restore", "s1"], ["snapshot", "delete", "s1"], ["get", "vm", "vm1"], ["get", "vm", "-o", "json"],
    ["get", "vm", "vm1", "-o", "yaml"], ["create", "vm", "--name", "x", "--user", "u", "--ssh-key", "ssh-ed25519 A k"],
    ["version"], ["version", "--client"], ["strat", "vm1"], ["apply", "-f", "{tmp}/vm.json"],
    ["port-forward", "--stdio=true", "vmi/vm1", "22", "23"], ["ssh", "@vmi/vm1"], ["scp", "a", "b"],
    ["image-upload", "dv", "d1", "--no-create", "--image-path", "{tmp}/vm.json"],
]


def test_every_fast_command_is_declared_here() -> None:
    from virtctl.cli import fast

    covered = {fast.lookup(argv)[0][:2] for argv in FAST_COMMAND_LINES if fast.lookup(argv)}  # type: ignore[index]
    assert covered == {spec[:2] for spec in fast.COMMANDS.values()}


@pytest.mark.parametrize("argv", FAST_COMMAND_LINES, ids=" ".join)
def test_fast_path_of_each_command_stays_light(argv: list[str], api_server, tmp_path) -> None:
    from virtctl.model import kinds

    vm = {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {"name": "vm1"},
          "spec": {"runStrategy": "Halted", "template": {"spec": {"domain": {"devices": {}}}}}}
    api_server.store.create(kinds.VM, "default", vm)
    (tmp_path / "vm.json").write_text(json.dumps(dict(vm, metadata={"name": "vm2"})))   # JSON: no YAML decoder
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "KUBECONFIG": str(api_server.kubeconfig_path)}
    r = subprocess.run([sys.executable, "-c", PROBE.format(argv=["virtctl", *argv])], capture_output=True,
                       text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout.strip().splitlines()[-1])
    loaded = {m.split(".")[0] for m in result["modules"]}
    assert not loaded & set(FAST_PATH_HEAVY), sorted(loaded & set(FAST_PATH_HEAVY))
    # nor the standard library's slow imports that the fast path has replacements for
    assert not {"http.client", "dataclasses", "email", "inspect", "_strptime"} & set(result["modules"])
