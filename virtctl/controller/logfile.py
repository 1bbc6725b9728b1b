"""The controller's log file: size-bounded (rotated at ``MAX_BYTES``, ``BACKUPS`` old files kept) and
private (every file, the rotated ones included, is created 0600), see
docs/standalone.md#state-directory."""

from __future__ import annotations

import io
import logging.handlers
import os
from pathlib import Path
from typing import cast

MAX_BYTES = 10 * 1024 * 1024
BACKUPS = 3


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A RotatingFileHandler whose files are opened 0600 whatever the umask."""

    def __init__(self, path: Path | str, max_bytes: int = MAX_BYTES, backups: int = BACKUPS):
        super().__init__(str(path), maxBytes=max_bytes, backupCount=backups, encoding="utf-8", delay=False)

    def _open(self) -> io.TextIOWrapper:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.fchmod(fd, 0o600)
        return cast(io.TextIOWrapper, open(fd, self.mode, encoding=self.encoding, errors=self.errors))
