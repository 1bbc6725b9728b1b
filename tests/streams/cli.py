"""How tests run ``virtctl``: the installed module, in a child process (real argv, real exit codes)."""

from __future__ import annotations

import sys
from pathlib import Path


def virtctl_argv() -> list[str]:
    return [sys.executable, "-m", "virtctl"]


def kubectl_virt_argv() -> tuple[list[str], dict[str, str]]:
    """The ``kubectl-virt`` entry point (argv, extra environment)."""
    return [str(Path(sys.executable).with_name("kubectl-virt"))], {}
