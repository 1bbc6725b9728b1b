"""The core group ``/api``: ``/api`` (APIVersions), ``/api/v1`` (its resource list) and the objects
under it, served by the same CRUD/list/watch code as the KubeVirt kinds
(docs/compatibility.md#core-api)."""

from __future__ import annotations

import copy

from virtctl.controller.server import discovery, resources, service_proxy
from virtctl.controller.server.messages import Request, Response, ServerState, Streaming, json_response
from virtctl.errors import BadRequest, MethodNotAllowed, NotFound
from virtctl.model import kinds


def route(state: ServerState, req: Request, parts: list[str]) -> Response | Streaming:
    """``parts`` after ``api``."""
    if not parts:
        _get_only(req)
        return json_response(200, discovery.api_versions())
    if parts[0] != "v1":
        raise resources.not_found_route()
    rest = parts[1:]
    if not rest:
        _get_only(req)
        listing = discovery.resource_list(kinds.CORE, "v1")
        assert listing is not None
        return json_response(200, listing)
    if len(rest) == 3 and rest[0] == "namespaces" and rest[2] == "finalize":
        return _finalize(state, req, rest[1])
    if len(rest) >= 5 and rest[0] == "namespaces" and rest[2] == "services" and rest[4] == "proxy":
        return service_proxy.handle(state, req, rest[1], rest[3])
    rp = resources.parse([kinds.CORE, "v1", *rest])
    if rp is None and len(rest) == 3 and rest[0] == "namespaces" and rest[2] == "status":
        rp = resources.ResourcePath(kinds.NAMESPACE, None, rest[1], "status")
    if rp is None:
        raise resources.not_found_route()
    return resources.handle(state, req, rp)


def _get_only(req: Request) -> None:
    if req.method != "GET":
        raise MethodNotAllowed("the server does not allow this method on the requested resource")


def _finalize(state: ServerState, req: Request, name: str) -> Response:
    """``PUT namespaces/{name}/finalize``: set ``spec.finalizers`` (what users do to release a
    namespace stuck in Terminating); a Terminating namespace left without finalizers goes."""
    if req.method != "PUT":
        raise MethodNotAllowed("the server does not allow this method on the requested resource")
    body = req.json(empty={})
    spec = body.get("spec") if isinstance(body, dict) else None
    finalizers = spec.get("finalizers") if isinstance(spec, dict) else None
    if finalizers is not None and not isinstance(finalizers, list):
        raise BadRequest('Namespace in version "v1" cannot be handled as a Namespace: json: cannot unmarshal '
                         f"{type(finalizers).__name__} into Go struct field NamespaceSpec.spec.finalizers of type "
                         "[]v1.FinalizerName")
    dry_run = req.query.dry_run()
    current = state.store.get(kinds.NAMESPACE, None, name)
    new = copy.deepcopy(current)
    new.setdefault("spec", {})["finalizers"] = list(finalizers or [])
    stored = state.store.replace(kinds.NAMESPACE, None, name, new, dry_run=dry_run)
    if not dry_run and stored["metadata"].get("deletionTimestamp") and not stored["spec"].get("finalizers"):
        try:
            stored = state.store.delete(kinds.NAMESPACE, None, name)
        except NotFound:
            pass
    return json_response(200, stored)
