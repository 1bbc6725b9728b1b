"""The dependency rules of docs/architecture.md#dependency-direction, checked by import-linter on
the whole tree (.importlinter).
The layers contract also guarantees that nothing imports virtctl.cli."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_hold() -> None:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert exe, "lint-imports (import-linter) is not installed"
    r = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "0 broken" in r.stdout
    # the controller's own layers are among the contracts checked (not silently dropped from the file)
    assert "Layers inside the controller" in r.stdout, r.stdout[-4000:]
