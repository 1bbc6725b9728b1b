"""Request and response values passed between the HTTP handler and the route functions."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from virtctl.controller.runtime import Runtime
from virtctl.controller.server.query import Query
from virtctl.controller.store.protocol import Store
from virtctl.controller.subresource import SubresourceTable
from virtctl.errors import APIError, BadRequest, UnsupportedMediaType
from virtctl.model import gojson, yamljson

JSON_TYPES = ("application/json", "application/merge-patch+json", "application/json-patch+json",
              "application/strategic-merge-patch+json", "application/apply-patch+yaml", "*/*", "")
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")


@dataclass
class ServerState:
    """What every request handler may use: shared by all connections of one server."""

    runtime: Runtime
    token: str
    subresources: SubresourceTable
    max_body: int = 3 * 1024 * 1024
    stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def store(self) -> Store:
        return self.runtime.store


@dataclass
class Request:
    method: str
    path: str
    query: Query
    headers: Any              # email.message.Message from http.server
    body: bytes = b""

    @property
    def content_type(self) -> str:
        return (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()

    def json(self, *, empty: Any = None) -> Any:
        """The body decoded (a missing Content-Type means JSON; YAML accepted as kubectl's
        ``application/yaml``); ``empty`` when there is no body."""
        if not self.body.strip():
            return empty
        ctype = self.content_type
        if ctype in YAML_TYPES:
            try:
                return gojson.without_lone_surrogates(yamljson.loads(self.body))
            except ValueError as e:
                raise BadRequest(f"error decoding YAML: {e}") from None
        if ctype not in JSON_TYPES:
            raise UnsupportedMediaType('the body of the request was in an unknown format - accepted media types '
                                       'include: application/json, application/yaml')
        try:
            return gojson.loads(self.body)
        except (ValueError, UnicodeDecodeError) as e:
            raise BadRequest(f"the request body is not valid JSON: {e}") from None


@dataclass
class Response:
    code: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)


def encode(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def json_response(code: int, obj: Any, warnings: list[str] | tuple[str, ...] = ()) -> Response:
    headers = [("Warning", warning_header(w)) for w in dict.fromkeys(warnings)]
    return Response(code, encode(obj), "application/json", headers)


def error_response(err: APIError) -> Response:
    return Response(err.code, encode(err.to_status()), "application/json")


def warning_header(text: str) -> str:
    """RFC 7234 warn-code 299 as the apiserver sends it (kubectl prints ``Warning: <text>``)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", " ").replace("\n", " ")
    return f'299 - "{escaped}"'


@dataclass
class Streaming:
    """A response that takes over the connection (watch, websocket): ``run(handler)``."""

    run: Callable[[Any], None]
