"""get / apply / delete / version / lifecycle commands against the embedded API server over HTTPS."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import load_example
from virtctl.client.kubevirt import REQUEST_OBSERVERS
from virtctl.controller.schema import validate
from virtctl.model import kinds


def write(tmp_path: Path, name: str, *docs: object) -> str:
    p = tmp_path / name
    p.write_text(yaml.safe_dump_all(list(docs)))
    return str(p)


def halted_vm(name: str = "vm1") -> dict:
    vm = load_example("vm-cirros")
    vm["metadata"]["name"] = name
    vm["spec"].pop("running", None)
    vm["spec"]["runStrategy"] = "Halted"
    return vm


@pytest.fixture
def sent():
    seen: list[tuple[str, str, object]] = []
    REQUEST_OBSERVERS.append(lambda m, p, b: seen.append((m, p, b)))
    yield seen
    REQUEST_OBSERVERS.pop()


def test_apply_get_delete_cycle(kcli, tmp_path: Path, sent) -> None:
    f = write(tmp_path, "vms.yaml", halted_vm("a"), halted_vm("b"))
    r = kcli(["apply", "-f", f])
    assert (r.code, r.out, r.err) == (0, "virtualmachine.kubevirt.io/a created\nvirtualmachine.kubevirt.io/b created\n", "")
    assert kcli(["apply", "-f", f]).out == ("virtualmachine.kubevirt.io/a unchanged\n"
                                            "virtualmachine.kubevirt.io/b unchanged\n")
    changed = halted_vm("a")
    changed["metadata"]["labels"] = {"tier": "web"}
    assert kcli(["apply", "-f", write(tmp_path, "a.yaml", changed)]).out == "virtualmachine.kubevirt.io/a configured\n"
    r = kcli(["get", "vm"])
    assert r.code == 0
    lines = r.out.splitlines()
    assert lines[0].split() == ["NAME", "AGE", "STATUS", "READY"]
    assert [line.split()[0] for line in lines[1:]] == ["a", "b"]
    assert kcli(["get", "vms", "-l", "tier=web", "-o", "name"]).out == "virtualmachine.kubevirt.io/a\n"
    doc = yaml.safe_load(kcli(["get", "vm", "a", "-o", "yaml"]).out)
    assert doc["metadata"]["labels"] == {"tier": "web"} and validate("v1.VirtualMachine", doc) == []
    r = kcli(["delete", "vm", "a", "b"])
    assert r.out == 'virtualmachine.kubevirt.io "a" deleted\nvirtualmachine.kubevirt.io "b" deleted\n'
    r = kcli(["get", "vm"])
    assert (r.code, r.out, r.err) == (0, "", "No resources found in default namespace.\n")
    for method, path, body in sent:
        if method in ("POST", "PUT") and "/virtualmachines" in path:
            assert validate("v1.VirtualMachine", body) == []


def test_apply_from_stdin_pipes_create_vm(kcli) -> None:
    manifest = kcli(["create", "vm", "--name", "piped"]).out
    r = kcli(["apply", "-f", "-"], stdin=manifest)
    assert (r.code, r.out) == (0, "virtualmachine.kubevirt.io/piped created\n")


@pytest.mark.parametrize("bad, message", [
    ("kind: VirtualMachine\nmetadata: {name: [unclosed\n", "error: error parsing {f}: error converting YAML to JSON: yaml: "),
    ("apiVersion: kubevirt.io/v1\nkind: Gadget\nmetadata: {name: g}\n", 'no matches for kind "Gadget" in version '
     '"kubevirt.io/v1"'),
    ("apiVersion: kubevirt.io/v1\nkind: VirtualMachine\nmetadata: {name: Bad_Name}\nspec: {runStrategy: Halted}\n",
     'The VirtualMachine "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name"'),
    ("apiVersion: kubevirt.io/v1\nkind: VirtualMachine\nmetadata: {name: typed}\nspec: {runStrategy: Halted, "
     "template: {spec: {domain: {devices: {}}, terminationGracePeriodSeconds: soon}}}\n", "Error from server"),
])
def test_apply_bad_document_writes_nothing(kcli, api_server, tmp_path: Path, bad: str, message: str) -> None:
    good = yaml.safe_dump(halted_vm("good"))
    f = tmp_path / "mixed.yaml"
    f.write_text(good + "---\n" + bad)
    r = kcli(["apply", "-f", str(f)])
    assert r.code == 1 and r.out == ""
    assert message.format(f=f) in r.err and r.err.count("\n") == 1 and "Traceback" not in r.err
    assert api_server.store.list(kinds.VM, "default")[0] == []


def test_apply_stale_resource_version_conflicts(kcli, api_server, tmp_path: Path) -> None:
    from virtctl.client import KubeVirtClient, Overrides, resolve

    kv = KubeVirtClient.from_config(resolve(Overrides(kubeconfig=str(api_server.kubeconfig_path))))
    vm = kv.create(kinds.VM, halted_vm("stale"))
    kv.patch(kinds.VM, "stale", {"metadata": {"labels": {"v": "2"}}})
    before = kv.get(kinds.VM, "stale")
    r = kcli(["apply", "-f", write(tmp_path, "s.yaml", vm)])     # carries the old resourceVersion
    assert r.code == 1 and "Error from server (Conflict)" in r.err and r.err.count("\n") == 1
    assert kv.get(kinds.VM, "stale")["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def test_get_missing_and_unknown_kind(kcli) -> None:
    r = kcli(["get", "vm", "ghost"])
    assert (r.code, r.err) == (1, 'Error from server (NotFound): virtualmachines.kubevirt.io "ghost" not found\n')
    r = kcli(["get", "gadgets"])
    assert (r.code, r.err) == (1, 'the server doesn\'t have a resource type "gadgets"\n')
    r = kcli(["delete", "vm", "ghost"])
    assert (r.code, r.err) == (1, 'Error from server (NotFound): virtualmachines.kubevirt.io "ghost" not found\n')


def test_bad_token_is_one_line(kcli) -> None:
    r = kcli(["get", "vm", "--token", "nope"])
    assert r.code == 1 and r.err.count("\n") == 1 and "Traceback" not in r.err and r.err.strip()


def test_get_watch_prints_rows_as_they_change(kcli, api_server, tmp_path: Path) -> None:
    from virtctl.client import KubeVirtClient, Overrides, resolve

    kv = KubeVirtClient.from_config(resolve(Overrides(kubeconfig=str(api_server.kubeconfig_path))))
    kv.create(kinds.VM, halted_vm("w1"))

    def later() -> None:
        time.sleep(0.5)
        kv.patch(kinds.VM, "w1", {"metadata": {"labels": {"x": "1"}}})

    threading.Thread(target=later).start()
    r = kcli(["get", "vm", "w1", "-w", "--request-timeout", "2s"])
    rows = [line.split()[0] for line in r.out.splitlines()]
    assert rows[0] == "NAME" and rows.count("w1") >= 2


def test_version_prints_client_and_server(kcli) -> None:
    r = kcli(["version"])
    lines = r.out.splitlines()
    assert r.code == 0 and len(lines) == 2
    assert lines[0].startswith('Client Version: version.Info{GitVersion:"v1.9.0", GitCommit:"')
    assert lines[0].endswith('", Platform:"linux/amd64"}') or "Platform:" in lines[0]
    assert lines[1].startswith("Server Version: version.Info{GitVersion:")


def test_lifecycle_messages_and_bodies(kcli, api_server, sent) -> None:
    import virtctl.controller.actions  # noqa: F401  (the server's lifecycle actions)

    api_server.store.create(kinds.VM, "default", halted_vm("life"))
    r = kcli(["start", "life", "--dry-run"])
    assert (r.code, r.out) == (0, "Dry Run execution\nVM life was scheduled to start\n")
    assert api_server.store.get(kinds.VM, "default", "life")["spec"]["runStrategy"] == "Halted"
    r = kcli(["start", "life"])
    assert (r.code, r.out) == (0, "VM life was scheduled to start\n")
    r = kcli(["start", "life"])
    assert r.code == 1 and r.err.startswith("Error starting VirtualMachine ") and r.err.count("\n") == 1
    r = kcli(["stop", "life"])
    assert (r.code, r.out) == (0, "VM life was scheduled to stop\n")
    r = kcli(["stop", "life", "--grace-period", "0"])
    assert (r.code, r.err) == (1, "Must both use --force=true and set --grace-period.\n")
    r = kcli(["start"])
    assert (r.code, r.err) == (1, "accepts 1 arg(s), received 0\n")
    r = kcli(["pause", "vm", "ghost"])
    assert r.code == 1 and r.err.startswith("Error getting VirtualMachine ghost: ")
    r = kcli(["soft-reboot", "ghost"])
    assert r.code == 1 and r.err.startswith("Error soft rebooting VirtualMachineInstance ghost: ")
    defs = {"start": "v1.StartOptions", "stop": "v1.StopOptions", "restart": "v1.RestartOptions",
            "pause": "v1.PauseOptions", "unpause": "v1.UnpauseOptions", "migrate": "v1.MigrateOptions"}
    checked = 0
    for method, path, body in sent:
        sub = path.rsplit("/", 1)[-1]
        if method == "PUT" and sub in defs and body is not None:
            assert validate(defs[sub], body) == [], (sub, body)
            checked += 1
    assert checked >= 4


def test_wait_times_out_naming_the_last_state(kcli, api_server) -> None:
    import virtctl.controller.actions  # noqa: F401

    vm = halted_vm("slow")
    api_server.store.create(kinds.VM, "default", vm)
    r = kcli(["start", "slow", "--wait", "--timeout", "1s"])
    assert r.code == 1
    assert r.out == "VM slow was scheduled to start\n"
    assert r.err.startswith("timed out waiting for VM slow to be Running (last seen: ")


def test_wait_returns_when_the_state_is_reached(kcli, api_server) -> None:
    import virtctl.controller.actions  # noqa: F401

    api_server.store.create(kinds.VM, "default", halted_vm("quick"))

    def become_running() -> None:
        time.sleep(0.5)
        api_server.store.mutate(kinds.VM, "default", "quick",
                                lambda o: o.setdefault("status", {}).update({"printableStatus": "Running"}),
                                subresource="status")

    threading.Thread(target=become_running).start()
    r = kcli(["start", "quick", "--wait", "--timeout", "10s"])
    assert (r.code, r.out, r.err) == (0, "VM quick was scheduled to start\n", "")


def test_no_kubeconfig_uses_local_controller_once(cli, monkeypatch, tmp_path: Path) -> None:
    from virtctl.controller import local

    calls = []

    def fake_up(settings):       # the daemon itself is the controller's; only the hand-over is tested here
        calls.append(settings.state_dir)
        raise local.ConfigError("local controller unavailable in this test")

    monkeypatch.setattr(local, "up", fake_up)
    r = cli(["get", "vm"])
    assert calls and r.code == 1 and r.err == "local controller unavailable in this test\n"
    r = cli(["get", "vm", "--kubeconfig", str(tmp_path / "missing")])
    assert r.code == 1 and "no such file or directory" in r.err and len(calls) == 1
