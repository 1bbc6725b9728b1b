"""The object store as its users see it: the API server, the subresource actions and the controllers
annotate with :class:`Store`; :class:`~virtctl.controller.store.objects.ObjectStore` (SQLite) is the
implementation. The semantics of each call are in the package docstring (``virtctl.controller.store``)
and in docs/architecture.md#store.

Only what callers use is here: opening and closing a store is the composition root's business
(``virtctl.controller.daemon``), which holds the concrete ``ObjectStore``.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

from virtctl.controller.store.watch import Watch
from virtctl.errors import NotFound
from virtctl.model.kinds import Kind

Object = dict[str, Any]
Objects = list[Object]
KindRef = Kind | str                      # a Kind, or any word ``kinds.lookup`` accepts ("vm")
Subscriber = Callable[[str, Kind, Object], None]
Warnings = list[str]           # an out-list the store appends admission warnings to
# (named here: inside the class body `list` is the method below)


class Store(Protocol):
    @property
    def resource_version(self) -> str: ...

    # --- reads
    def get(self, kind: KindRef, namespace: str | None, name: str) -> Object: ...

    def list(self, kind: KindRef, namespace: str | None = None, label_selector: str | None = None,
             field_selector: str | None = None) -> tuple[Objects, str]: ...

    # --- writes
    def create(self, kind: KindRef, namespace: str | None, obj: Any, *, dry_run: bool = False,
               field_validation: str | None = "Strict", warnings: Warnings | None = None) -> Object: ...

    def replace(self, kind: KindRef, namespace: str | None, name: str, obj: Any, *,
                subresource: str | None = None, dry_run: bool = False, field_validation: str | None = "Strict",
                warnings: Warnings | None = None) -> Object: ...

    def patch(self, kind: KindRef, namespace: str | None, name: str, content_type: str, body: Any, *,
              subresource: str | None = None, dry_run: bool = False, field_manager: str | None = None,
              force: bool = False, field_validation: str | None = "Strict",
              warnings: Warnings | None = None) -> Object: ...

    def apply(self, kind: KindRef, namespace: str | None, name: str, body: Any, *,
              subresource: str | None = None, dry_run: bool = False, field_manager: str | None = None,
              force: bool = False, field_validation: str | None = "Strict",
              warnings: Warnings | None = None) -> tuple[Object, bool]: ...

    def delete(self, kind: KindRef, namespace: str | None, name: str, *, propagation_policy: str | None = None,
               dry_run: bool = False, preconditions: dict[str, Any] | None = None) -> Object: ...

    def mutate(self, kind: KindRef, namespace: str | None, name: str, fn: Callable[[Object], Any], *,
               subresource: str | None = None, field_validation: str | None = "Strict",
               attempts: int = 50) -> Object | None: ...

    # --- change notification
    def watch(self, kind: KindRef, namespace: str | None = None, resource_version: str | None = None,
              label_selector: str | None = None, field_selector: str | None = None,
              bookmarks: bool = False) -> Watch: ...

    def subscribe(self, callback: Subscriber) -> None: ...


def get_or_none(store: Store, kind: KindRef, namespace: str | None, name: str) -> Object | None:
    """``store.get``, None where the object does not exist (e.g. a controller's key whose object is gone)."""
    try:
        return store.get(kind, namespace, name)
    except NotFound:
        return None
