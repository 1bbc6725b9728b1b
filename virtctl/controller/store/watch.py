"""A watch on one kind: a queue of events fed by the store at commit time (under the store lock, so a
watch registered from resourceVersion N sees exactly the events after N, none twice)."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, Callable, Iterator

from virtctl.controller.store.selectors import Selector
from virtctl.model.kinds import Kind

MAX_QUEUED = 50_000              # a consumer this far behind is dropped; clients re-watch
BOOKMARK_INTERVAL = 30.0         # seconds of quiet before a BOOKMARK (when asked for)

Event = tuple[str, dict[str, Any]]


class Watch:
    """Iterate for ``(event_type, obj)``; ``get(timeout)`` for a bounded wait; ``stop()`` ends it."""

    def __init__(self, kind: Kind, namespace: str | None, selector: Selector, bookmarks: bool,
                 current_rv: Callable[[], str] | None = None, on_stop: Callable[[Watch], None] | None = None):
        self.kind = kind
        self.namespace = namespace
        self.selector = selector
        self.bookmarks = bookmarks
        self._current_rv = current_rv
        self._on_stop = on_stop
        self._queue: deque[Event] = deque()
        self._cond = threading.Condition()
        self._stopped = False
        self._last_sent = time.monotonic()
        self.overflowed = False

    # --- producer side (store) ---
    def _in_scope(self, obj: dict[str, Any]) -> bool:
        if self.namespace is None:
            return True
        return (obj.get("metadata") or {}).get("namespace", "") == self.namespace

    def offer(self, event_type: str, old: dict[str, Any] | None, new: dict[str, Any]) -> None:
        """Translate a committed change into what this watch sees (selector moves become ADDED/DELETED)."""
        if not self._in_scope(new):
            return
        if self.selector.empty:
            self._put(event_type, new)
            return
        now_matches = self.selector.matches(new)
        was_matching = old is not None and self.selector.matches(old)
        if event_type == "DELETED":
            if now_matches or was_matching:
                self._put("DELETED", new)
        elif event_type == "ADDED" or old is None:
            if now_matches:
                self._put("ADDED", new)
        elif now_matches and was_matching:
            self._put("MODIFIED", new)
        elif now_matches:
            self._put("ADDED", new)
        elif was_matching:
            self._put("DELETED", new)

    def _put(self, event_type: str, obj: dict[str, Any]) -> None:
        with self._cond:
            if self._stopped:
                return
            if len(self._queue) >= MAX_QUEUED:
                self.overflowed = True
                self._stopped = True
            else:
                self._queue.append((event_type, obj))
            self._cond.notify_all()

    # --- consumer side ---
    @property
    def stopped(self) -> bool:
        return self._stopped and not self._queue

    def get(self, timeout: float | None = None) -> Event | None:
        """The next event, or None when ``timeout`` passed (or the watch ended: check ``stopped``)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._queue and not self._stopped:
                wait = None if deadline is None else deadline - time.monotonic()
                if self.bookmarks and self._current_rv is not None:
                    until_bookmark = self._last_sent + BOOKMARK_INTERVAL - time.monotonic()
                    if until_bookmark <= 0:
                        break
                    wait = until_bookmark if wait is None else min(wait, until_bookmark)
                if wait is not None and wait <= 0:
                    return None
                self._cond.wait(wait)
            if self._queue:
                self._last_sent = time.monotonic()
                return self._queue.popleft()
            if self._stopped:
                return None
        return self._bookmark()

    def _bookmark(self) -> Event | None:
        assert self._current_rv is not None
        rv = self._current_rv()            # takes the store lock: nothing committed is still on its way
        with self._cond:
            if self._queue or self._stopped:
                return self._queue.popleft() if self._queue else None
            self._last_sent = time.monotonic()
        return ("BOOKMARK", {"kind": self.kind.kind, "apiVersion": self.kind.api_version,
                             "metadata": {"resourceVersion": rv}})

    def __iter__(self) -> Iterator[Event]:
        while True:
            ev = self.get()
            if ev is None:
                if self.stopped:
                    return
                continue
            yield ev

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._queue.clear()
            self._cond.notify_all()
        if self._on_stop is not None:
            self._on_stop(self)
