"""Fixtures shared by the API server's tests."""

from __future__ import annotations

import logging
from typing import Iterator

import pytest


@pytest.fixture
def no_traceback_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fails the test when the server logged an error or a traceback while it ran."""
    caplog.set_level(logging.INFO, logger="virtctl")
    yield
    # in teardown ``caplog.records`` holds only teardown's records: read the test's own
    bad = [r for r in caplog.get_records("setup") + caplog.get_records("call")
           if r.exc_info or r.levelno >= logging.ERROR]
    assert not bad, [r.getMessage() for r in bad]
