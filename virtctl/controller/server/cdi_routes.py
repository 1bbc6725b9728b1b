"""``upload.cdi.kubevirt.io/v1beta1`` ``uploadtokenrequests``: create-only, never stored, as CDI's
aggregated API serves it (docs/standalone.md#image-upload). The answer carries ``status.token``
for the claim named in ``spec.pvcName``."""

from __future__ import annotations

import copy
from typing import Any

from virtctl.controller import schema
from virtctl.controller.server import core_admission, resources
from virtctl.controller.server.messages import Request, Response, ServerState, json_response
from virtctl.controller.store import metadata as meta
from virtctl.errors import MethodNotAllowed
from virtctl.model import kinds


def route(state: ServerState, req: Request, parts: list[str]) -> Response:
    """``parts`` after ``apis``: [upload.cdi.kubevirt.io, v1beta1, namespaces, ns, uploadtokenrequests]."""
    kind = kinds.UPLOADTOKENREQUEST
    if len(parts) != 5 or parts[1] != kind.version or parts[2] != "namespaces" or parts[4] != kind.plural:
        raise resources.not_found_route()
    namespace = parts[3]
    if req.method != "POST":
        raise MethodNotAllowed(f"the server does not allow this method on the requested resource "
                               f"({req.method.lower()} {kind.resource})")
    req.query.check_write_options(req.method)
    core_admission.check_namespace(state.store, req, kind, namespace, None)
    warnings: list[str] = []
    obj: dict[str, Any] = meta.for_create(kind, namespace, copy.deepcopy(req.json(empty={})))
    warnings += schema.admit(kind, obj, req.query.get("fieldValidation") or "Warn")
    obj["apiVersion"], obj["kind"] = kind.api_version, kind.kind
    obj["status"] = {"token": state.runtime.upload_tokens.issue(namespace, obj["spec"]["pvcName"])}
    return json_response(201, obj, warnings)
