"""``/apis/subresources.kubevirt.io/{v1,v1alpha3}/…``: version, healthz, and dispatch of the namespaced
actions and websocket streams declared in :mod:`virtctl.controller.server.subresource_routes`
(the handler contract is :mod:`virtctl.controller.subresource`)."""

from __future__ import annotations

import json
import logging
from typing import Any, Mapping, TypeVar

from websockets.exceptions import ConnectionClosed

from virtctl.controller.server import discovery, websocket
from virtctl.controller.server.messages import Request, Response, ServerState, Streaming, json_response
from virtctl.controller.subresource import ActionContext, ActionResult, StreamHandler, SubresourceTable
from virtctl.errors import APIError, BadRequest, MethodNotAllowed, NotFound

log = logging.getLogger(__name__)


H = TypeVar("H")


def _not_found() -> NotFound:
    return NotFound("the server could not find the requested resource", details={})


def _lookup(table: Mapping[tuple[str, str], H], plural: str, sub: str) -> H | None:
    """Exact match first, then shorter prefixes, for parameterised paths (``portforward/22/tcp``)."""
    parts = sub.split("/")
    for n in range(len(parts), 0, -1):
        handler = table.get((plural, "/".join(parts[:n])))
        if handler is not None:
            return handler
    return None


def _split(parts: list[str]) -> tuple[str, str, str, str]:
    """namespace, plural, name and subresource of a namespaced path."""
    if parts[0] != "namespaces" or len(parts) < 3 or not parts[1]:
        raise _not_found()
    if len(parts) == 3:                                  # namespaced, nameless (expand-vm-spec)
        return parts[1], "", "", parts[2]
    if len(parts) >= 5 and parts[3]:
        return parts[1], parts[2], parts[3], "/".join(parts[4:])
    raise _not_found()


def served(table: SubresourceTable, parts: list[str]) -> bool:
    """Whether ``handle`` has something for ``parts`` (after ``…/{version}``) other than a 404."""
    if parts in ([], ["version"], ["healthz"]):
        return True
    try:
        _, plural, _, sub = _split(parts)
    except NotFound:
        return False
    return _lookup(table.actions, plural, sub) is not None or _lookup(table.streams, plural, sub) is not None


def handle(state: ServerState, req: Request, parts: list[str]) -> Response | Streaming:
    """``parts`` after ``/apis/subresources.kubevirt.io/{version}``."""
    if not parts:
        if req.method != "GET":
            raise MethodNotAllowed("the server does not allow this method on the requested resource")
        return json_response(200, discovery.subresource_list(state.subresources))
    if parts == ["version"]:
        return json_response(200, discovery.kubevirt_version())
    if parts == ["healthz"]:
        return json_response(200, {"apiserver": "ok", "restful": "ok"})
    namespace, plural, name, sub = _split(parts)
    table = state.subresources
    ctx = ActionContext(runtime=state.runtime, namespace=namespace, name=name, subresource=sub,
                        method=req.method, body={}, query=req.query.as_dict())
    if req.method == "GET" and websocket.is_upgrade(req.headers):
        stream_handler = _lookup(table.streams, plural, sub)
        if stream_handler is None:
            raise _not_found()
        stream_handler.check(ctx)                        # an APIError here refuses the upgrade with its Status
        found = stream_handler
        return Streaming(lambda h: _serve_stream(h, found, ctx, req))
    action = _lookup(table.actions, plural, sub)
    if action is None:
        if _lookup(table.streams, plural, sub) is not None and req.method == "GET":
            raise BadRequest("websocket: the client is not using the websocket protocol: 'upgrade' token not "
                             "found in 'Connection' header")
        raise _not_found()
    if req.method not in ("PUT", "GET"):
        raise MethodNotAllowed("the server does not allow this method on the requested resource")
    body = req.json(empty={})
    ctx.body = body if body is not None else {}
    result = action(ctx)
    return _result(result)


def _result(result: ActionResult | None) -> Response:
    if result is None:
        return Response(202, b"")
    body = result.body
    if isinstance(body, (dict, list)):
        data = json.dumps(body, separators=(",", ":")).encode()
    elif isinstance(body, str):
        data = body.encode()
    else:
        data = body or b""
    return Response(result.code, data, result.content_type)


def _serve_stream(handler: Any, stream_handler: StreamHandler, ctx: ActionContext, req: Request) -> None:
    handler.close_connection = True
    handler.response_started = True
    ws = websocket.accept(handler.connection, handler.requestline, req.headers)
    if ws is None:
        return
    handler.server.track(ws)
    try:
        stream_handler.serve(ctx, ws)
    except APIError as e:
        try:
            ws.close(1011, e.message[:120])
        except Exception:
            pass
    except (ConnectionClosed, OSError) as e:     # the client went away: its business, not the log's
        log.debug("websocket %s ended: %s", ctx.subresource, e)
    except Exception as e:
        # one line: a client must not be able to fill the log with tracebacks
        log.error("websocket handler for %s failed: %s: %s", ctx.subresource, type(e).__name__, str(e)[:200])
        log.debug("traceback", exc_info=True)
        try:
            ws.close(1011, "internal error")
        except Exception:
            pass
    finally:
        try:
            ws.close()
        except Exception:
            pass
        handler.server.untrack(ws)

