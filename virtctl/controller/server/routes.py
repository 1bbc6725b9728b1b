"""Which function answers a path. Unknown paths are 404 Status (never a bare HTML page)."""

from __future__ import annotations

from virtctl.controller.server import auth_reviews, cdi_routes, core_routes, discovery, openapi, resources, subresources
from virtctl.controller.server.messages import Request, Response, ServerState, Streaming, json_response
from virtctl.errors import MethodNotAllowed, NotFound
from virtctl.model import kinds


def _get_only(req: Request) -> None:
    if req.method != "GET":
        raise MethodNotAllowed("the server does not allow this method on the requested resource")


def not_found() -> NotFound:
    return NotFound("the server could not find the requested resource", details={})


def route(state: ServerState, req: Request) -> Response | Streaming:
    parts = [p for p in req.path.split("/") if p != ""] if req.path != "/" else []
    if any(p in (".", "..") for p in parts):
        raise not_found()
    if not parts:
        _get_only(req)
        return json_response(200, discovery.root_paths())
    head = parts[0]
    if len(parts) == 1 and head == "version":
        _get_only(req)
        return json_response(200, discovery.kube_version())
    if len(parts) == 1 and head in ("healthz", "livez", "readyz"):
        _get_only(req)
        return Response(200, b"ok", "text/plain; charset=utf-8")
    if head == "api":
        return core_routes.route(state, req, parts[1:])
    if parts == ["openapi", "v2"]:
        _get_only(req)
        # an empty protobuf Document: kubectl then knows no client-side schema and relies on the server
        return Response(200, b"", discovery.OPENAPI_V2_CONTENT_TYPE)
    if parts[:2] == ["openapi", "v3"]:
        _get_only(req)
        return openapi.respond(req, parts[2:])
    if head != "apis":
        raise not_found()
    rest = parts[1:]
    if not rest:
        _get_only(req)
        return json_response(200, discovery.api_group_list())
    if rest[0] == kinds.SUBRESOURCES:
        if len(rest) == 1:
            _get_only(req)
            group = discovery.api_group(kinds.SUBRESOURCES)
            return json_response(200, group)
        if rest[1] not in discovery.SUBRESOURCE_VERSIONS:
            raise not_found()
        return subresources.handle(state, req, rest[2:])
    if len(rest) == 1:
        _get_only(req)
        group = discovery.api_group(rest[0])
        if group is None:
            raise not_found()
        return json_response(200, group)
    if len(rest) == 2:
        _get_only(req)
        resource_list = discovery.resource_list(rest[0], rest[1])
        if resource_list is None:
            raise not_found()
        return json_response(200, resource_list)
    if rest[0] == kinds.CDI_UPLOAD:
        return cdi_routes.route(state, req, rest)       # create-only, never stored
    if rest[0] in auth_reviews.GROUPS:
        return auth_reviews.route(req, rest)            # create-only, never stored
    rp = resources.parse(rest)
    if rp is None:
        raise not_found()
    return resources.handle(state, req, rp)
