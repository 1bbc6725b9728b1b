"""``/openapi/v3``, ``/openapi/v3/api/v1`` and ``/openapi/v3/apis/{group}/{version}`` (what ``kubectl
explain`` reads), built once, on first use, from KubeVirt's swagger document and, for the Kubernetes
kinds, the bundled Kubernetes schemas (core_openapi.py).

Caching follows the apiserver (kube-openapi handler3) so kubectl's HTTP cache keeps the documents:
the index links each document with ``?hash=<its ETag>``; a request carrying the current hash is
answered ``Cache-Control: public, immutable``, a stale hash is redirected to the current one, and
``If-None-Match`` gets a 304.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import virtctl
from virtctl.controller.schema import definition_for, openapi3
from virtctl.controller.server import auth_reviews, cdi_openapi, core_openapi, discovery, openapi_paths
from virtctl.controller.server.messages import Request, Response
from virtctl.errors import APIError, NotFound
from virtctl.model import kinds

ACCEPTABLE = ("application/json", "application/*", "*/*")
YEAR = 365 * 24 * 3600


@dataclass(frozen=True)
class Document:
    body: bytes
    etag: str           # what ``?hash=`` carries; quoted in the ETag header


def _document(obj: Any) -> Document:
    body = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    return Document(body, hashlib.sha512(body).hexdigest().upper())


def _gvks(group: str, version: str) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for k in kinds.ALL_KINDS:
        if k.group == group and k.version == version:
            out[definition_for(k)] = [{"group": group, "version": version, "kind": k.kind}]
            out[definition_for(k) + "List"] = [{"group": group, "version": version, "kind": k.list_kind}]
    return out


def group_version_document(group: str, version: str) -> dict[str, Any]:
    if group in (kinds.CORE, kinds.EVENTS_GROUP):
        return core_openapi.document(group, version)
    if group in (kinds.CDI, kinds.CDI_UPLOAD):
        return cdi_openapi.document(group, version)
    if group in auth_reviews.GROUPS:
        return auth_reviews.openapi_document(group, version)
    paths = openapi_paths.served_paths(group, version)
    gvks = _gvks(group, version)
    security = {name: dict(scheme) for name, scheme in openapi3.spec()["securityDefinitions"].items()}
    return {"openapi": "3.0.0",
            "info": {"title": "KubeVirt API", "version": f"v{virtctl.__version__}"},
            "paths": paths,
            "components": {"schemas": openapi3.components([*openapi3.refs(paths), *gvks], gvks),
                           "securitySchemes": security},
            "security": [{name: []} for name in security]}


@lru_cache(maxsize=1)
def _build() -> dict[str, Document]:
    """``api/v1`` and ``apis/{g}/{v}`` -> its document, and ``""`` -> the index."""
    docs = {"api/v1": _document(group_version_document(kinds.CORE, "v1"))}
    docs.update({f"apis/{g}/{v}": _document(group_version_document(g, v))
                 for g, versions in discovery.group_versions().items() for v in versions})
    index = {"paths": {key: {"serverRelativeURL": f"/openapi/v3/{key}?hash={doc.etag}"}
                       for key, doc in docs.items()}}
    docs[""] = _document(index)
    return docs


_BUILD_LOCK = threading.Lock()


def documents() -> dict[str, Document]:
    with _BUILD_LOCK:            # concurrent first requests build once
        return _build()


def _accepts_json(accept: str | None) -> bool:
    if not accept:
        return True
    return any(part.split(";")[0].strip().lower() in ACCEPTABLE for part in accept.split(","))


def _not_modified(req: Request, etag: str) -> bool:
    wanted = [t.strip().removeprefix("W/") for t in (req.headers.get("If-None-Match") or "").split(",")]
    return f'"{etag}"' in wanted or "*" in wanted


def respond(req: Request, parts: list[str]) -> Response:
    """``parts`` after ``/openapi/v3``."""
    key = "/".join(parts)
    doc = documents().get(key)
    if doc is None:
        raise NotFound("the server could not find the requested resource", details={})
    if not _accepts_json(req.headers.get("Accept")):
        raise APIError("only application/json is served here", code=406, reason="NotAcceptable")
    headers = [("ETag", f'"{doc.etag}"')]
    wanted_hash = req.query.get("hash")
    if key and wanted_hash:
        if wanted_hash != doc.etag:
            return Response(301, b"", "text/plain; charset=utf-8",
                            [("Location", f"/openapi/v3/{key}?hash={doc.etag}")])
        headers += [("Cache-Control", "public, immutable"), ("Vary", "Accept"),
                    ("Expires", email.utils.formatdate(time.time() + YEAR, usegmt=True))]
    if _not_modified(req, doc.etag):
        return Response(304, b"", "", headers)
    return Response(200, doc.body, "application/json", headers)
