"""Raw terminal mode that is always undone.

The saved attributes are restored on every way out of the ``with`` block (escape, EOF, server gone,
exception) and also when the process is told to stop: SIGTERM, SIGHUP and SIGQUIT are turned into a
:class:`Terminated` exception in the main thread while the terminal is raw, so the ``finally`` runs;
``atexit`` covers an interpreter shutting down under us.
"""

from __future__ import annotations

import atexit
import os
import signal
import termios
import threading
from types import FrameType
from typing import Any

from virtctl.errors import VirtctlError

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


class Terminated(Exception):
    """The process received a stop signal during a session."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def make_raw(attrs: list[Any]) -> list[Any]:
    """cfmakeraw(3), as Go's ``term.MakeRaw``: no echo, no line editing, no signals, no output
    post-processing, 8-bit bytes; reads return as soon as one byte is there."""
    iflag, oflag, cflag, lflag, ispeed, ospeed, cc = attrs
    iflag &= ~(termios.IGNBRK | termios.BRKINT | termios.PARMRK | termios.ISTRIP
               | termios.INLCR | termios.IGNCR | termios.ICRNL | termios.IXON)
    oflag &= ~termios.OPOST
    lflag &= ~(termios.ECHO | termios.ECHONL | termios.ICANON | termios.ISIG | termios.IEXTEN)
    cflag &= ~(termios.CSIZE | termios.PARENB)
    cflag |= termios.CS8
    cc = list(cc)
    cc[termios.VMIN] = 1
    cc[termios.VTIME] = 0
    return [iflag, oflag, cflag, lflag, ispeed, ospeed, cc]


class RawTerminal:
    """``with RawTerminal(fd):`` puts a TTY in raw mode (a no-op when ``fd`` is not a TTY)."""

    def __init__(self, fd: int):
        self.fd = fd
        self.active = False
        self._saved: list[Any] | None = None
        self._old_handlers: dict[int, Any] = {}

    def __enter__(self) -> RawTerminal:
        if not os.isatty(self.fd):
            return self
        try:
            self._saved = termios.tcgetattr(self.fd)
            termios.tcsetattr(self.fd, termios.TCSANOW, make_raw(self._saved))   # keep typed-ahead input
        except termios.error as e:
            self._saved = None
            raise VirtctlError(f"make raw terminal failed: {e.args[-1] if e.args else e}") from None
        self.active = True
        atexit.register(self.restore)
        if threading.current_thread() is threading.main_thread():
            for sig in _STOP_SIGNALS:
                self._old_handlers[sig] = signal.signal(sig, self._on_signal)
        return self

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # restore first: the exception may be caught by code that never reaches our finally
        self.restore()
        raise Terminated(signum)

    def restore(self) -> None:
        if self._saved is not None:
            try:
                termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
            except termios.error:
                pass                                  # the terminal is gone (hangup): nothing to restore
            self._saved = None
        self.active = False

    def __exit__(self, *exc: object) -> None:
        self.restore()
        atexit.unregister(self.restore)
        for sig, handler in self._old_handlers.items():
            signal.signal(sig, handler)
        self._old_handlers.clear()
