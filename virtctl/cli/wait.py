"""``--wait``/``--timeout``: poll until an object reaches the state a command asked for.

A rich spinner on a terminal (rich is imported only then), silent otherwise."""

from __future__ import annotations

import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:                  # typing costs ≈ 2 ms per process; annotations only
    from collections.abc import Callable

from virtctl.errors import Timeout, UsageError
from virtctl.model.durations import parse_duration

DEFAULT_TIMEOUT = "5m"
POLL_INTERVAL = 0.25


def parse_timeout(value: str) -> float:
    try:
        seconds = parse_duration(value)
    except ValueError:
        try:
            seconds = float(value)
        except ValueError:
            raise UsageError(f'invalid argument "{value}" for "--timeout" flag: time: invalid duration '
                             f'"{value}"') from None
    if seconds <= 0:
        raise UsageError(f'invalid argument "{value}" for "--timeout" flag: must be greater than zero')
    return seconds


def wait_until(check: Callable[[], tuple[bool, str]], *, what: str, target: str, timeout: float) -> str:
    """Call ``check() -> (done, state)`` until done; raise :class:`Timeout` naming the last state."""
    deadline = time.monotonic() + timeout
    spinner = None
    last = ""
    if sys.stderr.isatty():
        from rich.console import Console

        spinner = Console(stderr=True).status(f"Waiting for {what} to be {target}")
        spinner.start()
    try:
        while True:
            done, last = check()
            if done:
                return last
            if time.monotonic() >= deadline:
                raise Timeout(f"timed out waiting for {what} to be {target} (last seen: {last or 'unknown'})")
            if spinner is not None:
                spinner.update(f"Waiting for {what} to be {target} (now: {last or 'unknown'})")
            time.sleep(POLL_INTERVAL)
    finally:
        if spinner is not None:
            spinner.stop()
