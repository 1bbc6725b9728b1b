"""Compile the package before timing start-up, as ``pip install`` does: an editable install (or
``PYTHONDONTWRITEBYTECODE``) would otherwise make every timed run compile it again."""

from __future__ import annotations

import compileall
from pathlib import Path

import virtctl


def compile_package() -> None:
    compileall.compile_dir(str(Path(virtctl.__file__).parent), quiet=1)
