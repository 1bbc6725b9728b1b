"""List chunking (``limit`` / ``continue``) as apiserver storage pages a list: items in key order,
at most ``limit`` of them, a ``continue`` token to list on from the key after the last one, and
``remainingItemCount`` when no selector makes the count unknown. We keep only the current state, so
a continued page is read from it; it is what the first page's resourceVersion would have shown when
no object after the token's key changed since, and otherwise the answer is kube's 410 for a
compacted continue, with a token that lists on from the current state
(docs/standalone.md#api-server-lists)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from virtctl.controller.server.query import ContinueToken, ListOptions, encode_continue
from virtctl.controller.store.protocol import Object, Store
from virtctl.controller.store.selectors import Selector
from virtctl.errors import Gone
from virtctl.model.kinds import Kind

LATEST = -1          # the rv of the inconsistent continue token: any rv < 0 lists from the current state
INCONSISTENT_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new list "
    "without the continue parameter, or use the continue token in this response to retrieve the remainder of the "
    "results. Continuing with the provided token results in an inconsistent list - objects that were created, "
    "modified, or deleted between the time the first chunk was returned and now may show up in the list.")


class ContinueExpired(Gone):
    """410 Expired for a continue whose snapshot is gone; its Status carries the token that lists on
    from the current state (apiserver storage: handleCompactedErrorForPaging)."""

    def __init__(self, start: str):
        super().__init__(INCONSISTENT_CONTINUE)
        self.continue_token = encode_continue(start, LATEST)

    def to_status(self) -> dict[str, Any]:
        status = super().to_status()
        status["metadata"] = {"continue": self.continue_token}
        return status


@dataclass(frozen=True)
class Page:
    items: list[Object]
    resource_version: str
    continue_token: str = ""                 # "" on the last page
    remaining_item_count: int | None = None  # set with a continue token, when no selector filters

    def list_meta(self) -> dict[str, Any]:
        """``ListMeta`` as the apiserver writes it (empty ``continue`` and a nil count omitted)."""
        meta: dict[str, Any] = {"resourceVersion": self.resource_version}
        if self.continue_token:
            meta["continue"] = self.continue_token
        if self.remaining_item_count is not None:
            meta["remainingItemCount"] = self.remaining_item_count
        return meta


def object_key(obj: Object, namespaced_list: bool) -> str:
    """The object's storage key below the list's prefix: ``name`` inside one namespace or for a
    cluster-scoped kind, ``namespace/name`` for a list across namespaces."""
    meta = obj.get("metadata") or {}
    name = str(meta.get("name", ""))
    return f"{meta.get('namespace', '')}/{name}" if namespaced_list else name


def paginate(items: list[Object], resource_version: str, *, limit: int | None, start: str = "",
             namespaced_list: bool = False, filtered: bool = False, token_rv: int | None = None) -> Page:
    """One page of ``items`` (already filtered): keys from ``start`` on, at most ``limit`` of them
    (none or <= 0: all). ``token_rv`` is the resourceVersion a continued list reads at (< 0: now)."""
    keyed = sorted(((object_key(o, namespaced_list), o) for o in items), key=lambda pair: pair[0])
    if start:
        keyed = [pair for pair in keyed if pair[0] >= start]
    rv = resource_version if token_rv is None or token_rv < 0 else str(token_rv)
    if limit is None or limit <= 0 or len(keyed) <= limit:
        return Page([o for _, o in keyed], rv)
    chunk = keyed[:limit]
    token = encode_continue(chunk[-1][0] + "\x00", int(rv))
    return Page([o for _, o in chunk], rv, token, None if filtered else len(keyed) - limit)


def list_page(store: Store, kind: Kind, namespace: str | None, options: ListOptions,
              label_selector: str | None, field_selector: str | None) -> Page:
    """A list request's page: the store's list, checked against the continue token and cut to size."""
    items, rv = store.list(kind, namespace, label_selector, field_selector)
    namespaced_list = kind.namespaced and namespace is None
    filtered = not Selector(label_selector, field_selector, kind).empty
    token = options.continued
    if token is not None and token.rv > 0 and _changed_since(store, kind, namespace, token, namespaced_list, rv):
        raise ContinueExpired(token.start)
    return paginate(items, rv, limit=options.limit, start=token.start if token else "",
                    namespaced_list=namespaced_list, filtered=filtered, token_rv=token.rv if token else None)


def _changed_since(store: Store, kind: Kind, namespace: str | None, token: ContinueToken,
                   namespaced_list: bool, current_rv: str) -> bool:
    """Whether an object at or after the token's start key changed after the token's resourceVersion
    (then the rest of the list read now is not the rest of the list the first page was cut from)."""
    if token.rv > int(current_rv or 0):
        return True                          # a version this store has not reached: not ours
    try:
        watch = store.watch(kind, namespace, str(token.rv))
    except Gone:
        return True                          # its history is gone
    try:
        while (event := watch.get(timeout=0)) is not None:
            event_type, obj = event
            if event_type == "BOOKMARK":
                continue
            if event_type == "ERROR" or object_key(obj, namespaced_list) >= token.start:
                return True
        return watch.stopped                 # ended early (overflowed): cannot tell
    finally:
        watch.stop()
