"""Download progress for image pulls: a rich progress bar per layer on a terminal, nothing
otherwise (scripts get the final line only). rich is imported only when a bar is drawn."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Callable, Iterator

ProgressFn = Callable[[str, int, int], None]


@contextmanager
def layer_progress(stream=None) -> Iterator[ProgressFn]:
    """Yields ``progress(layer_digest, done_bytes, total_bytes)`` for the image cache to call."""
    stream = stream or sys.stderr
    if not stream.isatty():
        yield lambda digest, done, total: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    bars = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                    console=Console(file=stream), transient=False)
    tasks: dict = {}

    def update(digest: str, done: int, total: int) -> None:
        if digest not in tasks:
            tasks[digest] = bars.add_task(digest.split(":")[-1][:12], total=total or None)
        bars.update(tasks[digest], completed=done, total=total or None)

    with bars:
        yield update
