"""The contract between the API server and KubeVirt's ``subresources.kubevirt.io`` handlers.

The handlers live in :mod:`virtctl.controller.actions` (lifecycle actions) and
:mod:`virtctl.controller.streams` (console, VNC); the table that maps paths to them is declared
with the routes, in :mod:`virtctl.controller.server.subresource_routes`.

* An :data:`Action` answers ``PUT`` (and ``GET`` for read-only ones such as ``vnc/screenshot``)
  on ``/apis/subresources.kubevirt.io/v1/namespaces/{ns}/{plural}/{name}/{subresource}``:
  ``handler(ctx) -> ActionResult | None``; raise an ``errors.APIError`` to answer with a Status.
* A :class:`StreamHandler` answers websocket upgrades (``console``, ``vnc``): ``check(ctx)`` runs
  before the upgrade (raise ``APIError``, e.g. 400 ``VMI is not running``, to refuse it with that
  status); ``serve(ctx, ws)`` then owns the open websocket (a ``websockets.sync`` connection:
  ``ws.recv()``, ``ws.send(bytes)``, ``ws.close(code)``).

Dispatch details (the server's side, ``server/subresources.py``):

* Every route, websockets included, is authenticated before a handler runs.
* ``subresource`` is the whole rest of the path (``vnc/screenshot``, ``portforward/22/tcp``); a handler
  declared for a prefix (``portforward``) serves the longer paths too.
* Namespaced actions without an object name (``…/namespaces/{ns}/expand-vm-spec``) are looked up with
  plural ``""``; the context then has ``name=""``.
* ``/apis/subresources.kubevirt.io/v1alpha3/…`` is served by the same handlers.
* An action returning ``None`` is answered ``202`` with an empty body; any other exception than an
  ``APIError`` becomes a logged ``500`` Status.
* ``serve`` runs on the connection's own thread and should return when the session ends; the server
  then closes the websocket (1000) if the handler has not. At shutdown open websockets are closed 1001.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol

from virtctl.controller.runtime import Runtime
from virtctl.controller.settings import Settings
from virtctl.controller.store.protocol import Store


@dataclass
class ActionContext:
    runtime: Runtime
    namespace: str
    name: str
    subresource: str               # e.g. "start", "vnc/screenshot"
    method: str                    # PUT | GET
    body: Any = None               # parsed JSON body ({} when empty)
    query: dict[str, str] = field(default_factory=dict)

    @property
    def store(self) -> Store:
        return self.runtime.store

    @property
    def settings(self) -> Settings:
        return self.runtime.settings


@dataclass
class ActionResult:
    code: int = 202
    body: bytes | str | dict[str, Any] | list[Any] | None = None
    content_type: str = "application/json"


Action = Callable[[ActionContext], "ActionResult | None"]


class StreamHandler(Protocol):
    def check(self, ctx: ActionContext) -> None: ...
    def serve(self, ctx: ActionContext, ws: Any) -> None: ...


@dataclass(frozen=True)
class SubresourceTable:
    """Handlers by ``(plural, subresource)``; plural ``""`` for nameless namespaced actions."""

    actions: Mapping[tuple[str, str], Action] = field(default_factory=dict)
    streams: Mapping[tuple[str, str], StreamHandler] = field(default_factory=dict)
