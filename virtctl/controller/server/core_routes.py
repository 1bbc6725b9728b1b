"""The core group ``/api``: ``/api`` (APIVersions), ``/api/v1`` (its resource list) and the objects
under it, served by the same CRUD/list/watch code as the KubeVirt kinds
(docs/compatibility.md#core-api)."""

from __future__ import annotations

from virtctl.controller.server import discovery, resources
from virtctl.controller.server.messages import Request, Response, ServerState, Streaming, json_response
from virtctl.errors import MethodNotAllowed
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
    rp = resources.parse([kinds.CORE, "v1", *rest])
    if rp is None and len(rest) == 3 and rest[0] == "namespaces" and rest[2] == "status":
        rp = resources.ResourcePath(kinds.NAMESPACE, None, rest[1], "status")
    if rp is None:
        raise resources.not_found_route()
    return resources.handle(state, req, rp)


def _get_only(req: Request) -> None:
    if req.method != "GET":
        raise MethodNotAllowed("the server does not allow this method on the requested resource")
