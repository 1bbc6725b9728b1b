"""Run the real CLI in-process and capture what it prints."""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest


@dataclass
class CliResult:
    code: int
    out: str
    err: str


def run_cli(args: list[str], stdin: str = "", argv0: str = "virtctl") -> CliResult:
    from virtctl.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdin, sys.stdout, sys.stderr
    sys.stdin, sys.stdout, sys.stderr = io.StringIO(stdin), out, err
    try:
        code = main(list(args), argv0=argv0)
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved
    return CliResult(code, out.getvalue(), err.getvalue())


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[..., CliResult]:
    """The CLI with no kubeconfig of the user in sight (HOME and KUBECONFIG point into tmp)."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("VIRTCTL_STATE_DIR", str(tmp_path / "state"))
    return run_cli


@pytest.fixture
def kcli(cli, api_server, monkeypatch: pytest.MonkeyPatch) -> Callable[..., CliResult]:
    """The CLI pointed at a fresh embedded API server through KUBECONFIG."""
    monkeypatch.setenv("KUBECONFIG", str(api_server.kubeconfig_path))
    return cli
