"""The namespace controller: a namespace marked ``Terminating`` is emptied (every object in it is
deleted, so VMs stop and their volumes go as their finalizers run), then its ``kubernetes``
finalizer is removed and the namespace deleted, as kube-controller-manager's namespace controller
does (docs/compatibility.md#core-api)."""

from __future__ import annotations

import logging

from virtctl.controller.reconcile.vmi import Requeue
from virtctl.controller.schema.core.namespace import FINALIZER
from virtctl.controller.store.protocol import Object, Store, get_or_none
from virtctl.errors import NotFound
from virtctl.model import kinds

log = logging.getLogger(__name__)

RECHECK_SECONDS = 0.5


class NamespaceController:
    kind = kinds.NAMESPACE

    def __init__(self, store: Store):
        self.store = store

    def reconcile(self, key: tuple[str, str]) -> None:
        _, name = key
        ns = get_or_none(self.store, kinds.NAMESPACE, None, name)
        if ns is None:
            return
        if not (ns.get("metadata") or {}).get("deletionTimestamp"):
            return
        if self._delete_content(name):
            raise Requeue(RECHECK_SECONDS)

        def finalize(obj: Object) -> bool | None:
            spec = obj.setdefault("spec", {})
            before = list(spec.get("finalizers") or [])
            after = [f for f in before if f != FINALIZER]
            if after == before:
                return False
            spec["finalizers"] = after
            return None

        self.store.mutate(kinds.NAMESPACE, None, name, finalize)
        try:
            self.store.delete(kinds.NAMESPACE, None, name)
            log.info("namespace %s deleted", name)
        except NotFound:
            pass

    def _delete_content(self, namespace: str) -> bool:
        """Delete what is left in ``namespace``; True while anything remains."""
        remaining = False
        for k in kinds.SERVED_KINDS:
            if not k.namespaced or k is kinds.EVENT_V1:
                continue
            items, _ = self.store.list(k, namespace)
            for obj in items:
                remaining = True
                m = obj.get("metadata") or {}
                if m.get("deletionTimestamp"):
                    continue                     # its finalizers are running (a VMI shutting down)
                try:
                    self.store.delete(k, namespace, m.get("name", ""), propagation_policy="Background")
                except NotFound:
                    pass
        return remaining
