"""With no usable kubeconfig at all, commands use the local controller (starting it) and say so
once; an explicit --kubeconfig always wins."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

NOTICE = "No kubeconfig found: using the local virtctl controller at https://127.0.0.1:"


def run(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "virtctl", *args], env=env, capture_output=True, text=True,
                          timeout=90, stdin=subprocess.DEVNULL)


@pytest.fixture
def bare_home(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    # an unreachable libvirt: this test is about the API, not about guests
    state = tmp_path / "state"
    state.mkdir()
    (state / "config.yaml").write_text("libvirtURIs: ['test:///default']\n")
    env.update(HOME=str(tmp_path), VIRTCTL_STATE_DIR=str(state))
    yield env
    run(env, "local", "down")


def test_no_kubeconfig_starts_the_local_controller_and_says_so_once(bare_home, tmp_path):
    first = run(bare_home, "get", "vm")
    assert first.returncode == 0, first.stderr
    assert first.stderr.count(NOTICE) == 1, first.stderr
    assert "No resources found in default namespace." in first.stderr
    # the controller now runs, with a kubeconfig context: no more notice, same server
    kubeconfig = tmp_path / ".kube" / "config"
    assert kubeconfig.stat().st_mode & 0o777 == 0o600
    again = run(bare_home, "get", "vm")
    assert again.returncode == 0 and NOTICE not in again.stderr, again.stderr
    status = run(bare_home, "local", "status")
    assert status.returncode == 0 and "is running at https://127.0.0.1:" in status.stdout


def test_an_explicit_kubeconfig_wins_even_when_missing(bare_home, tmp_path):
    missing = tmp_path / "nope.yaml"
    r = run(bare_home, "--kubeconfig", str(missing), "get", "vm")
    assert r.returncode == 1
    assert NOTICE not in r.stderr
    assert str(missing) in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path / "state" / "server.json").exists()      # nothing was started
