"""The core ``services/proxy`` subresource: ``/api/v1/namespaces/{ns}/services/{id}/proxy[/{path}]``
with ``id`` = ``name``, ``name:port`` or ``scheme:name:port``, any of GET, POST, PUT, PATCH, DELETE,
HEAD and OPTIONS, proxied as kube-apiserver proxies it to one endpoint of the Service
(docs/standalone.md#services).

* The endpoints are the running, unpaused VMIs the Service selects (a paused VMI's launcher pod is
  not ready in KubeVirt), each at the guest port its Service port's ``targetPort`` resolves to; one
  is picked at random, as kube-apiserver picks one endpoint address.
* A port number in ``id`` names the Service port with that ``port`` (503 ``no service port <n>
  found for service "<name>"``); a name, or nothing, must be a Service port's ``name``. A Service
  that does not exist or has no selector has no Endpoints object: 404 ``endpoints "<name>" not
  found``; no endpoint: 503 ``no endpoints available for service "<name>"``.
* The guest port is reached the way port-forward reaches it (:func:`guest_access.dial`, a loopback
  host forward); ``https:`` speaks TLS to the guest without verifying its certificate, as
  kube-apiserver's proxy transport does. A refused, unreachable or silent guest is 503 ``error
  trying to reach service: …``.
* The request goes on with its path (kube's leading/trailing-slash rules) and raw query, the
  hop-by-hop headers and ``Authorization`` dropped, ``X-Forwarded-For`` and ``X-Forwarded-Uri``
  added; the answer comes back with its status, headers (hop-by-hop and CORS headers dropped, a
  same-host ``Location`` rewritten under the proxy path) and body, streamed in bounded chunks (an
  HTML page's links rewritten by :mod:`html_links`). An empty path on GET/HEAD is kube's 301 to
  the path with ``/`` added.
* An upgrade request (``Connection: Upgrade``: websockets, SPDY) is joined to the guest by
  :mod:`upgrade_stream`; a guest that cannot be dialled is then kube's 500 ``error dialing backend:
  …``.
"""

from __future__ import annotations

import http.client
import logging
import random
import re
import socket
import ssl
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from posixpath import normpath
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from virtctl import errors
from virtctl.controller import guest_access
from virtctl.controller.server import html_links, upgrade_stream
from virtctl.controller.server.messages import Request, ServerState, Streaming
from virtctl.controller.streams import find_host
from virtctl.controller.subresource import ActionContext
from virtctl.controller.virt import hostfwd
from virtctl.controller.virt.hypervisor import domain_name
from virtctl.model import kinds
from virtctl.model import services as svcmodel
from virtctl.model import status as st

log = logging.getLogger(__name__)

SCHEMES = ("", "http", "https")
CHUNK = 64 * 1024
HEAD_TIMEOUT = 60.0         # the guest must start its answer within this …
IDLE_TIMEOUT = 300.0        # … and may then pause its body this long
TLS_TIMEOUT = 10.0          # Go's TLSHandshakeTimeout
# RFC 7230 hop-by-hop headers, as Go's httputil.ReverseProxy drops them (plus those named in Connection)
HOP_BY_HOP = ("connection", "proxy-connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
              "te", "trailer", "transfer-encoding", "upgrade")
CORS = ("access-control-allow-credentials", "access-control-allow-headers", "access-control-allow-methods",
        "access-control-allow-origin")
_NUMBER = re.compile(r"[+-]?[0-9]+")


# ---------------------------------------------------------------- decisions (no sockets)

def split_id(service_id: str) -> tuple[str, str, str]:
    """``name``, ``name:port`` or ``scheme:name:port`` → (scheme, name, port); 400 ``invalid service
    request`` otherwise (apimachinery's SplitSchemeNamePort)."""
    parts = service_id.split(":")
    if len(parts) == 1:
        scheme, name, port = "", parts[0], ""
    elif len(parts) == 2:
        scheme, name, port = "", parts[0], parts[1]
    elif len(parts) == 3:
        scheme, name, port = parts
    else:
        scheme, name, port = "?", "", ""
    if not name or scheme not in SCHEMES:
        raise errors.BadRequest(f'invalid service request "{service_id}"')
    return scheme, name, port


def port_name(service: dict[str, Any], name: str, port: str) -> str:
    """The Service port's name that ``port`` means: a number is looked up among ``spec.ports[].port``
    (503 when none has it), anything else is a name already."""
    if not _NUMBER.fullmatch(port):
        return port
    number = int(port)
    for p in (service.get("spec") or {}).get("ports") or []:
        if p.get("port") == number:
            return str(p.get("name") or "")
    raise errors.ServiceUnavailable(f'no service port {number} found for service "{name}"')


def is_endpoint(vmi: dict[str, Any]) -> bool:
    """A VMI whose launcher pod would be an Endpoints address: Running, not being deleted."""
    return st.phase(vmi) == st.RUNNING and not (vmi.get("metadata") or {}).get("deletionTimestamp")


def endpoints(service: dict[str, Any], vmis: Iterable[dict[str, Any]], name: str, port: str,
              service_id: str) -> list[tuple[dict[str, Any], int]]:
    """The (VMI, guest port) pairs that can serve Service port ``port`` (a port name): ready VMIs
    the selector matches, whose target port resolves. The Endpoints controller's and
    ResourceLocation's errors: no Endpoints object (no selector), no endpoint at all, none for
    this port."""
    spec = service.get("spec") or {}
    selector = spec.get("selector")
    if not selector:
        raise errors.NotFound(f'endpoints "{name}" not found', details={"name": name, "kind": "endpoints"})
    ports = spec.get("ports") or []
    any_endpoint = False
    out = []
    for vmi in vmis:
        if not is_endpoint(vmi) or not svcmodel.selects(selector, svcmodel.launcher_labels(vmi)):
            continue
        for p in ports:
            guest = svcmodel.guest_port(p, vmi)
            if guest is None:
                continue
            any_endpoint = True
            if str(p.get("name") or "") == port and not st.is_paused(vmi):
                out.append((vmi, guest))
    if not any_endpoint:
        raise errors.ServiceUnavailable(f'no endpoints available for service "{name}"')
    if not out:
        raise errors.ServiceUnavailable(f'no endpoints available for service "{service_id}"')
    return out


def subpath(path: str) -> str:
    """The ``{path}`` after ``…/services/{id}/proxy`` in a (decoded) request path, as the apiserver
    passes it on: a leading ``/`` when not empty, the request's trailing ``/`` kept."""
    segments = path.strip("/").split("/")
    seen = 0
    rest: list[str] = []
    for i, seg in enumerate(segments):
        if seg:
            seen += 1
        if seen == 7:               # api v1 namespaces {ns} services {id} proxy
            rest = segments[i + 1:]
            break
    p = "/".join(rest)
    if p and not p.startswith("/"):
        p = "/" + p
    if path.endswith("/") and not p.endswith("/"):
        p += "/"
    return p


def clean_path(sub: str) -> str:
    """The subpath cleaned as Go's path.Join does, its trailing slash kept (the guest's path)."""
    cleaned = normpath(sub) if sub else ""
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    if sub.endswith("/") and not cleaned.endswith("/"):
        cleaned += "/"
    return cleaned


def backend_target(sub: str, raw_query: str) -> str:
    """The request target sent to the guest: the cleaned subpath escaped as Go escapes a URL path,
    and the raw query as it came."""
    target = quote(clean_path(sub), safe="/$&+,:;=@") or "/"
    return f"{target}?{raw_query}" if raw_query else target


def path_prepend(request_path: str, sub: str) -> str:
    """What goes before a guest's absolute path to reach it through the proxy: the (decoded)
    request path without the guest's path at its end."""
    suffix = clean_path(sub)
    if request_path.endswith("/") and not suffix.endswith("/"):
        suffix += "/"
    return request_path[:-len(suffix)] if suffix and request_path.endswith(suffix) else request_path


def is_upgrade_request(connection_values: Sequence[str]) -> bool:
    """apimachinery's httpstream.IsUpgradeRequest: a ``Connection`` header mentions upgrade."""
    return any("upgrade" in v.lower() for v in connection_values)


def _connection_tokens(headers: Sequence[tuple[str, str]]) -> set[str]:
    return {t.strip().lower() for k, v in headers if k.lower() == "connection" for t in v.split(",") if t.strip()}


def request_headers(headers: Sequence[tuple[str, str]], client_ip: str, forwarded_uri: str,
                    body_length: int | None) -> list[tuple[str, str]]:
    """The client's headers as the guest gets them: hop-by-hop, framing and ``Authorization``
    dropped, ``X-Forwarded-For`` (appended to) and ``X-Forwarded-Uri`` set, ``Content-Length``
    of the body as read."""
    drop = set(HOP_BY_HOP) | _connection_tokens(headers) | {"authorization", "content-length",
                                                             "x-forwarded-uri"}
    out = [(k, v) for k, v in headers if k.lower() not in drop]
    prior = [v for k, v in out if k.lower() == "x-forwarded-for"]
    out = [(k, v) for k, v in out if k.lower() != "x-forwarded-for"]
    out.append(("X-Forwarded-For", ", ".join([*prior, client_ip])))
    out.append(("X-Forwarded-Uri", forwarded_uri))
    if body_length is not None:
        out.append(("Content-Length", str(body_length)))
    return out


def rewrite_location(location: str, prepend: str, backend_host: str, request_host: str) -> str:
    """A redirect's ``Location`` from the guest, as apimachinery's proxy Transport rewrites it: an
    absolute path on the guest's (or the client's) host is put under the proxy path ``prepend``;
    relative and other hosts' URLs are left alone."""
    try:
        url = urlsplit(location)
    except ValueError:
        return location
    if (url.netloc and url.netloc not in (backend_host, request_host)) or not url.path.startswith("/"):
        return location
    scheme, netloc = url.scheme, url.netloc
    if url.netloc != request_host:
        scheme, netloc = "", ""
    path = url.path
    if not path.startswith(prepend):
        joined = normpath(prepend + "/" + path)
        path = joined + "/" if path.endswith("/") and not joined.endswith("/") else joined
    return urlunsplit((scheme, netloc, path, url.query, url.fragment))


def response_headers(headers: Sequence[tuple[str, str]], rewrite: Callable[[str], str]) -> list[tuple[str, str]]:
    """The guest's answer headers as the client gets them: hop-by-hop and CORS headers dropped
    (framing is the server's own), ``Location`` rewritten."""
    drop = set(HOP_BY_HOP) | _connection_tokens(headers) | set(CORS) | {"content-length"}
    out = []
    for k, v in headers:
        if k.lower() in drop:
            continue
        if k.lower() == "location":
            v = rewrite(v)
        out.append((k, v))
    return out


def reach_error(exc: BaseException) -> str:
    """The text after ``error trying to reach service:`` for a failed exchange with the guest, in
    Go's words where they differ."""
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return "net/http: timeout awaiting response headers"
    if isinstance(exc, http.client.RemoteDisconnected):
        return "EOF"
    if isinstance(exc, ConnectionResetError):
        return "read: connection reset by peer"
    if isinstance(exc, http.client.BadStatusLine):
        return f"net/http: HTTP/1.x transport connection broken: malformed HTTP response {str(exc)[:100]!r}"
    if isinstance(exc, ssl.SSLError) and "WRONG_VERSION_NUMBER" in str(exc):
        return "tls: first record does not look like a TLS handshake"
    return str(exc) or type(exc).__name__


# ---------------------------------------------------------------- the guest connection

@dataclass
class Backend:
    """A connection to the guest's port: ``sock`` to talk on, ``close`` to end it."""

    sock: socket.socket
    close: Callable[[], None]


class Unreachable(Exception):
    """The guest's port could not be dialled; the text is Go's dial error."""

    def __init__(self, text: str):
        super().__init__(text)
        self.text = text


def unreachable(text: str, upgrade: bool) -> errors.APIError:
    """kube's answer for a guest that cannot be reached: the proxy transport's 503, or for an
    upgrade request the dial error as a plain (500) error."""
    if upgrade:
        return errors.APIError(f"error dialing backend: {text}", code=500, reason="")
    return errors.ServiceUnavailable(f"error trying to reach service: {text}")


def connect_guest(state: ServerState, vmi: dict[str, Any], port: int) -> Backend:
    """A TCP connection to ``port`` in ``vmi``'s guest, as port-forward makes it."""
    meta = vmi.get("metadata") or {}
    ns, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
    ctx = ActionContext(state.runtime, ns, name, "proxy", "GET")
    try:
        tunnel = guest_access.dial(find_host(ctx, vmi), domain_name(ns, name), port, "tcp")
    except errors.InternalError as e:
        refused = guest_access.refused_text("tcp", port)
        raise Unreachable(refused if e.message.endswith(refused) else e.message) from None
    except errors.VirtctlError as e:
        raise Unreachable(e.message) from None
    return Backend(tunnel.sock, tunnel.close)


def _tls(backend: Backend) -> Backend:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE          # kube-apiserver's proxy transport: InsecureSkipVerify
    backend.sock.settimeout(TLS_TIMEOUT)
    try:
        wrapped = ctx.wrap_socket(backend.sock)
    except (OSError, ssl.SSLError) as e:
        backend.close()
        raise Unreachable(reach_error(e)) from None
    raw_close = backend.close

    def close() -> None:
        try:
            wrapped.close()
        finally:
            raw_close()
    return Backend(wrapped, close)


class _GuestConnection(http.client.HTTPConnection):
    """http.client on a socket that is already connected to the guest."""

    def __init__(self, sock: socket.socket, port: int):
        super().__init__(hostfwd.GUEST_IP, port)
        self.sock = sock

    def connect(self) -> None:               # never dial again: the tunnel is the connection
        raise http.client.NotConnected("the connection to the guest is closed")


# ---------------------------------------------------------------- the route

def handle(state: ServerState, req: Request, namespace: str, service_id: str) -> Streaming:
    """``…/services/{id}/proxy[/{path}]`` after the route matched it."""
    scheme, name, port = split_id(service_id)
    service = state.store.get(kinds.SERVICE, namespace, name) if _NUMBER.fullmatch(port) else None
    if service is not None:
        port = port_name(service, name, port)
    if service is None:
        try:
            service = state.store.get(kinds.SERVICE, namespace, name)
        except errors.NotFound:
            raise errors.NotFound(f'endpoints "{name}" not found',
                                  details={"name": name, "kind": "endpoints"}) from None
    vmis = state.store.list(kinds.VMI, namespace)[0]
    vmi, guest = random.choice(endpoints(service, vmis, name, port, service_id))
    sub = subpath(req.path)
    upgrade = is_upgrade_request(req.headers.get_all("Connection") or [])
    if not sub and req.method == "GET" and not upgrade:     # GET and HEAD: kube's redirect to the path with "/"
        return Streaming(lambda handler: _redirect(handler, req.path))
    return Streaming(lambda handler: _serve(handler, state, req, vmi, guest, scheme == "https", sub, upgrade))


def _serve(handler: Any, state: ServerState, req: Request, vmi: dict[str, Any], port: int, tls: bool, sub: str,
           upgrade: bool) -> None:
    """Dial the guest (once the server took the stream on: nothing is left open when it refused
    it), then relay; an error raised before the answer starts is sent as a Status."""
    try:
        backend = connect_guest(state, vmi, port)
        if tls:
            backend = _tls(backend)
    except Unreachable as e:
        raise unreachable(e.text, upgrade) from None
    if upgrade:
        upgrade_stream.run(handler, req, backend.sock, backend.close, backend_target(sub, urlsplit(handler.path).query))
    else:
        _exchange(handler, req, backend, port, sub)


def _redirect(handler: Any, path: str) -> None:
    query = urlsplit(handler.path).query
    _write_head(handler, 301, [("Location", path + "/" + (f"?{query}" if query else "")),
                               ("Content-Length", "0")])


def _exchange(handler: Any, req: Request, backend: Backend, port: int, sub: str) -> None:
    try:
        method = handler.command
        raw = urlsplit(handler.path)
        body = req.body if req.body or method in ("POST", "PUT", "PATCH") else None
        headers = request_headers(list(req.headers.items()), handler.client_address[0], raw.path,
                                  None if body is None else len(body))
        conn = _GuestConnection(backend.sock, port)
        try:
            backend.sock.settimeout(HEAD_TIMEOUT)
            conn.putrequest(method, backend_target(sub, raw.query), skip_host=True, skip_accept_encoding=True)
            for k, v in headers:
                conn.putheader(k, v)
            conn.endheaders(body)
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as e:
            raise errors.ServiceUnavailable(f"error trying to reach service: {reach_error(e)}") from None
        backend.sock.settimeout(IDLE_TIMEOUT)
        _relay(handler, req, resp, method, port, sub)
    finally:
        backend.close()


def _relay(handler: Any, req: Request, resp: http.client.HTTPResponse, method: str, port: int, sub: str) -> None:
    prepend, guest_host, client_host = path_prepend(req.path, sub), f"{hostfwd.GUEST_IP}:{port}", \
        req.headers.get("Host") or ""

    def rewrite(url: str) -> str:
        return rewrite_location(url, prepend, guest_host, client_host)

    headers = response_headers(resp.getheaders(), rewrite)
    code = resp.status
    bodyless = method == "HEAD" or code in (204, 304) or 100 <= code < 200
    length = resp.getheader("Content-Length") if not resp.chunked else None
    links: html_links.BodyRewriter | None = None
    if not bodyless and resp.getheader("Location") is None and \
            html_links.is_rewritten(resp.getheader("Content-Type") or "", resp.getheader("Content-Encoding") or ""):
        links = html_links.BodyRewriter(resp.getheader("Content-Encoding") or "", rewrite)
        length = None                            # the rewritten body has a length of its own
    chunked = False
    if bodyless:
        if method == "HEAD" and length is not None:
            headers.append(("Content-Length", length))
    elif length is not None and length.strip().isdigit():
        headers.append(("Content-Length", length.strip()))
    elif handler.request_version == "HTTP/1.1":
        chunked = True
        headers.append(("Transfer-Encoding", "chunked"))
    else:
        handler.close_connection = True          # the end of the body is the end of the connection
    _write_head(handler, code, headers, reason=resp.reason)
    if bodyless:
        return
    try:
        while data := resp.read1(CHUNK):
            _write_body(handler, links.feed(data) if links is not None else data, chunked)
        if links is not None:
            _write_body(handler, links.close(), chunked)
    except (TimeoutError, http.client.HTTPException, ssl.SSLError, ConnectionResetError, zlib.error) as e:
        log.info("service proxy: the guest's answer broke off: %s", reach_error(e))
        handler.close_connection = True          # the client sees a body cut short, as from Go's proxy
        return
    if length is not None and not chunked and resp.length:
        handler.close_connection = True          # shorter than announced
    if chunked:
        handler.wfile.write(b"0\r\n\r\n")
        handler.wfile.flush()


def _write_body(handler: Any, data: bytes, chunked: bool) -> None:
    if data:                                     # (an empty chunk would end a chunked body)
        handler.wfile.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
        handler.wfile.flush()


def _write_head(handler: Any, code: int, headers: list[tuple[str, str]], reason: str = "") -> None:
    handler.response_started = True
    known = handler.responses.get(code)
    lines = [f"HTTP/1.1 {code} {known[0] if known else reason}".rstrip(), "Cache-Control: no-cache, private"]
    lines += [f"{k}: {v}" for k, v in headers]
    if not any(k.lower() == "date" for k, _ in headers):
        lines.append(f"Date: {handler.date_time_string()}")
    if handler.close_connection:
        lines.append("Connection: close")
    handler.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", errors="replace"))
    handler.wfile.flush()
    handler.log_request(code)
