"""A keyed work queue with the semantics of client-go's rate-limiting workqueue.

* a key waits in the queue at most once, however often it is added;
* a key being processed is never handed to a second worker; if it is added meanwhile, it is
  processed again once the first worker calls :meth:`WorkQueue.done`;
* :meth:`add_rate_limited` retries with exponential backoff (``base * 2**failures``, capped), and
  :meth:`forget` resets the count after a success; :meth:`add_after` delays an add;
* :meth:`shutdown` wakes every waiting worker; :meth:`get` then returns None.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from typing import Generic, Hashable, TypeVar

K = TypeVar("K", bound=Hashable)


class WorkQueue(Generic[K]):
    def __init__(self, name: str = "", *, base_delay: float = 0.005, max_delay: float = 60.0):
        self.name = name
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._cond = threading.Condition()
        self._queue: deque[K] = deque()
        self._dirty: set[K] = set()        # keys waiting to be processed
        self._processing: set[K] = set()   # keys a worker holds
        self._failures: dict[K, int] = {}
        self._delayed: list[tuple[float, int, K]] = []   # (due, seq, key); stale entries skipped
        self._waiting: dict[K, float] = {}                # key -> its earliest due time
        self._seq = itertools.count()
        self._shutdown = False

    # --- adding -----------------------------------------------------------------------------
    def add(self, key: K) -> None:
        with self._cond:
            self._add_locked(key)

    def _add_locked(self, key: K) -> None:
        if self._shutdown or key in self._dirty:
            return
        self._dirty.add(key)
        if key not in self._processing:
            self._queue.append(key)
            self._cond.notify()

    def add_after(self, key: K, delay: float) -> None:
        if delay <= 0:
            self.add(key)
            return
        due = time.monotonic() + delay
        with self._cond:
            if self._shutdown:
                return
            if key in self._waiting and self._waiting[key] <= due:
                return                          # already due earlier: one delayed add per key
            self._waiting[key] = due
            heapq.heappush(self._delayed, (due, next(self._seq), key))
            self._cond.notify()

    def add_rate_limited(self, key: K) -> float:
        """Re-add ``key`` after its backoff delay; returns that delay."""
        with self._cond:
            n = self._failures.get(key, 0)
            self._failures[key] = n + 1
        delay = min(self.base_delay * (2 ** min(n, 64)), self.max_delay)   # a bounded exponent: no float overflow
        self.add_after(key, delay)
        return delay

    def forget(self, key: K) -> None:
        with self._cond:
            self._failures.pop(key, None)

    def failures(self, key: K) -> int:
        with self._cond:
            return self._failures.get(key, 0)

    # --- processing -----------------------------------------------------------------------------
    def get(self, timeout: float | None = None) -> K | None:
        """The next key to process (the caller must call :meth:`done`), or None on shutdown/timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                if self._shutdown:
                    return None
                self._promote_due_locked()
                if self._queue:
                    key = self._queue.popleft()
                    self._processing.add(key)
                    self._dirty.discard(key)
                    return key
                wait = None
                if self._delayed:
                    wait = max(0.0, self._delayed[0][0] - time.monotonic())
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return None
                    wait = left if wait is None else min(wait, left)
                self._cond.wait(wait)

    def _promote_due_locked(self) -> None:
        now = time.monotonic()
        while self._delayed and self._delayed[0][0] <= now:
            due, _, key = heapq.heappop(self._delayed)
            if self._waiting.get(key) != due:
                continue                        # superseded by an earlier due time
            del self._waiting[key]
            self._add_locked(key)

    def done(self, key: K) -> None:
        with self._cond:
            self._processing.discard(key)
            if key in self._dirty and not self._shutdown:
                self._queue.append(key)
                self._cond.notify()

    # --- state -----------------------------------------------------------------------------------
    def __len__(self) -> int:
        with self._cond:
            return len(self._queue)

    def idle(self) -> bool:
        """Nothing queued, nothing being processed (delayed adds are not counted)."""
        with self._cond:
            return not self._queue and not self._processing

    def shutdown(self) -> None:
        with self._cond:
            self._shutdown = True
            self._queue.clear()
            self._delayed.clear()
            self._waiting.clear()
            self._cond.notify_all()
