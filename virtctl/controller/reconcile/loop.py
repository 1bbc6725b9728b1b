"""One keyed work queue with its worker threads, for the controllers that run beside the reconcile
manager (Service publishing, access credentials): ``add``/``add_after`` a key, ``start``, ``stop``.
A reconcile that raises :class:`~virtctl.controller.reconcile.vmi.Requeue` is looked at again after
its delay; any other exception is logged and retried with the queue's backoff, as in the manager.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from virtctl.controller.reconcile.queue import WorkQueue
from virtctl.controller.reconcile.vmi import Requeue

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)


class KeyedLoop(Generic[K]):
    def __init__(self, name: str, reconcile: Callable[[K], None], workers: int = 1):
        self.queue = WorkQueue[K](name)
        self._reconcile = reconcile
        self._workers = workers
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()

    def add(self, key: K) -> None:
        if not self._stop.is_set():
            self.queue.add(key)

    def add_after(self, key: K, delay: float) -> None:
        if not self._stop.is_set():
            self.queue.add_after(key, delay)

    def start(self) -> None:
        for i in range(self._workers):
            t = threading.Thread(target=self._work, name=f"reconcile-{self.queue.name}-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self.queue.shutdown()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))

    def idle(self) -> bool:
        return self.queue.idle()

    def _work(self) -> None:
        while not self._stop.is_set():
            key = self.queue.get()
            if key is None:
                return
            try:
                self._reconcile(key)
                self.queue.forget(key)
            except Requeue as r:
                self.queue.forget(key)
                self.queue.add_after(key, r.delay)
            except Exception as e:
                if self._stop.is_set():
                    return
                delay = self.queue.add_rate_limited(key)
                log.warning("%s %s: %s (retry in %.2fs)", self.queue.name, key, e, delay,
                            exc_info=log.isEnabledFor(logging.DEBUG))
            finally:
                self.queue.done(key)
