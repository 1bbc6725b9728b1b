"""mypy and ruff on the whole package, with the configuration in pyproject.toml ([tool.mypy],
[tool.ruff]): the composition root, the runtime, the subresource contract and the store protocol
are checked with mypy's strict flags, the rest with its defaults."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _tool(name: str) -> str:
    exe = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if exe is None:
        pytest.fail(f"{name} is not installed (pip install -e '.[test]')")
    return exe


def test_mypy_is_clean() -> None:
    r = subprocess.run([_tool("mypy"), "--no-incremental"], cwd=ROOT, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]
    assert "Success: no issues found" in r.stdout


def test_the_strict_modules_are_checked_strictly(tmp_path: Path) -> None:
    """The per-module strict flags apply to the composition root's modules and not elsewhere: the same
    untyped function is refused in ``virtctl.controller.runtime`` and accepted in another module."""
    pkg = tmp_path / "virtctl" / "controller"
    pkg.mkdir(parents=True)
    for init in (tmp_path / "virtctl" / "__init__.py", pkg / "__init__.py"):
        init.write_text("")
    untyped = "def build(x):\n    return x\n"
    (pkg / "runtime.py").write_text(untyped)
    (pkg / "elsewhere.py").write_text(untyped)
    r = subprocess.run([_tool("mypy"), "--no-incremental", "--config-file", str(ROOT / "pyproject.toml"),
                        "virtctl/controller/runtime.py", "virtctl/controller/elsewhere.py"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert r.returncode == 1, r.stdout
    flagged = [line for line in r.stdout.splitlines() if "error:" in line]
    assert flagged and all(line.startswith("virtctl/controller/runtime.py") for line in flagged), r.stdout


def test_ruff_is_clean() -> None:
    r = subprocess.run([_tool("ruff"), "check", "virtctl"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]
