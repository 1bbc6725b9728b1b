"""Live migrations under way in this process, and the hand-shake that cancels one.

The transfer blocks its own thread for as long as it takes; the migration controller's queue stays
free, so a reconcile can see the migration object being deleted and abort the transfer. Before
the thread has handed the domain to the hypervisor, a cancel just stops it from starting; after
that it is the hypervisor's abort.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable

from virtctl.controller.virt.hypervisor import Hypervisor


@dataclass
class Job:
    uid: str                     # the migration object's
    domain: str
    source: Hypervisor
    target: Hypervisor
    abort_sent: bool = False     # the hypervisor accepted an abort
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _canceled: bool = False
    _started: bool = False

    def begin(self) -> bool:
        """Called by the thread right before migrating: False when canceled already."""
        with self._lock:
            self._started = not self._canceled
            return self._started

    def cancel(self) -> tuple[bool, bool]:
        """Ask for the end of this migration: (first time asked, whether it may be under way)."""
        with self._lock:
            first = not self._canceled
            self._canceled = True
            return first, self._started

    @property
    def canceled(self) -> bool:
        with self._lock:
            return self._canceled


class Jobs:
    """The registry, by migration uid. A job leaves it only after its final status is written, so
    a migration that is not final and not here was cut short by a controller restart."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}

    def get(self, uid: str) -> Job | None:
        with self._lock:
            return self._jobs.get(uid)

    def run(self, job: Job, work: Callable[[Job], None]) -> None:
        with self._lock:
            self._jobs[job.uid] = job

        def main() -> None:
            try:
                work(job)
            finally:
                with self._lock:
                    self._jobs.pop(job.uid, None)

        threading.Thread(target=main, name=f"migration-{job.domain}", daemon=True).start()
