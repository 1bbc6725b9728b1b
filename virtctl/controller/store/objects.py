"""ObjectStore: Kubernetes API semantics (see the package docstring) over SQLite.

Every write goes through ``_commit`` under one lock: next resourceVersion, one SQLite transaction,
then the event is offered to open watches and queued for subscribers. Reads go to SQLite under the
same lock (a single connection; reads are sub-millisecond)."""

from __future__ import annotations

import copy
import logging
import queue
import threading
from pathlib import Path
from typing import Any, Callable

from virtctl.controller import schema
from virtctl.controller.schema import core as core_schema
from virtctl.controller.store import corekinds, limits, patches, strategic
from virtctl.controller.store import metadata as meta
from virtctl.controller.store.protocol import Subscriber, Warnings
from virtctl.controller.store.selectors import Selector
from virtctl.controller.store.sqlite import Database, Key
from virtctl.controller.store.watch import Watch
from virtctl.errors import BadRequest, Conflict, Gone, NotFound, UnsupportedMediaType
from virtctl.model import gojson, kinds, yamljson
from virtctl.model.kinds import Kind

log = logging.getLogger(__name__)

DEFAULT_HISTORY = 10_000
PROPAGATION_POLICIES = ("Orphan", "Background", "Foreground")


def _kind(kind: Kind | str) -> Kind:
    return kind if isinstance(kind, Kind) else kinds.lookup(kind)


def _ns(kind: Kind, namespace: str | None) -> str:
    return (namespace or "") if kind.namespaced else ""


class ObjectStore:
    def __init__(self, path: Path | str, *, history_limit: int = DEFAULT_HISTORY):
        self._db = Database(Path(path), history_limit)
        self._lock = threading.RLock()
        self._rv = self._db.current_rv()
        self._watches: list[Watch] = []
        self._subscribers: list[Subscriber] = []
        self._deliveries: queue.Queue[tuple[str, Kind, dict[str, Any]] | None] = queue.Queue()
        self._delivery_thread: threading.Thread | None = None
        self._closed = False

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            watches, self._watches = self._watches, []
        for w in watches:
            w.stop()
        if self._delivery_thread is not None:
            self._deliveries.put(None)
            self._delivery_thread.join(timeout=5)
        with self._lock:
            self._db.close()

    @property
    def resource_version(self) -> str:
        with self._lock:
            return str(self._rv)

    # ------------------------------------------------------------------ reads
    def get(self, kind: Kind | str, namespace: str | None, name: str) -> dict[str, Any]:
        k = _kind(kind)
        with self._lock:
            obj = self._db.get((k.group, k.plural, _ns(k, namespace), name))
        if obj is None:
            raise meta.not_found(k, name)
        return obj

    def list(self, kind: Kind | str, namespace: str | None = None, label_selector: str | None = None,
             field_selector: str | None = None) -> tuple[list[dict[str, Any]], str]:
        """Matching objects (``namespace=None``: all namespaces) and the list resourceVersion."""
        k = _kind(kind)
        sel = Selector(label_selector, field_selector, k)
        with self._lock:
            items = self._db.list(k.group, k.plural, _ns(k, namespace) if namespace is not None else None,
                                  sel.name_equals())
            rv = str(self._rv)
        return [o for o in items if sel.matches(o)], rv

    # ------------------------------------------------------------------ writes
    def _commit(self, k: Kind, event_type: str, old: dict[str, Any] | None, obj: dict[str, Any]) -> dict[str, Any]:
        m = obj["metadata"]
        key: Key = (k.group, k.plural, _ns(k, m.get("namespace")), m["name"])
        with self._lock:
            if self._closed:
                raise BadRequest("the store is closed")
            rv = self._rv + 1
            m["resourceVersion"] = str(rv)
            self._db.commit(rv, key, event_type, obj)
            self._rv = rv
            for w in list(self._watches):
                if w.kind is k:
                    w.offer(event_type, old, obj)
            if self._subscribers:
                self._deliveries.put((event_type, k, copy.deepcopy(obj)))
        return obj

    def create(self, kind: Kind | str, namespace: str | None, obj: Any, *, dry_run: bool = False,
               field_validation: str | None = "Strict", warnings: Warnings | None = None) -> dict[str, Any]:
        """Store a new object. ``warnings`` (optional out-list) receives admission warnings."""
        k = _kind(kind)
        core_schema.precheck(k, obj)
        limits.check_size(obj)
        new = meta.for_create(k, namespace, obj)
        found = schema.admit(k, new, field_validation)
        with self._lock:
            existing = self._db.get((k.group, k.plural, _ns(k, namespace), new["metadata"]["name"]))
            if existing is not None:
                raise meta.already_exists(k, new["metadata"]["name"])
            if kinds.is_core(k):
                corekinds.before_create(self, k, new)
            if warnings is not None:
                warnings.extend(found)
            if dry_run:
                return new
            return self._commit(k, "ADDED", None, new)

    def replace(self, kind: Kind | str, namespace: str | None, name: str, obj: Any, *,
                subresource: str | None = None, dry_run: bool = False, field_validation: str | None = "Strict",
                warnings: Warnings | None = None) -> dict[str, Any]:
        """PUT. A ``metadata.resourceVersion`` that is not the stored one → Conflict."""
        k = _kind(kind)
        with self._lock:
            old = self.get(k, namespace, name)
            return self._update(k, name, old, obj, subresource, dry_run, field_validation, warnings)

    def _update(self, k: Kind, name: str, old: dict[str, Any], body: Any, subresource: str | None,
                dry_run: bool, field_validation: str | None, warnings: Warnings | None) -> dict[str, Any]:
        core_schema.precheck(k, body)
        limits.check_size(body)
        new = meta.for_update(k, name, old, body, subresource)
        want_rv = new["metadata"].get("resourceVersion")
        old_rv = old["metadata"].get("resourceVersion")
        if want_rv and want_rv != old_rv:
            raise meta.conflict(k, name)
        new["metadata"]["resourceVersion"] = old_rv
        if kinds.is_core(k):
            corekinds.drop_type_dependent_fields(k, old, new)
        found = schema.admit(k, new, field_validation)
        if kinds.has_own_rules(k):
            corekinds.before_update(self, k, old, new)
        if warnings is not None:
            warnings.extend(found)
        if new == old:
            return old                            # no-op: no new resourceVersion, no event
        m = new["metadata"]
        if m.get("deletionTimestamp") and not m.get("finalizers"):
            m.pop("finalizers", None)
            if dry_run:
                return new
            removed = self._commit(k, "DELETED", old, new)
            self._collect_dependents(m.get("uid"), None)
            return removed
        if dry_run:
            return new
        return self._commit(k, "MODIFIED", old, new)

    def patch(self, kind: Kind | str, namespace: str | None, name: str, content_type: str, body: Any, *,
              subresource: str | None = None, dry_run: bool = False, field_manager: str | None = None,
              force: bool = False, field_validation: str | None = "Strict",
              warnings: Warnings | None = None) -> dict[str, Any]:
        """Apply a patch document (``body``: parsed JSON, or bytes/str to be parsed)."""
        k = _kind(kind)
        ctype = (content_type or "").split(";")[0].strip().lower()
        if ctype == patches.APPLY:
            return self.apply(k, namespace, name, body, subresource=subresource, dry_run=dry_run,
                              field_manager=field_manager, force=force, field_validation=field_validation,
                              warnings=warnings)[0]
        if ctype == patches.STRATEGIC and kinds.is_core(k):
            with self._lock:
                old = self.get(k, namespace, name)
                patched = strategic.apply(old, _parse_json(body))
                return self._update(k, name, old, patched, subresource, dry_run, field_validation, warnings)
        if ctype not in (patches.MERGE, patches.JSON_PATCH):
            raise UnsupportedMediaType(patches.UNKNOWN_FORMAT)
        doc = _parse_json(body)
        if ctype == patches.MERGE and not isinstance(doc, dict):
            raise BadRequest("json: cannot unmarshal into a merge patch: the patch must be a JSON object, "
                             f"not {'an array' if isinstance(doc, list) else type(doc).__name__}")
        with self._lock:
            old = self.get(k, namespace, name)
            patched = patches.merge_patch(old, doc) if ctype == patches.MERGE else patches.json_patch(old, doc)
            return self._update(k, name, old, patched, subresource, dry_run, field_validation, warnings)

    def apply(self, kind: Kind | str, namespace: str | None, name: str, body: Any, *,
              subresource: str | None = None, dry_run: bool = False, field_manager: str | None = None,
              force: bool = False, field_validation: str | None = "Strict",
              warnings: Warnings | None = None) -> tuple[dict[str, Any], bool]:
        """Server-side apply, simplified: create when absent, else merge the applied configuration.
        Returns ``(object, created)``."""
        k = _kind(kind)
        if not field_manager:
            raise BadRequest("PATCH, application/apply-patch+yaml requires fieldManager to be set")
        doc = _parse_yaml(body)
        if not isinstance(doc, dict):
            raise BadRequest("error decoding YAML: the applied configuration must be an object")
        doc_meta: dict[str, Any] = doc["metadata"] if isinstance(doc.get("metadata"), dict) else {}
        if doc_meta.get("name") not in (None, name):
            raise BadRequest(f"the name of the object ({doc_meta.get('name')}) does not match the name on the "
                             f"URL ({name})")
        with self._lock:
            try:
                old = self.get(k, namespace, name)
            except NotFound:
                if subresource is not None:
                    raise
                doc = copy.deepcopy(doc)
                doc.setdefault("metadata", {})
                if isinstance(doc["metadata"], dict):
                    doc["metadata"]["name"] = name
                return self.create(k, namespace, doc, dry_run=dry_run, field_validation=field_validation,
                                   warnings=warnings), True
            merged = patches.merge_patch(old, doc)
            return self._update(k, name, old, merged, subresource, dry_run, field_validation, warnings), False

    def delete(self, kind: Kind | str, namespace: str | None, name: str, *, propagation_policy: str | None = None,
               dry_run: bool = False, preconditions: dict[str, Any] | None = None) -> dict[str, Any]:
        """Delete now, or (with finalizers) mark deletionTimestamp and wait for the last finalizer."""
        k = _kind(kind)
        if propagation_policy not in (None, "", *PROPAGATION_POLICIES):
            raise BadRequest(f'propagationPolicy: Unsupported value: "{propagation_policy}": supported values: '
                             '"Foreground", "Background", "Orphan", "nil"')
        with self._lock:
            old = self.get(k, namespace, name)
            m = old["metadata"]
            if preconditions:
                if preconditions.get("uid") and preconditions["uid"] != m.get("uid"):
                    raise Conflict(f'Operation cannot be fulfilled on {k.resource} "{name}": Precondition failed: '
                                   f'UID in precondition: {preconditions["uid"]}, UID in object meta: {m.get("uid")}',
                                   details=meta.details(k, name))
                if preconditions.get("resourceVersion") and preconditions["resourceVersion"] != \
                        m.get("resourceVersion"):
                    raise meta.conflict(k, name)
            if k is kinds.NAMESPACE:
                marked = corekinds.mark_terminating(k, old, meta.now())
                if marked is not None:
                    return marked if dry_run or marked == old else self._commit(k, "MODIFIED", old, marked)
            if m.get("finalizers"):
                if m.get("deletionTimestamp"):
                    return old
                new = copy.deepcopy(old)
                new["metadata"]["deletionTimestamp"] = meta.now()
                new["metadata"]["deletionGracePeriodSeconds"] = 0
                return new if dry_run else self._commit(k, "MODIFIED", old, new)
            if dry_run:
                return old
            removed = self._commit(k, "DELETED", old, copy.deepcopy(old))
        if propagation_policy != "Orphan":
            self._collect_dependents(m.get("uid"), propagation_policy)
        return removed

    def _collect_dependents(self, uid: str | None, policy: str | None) -> None:
        """The garbage collector's job, done inline: delete objects owned by a deleted one."""
        if not uid:
            return
        for k in kinds.SERVED_KINDS:
            if k is kinds.EVENT_V1:
                continue                         # a view of the core Events
            items, _ = self.list(k)
            for obj in items:
                owners = obj["metadata"].get("ownerReferences") or []
                if any(isinstance(o, dict) and o.get("uid") == uid for o in owners):
                    try:
                        self.delete(k, obj["metadata"].get("namespace"), obj["metadata"]["name"],
                                    propagation_policy=policy)
                    except NotFound:
                        pass

    def mutate(self, kind: Kind | str, namespace: str | None, name: str, fn: Callable[[dict[str, Any]], Any], *,
               subresource: str | None = None, field_validation: str | None = "Strict",
               attempts: int = 50) -> dict[str, Any] | None:
        """Read-modify-write with retry on conflict. ``fn`` changes the object in place; returning False
        skips the write. Returns the stored object (None if it does not exist)."""
        k = _kind(kind)
        for _ in range(attempts):
            try:
                current = self.get(k, namespace, name)
            except NotFound:
                return None
            work = copy.deepcopy(current)
            # fields stored before unknown fields were pruned on write are not the caller's to answer
            # for: without them, a Strict write checks only what ``fn`` adds
            if not kinds.has_own_rules(k):           # core and CDI kinds: schema.core prunes on write
                schema.prune(schema.definition_for(k), work)
            if fn(work) is False:
                return current
            try:
                return self.replace(k, namespace, name, work, subresource=subresource,
                                    field_validation=field_validation)
            except NotFound:
                return None
            except Conflict:
                continue
        raise meta.conflict(k, name)

    # ------------------------------------------------------------------ watch / subscribe
    def watch(self, kind: Kind | str, namespace: str | None = None, resource_version: str | None = None,
              label_selector: str | None = None, field_selector: str | None = None,
              bookmarks: bool = False) -> Watch:
        """Events after ``resource_version``; absent or "0": ADDED for each current object first."""
        k = _kind(kind)
        sel = Selector(label_selector, field_selector, k)
        ns = _ns(k, namespace) if namespace is not None else None
        start = _parse_rv(resource_version)
        with self._lock:
            w = Watch(k, ns, sel, bookmarks, current_rv=lambda: self.resource_version, on_stop=self._forget)
            if start is None:
                for obj in self._db.list(k.group, k.plural, ns, sel.name_equals()):
                    w.offer("ADDED", None, obj)
            else:
                oldest = self._db.oldest_event_rv()
                if oldest is not None and start < oldest - 1:
                    raise Gone(f"too old resource version: {start} ({oldest - 1})")
                for _, etype, obj in self._db.events_after(start, k.group, k.plural):
                    if w._in_scope(obj) and sel.matches(obj):
                        w._put(etype, obj)
            if self._closed:
                w.stop()
            else:
                self._watches.append(w)
        return w

    def _forget(self, w: Watch) -> None:
        with self._lock:
            if w in self._watches:
                self._watches.remove(w)

    def subscribe(self, callback: Subscriber) -> None:
        """``callback(event_type, kind, obj)`` after every committed change, in commit order, on one
        delivery thread (a slow subscriber never blocks writers)."""
        with self._lock:
            self._subscribers.append(callback)
            if self._delivery_thread is None:
                self._delivery_thread = threading.Thread(target=self._deliver, name="store-subscribers",
                                                         daemon=True)
                self._delivery_thread.start()

    def _deliver(self) -> None:
        while True:
            item = self._deliveries.get()
            if item is None:
                return
            for cb in list(self._subscribers):
                try:
                    cb(*item)
                except Exception:            # a broken subscriber must not stop the others
                    log.exception("store subscriber %r failed", cb)


def _parse_rv(value: str | None) -> int | None:
    if value in (None, "", "0"):
        return None
    try:
        rv = int(str(value))
    except ValueError:
        raise BadRequest(f'invalid resource version "{value}"') from None
    if rv < 0:
        raise BadRequest(f'invalid resource version "{value}"')
    return min(rv, (1 << 63) - 1)          # a uint64 from the future: SQLite integers stop at int64


def _parse_json(body: Any) -> Any:
    if isinstance(body, (bytes, bytearray, str)):
        try:
            return gojson.loads(bytes(body) if isinstance(body, bytearray) else body)
        except (ValueError, UnicodeDecodeError) as e:
            raise BadRequest(f"error decoding patch: {e}") from None
    return body


def _parse_yaml(body: Any) -> Any:
    if isinstance(body, (bytes, bytearray, str)):
        try:
            return gojson.without_lone_surrogates(yamljson.loads(bytes(body) if isinstance(body, bytearray) else body))
        except ValueError as e:
            raise BadRequest(f"error decoding YAML: {e}") from None
    return body
