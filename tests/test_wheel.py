"""The built wheel, installed into a fresh venv without the ``standalone`` extra (no libvirt-python,
no compiler needed): cluster mode works against a real API server (started from the test's own
venv), and standalone mode says in one line which extra it needs.

Needs PyPI (or a pip cache) for the wheel's dependencies; the venv is kept in ~/.cache between runs
(keyed by the dependency list), so only the wheel itself is reinstalled each time.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HINT = "pip install 'virtctl[standalone]'"


def _run(cmd: list[str], timeout: float = 600, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built from a copy of the tree (no build/ directory left in the shared checkout)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "virtctl", src / "virtctl", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("dist")
    res = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(src)])
    if res.returncode != 0:
        if "Could not find a version" in res.stderr or "connection" in res.stderr.lower():
            pytest.skip(f"no package index reachable to fetch the build backend: {res.stderr.strip()[-200:]}")
        raise AssertionError(res.stderr)
    (built,) = out.glob("virtctl-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path) -> Path:
    """A venv with the wheel and its declared dependencies only (not the standalone extra)."""
    metadata = _run([sys.executable, "-c", "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); "
                     "print(next(z.read(n).decode() for n in z.namelist() if n.endswith('METADATA')))", str(wheel)])
    requires = sorted(line for line in metadata.stdout.splitlines() if line.startswith("Requires-Dist:"))
    key = hashlib.sha256("\n".join(requires + [sys.version]).encode()).hexdigest()[:12]
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "virtctl-tests" / f"wheel-venv-{key}"
    python = cache / "bin" / "python"
    base = getattr(sys, "_base_executable", sys.executable)
    if not (cache / ".complete").exists():
        shutil.rmtree(cache, ignore_errors=True)
        res = _run([base, "-m", "venv", str(cache)])
        assert res.returncode == 0, res.stderr
        res = _run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)])
        if res.returncode != 0:
            shutil.rmtree(cache, ignore_errors=True)
            if "Could not find a version" in res.stderr or "connection" in res.stderr.lower():
                pytest.skip(f"no package index reachable for the wheel's dependencies: {res.stderr.strip()[-200:]}")
            raise AssertionError(res.stderr)
        (cache / ".complete").touch()
    res = _run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
                "--force-reinstall", str(wheel)])
    assert res.returncode == 0, res.stderr
    return cache


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTCTL_", "KUBERNETES_", "PYTHON"))}
    env.update(HOME=str(tmp_path / "home"), VIRTCTL_STATE_DIR=str(tmp_path / "state"))
    env.pop("KUBECONFIG", None)
    env.update(extra)
    return env


def test_the_wheel_installs_without_the_standalone_extra(venv: Path) -> None:
    res = _run([str(venv / "bin" / "python"), "-c", "import libvirt"])
    assert res.returncode != 0 and "No module named 'libvirt'" in res.stderr
    listed = _run([str(venv / "bin" / "python"), "-m", "pip", "list", "--format=freeze"]).stdout.lower()
    for dist in ("libvirt-python", "pycdlib", "cryptography", "jsonschema"):
        assert f"{dist}==" not in listed


def test_cluster_mode_works_from_the_wheel(venv: Path, api_server, tmp_path: Path) -> None:
    vm = {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {"name": "from-wheel"},
          "spec": {"runStrategy": "Halted", "template": {"spec": {"domain": {"devices": {}}}}}}
    assert api_server.request("POST", "/apis/kubevirt.io/v1/namespaces/default/virtualmachines", vm).status == 201
    env = _env(tmp_path, KUBECONFIG=str(api_server.kubeconfig_path))
    res = _run([str(venv / "bin" / "virtctl"), "get", "vm"], timeout=60, env=env, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[0].split()[:2] == ["NAME", "AGE"] and "from-wheel" in res.stdout
    res = _run([str(venv / "bin" / "virtctl"), "stop", "from-wheel"], timeout=60, env=env, cwd=tmp_path)
    assert res.returncode == 1 and "Traceback" not in res.stderr      # Halted already: the server's refusal
    assert "ModuleNotFound" not in res.stderr and "No module named" not in res.stderr


@pytest.mark.parametrize("args", [["local", "up"], ["local", "status"], ["get", "vm"]])
def test_standalone_mode_names_the_extra(venv: Path, tmp_path: Path, args: list[str]) -> None:
    # `get vm` without any kubeconfig falls back to the local controller: the same line
    res = _run([str(venv / "bin" / "virtctl"), *args], timeout=60, env=_env(tmp_path), cwd=tmp_path)
    assert res.returncode == 1 and res.stdout == "", res
    assert res.stderr.count("\n") == 1 and HINT in res.stderr and "libvirt-python" in res.stderr, res.stderr
