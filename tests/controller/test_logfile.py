"""The controller log rotates by size and every file of it is private."""

from __future__ import annotations

import logging
import os
import stat

from virtctl.controller.logfile import PrivateRotatingFileHandler


def test_the_log_rotates_and_stays_private(tmp_path):
    path = tmp_path / "controller.log"
    old = os.umask(0o022)
    try:
        handler = PrivateRotatingFileHandler(path, max_bytes=4096, backups=2)
        log = logging.getLogger("virtctl.test-logfile")
        log.propagate = False
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        for i in range(1000):
            log.info("line %d %s", i, "x" * 100)
        handler.close()
        log.removeHandler(handler)
    finally:
        os.umask(old)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["controller.log", "controller.log.1", "controller.log.2"]
    for name in files:
        st = (tmp_path / name).stat()
        assert stat.S_IMODE(st.st_mode) == 0o600, name
        assert st.st_size <= 4096
    assert "line 999" in path.read_text()
