"""The serial console session over an open websocket (docs/compatibility.md#console).

Two modes, chosen by whether stdin is a terminal:

* TTY: raw terminal (always restored), Ctrl+] at the start of a read chunk ends the session,
  stdin EOF ends it, Ctrl+C goes to the guest.
* script (stdin not a TTY; beyond Go virtctl): stdin is sent as it arrives; after stdin EOF the
  guest's answer is still read until it has been quiet for ``QUIET_AFTER_EOF`` seconds, so
  ``printf 'cmd\\n' | virtctl console vm`` prints the command's output; the whole command is bounded
  by ``--timeout``.

Guest output goes to stdout unbuffered (``os.write``) from a reader thread; the main thread waits
on stdin and a wake-up pipe, so signals (SIGTERM, SIGHUP, SIGINT) interrupt it promptly.
"""

from __future__ import annotations

import os
import selectors
import threading
import time
from dataclasses import dataclass
from typing import Any, TextIO

from virtctl.streams import protocol
from virtctl.streams.dial import close_code
from virtctl.streams.terminal import RawTerminal, Terminated


@dataclass
class ConsoleIO:
    stdin_fd: int
    stdout_fd: int
    stderr: TextIO


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


class _Receiver(threading.Thread):
    """Copies guest output to stdout until the websocket ends; then pokes the main thread."""

    def __init__(self, ws: Any, out_fd: int, wake_fd: int):
        super().__init__(name="console-recv", daemon=True)
        self.ws, self.out_fd, self.wake_fd = ws, out_fd, wake_fd
        self.last_output = time.monotonic()
        self.output_gone = False                  # stdout closed (e.g. `| head`)

    def run(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            while True:
                try:
                    msg = self.ws.recv()
                except ConnectionClosed:
                    break
                if isinstance(msg, bytes):        # text frames are ignored, as in Go virtctl
                    try:
                        write_all(self.out_fd, msg)
                    except OSError:
                        self.output_gone = True
                        break
                    self.last_output = time.monotonic()
        finally:
            try:
                os.write(self.wake_fd, b"x")
            except OSError:
                pass


def run_session(ws: Any, vmi: str, io: ConsoleIO, *, deadline: float | None = None,
                tty: bool | None = None) -> protocol.Outcome:
    """Bridge stdin/stdout and the console websocket until it ends; the outcome says what to print.

    ``deadline`` (``time.monotonic()`` value) bounds a script-mode session; it is ignored on a TTY.
    """
    if tty is None:
        tty = os.isatty(io.stdin_fd)
    io.stderr.write(protocol.connected_message(vmi))
    io.stderr.flush()
    wake_r, wake_w = os.pipe()
    receiver = _Receiver(ws, io.stdout_fd, wake_w)
    try:
        with RawTerminal(io.stdin_fd) if tty else _NoTerminal():
            receiver.start()
            ended_by_us = _pump_stdin(ws, io.stdin_fd, wake_r, receiver, tty=tty,
                                      deadline=None if tty else deadline)
    except Terminated as t:
        _close(ws)
        return protocol.Outcome(128 + t.signum)
    except KeyboardInterrupt:                     # SIGINT (non-TTY, or sent by another process)
        _close(ws)
        return protocol.Outcome(0)
    finally:
        receiver.join(timeout=3)
        os.close(wake_r)
        os.close(wake_w)
    if ended_by_us or receiver.output_gone:
        return protocol.Outcome(0)
    code, reason = close_code(ws)
    return protocol.close_outcome(code, reason)


class _NoTerminal:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _close(ws: Any) -> None:
    try:
        ws.close(1000)
    except Exception:                             # closing a dead connection: nothing left to do
        pass


def _pump_stdin(ws: Any, stdin_fd: int, wake_r: int, receiver: _Receiver, *, tty: bool,
                deadline: float | None) -> bool:
    """Send stdin to the guest. True when the session was ended from this side."""
    from websockets.exceptions import ConnectionClosed

    sel = selectors.PollSelector()                # poll, not epoll: stdin may be a regular file or /dev/null
    sel.register(wake_r, selectors.EVENT_READ)
    try:
        sel.register(stdin_fd, selectors.EVENT_READ)
        stdin_open = True
    except (OSError, ValueError):
        stdin_open = False
    eof_at: float | None = None if stdin_open else time.monotonic()
    try:
        while True:
            now = time.monotonic()
            wait: float | None = None
            if deadline is not None:
                if now >= deadline:
                    _close(ws)
                    return True
                wait = deadline - now
            if eof_at is not None:
                if tty:
                    _close(ws)
                    return True
                quiet_until = max(eof_at, receiver.last_output) + protocol.QUIET_AFTER_EOF
                if now >= quiet_until:
                    _close(ws)
                    return True
                wait = quiet_until - now if wait is None else min(wait, quiet_until - now)
            for key, _ in sel.select(wait):
                if key.fd == wake_r:
                    return False                  # the server side ended (or stdout went away)
                try:
                    data = os.read(stdin_fd, protocol.STDIN_CHUNK)
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(stdin_fd)
                    eof_at = time.monotonic()
                    continue
                if protocol.is_escape(data):
                    _close(ws)
                    return True
                try:
                    ws.send(data)
                except ConnectionClosed:
                    return False
    finally:
        sel.close()
