"""Where the rest of the controller plugs into the API server.

The server owns routing, authentication and the Status error format. KubeVirt's
``subresources.kubevirt.io`` actions (start, stop, pause, console, vnc …) are implemented by other
modules, which register a handler here; an unregistered subresource answers 404.

* ``register_action(plural, subresource, handler)``: ``PUT`` (and ``GET`` for read-only ones such as
  ``vnc/screenshot``, ``guestosinfo``) on ``/apis/subresources.kubevirt.io/v1/namespaces/{ns}/{plural}/{name}/{subresource}``.
  ``handler(ctx: ActionContext) -> ActionResult``; raise an ``errors.APIError`` to answer with a Status.
* ``register_stream(plural, subresource, handler)``: websocket upgrades (``console``, ``vnc``).
  ``handler.check(ctx) -> None`` runs before the upgrade (raise ``APIError``, e.g. 400 ``VMI is not
  running``, to refuse it with that status); ``handler.serve(ctx, ws)`` then owns the open websocket
  (a ``websockets.sync.connection.Connection``: ``ws.recv()``, ``ws.send(bytes)``, ``ws.close(code)``).

Dispatch details (the server's side of this contract):

* Every route, websockets included, is authenticated before a handler runs.
* ``subresource`` is the whole rest of the path (``vnc/screenshot``, ``portforward/22/tcp``); a handler
  registered for a prefix (``portforward``) serves the longer paths too.
* Namespaced actions without an object name (``…/namespaces/{ns}/expand-vm-spec``) are looked up with
  ``plural=""``; the context then has ``name=""``.
* ``/apis/subresources.kubevirt.io/v1alpha3/…`` is served by the same handlers.
* An action returning ``None`` is answered ``202`` with an empty body; any other exception than an
  ``APIError`` becomes a logged ``500`` Status.
* ``serve`` runs on the connection's own thread and should return when the session ends; the server
  then closes the websocket (1000) if the handler has not. At shutdown open websockets are closed 1001.
* ``ActionContext.services`` is one dict per server, shared with the controllers
  (``reconcile.manager.start(store, settings, services)``); the ``api_server`` test fixture exposes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol


@dataclass
class ActionContext:
    store: Any                     # virtctl.controller.store.objects.ObjectStore
    settings: Any                  # virtctl.controller.settings.Settings
    namespace: str
    name: str
    subresource: str               # e.g. "start", "vnc/screenshot"
    method: str                    # PUT | GET
    body: Any                      # parsed JSON body ({} when empty)
    query: dict[str, str] = field(default_factory=dict)
    services: dict[str, Any] = field(default_factory=dict)   # shared runtime objects (e.g. "hosts", "consoles")


@dataclass
class ActionResult:
    code: int = 202
    body: bytes | dict | None = None
    content_type: str = "application/json"


class StreamHandler(Protocol):
    def check(self, ctx: ActionContext) -> None: ...
    def serve(self, ctx: ActionContext, ws: Any) -> None: ...


ACTIONS: dict[tuple[str, str], Callable[[ActionContext], ActionResult]] = {}
STREAMS: dict[tuple[str, str], StreamHandler] = {}


def register_action(plural: str, subresource: str, handler: Callable[[ActionContext], ActionResult]) -> None:
    ACTIONS[(plural, subresource)] = handler


def register_stream(plural: str, subresource: str, handler: StreamHandler) -> None:
    STREAMS[(plural, subresource)] = handler
