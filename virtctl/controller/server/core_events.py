"""``events.k8s.io/v1``: a view of the core Events, not a second copy. Requests for it get a store
that reads and writes the core ``v1`` Events and converts each object between the two shapes
(``schema.core.event.to_v1`` / ``from_v1``), so a watch on either group sees every event
(docs/compatibility.md#core-api)."""

from __future__ import annotations

from typing import Any

from virtctl.controller.schema.core import event as conv
from virtctl.controller.server.messages import ServerState
from virtctl.controller.store import patches
from virtctl.controller.store.protocol import KindRef, Object, Store
from virtctl.controller.store.watch import Watch
from virtctl.errors import BadRequest, UnsupportedMediaType
from virtctl.model import gojson, kinds

CORE = kinds.EVENT


class _ConvertingWatch:
    """A core Event watch whose objects come out in the events.k8s.io shape."""

    def __init__(self, inner: Watch):
        self._inner = inner

    @property
    def stopped(self) -> bool:
        return self._inner.stopped

    def get(self, timeout: float | None = None) -> tuple[str, Object] | None:
        ev = self._inner.get(timeout=timeout)
        if ev is None or ev[0] in ("ERROR", "BOOKMARK"):
            if ev is not None and ev[0] == "BOOKMARK":
                ev[1]["apiVersion"] = kinds.EVENT_V1.api_version
            return ev
        return ev[0], conv.to_v1(ev[1])

    def stop(self) -> None:
        self._inner.stop()


class EventsV1Store:
    """The part of the Store protocol the resource handlers use, for ``events.k8s.io/v1``."""

    def __init__(self, store: Store):
        self._store = store

    @property
    def resource_version(self) -> str:
        return self._store.resource_version

    def get(self, kind: KindRef, namespace: str | None, name: str) -> Object:
        return conv.to_v1(self._store.get(CORE, namespace, name))

    def list(self, kind: KindRef, namespace: str | None = None, label_selector: str | None = None,
             field_selector: str | None = None) -> tuple[list[Object], str]:
        items, rv = self._store.list(CORE, namespace, label_selector, field_selector)
        return [conv.to_v1(o) for o in items], rv

    def create(self, kind: KindRef, namespace: str | None, obj: Any, **kw: Any) -> Object:
        return conv.to_v1(self._store.create(CORE, namespace, conv.from_v1(obj), **kw))

    def replace(self, kind: KindRef, namespace: str | None, name: str, obj: Any, **kw: Any) -> Object:
        return conv.to_v1(self._store.replace(CORE, namespace, name, conv.from_v1(obj), **kw))

    def patch(self, kind: KindRef, namespace: str | None, name: str, content_type: str, body: Any,
              **kw: Any) -> Object:
        ctype = (content_type or "").split(";")[0].strip().lower()
        if ctype not in (patches.MERGE, patches.JSON_PATCH):
            raise UnsupportedMediaType(patches.UNKNOWN_FORMAT)
        try:
            doc = gojson.loads(body) if isinstance(body, (bytes, str)) else body
        except (ValueError, UnicodeDecodeError) as e:
            raise BadRequest(f"error decoding patch: {e}") from None
        kw.pop("field_manager", None)
        kw.pop("force", None)

        def change(current: Object) -> Object:
            v1 = conv.to_v1(current)
            out = patches.merge_patch(v1, doc) if ctype == patches.MERGE else patches.json_patch(v1, doc)
            return conv.from_v1(out)
        current = self._store.get(CORE, namespace, name)
        return conv.to_v1(self._store.replace(CORE, namespace, name, change(current), **kw))

    def apply(self, *args: Any, **kw: Any) -> tuple[Object, bool]:
        raise UnsupportedMediaType(patches.UNKNOWN_FORMAT)

    def delete(self, kind: KindRef, namespace: str | None, name: str, **kw: Any) -> Object:
        return conv.to_v1(self._store.delete(CORE, namespace, name, **kw))

    def watch(self, kind: KindRef, namespace: str | None = None, resource_version: str | None = None,
              label_selector: str | None = None, field_selector: str | None = None,
              bookmarks: bool = False) -> Any:
        return _ConvertingWatch(self._store.watch(CORE, namespace, resource_version, label_selector,
                                                  field_selector, bookmarks=bookmarks))


class _ViewState:
    """The server state with the events.k8s.io store in place of the real one."""

    def __init__(self, state: ServerState, store: EventsV1Store):
        self._state = state
        self.store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._state, name)


def view_state(state: ServerState) -> Any:
    return _ViewState(state, EventsV1Store(state.store))


