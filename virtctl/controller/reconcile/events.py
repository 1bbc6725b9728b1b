"""The event recorder the controllers report through, as client-go's ``record.EventRecorder`` does
for KubeVirt's controllers: a core ``v1`` Event per occurrence, named ``<object>.<unix nanos hex>``,
in the object's namespace; an identical repeat (same source, object, type, reason and message:
client-go's aggregation key) bumps ``count`` and ``lastTimestamp`` of the first one instead. Warnings
are also logged at WARNING with the whole message, so a failure is in the conditions, the events
and the log (docs/standalone.md#events).

``expire(store, ttl)`` deletes events last seen more than ``ttl`` seconds ago (the apiserver's
``--event-ttl``, 1 h by default; ``eventTTL`` in config.yaml).

Component names are KubeVirt's: ``virtualmachine-controller`` (virt-controller's VM, VMI,
migration, snapshot and restore controllers) and ``virt-handler`` with the node as host (what
happens to the domain).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from datetime import datetime, timezone
from typing import Any

from virtctl.controller.store.protocol import Object, Store
from virtctl.errors import APIError, NotFound
from virtctl.model import kinds

log = logging.getLogger(__name__)

NORMAL, WARNING = "Normal", "Warning"
VIRT_CONTROLLER = "virtualmachine-controller"
VIRT_HANDLER = "virt-handler"
DEFAULT_TTL = 3600
_CACHE_SIZE = 4096                 # client-go's maxLruCacheEntries


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def reference(obj: Object) -> dict[str, Any]:
    """The ``involvedObject`` of an event about ``obj`` (client-go's ``reference.GetReference``)."""
    m = obj.get("metadata") or {}
    ref = {"kind": obj.get("kind", ""), "namespace": m.get("namespace", ""), "name": m.get("name", ""),
           "uid": m.get("uid", ""), "apiVersion": obj.get("apiVersion", ""),
           "resourceVersion": m.get("resourceVersion", "")}
    return {k: v for k, v in ref.items() if v}


class Recorder:
    """Records events from one component. Thread-safe; never raises (an event that cannot be stored
    is logged and dropped, as client-go drops it after its retries)."""

    def __init__(self, store: Store, component: str, host: str = ""):
        self.store = store
        self.component = component
        self.host = host
        self._lock = threading.Lock()
        self._seen: OrderedDict[tuple[str, ...], tuple[str, str]] = OrderedDict()   # key -> (namespace, name)

    def normal(self, obj: Object, reason: str, message: str, *, host: str | None = None) -> None:
        self.event(obj, NORMAL, reason, message, host=host)

    def warning(self, obj: Object, reason: str, message: str, *, host: str | None = None,
                logged: bool = True) -> None:
        self.event(obj, WARNING, reason, message, host=host, logged=logged)

    def event(self, obj: Object, event_type: str, reason: str, message: str, *, host: str | None = None,
              logged: bool = True) -> None:
        """``logged=False``: a warning already logged for another object (a VMI's, repeated on its VM)."""
        ref = reference(obj)
        host = self.host if host is None else host
        if event_type == WARNING and logged:
            log.warning("%s %s/%s: %s: %s", ref.get("kind", "object"), ref.get("namespace", ""),
                        ref.get("name", ""), reason, message)
        key = (self.component, host, ref.get("kind", ""), ref.get("namespace", ""), ref.get("name", ""),
               ref.get("uid", ""), ref.get("apiVersion", ""), event_type, reason, message)
        try:
            self._record(key, ref, event_type, reason, message, host)
        except APIError as e:
            log.info("event %s for %s/%s dropped: %s", reason, ref.get("namespace", ""), ref.get("name", ""), e)
        except Exception:                      # a store failure must not fail the reconcile reporting it
            log.exception("recording event %s failed", reason)

    def _record(self, key: tuple[str, ...], ref: dict[str, Any], event_type: str, reason: str, message: str,
                host: str) -> None:
        now = _now()
        with self._lock:
            previous = self._seen.get(key)
        if previous is not None:
            ns, name = previous

            def bump(ev: Object) -> None:
                ev["count"] = int(ev.get("count") or 1) + 1
                ev["lastTimestamp"] = now

            if self.store.mutate(kinds.EVENT, ns, name, bump) is not None:
                with self._lock:
                    self._seen.move_to_end(key)
                return
        ns = ref.get("namespace") or "default"
        try:
            namespace = self.store.get(kinds.NAMESPACE, None, ns)
        except NotFound:
            return                               # the namespace went (or the object's did with it)
        if (namespace.get("status") or {}).get("phase") == "Terminating":
            return                               # it is being emptied: a new event would outlive it
        name = f"{ref.get('name') or 'event'}.{time.time_ns():x}"
        source: dict[str, str] = {"component": self.component}
        if host:
            source["host"] = host
        event: Object = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": ns},
                         "involvedObject": ref, "reason": reason, "message": message, "source": source,
                         "firstTimestamp": now, "lastTimestamp": now, "count": 1, "type": event_type,
                         "reportingComponent": self.component, "reportingInstance": host}
        self.store.create(kinds.EVENT, ns, event)
        with self._lock:
            self._seen[key] = (ns, name)
            while len(self._seen) > _CACHE_SIZE:
                self._seen.popitem(last=False)


def _last_seen(ev: Object) -> float | None:
    for key in ("lastTimestamp", "eventTime", "firstTimestamp"):
        value = ev.get(key)
        if isinstance(value, str) and value:
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except ValueError:
                continue
    created = (ev.get("metadata") or {}).get("creationTimestamp")
    try:
        return datetime.fromisoformat(str(created).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def expire(store: Store, ttl: float = DEFAULT_TTL, now: float | None = None) -> int:
    """Delete the events last seen more than ``ttl`` seconds ago; returns how many went."""
    now = time.time() if now is None else now
    items, _ = store.list(kinds.EVENT)
    gone = 0
    for ev in items:
        seen = _last_seen(ev)
        if seen is None or now - seen <= ttl:
            continue
        m = ev.get("metadata") or {}
        try:
            store.delete(kinds.EVENT, m.get("namespace"), m.get("name", ""))
            gone += 1
        except NotFound:
            pass
    return gone
