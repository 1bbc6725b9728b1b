"""The start-up fast path (virtctl.cli.fast): it parses exactly what click would, falls back for
anything else, prints exactly what the full command prints, and leaves typer, yaml, http.client and
dataclasses unimported on ``get`` and ``version --client``."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer._click import exceptions as cx

from tests.cli.conftest import run_cli
from virtctl.cli import fast, lazy
from virtctl.errors import VirtctlError

TOKENS = ["vm", "vmi", "vms", "x", "y", "-", "-o", "yaml", "json", "-oyaml", "-o=json", "--output", "--output=wide",
          "--output=", "-w", "--watch", "-A", "--all-namespaces", "-l", "a=b", "-la=b", "--selector", "--selector=a",
          "-Aw", "--", "--watch=false", "--watch=true", "-h", "--help", "--bogus", "-x", "-w=1"]


def click_params(argv: list[str]) -> dict | None:
    cmd = lazy.load("get")
    try:
        ctx = cmd.make_context("get", list(argv))
    except (cx.ClickException, VirtctlError):
        return None
    p = ctx.params
    return {"words": list(p["args"] or []), "output": p["output"], "watch": p["watch"], "selector": p["selector"],
            "all_namespaces": p["all_namespaces"]}


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=6))
def test_fast_parser_agrees_with_click_or_steps_aside(argv):
    ours = fast.parse_get(argv)
    if ours is not None:
        assert click_params(argv) == ours


@pytest.mark.parametrize("argv", [["vm", "-o", "yaml"], ["vm", "x", "-oyaml", "-A"], ["vmi", "--output=wide", "-w"],
                                  ["vm", "-l", "a=b", "--all-namespaces"]])
def test_common_command_lines_take_the_fast_path(argv):
    assert fast.parse_get(argv) is not None


@pytest.mark.parametrize("argv", [["vm", "-h"], ["vm", "-Aw"], ["vm", "--", "x"], ["vm", "-o"], ["vm", "--watch=false"]])
def test_anything_else_falls_back(argv):
    assert fast.parse_get(argv) is None


CASES = [
    ["get", "vm"], ["get", "vm", "vm1"], ["get", "vm", "vm1", "-o", "yaml"], ["get", "vm", "vm1", "missing"],
    ["get", "vms", "-o", "json"], ["get", "vm", "-o", "name"], ["get", "vm", "-o", "wide"], ["get", "vmi"],
    ["get", "vm", "-A"], ["get", "vm", "-o", "bogus"], ["get", "nosuchkind"], ["get"], ["get", "vm", "nope"],
    ["get", "vm", "-l", "app=x"], ["version", "--client"], ["version", "-c"],
]


@pytest.mark.parametrize("argv", CASES, ids=" ".join)
def test_fast_and_full_paths_print_the_same(argv, kcli, monkeypatch):
    manifest = kcli(["create", "vm", "--name", "vm1", "--run-strategy", "Halted"]).out
    assert kcli(["apply", "-f", "-"], stdin=manifest).code == 0
    quick = run_cli(argv)
    monkeypatch.setattr(fast, "run", lambda rest: None)
    full = run_cli(argv)
    assert (quick.code, quick.out, quick.err) == (full.code, full.out, full.err)
    if argv[:2] == ["get", "vm"] and argv[2:] == ["vm1"]:
        assert quick.code == 0 and quick.out.startswith("NAME ") and "vm1" in quick.out


PROBE = """
import io, json, sys
out = io.StringIO()
real, sys.stdout = sys.stdout, out
from virtctl.cli.main import main
code = main({argv!r})
sys.stdout = real
print(json.dumps({{"code": code, "out": out.getvalue(), "modules": sorted(sys.modules)}}))
"""


@pytest.mark.parametrize("argv", [["get", "vm", "vm1"], ["get", "vm", "-o", "json"], ["version", "--client"]],
                         ids=" ".join)
def test_fast_path_imports_stay_light(argv, kcli, api_server, tmp_path):
    manifest = kcli(["create", "vm", "--name", "vm1", "--run-strategy", "Halted"]).out
    assert kcli(["apply", "-f", "-"], stdin=manifest).code == 0
    assert kcli(["get", "vm", "vm1"]).code == 0
    env = dict(os.environ, KUBECONFIG=str(api_server.kubeconfig_path))
    r = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True, env=env,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert result["code"] == 0 and ("vm1" in result["out"] or "Client Version" in result["out"])
    loaded = {m.split(".")[0] for m in result["modules"]} | set(result["modules"])
    heavy = {"typer", "click", "yaml", "http.client", "dataclasses", "kubernetes", "rich", "email"} & loaded
    assert not heavy, sorted(heavy)
