"""Outbound HTTP of the controller (registry pulls, http data volume imports), on urllib3.

One pool of kept-alive connections per process and TLS mode (verified, or not verified for a
registry on loopback or listed as insecure); bodies are streamed as sent (no transparent
decompression: digests are over the bytes on the wire, and the importer undoes gzip/xz itself);
no retries; redirects followed here so that every hop is checked. Which hosts may be spoken to
in plain HTTP is decided by :func:`plain_http_allowed` (see docs/standalone.md#registries).

Every failure to get an answer is a :class:`TransportError` (one line, no traceback); HTTP error
statuses are answers, left to the caller.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
import urllib.parse
import warnings
from typing import TYPE_CHECKING, BinaryIO, Callable, Iterable, Iterator, Mapping, Union

import urllib3
from urllib3.exceptions import InsecureRequestWarning

from virtctl.errors import VirtctlError

if TYPE_CHECKING:
    from urllib3 import BaseHTTPResponse as Response  # urllib3 2.x; 1.26 returns the same shape

USER_AGENT = "virtctl"
TIMEOUT_S = 30.0
CHUNK = 1 << 20
MAX_REDIRECTS = 10
REDIRECT_STATUSES = (301, 302, 303, 307, 308)

HostCheck = Callable[[str], bool]          # hostport → yes/no


class HTTPFailure(VirtctlError):
    """No usable answer from an HTTP server."""


class TransportError(HTTPFailure):
    """The request got no HTTP answer: unknown host, refused, TLS failure, reset, timeout."""

    def __init__(self, reason: str, *, hostport: str, unknown_host: bool = False, refused: bool = False,
                 handshake: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.hostport = hostport
        self.unknown_host = unknown_host
        self.refused = refused
        self.handshake = handshake     # TLS failed or the peer hung up: it may speak plain HTTP


class PlainHTTPRefused(HTTPFailure):
    """A plain http:// URL to a host that may only be spoken to over TLS."""

    def __init__(self, hostport: str):
        super().__init__(f"refusing plain HTTP to {hostport}")
        self.hostport = hostport


class UnsupportedScheme(HTTPFailure):
    pass


class TooManyRedirects(HTTPFailure):
    pass


# --- which hosts may be spoken to how ---------------------------------------------------------

def split_host_port(hostport: str) -> tuple[str, int | None]:
    if hostport.startswith("["):
        host, _, rest = hostport[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    host, sep, port = hostport.rpartition(":")
    if sep and port.isdigit():
        return host, int(port)
    return hostport, None


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def plain_http_allowed(hostport: str, insecure_registries: Iterable[str] = ()) -> bool:
    """May this registry be spoken to without TLS? Loopback (any port) or listed as insecure.

    A listed ``host`` covers every port of that host, ``host:port`` only that port (as Docker).
    """
    host, _ = split_host_port(hostport)
    if is_loopback(host):
        return True
    wanted = hostport.lower()
    for entry in insecure_registries:
        entry = entry.strip().lower()
        for prefix in ("http://", "https://"):
            if entry.startswith(prefix):
                entry = entry[len(prefix):]
        entry = entry.rstrip("/")
        if entry == wanted or entry == host.lower():
            return True
    return False


def host_of(url: str) -> str:
    """host[:port] of a URL, without user info, lower case."""
    return urllib.parse.urlsplit(url).netloc.rsplit("@", 1)[-1].lower()


# --- pools ------------------------------------------------------------------------------------

_pools: dict[bool, urllib3.PoolManager] = {}
_pools_lock = threading.Lock()


def pool(verify: bool = True) -> urllib3.PoolManager:
    """The process's connection pool for verified (or unverified) TLS; plain HTTP uses either."""
    with _pools_lock:
        manager = _pools.get(verify)
        if manager is None:
            if not verify:
                # unverified TLS is chosen per host by plain_http_allowed; urllib3 would warn per request
                warnings.filterwarnings("ignore", category=InsecureRequestWarning)
            manager = urllib3.PoolManager(num_pools=32, maxsize=8,
                                          cert_reqs="CERT_REQUIRED" if verify else "CERT_NONE")
            _pools[verify] = manager
        return manager


def status_of(url: str, *, ca_file: str, headers: Mapping[str, str] | None = None,
              timeout: float = TIMEOUT_S) -> int:
    """The status of one GET to a TLS server whose certificate ``ca_file`` signed (the local
    controller's own CA); a connection that fails raises :class:`TransportError`."""
    manager = urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=ca_file)
    try:
        resp = manager.request("GET", url, headers={"User-Agent": USER_AGENT, **(headers or {})},
                               redirect=False, retries=False, timeout=urllib3.Timeout(connect=timeout, read=timeout))
        return resp.status
    except (urllib3.exceptions.HTTPError, OSError, ValueError) as e:
        raise transport_error(e, host_of(url)) from e
    finally:
        manager.clear()


# --- requests ---------------------------------------------------------------------------------

def open_url(method: str, url: str, headers: Mapping[str, str] | None = None, *,
             verify: Union[bool, HostCheck] = True, allow_plain: HostCheck | None = None,
             max_redirects: int = MAX_REDIRECTS, timeout: float = TIMEOUT_S) -> Response:
    """Send one request and return the response with its body unread (stream it, then close it).

    Redirects are followed (Authorization is dropped when the host changes; 303 turns into GET).
    ``verify``: check TLS certificates, or a function of host:port saying whether to.
    ``allow_plain``: a function of host:port; plain http:// to any other host is refused.
    """
    origin = host_of(url)
    for _ in range(max_redirects + 1):
        parts = urllib.parse.urlsplit(url)
        hostport = parts.netloc.rsplit("@", 1)[-1]
        if parts.scheme == "http":
            if allow_plain is not None and not allow_plain(hostport):
                raise PlainHTTPRefused(hostport)
            check = True
        elif parts.scheme == "https":
            check = verify(hostport) if callable(verify) else verify
        else:
            raise UnsupportedScheme(f"unsupported URL scheme in {url[:80]}")
        hdrs = {"User-Agent": USER_AGENT, **(headers or {})}
        if host_of(url) != origin:
            hdrs.pop("Authorization", None)
        try:
            resp = pool(check).request(method, url, headers=hdrs, preload_content=False, decode_content=False,
                                       redirect=False, retries=False, enforce_content_length=False,
                                       timeout=urllib3.Timeout(connect=timeout, read=timeout))
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise transport_error(e, hostport) from e
        location = resp.headers.get("Location")
        if resp.status in REDIRECT_STATUSES and location:
            drain(resp)
            url = urllib.parse.urljoin(url, location)
            if resp.status == 303:
                method = "GET"
            continue
        return resp
    raise TooManyRedirects("too many redirects")


def read(resp: Response, limit: int) -> bytes:
    """Up to ``limit`` bytes of the body (a small one: a manifest, a token, an error)."""
    try:
        return resp.read(limit)
    except (urllib3.exceptions.HTTPError, OSError) as e:
        raise transport_error(e) from e


def chunks(resp: Response) -> Iterator[bytes]:
    """The body in chunks of up to :data:`CHUNK` bytes. A body cut short just ends early (the
    caller compares with Content-Length or a digest); any other failure is a TransportError."""
    try:
        yield from resp.stream(CHUNK, decode_content=False)
    except (urllib3.exceptions.HTTPError, OSError) as e:
        raise transport_error(e) from e


def copy_body(resp: Response, out: BinaryIO, on_chunk: Callable[[bytes, int], None] | None = None) -> int:
    """Stream the body into ``out``; ``on_chunk(chunk, bytes so far)`` after each. Returns the size."""
    done = 0
    for chunk in chunks(resp):
        out.write(chunk)
        done += len(chunk)
        if on_chunk is not None:
            on_chunk(chunk, done)
    return done


def drain(resp: Response) -> None:
    """Finish with a response whose body does not matter (the connection goes back to the pool)."""
    try:
        resp.read(1 << 16)
    except (urllib3.exceptions.HTTPError, OSError):
        pass
    resp.close()


# --- errors -----------------------------------------------------------------------------------

def _causes(e: BaseException) -> list[BaseException]:
    """``e`` and what it wraps (urllib3 keeps the socket error as a cause or an argument)."""
    seen: list[BaseException] = []
    todo: list[BaseException] = [e]
    while todo:
        cur = todo.pop()
        if any(cur is s for s in seen) or len(seen) > 16:
            continue
        seen.append(cur)
        todo.extend(x for x in (cur.__cause__, cur.__context__, getattr(cur, "reason", None), *cur.args)
                    if isinstance(x, BaseException))
    return seen


def transport_error(e: BaseException, hostport: str = "") -> TransportError:
    """A one-line :class:`TransportError` for what urllib3 or the socket raised."""
    causes = _causes(e)
    unknown_host = any(isinstance(c, socket.gaierror) for c in causes) or \
        type(e).__name__ == "NameResolutionError"
    refused = any(isinstance(c, ConnectionRefusedError) for c in causes)
    handshake = any(isinstance(c, (ssl.SSLError, urllib3.exceptions.SSLError, ConnectionResetError,
                                   http.client.BadStatusLine)) for c in causes)
    if refused:
        reason = "connection refused"
    else:
        # the innermost socket-level error says it best ("timed out", "[SSL: WRONG_VERSION_NUMBER] …")
        inner = [c for c in causes if isinstance(c, OSError) and str(c)]
        text = str(inner[-1]) if inner else str(e)
        reason = text.splitlines()[0] if text else type(e).__name__
    return TransportError(reason, hostport=hostport, unknown_host=unknown_host, refused=refused,
                          handshake=handshake)
