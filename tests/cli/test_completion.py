"""Shell completion: scripts in completions/ are current, and the __complete protocol answers."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import run_cli
from virtctl.cli.completion_scripts import FILES, PLUGIN, SCRIPTS

ROOT = Path(__file__).resolve().parents[2]


def test_completion_files_are_current() -> None:
    for shell, text in SCRIPTS.items():
        path = ROOT / "completions" / FILES[shell]
        assert path.read_text() == text, f"{path} is stale: regenerate with `virtctl completion {shell} > {path}`"
        assert run_cli(["completion", shell]).out == text
    assert (ROOT / "completions" / "kubectl_complete-virt").read_text() == PLUGIN


def test_command_and_subcommand_names(cli) -> None:
    r = cli(["__complete", "st"])
    assert r.out == "start\tStart a virtual machine.\nstop\tStop a virtual machine.\n:4\n"
    r = cli(["__completeNoDesc", "create", ""])
    assert r.out.splitlines() == ["vm", "instancetype", "preference", ":4"]


def test_vm_names_come_from_the_api(kcli, api_server) -> None:
    from tests.conftest import load_example
    from virtctl.model import kinds

    for name in ("alpha", "beta", "gamma"):
        vm = load_example("vm-cirros")
        vm["metadata"]["name"] = name
        api_server.store.create(kinds.VM, "default", vm)
    assert kcli(["__complete", "start", ""]).out == "alpha\nbeta\ngamma\n:4\n"
    assert kcli(["__complete", "stop", "b"]).out == "beta\n:4\n"
    assert kcli(["__complete", "pause", "vm", "g"]).out == "gamma\n:4\n"
    assert kcli(["__complete", "get", "vm", "alpha", ""]).out == "beta\ngamma\n:4\n"
    r = run_cli(["__complete", "start", "a"], argv0="kubectl_complete-virt")
    assert r.out == "alpha\n:4\n"


def test_names_are_quietly_empty_on_errors(cli, monkeypatch) -> None:
    monkeypatch.setenv("KUBECONFIG", "/nonexistent/kubeconfig")
    monkeypatch.setattr("virtctl.controller.local.status", lambda settings: None)
    r = cli(["__complete", "start", ""])
    assert (r.code, r.out) == (0, ":4\n")


def test_flags_of_a_command(cli) -> None:
    out = cli(["__completeNoDesc", "stop", "--gr"]).out
    assert out == "--grace-period\n:4\n"


def test_vnc_completes_its_subcommand_and_vmi_names(kcli, api_server) -> None:
    from tests.conftest import load_example
    from virtctl.model import kinds

    vmi = load_example("vmi-fedora")
    vmi["metadata"]["name"] = "fedora1"
    api_server.store.create(kinds.VMI, "default", vmi)
    assert kcli(["__complete", "vnc", ""]).out == "screenshot\tCreate a screenshot of the VNC display of a virtual machine instance.\nfedora1\n:4\n"
    assert kcli(["__completeNoDesc", "vnc", "screenshot", "f"]).out == "fedora1\n:4\n"
    assert kcli(["__completeNoDesc", "console", ""]).out == "fedora1\n:4\n"
