"""The start-up fast path (virtctl.cli.fast): for every command it declares, it parses exactly what
click would (or steps aside), its declaration matches the typer command's flags, and both paths print
the same."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer._click import exceptions as cx

from tests.cli.conftest import run_cli
from virtctl.cli import fast, lazy
from virtctl.cli.args import call_params
from virtctl.errors import NotFound, VirtctlError
from virtctl.model import kinds

PATHS = sorted(fast.COMMANDS)
NOISE = ["x", "y", "-", "--", "-h", "--help", "--bogus", "-x", "=", "5", "-1", "1x", "", "true", "False"]


def without_age(table: str) -> str:
    """A printed table with its AGE cells (0s, 12m, 3d…) blanked."""
    return re.sub(r"(?<=\s)\d+[smhdy](\d+[smhd])?(?=\s)", "<age>", table)


def click_command(path: tuple[str, ...]):
    cmd = lazy.load(path[0])
    for word in path[1:]:
        cmd = cmd.commands[word]
    return cmd


def click_params(path: tuple[str, ...], argv: list[str]) -> dict | None:
    try:
        ctx = click_command(path).make_context(path[-1], list(argv))
    except (cx.ClickException, VirtctlError):
        return None
    params = call_params(ctx)
    params.setdefault("args", [])         # version takes no positional arguments
    return params


def tokens(path: tuple[str, ...]) -> list[str]:
    """Every spelling of the command's flags, with and without values, plus noise."""
    out = list(NOISE)
    for opt, (_param, kind, _default) in fast.COMMANDS[path][2].items():
        out.append(opt)
        if kind == fast.BOOL:
            out += [f"{opt}=false", f"{opt}=TRUE", f"{opt}=0", f"{opt}=maybe"] if opt.startswith("--") else \
                [opt + "x", opt + "=1"]
        elif opt.startswith("--"):
            out += [f"{opt}=v", f"{opt}=", f"{opt}=-3"]
        else:
            out += [opt + "v", opt + "=v"]
    return out


@st.composite
def command_lines(draw):
    path = draw(st.sampled_from(PATHS))
    return path, draw(st.lists(st.sampled_from(tokens(path)), max_size=7))


@settings(max_examples=1500, deadline=None)
@given(command_lines())
def test_fast_parser_agrees_with_click_or_steps_aside(case):
    path, argv = case
    module, function, flags, positional = fast.COMMANDS[path]
    ours = fast.parse(flags, argv, positional)
    if ours is not None:
        assert click_params(path, argv) == ours, (path, argv)


@pytest.mark.parametrize("path", PATHS, ids=" ".join)
def test_declared_flags_are_the_typer_commands_flags(path):
    """Same option strings, parameter names and defaults; and the ops function takes exactly them."""
    import importlib
    import inspect

    module, function, flags, positional = fast.COMMANDS[path]
    cmd = click_command(path)
    options = {o: p for p in cmd.params if p.param_type_name == "option" and p.name != "help" for o in p.opts}
    assert set(options) == set(flags)
    for opt, (param, _kind, _default) in flags.items():
        assert options[opt].name == param
    assert fast.parse(flags, [], positional) == click_params(path, [])
    takes_args = any(p.param_type_name == "argument" for p in cmd.params)
    assert takes_args == positional or path == ("version",)
    signature = inspect.signature(getattr(importlib.import_module(module), function))
    assert set(signature.parameters) == {"args", "changed"} | {p for p, _k, _d in flags.values()}


@pytest.mark.parametrize("argv", [["start", "vm1"], ["stop", "vm1", "--force", "--grace-period", "0", "--dry-run"],
                                  ["create", "vm", "--name=x", "--volume-import", "type:blank,size:1Gi"],
                                  ["get", "vm", "x", "-oyaml", "-A"], ["snapshot", "create", "vm1", "--wait"],
                                  ["migrate", "vm1", "--addedNodeSelector", "a=b"], ["version", "-c"]],
                         ids=" ".join)
def test_common_command_lines_take_the_fast_path(argv):
    found = fast.lookup(argv)
    assert found is not None
    (_m, _f, flags, positional), rest = found
    assert fast.parse(flags, rest, positional) is not None


@pytest.mark.parametrize("argv", [["start", "-h"], ["get", "vm", "-Aw"], ["start", "--", "x"], ["get", "vm", "-o"],
                                  ["start", "vm", "--wait", "--wait=false"], ["stop", "vm", "--grace-period", "1x"],
                                  ["version", "extra"], ["create", "--name", "x", "vm"], ["help", "start"],
                                  ["console", "vmi"], ["local", "status"]], ids=" ".join)
def test_anything_else_falls_back(argv):
    assert fast.run(argv) is None


def halted_vm(name: str) -> dict:
    from tests.conftest import load_example

    vm = load_example("vm-cirros")
    vm["metadata"]["name"] = name
    vm["spec"].pop("running", None)
    vm["spec"]["runStrategy"] = "Halted"
    return vm


GET_CASES = [
    ["get", "vm"], ["get", "vm", "vm1"], ["get", "vm", "vm1", "-o", "yaml"], ["get", "vm", "vm1", "missing"],
    ["get", "vms", "-o", "json"], ["get", "vm", "-o", "name"], ["get", "vm", "-o", "wide"], ["get", "vmi"],
    ["get", "vm", "-A"], ["get", "vm", "-o", "bogus"], ["get", "nosuchkind"], ["get"], ["get", "vm", "nope"],
    ["get", "vm", "-l", "app=x"], ["version", "--client"], ["version", "-c"], ["version"],
]
# command lines whose effect (if any) does not change what a second run prints
REPEATABLE = [
    ["start", "vm1", "--dry-run"], ["start", "vm1", "--paused", "--dry-run"], ["start", "ghost"], ["start"],
    ["start", "a", "b"], ["stop", "vm1", "--dry-run"], ["stop", "vm1", "--grace-period", "0"],
    ["stop", "vm1", "--force", "--grace-period=0", "--dry-run"], ["stop", "vm1", "--dry-run", "--force"],
    ["restart", "vm1", "--dry-run"], ["restart", "ghost"], ["migrate", "ghost", "--dry-run"],
    ["migrate", "vm1", "--addedNodeSelector", "bad"], ["migrate-cancel", "vm1"], ["migrate-cancel", "vm1", "--dry-run"],
    ["pause", "vm", "ghost"], ["pause", "vmi", "vm1", "--dry-run"], ["pause", "thing", "x"], ["unpause", "vm", "vm1"],
    ["unpause", "vmi", "ghost", "--dry-run"], ["soft-reboot", "ghost"], ["reset", "ghost"], ["reset"],
    ["start", "vm1", "--wait", "--timeout", "0s"], ["start", "vm1", "--timeout", "soon"],
    ["create", "vm", "--name", "x"], ["create", "vm", "--name=y", "--volume-containerdisk", "src:reg/img:1",
                                      "--user", "fedora", "--ssh-key", "ssh-ed25519 AAAA k", "--memory", "1Gi"],
    ["create", "vm", "--name", "z", "--volume-import", "name:v1,type:ds,src:my-ns/my-ds,size:50Gi",
     "--infer-instancetype", "--infer-preference=false"],
    ["create", "vm", "--name", "x", "--memory", "1Gi", "--instancetype", "it"], ["create", "vm", "stray"],
    ["create", "vm", "--name", "x", "--termination-grace-period", "12x"],
    ["create", "vm", "--name", "x", "--cloud-init-user-data", "I2Nsb3VkLWNvbmZpZwo="],
    ["create", "instancetype", "--name", "it", "--cpu", "2", "--memory", "256Mi", "--namespaced"],
    ["create", "instancetype", "--name", "it", "--cpu", "-2", "--memory", "256Mi"], ["create", "instancetype"],
    ["create", "preference", "--name", "p", "--machine-type", "q35", "--cpu-topology", "spread"],
    ["-n", "other", "create", "preference", "--name", "p", "--namespaced=true"],
    ["delete", "vm", "vm1", "--dry-run"], ["delete", "vm", "ghost"], ["delete", "vm"], ["delete"],
    ["delete", "nosuchkind", "x"], ["snapshot", "create", "ghost"], ["snapshot", "list"],
    ["snapshot", "list", "vm1"], ["snapshot", "list", "a", "b"], ["snapshot", "restore", "ghost"],
    ["snapshot", "delete", "ghost"], ["snapshot", "create"], ["apply"], ["apply", "-f", "/nonexistent.yaml"],
    ["apply", "-f", "-", "--dry-run"], ["apply", "--filename=-"],
    ["image-upload"], ["image-upload", "dv", "d1"], ["image-upload", "dv", "d1", "--image-path", "/nonexistent"],
    ["image-upload", "pvc", "d1", "--image-path=/etc/hostname", "--no-create"],
    ["image-upload", "dv", "d1", "--image-path", "/etc/hostname", "--retry", "x"],
    ["image-upload", "disk", "d1", "--image-path", "/etc/hostname"], ["image-upload", "dv", "d1", "--datasource"],
    ["image-upload", "dv", "d1", "--image-path", "/etc/hostname", "--archive-path", "/etc/hostname"],
]


@pytest.mark.parametrize("argv", GET_CASES + REPEATABLE, ids=" ".join)
def test_fast_and_full_paths_print_the_same(argv, kcli, api_server, monkeypatch):
    import virtctl.controller.actions  # noqa: F401  (the server's lifecycle actions)

    api_server.store.create(kinds.VM, "default", halted_vm("vm1"))
    quick = run_cli(argv)
    monkeypatch.setattr(fast, "run", lambda rest: None)
    full = run_cli(argv)
    # the two runs may fall either side of a second boundary: AGE may read 0s, then 1s
    assert (quick.code, without_age(quick.out), quick.err) == (full.code, without_age(full.out), full.err)
    if argv == ["get", "vm", "vm1"]:
        assert quick.code == 0 and quick.out.startswith("NAME ") and "vm1" in quick.out


@pytest.mark.parametrize("argv, undo", [
    (["snapshot", "create", "vm1", "--name", "s1"], ["snapshot", "delete", "s1"]),
    (["delete", "vm", "vm1"], None),
    (["snapshot", "delete", "s0"], None),
], ids=lambda a: " ".join(a) if a else "")
def test_fast_and_full_paths_make_the_same_change(argv, undo, kcli, api_server, monkeypatch):
    """Commands that change something: run, put things back, run the other way."""
    def setup() -> None:
        try:
            api_server.store.get(kinds.VM, "default", "vm1")
        except NotFound:
            api_server.store.create(kinds.VM, "default", halted_vm("vm1"))
        kcli(["snapshot", "create", "vm1", "--name", "s0"])

    setup()
    quick = run_cli(argv)
    if undo:
        assert run_cli(undo).code == 0
    setup()
    monkeypatch.setattr(fast, "run", lambda rest: None)
    full = run_cli(argv)
    assert quick.code == 0, quick.err
    assert (quick.code, quick.out, quick.err) == (full.code, full.out, full.err)


def test_apply_fast_and_full_paths_make_the_same_change(kcli, api_server, monkeypatch, tmp_path):
    manifest = tmp_path / "vm9.yaml"
    manifest.write_text(kcli(["create", "vm", "--name", "vm9", "--run-strategy", "Halted"]).out)
    results = []
    for fast_path in (True, False):
        if not fast_path:
            monkeypatch.setattr(fast, "run", lambda rest: None)
        created = run_cli(["apply", "-f", str(manifest)])
        unchanged = run_cli(["apply", "-f", str(manifest), "--dry-run"])
        results.append((created, unchanged))
        assert run_cli(["delete", "vm", "vm9"]).code == 0
    assert results[0][0].out == "virtualmachine.kubevirt.io/vm9 created\n"
    assert results[0] == results[1]
