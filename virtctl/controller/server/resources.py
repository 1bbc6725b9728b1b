"""The CRUD, list and watch endpoints of every kind: ``/apis/{g}/{v}[/namespaces/{ns}]/{plural}[/{name}[/status]]``."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from virtctl.controller.server import core_admission, core_events, core_protobuf, paging, tables, watchstream
from virtctl.controller.server.messages import Request, Response, ServerState, Streaming, json_response
from virtctl.controller.store import patches
from virtctl.errors import BadRequest, Gone, MethodNotAllowed, NotFound, UnsupportedMediaType
from virtctl.model import kinds
from virtctl.model.kinds import Kind


@dataclass(frozen=True)
class ResourcePath:
    kind: Kind
    namespace: str | None        # None: all namespaces (or cluster-scoped)
    name: str | None
    subresource: str | None


def not_found_route() -> NotFound:
    return NotFound("the server could not find the requested resource", details={})


def parse(parts: list[str]) -> ResourcePath | None:
    """``parts`` after ``apis``: [g, v, (namespaces, ns,)? plural, (name, (sub)?)?]."""
    if len(parts) < 3:
        return None
    group, version, rest = parts[0], parts[1], parts[2:]
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    kind = kinds.by_plural(group, rest[0])
    if kind is None or kind.version != version or len(rest) > 3:
        return None
    if namespace is not None and not kind.namespaced:
        return None
    name = rest[1] if len(rest) >= 2 else None
    sub = rest[2] if len(rest) == 3 else None
    if sub is not None and (sub != "status" or not kind.has_status):
        return None
    if name == "":
        return None
    return ResourcePath(kind, namespace, name, sub)


def handle(state: ServerState, req: Request, rp: ResourcePath) -> Response | Streaming:
    req.query.check_write_options(req.method)
    if req.method in ("POST", "PUT") and req.content_type == core_protobuf.CONTENT_TYPE:
        req.body = json.dumps(core_protobuf.decode(rp.kind, req.body)).encode()      # kubectl 1.32+
        req.headers.replace_header("Content-Type", "application/json")
    core_admission.check_namespace(state.store, req, rp.kind, rp.namespace, rp.name)
    if rp.kind is kinds.EVENT_V1:
        state = core_events.view_state(state)      # a view of the core Events
    if rp.name is None:
        return _collection(state, req, rp)
    return _object(state, req, rp)


def _field_validation(req: Request) -> str:
    return req.query.get("fieldValidation") or "Warn"


def _render(req: Request, kind: Kind, obj: dict[str, Any], code: int = 200,
            warnings: list[str] | None = None) -> Response:
    if req.method == "GET" and tables.wants_table(req.headers.get("Accept")):
        return json_response(code, tables.table(kind, [obj], obj["metadata"].get("resourceVersion"),
                                                include_object=req.query.get("includeObject")), warnings or [])
    return json_response(code, obj, warnings or [])


def _collection(state: ServerState, req: Request, rp: ResourcePath) -> Response | Streaming:
    store, kind = state.store, rp.kind
    if req.method == "GET":
        options = req.query.list_options()
        if options.watch:
            return _watch(state, req, rp)
        page = paging.list_page(store, kind, rp.namespace, options, req.query.get("labelSelector"),
                                req.query.get("fieldSelector"))
        if tables.wants_table(req.headers.get("Accept")):
            table = tables.table(kind, page.items, page.resource_version,
                                 include_object=req.query.get("includeObject"))
            table["metadata"] = page.list_meta()          # the list's ListMeta, as the apiserver copies it
            return json_response(200, table)
        return json_response(200, {"apiVersion": kind.api_version, "kind": kind.list_kind,
                                   "metadata": page.list_meta(), "items": page.items})
    if req.method == "POST":
        if kind.namespaced and rp.namespace is None:
            raise MethodNotAllowed(f"the server does not allow this method on the requested resource "
                                   f"(post {kind.resource}): a namespace is required")
        warnings: list[str] = []
        obj = store.create(kind, rp.namespace, req.json(empty={}), dry_run=req.query.dry_run(),
                           field_validation=_field_validation(req), warnings=warnings)
        return json_response(201, obj, warnings)
    if req.method == "DELETE" and "deletecollection" not in (kind.verbs or ("deletecollection",)):
        raise MethodNotAllowed(f"the server does not allow this method on the requested resource "
                               f"(delete {kind.resource})")          # namespaces: one at a time
    if req.method == "DELETE":
        dry_run = req.query.dry_run()
        items, rv = store.list(kind, rp.namespace, req.query.get("labelSelector"), req.query.get("fieldSelector"))
        deleted = []
        for obj in items:
            try:
                deleted.append(store.delete(kind, obj["metadata"].get("namespace"), obj["metadata"]["name"],
                                            dry_run=dry_run))
            except NotFound:
                pass
        return json_response(200, {"apiVersion": kind.api_version, "kind": kind.list_kind,
                                   "metadata": {"resourceVersion": store.resource_version}, "items": deleted})
    raise MethodNotAllowed(f"the server does not allow this method on the requested resource "
                           f"({req.method.lower()} {kind.resource})")


def _object(state: ServerState, req: Request, rp: ResourcePath) -> Response | Streaming:
    store, kind, name = state.store, rp.kind, rp.name
    assert name is not None
    if kind.namespaced and rp.namespace is None:
        raise not_found_route()
    if req.method == "GET":
        return _render(req, kind, store.get(kind, rp.namespace, name))
    if req.method == "PUT":
        warnings: list[str] = []
        obj = store.replace(kind, rp.namespace, name, req.json(empty={}), subresource=rp.subresource,
                            dry_run=req.query.dry_run(), field_validation=_field_validation(req), warnings=warnings)
        return json_response(200, obj, warnings)
    if req.method == "PATCH":
        return _patch(state, req, rp)
    if req.method == "DELETE":
        if rp.subresource is not None:
            raise MethodNotAllowed("the server does not allow this method on the requested resource")
        options = req.json(empty={})
        if not isinstance(options, dict):
            raise BadRequest("the DeleteOptions body must be a JSON object")
        policy = req.query.get("propagationPolicy") or options.get("propagationPolicy")
        dry_run = req.query.dry_run() or options.get("dryRun") == ["All"]
        pre = options.get("preconditions") if isinstance(options.get("preconditions"), dict) else None
        obj = store.delete(kind, rp.namespace, name, propagation_policy=policy, dry_run=dry_run, preconditions=pre)
        return json_response(200, obj)
    raise MethodNotAllowed(f"the server does not allow this method on the requested resource "
                           f"({req.method.lower()} {kind.resource} {name})")


def _patch(state: ServerState, req: Request, rp: ResourcePath) -> Response:
    kind, name = rp.kind, rp.name
    assert name is not None
    ctype = req.content_type
    if ctype not in patches.ACCEPTED and not (ctype == patches.STRATEGIC and kinds.is_core(kind)):
        raise UnsupportedMediaType(patches.UNKNOWN_FORMAT)
    warnings: list[str] = []
    sub, dry_run, validation = rp.subresource, req.query.dry_run(), _field_validation(req)
    manager = req.query.get("fieldManager")
    if ctype == patches.APPLY:
        obj, created = state.store.apply(kind, rp.namespace, name, req.body, subresource=sub, dry_run=dry_run,
                                         field_manager=manager, force=req.query.bool("force"),
                                         field_validation=validation, warnings=warnings)
        return json_response(201 if created else 200, obj, warnings)
    if not req.body.strip():
        raise BadRequest("the request body is empty: a patch document is required")
    obj = state.store.patch(kind, rp.namespace, name, ctype, req.body, subresource=sub, dry_run=dry_run,
                            field_manager=manager, field_validation=validation, warnings=warnings)
    return json_response(200, obj, warnings)


def _watch(state: ServerState, req: Request, rp: ResourcePath) -> Streaming:
    timeout = req.query.int("timeoutSeconds")
    bookmarks = req.query.bool("allowWatchBookmarks")
    as_table = tables.wants_table(req.headers.get("Accept"))
    include_object = req.query.get("includeObject")
    try:
        watch = state.store.watch(rp.kind, rp.namespace, req.query.get("resourceVersion"),
                                  req.query.get("labelSelector"), req.query.get("fieldSelector"), bookmarks=bookmarks)
    except Gone as e:
        # the apiserver answers 200 and then one ERROR event carrying the 410 Status
        gone = e
        return Streaming(lambda h: watchstream.send_error(h, gone))
    # a time-out beyond a year is no time-out (and keeps the deadline arithmetic in range)
    deadline = None if timeout is None or timeout <= 0 or timeout > 366 * 86400 else time.monotonic() + timeout
    return Streaming(lambda h: watchstream.stream(h, state, rp.kind, watch, deadline, as_table, include_object))
