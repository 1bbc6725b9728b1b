"""SQLite-backed object store with Kubernetes API semantics.

The API server and the reconcilers share one :class:`ObjectStore` in-process; they see it through the
:class:`Store` protocol (``store/protocol.py``):

* ``get(kind, namespace, name) -> dict``: raises ``errors.NotFound``.
* ``list(kind, namespace=None, label_selector=None, field_selector=None) -> (items, resource_version)``.
* ``create(kind, namespace, obj, *, dry_run=False, field_validation="Strict") -> dict``.
* ``replace(kind, namespace, name, obj, *, subresource=None, dry_run=False) -> dict``: PUT; a stale
  ``metadata.resourceVersion`` raises ``errors.Conflict``. ``subresource="status"`` writes only status,
  ``None`` ignores status (for kinds with the status subresource).
* ``patch(kind, namespace, name, content_type, body, *, subresource=None, dry_run=False,
  field_manager=None, force=False) -> dict``: merge-patch, json-patch, apply-patch (creates when absent).
* ``delete(kind, namespace, name, *, propagation_policy=None, dry_run=False) -> dict``: honours finalizers.
* ``mutate(kind, namespace, name, fn, *, subresource=None) -> dict | None``: get, let ``fn(obj)`` change a
  copy in place (return False to skip the write), replace, retry on conflict; None if the object is gone.
* ``watch(kind, namespace=None, resource_version=None, label_selector=None, field_selector=None,
  bookmarks=False) -> Watch``: iterator of ``(event_type, obj)``; ``.stop()``; raises ``errors.Gone`` when
  ``resource_version`` is older than the kept history.
* ``subscribe(callback)``: ``callback(event_type, kind, obj)`` after every committed change (controllers).

Additions (all optional keywords, so the calls above work unchanged):

* ``kind`` is a ``virtctl.model.kinds.Kind`` (or any word ``kinds.lookup`` accepts, e.g. ``"vm"``).
* ``create``/``replace``/``patch``/``apply`` take ``field_validation`` ("Strict" | "Warn" | "Ignore";
  default "Strict") and ``warnings`` (a list the store appends admission warnings to, e.g.
  ``spec.running is deprecated…`` or ``unknown field "spec.x"`` under "Warn").
* ``apply(kind, namespace, name, body, *, field_manager, …) -> (obj, created)``: what ``patch`` does for
  ``application/apply-patch+yaml``, telling whether it created the object (the server answers 201).
* ``delete(…, preconditions={"uid":…, "resourceVersion":…})``; deleting an object also deletes the
  objects whose ``ownerReferences`` name its uid (the garbage collector's job), unless
  ``propagation_policy="Orphan"``.
* ``mutate(…, field_validation="Strict", attempts=50)``.
* ``resource_version`` (property): the newest committed resourceVersion. ``close()``: stops every watch.
* ``Watch.get(timeout) -> (event_type, obj) | None`` for a bounded wait; ``Watch.stopped``.
* ``ObjectStore(path, history_limit=10000)``: how many events are kept for watch resume. One process
  owns a store file at a time (a second opener gets ``errors.ConfigError``).

Every write is validated (``virtctl.controller.schema.admit``): the swagger schema, unknown fields per
``field_validation``, and KubeVirt's admission rules; a rejected write changes nothing.
"""

from virtctl.controller.store.objects import ObjectStore
from virtctl.controller.store.protocol import Store
from virtctl.controller.store.watch import Watch

__all__ = ["ObjectStore", "Store", "Watch"]
