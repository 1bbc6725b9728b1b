"""How tests run ``virtctl``: the installed module, in a child process (real argv, real exit codes).

Until ``console`` and ``vnc`` are in the CLI's command table, :data:`LAUNCHER` adds them first.
"""

from __future__ import annotations

import sys
from pathlib import Path

from virtctl.cli import registry

LAUNCHER = Path(__file__).with_name("_launch.py")


def registered() -> bool:
    return "console" in registry.COMMANDS and "vnc" in registry.COMMANDS


def virtctl_argv() -> list[str]:
    return [sys.executable, "-m", "virtctl"] if registered() else [sys.executable, str(LAUNCHER)]


def kubectl_virt_argv() -> tuple[list[str], dict[str, str]]:
    """The ``kubectl-virt`` entry point (argv, extra environment)."""
    if registered():
        return [str(Path(sys.executable).with_name("kubectl-virt"))], {}
    return [sys.executable, str(LAUNCHER)], {"VIRTCTL_TEST_ARGV0": "kubectl-virt"}
