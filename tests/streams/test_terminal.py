"""Raw mode on a real pseudo-terminal, and its restoration on every way out."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import termios
import textwrap

import pytest

from virtctl.errors import VirtctlError
from virtctl.streams.terminal import RawTerminal


@pytest.fixture
def pty():
    master, slave = os.openpty()
    yield master, slave
    os.close(master)
    os.close(slave)


def test_raw_then_restored(pty):
    _, slave = pty
    before = termios.tcgetattr(slave)
    with RawTerminal(slave) as t:
        assert t.active
        raw = termios.tcgetattr(slave)
        assert not raw[3] & (termios.ECHO | termios.ICANON | termios.ISIG)
        assert not raw[1] & termios.OPOST
    assert termios.tcgetattr(slave) == before


def test_restored_after_exception(pty):
    _, slave = pty
    before = termios.tcgetattr(slave)
    with pytest.raises(RuntimeError):
        with RawTerminal(slave):
            raise RuntimeError("boom")
    assert termios.tcgetattr(slave) == before


def test_not_a_tty_is_a_no_op(tmp_path):
    with open(tmp_path / "f", "w") as f, RawTerminal(f.fileno()) as t:
        assert not t.active


def test_failure_message(pty):
    _, slave = pty
    t = RawTerminal(slave)
    t.fd = 987654          # not open any more once isatty passed: tcgetattr fails
    orig = os.isatty
    try:
        os.isatty = lambda fd: True
        with pytest.raises(VirtctlError, match="^make raw terminal failed: "):
            t.__enter__()
    finally:
        os.isatty = orig


def test_sigterm_restores_in_a_real_process(pty):
    """A process in raw mode killed with SIGTERM leaves the terminal as it found it."""
    _, slave = pty
    before = termios.tcgetattr(slave)
    code = textwrap.dedent("""
        import sys, time
        from virtctl.streams.terminal import RawTerminal, Terminated
        try:
            with RawTerminal(0):
                print("raw", flush=True)
                time.sleep(30)
        except Terminated as t:
            sys.exit(100 + t.signum)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=slave, stdout=subprocess.PIPE)
    assert proc.stdout.readline() == b"raw\n"
    assert termios.tcgetattr(slave) != before
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 100 + signal.SIGTERM
    assert termios.tcgetattr(slave) == before
