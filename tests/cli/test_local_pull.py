"""``virtctl local pull``: an image from a real registry on loopback into the controller's cache,
with a progress bar only on a terminal."""

from __future__ import annotations

import os
import subprocess
import sys

import pexpect

from tests.controller.storage.registry_fixture import local_registry, make_tar  # noqa: F401  (fixture)


def _env(tmp_path):
    return dict(os.environ, VIRTCTL_STATE_DIR=str(tmp_path / "state"), KUBECONFIG=str(tmp_path / "kubeconfig"))


def test_pull_without_a_terminal_prints_only_the_result(local_registry, tmp_path):  # noqa: F811
    digest = local_registry.push_image("pull/plain", "v1", [make_tar([("disk/disk.img", os.urandom(4096))])])
    image = f"{local_registry.host}/pull/plain:v1"
    r = subprocess.run([sys.executable, "-m", "virtctl", "local", "pull", image], env=_env(tmp_path),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"{image}: pulled {digest}\n"
    assert r.stderr == ""
    assert any((tmp_path / "state" / "images").rglob("disk.img"))


def test_pull_on_a_terminal_draws_a_progress_bar(local_registry, tmp_path):  # noqa: F811
    local_registry.push_image("pull/tty", "v1", [make_tar([("disk/disk.img", os.urandom(256 * 1024))])],
                              compress=False)
    image = f"{local_registry.host}/pull/tty:v1"
    child = pexpect.spawn(sys.executable, ["-m", "virtctl", "local", "pull", image], env=_env(tmp_path),
                          timeout=60, encoding="utf-8", dimensions=(24, 120))
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    assert "kB" in child.before or "MB" in child.before      # rich's DownloadColumn
    assert f"{image}: pulled sha256:" in child.before


def test_pull_of_a_missing_image_is_one_line(local_registry, tmp_path):  # noqa: F811
    image = f"{local_registry.host}/pull/none:v1"
    r = subprocess.run([sys.executable, "-m", "virtctl", "local", "pull", image], env=_env(tmp_path),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert len(r.stderr.strip().splitlines()) == 1 and "not found" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
