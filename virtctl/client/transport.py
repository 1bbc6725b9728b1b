"""The HTTPS transport: one small interface (request, watch stream, websocket parameters) over the
standard library, so a command pays ~nothing beyond the request itself
(docs/architecture.md#start-up-cost).

One keep-alive connection per transport (:mod:`virtctl.client.http11`, TCP_NODELAY); a watch gets
its own connection so the main one stays usable while a stream is open. Only ``socket`` and ``ssl``
are imported up front: everything else waits until a request needs it.
"""

from __future__ import annotations

import os
import socket
import ssl

TYPE_CHECKING = False
if TYPE_CHECKING:                  # typing costs ≈ 3 ms per process; annotations only
    from collections.abc import Iterator

from virtctl.client import http11
from virtctl.client.kubeconfig import ClientConfig
from virtctl.errors import ConfigError, ConnectionFailed

USER_AGENT = "virtctl/v1.9.0 (linux/amd64) python"


class Response:
    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: dict[str, str], body: bytes):
        self.status = status
        self.headers = headers           # lower-case names
        self.body = body

    def __repr__(self) -> str:
        return f"Response({self.status}, {len(self.body)} bytes)"


class WebSocketParams:
    """What a websocket client needs to dial the API server with the same credentials."""

    def __init__(self, url: str, ssl_context: ssl.SSLContext | None, headers: dict[str, str] | None = None,
                 server_hostname: str | None = None, proxy_url: str = "", timeout: float | None = None):
        self.url = url                            # wss://host:port/path?query
        self.ssl_context = ssl_context
        self.headers = dict(headers or {})
        self.server_hostname = server_hostname    # SNI / verification name (tls-server-name)
        self.proxy_url = proxy_url
        self.timeout = timeout                    # --request-timeout: bounds the dial and handshake


def split_url(url: str) -> tuple[str, str, int | None, str]:
    """``scheme://host[:port][/path]`` → (scheme, host, port or None, path); IPv6 in brackets.
    (``urllib.parse`` costs more to import than this request takes.)"""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "", "", None, ""
    authority, slash, path = rest.partition("/")
    authority = authority.rpartition("@")[2]
    port_text = ""
    if authority.startswith("["):
        host, _, after = authority[1:].partition("]")
        if after.startswith(":"):
            port_text = after[1:]
    else:
        host, _, port_text = authority.partition(":")
    port = None
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ConfigError(f"invalid server URL {url!r}: bad port {port_text!r}")
        port = int(port_text)
    return scheme.lower(), host, port, (slash + path).split("?", 1)[0].split("#", 1)[0]


def encode_query(query: dict) -> str:
    from urllib.parse import quote, urlencode

    return urlencode({k: v for k, v in query.items() if v is not None}, quote_via=quote)


def system_tls_context(extra_ca: str | bytes | None, insecure: bool) -> ssl.SSLContext:
    """TLS for the side servers (CDI's upload proxy, an export server): the system's roots plus
    ``extra_ca`` (a PEM that does not load is ignored), or no verification at all with ``insecure``."""
    ctx = ssl.create_default_context()
    if insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif extra_ca:
        try:
            ctx.load_verify_locations(cadata=extra_ca if isinstance(extra_ca, str)
                                      else extra_ca.decode("ascii", errors="replace"))
        except (ssl.SSLError, ValueError):
            pass
    return ctx


def _ssl_context(cfg: ClientConfig) -> ssl.SSLContext:
    # PROTOCOL_TLS_CLIENT instead of create_default_context(): no system CA store load when a CA is given
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cfg.insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ca = cfg.ca_pem()
        if ca:
            try:
                ctx.load_verify_locations(cadata=ca.decode("ascii", errors="replace"))
            except (ssl.SSLError, ValueError) as e:
                raise ConfigError(f"unable to load root certificates: {e}") from None
        else:
            ctx.load_default_certs()
    cert, key = cfg.cert_pem(), cfg.key_pem()
    if cert:
        _load_client_cert(ctx, cert, key or cert)
    return ctx


def _load_client_cert(ctx: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    import tempfile

    # ssl only loads a chain from files: write a private temp file, load it, delete it at once
    fd, path = tempfile.mkstemp(prefix="virtctl-cert-", suffix=".pem")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(cert.rstrip(b"\n") + b"\n" + key)
        ctx.load_cert_chain(path)
    except (ssl.SSLError, ValueError) as e:
        raise ConfigError(f"tls: failed to load the client certificate and key: {e}") from None
    finally:
        os.unlink(path)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    import ipaddress

    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _env_proxy(scheme: str, host: str) -> str:
    """Go's ProxyFromEnvironment: HTTPS_PROXY/HTTP_PROXY unless NO_PROXY matches or host is loopback."""
    names = ("HTTPS_PROXY", "https_proxy") if scheme == "https" else ("HTTP_PROXY", "http_proxy")
    proxy = next((os.environ[n] for n in names if os.environ.get(n)), "")
    if not proxy or _is_loopback(host):
        return ""
    no_proxy = os.environ.get("NO_PROXY") or os.environ.get("no_proxy") or ""
    for entry in (e.strip() for e in no_proxy.split(",")):
        if entry == "*" or (entry and (host == entry.lstrip(".") or host.endswith("." + entry.lstrip(".")))):
            return ""
    return proxy


REPLAYABLE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")


def _deadline(timeout: float | None) -> float | None:
    """--request-timeout bounds a whole request, answer included (Go's ``Client.Timeout``)."""
    if timeout is None:
        return None
    import time

    return time.monotonic() + timeout


def may_retry(method: str, headers: dict[str, str], error: BaseException, *, reused: bool, sent: int,
              answered: bool) -> bool:
    """Whether a request that failed with ``error`` may be sent again on a new connection: Go's
    ``persistConn.shouldRetryRequest``. Only a reused keep-alive connection is retried (a fresh one
    failing means the server is unwell); a request of which nothing was written may always be
    resent; otherwise only a replayable one (GET, HEAD, OPTIONS, TRACE, or one carrying an
    ``Idempotency-Key``), and only while no byte of the answer arrived and the connection was
    closed or reset under it (not on a time-out). A POST the server may have received is never
    sent twice: that would create two objects."""
    if not reused or isinstance(error, TimeoutError):   # out of time: no second try
        return False
    if sent == 0:
        return True
    if answered or not isinstance(error, (ConnectionError, ssl.SSLEOFError, ssl.SSLZeroReturnError)):
        return False
    names = {k.lower() for k in headers}
    return method.upper() in REPLAYABLE_METHODS or "idempotency-key" in names or "x-idempotency-key" in names


class HTTPTransport:
    """Requests to one API server with the credentials of one :class:`ClientConfig`."""

    def __init__(self, cfg: ClientConfig):
        self.cfg = cfg
        scheme, host, port, path = split_url(cfg.server)
        if scheme not in ("http", "https") or not host:
            raise ConfigError(f"invalid server URL {cfg.server!r}")
        self.scheme = scheme
        self.host = host
        self.port = port or (443 if self.scheme == "https" else 80)
        self.prefix = path.rstrip("/")
        self.proxy = cfg.proxy_url or _env_proxy(self.scheme, self.host)
        self._ssl: ssl.SSLContext | None = None
        self._conn: http11.Connection | None = None
        self._plugin_token: str | None = None
        if cfg.plugin_config is not None:
            from virtctl.client.kube_auth import plugin_credentials

            creds = plugin_credentials(cfg.plugin_config)
            self._plugin_token = creds.token
            if creds.cert_file and not cfg.cert_pem():
                cfg.cert_file, cfg.key_file = creds.cert_file, creds.key_file

    # ---- connection set-up
    @property
    def ssl_context(self) -> ssl.SSLContext | None:
        if self.scheme != "https":
            return None
        if self._ssl is None:
            self._ssl = _ssl_context(self.cfg)
        return self._ssl

    def _new_connection(self, timeout: float | None) -> http11.Connection:
        if not self.proxy:
            return http11.Connection(self.host, self.port, timeout=timeout, ssl_context=self.ssl_context,
                                     server_hostname=self.cfg.tls_server_name or None)
        _, phost, pport, _ = split_url(self.proxy if "://" in self.proxy else "http://" + self.proxy)
        if self.scheme == "https":
            return http11.Connection(phost, pport or 80, timeout=timeout, ssl_context=self.ssl_context,
                                     server_hostname=self.cfg.tls_server_name or self.host,
                                     tunnel=(self.host, self.port))
        return http11.Connection(phost, pport or 80, timeout=timeout, host_header=f"{self.host}:{self.port}")

    def headers(self) -> dict[str, str]:
        h = {"User-Agent": USER_AGENT}
        token = self._plugin_token or self.cfg.bearer_token()
        if token:
            h["Authorization"] = f"Bearer {token}"
        elif self.cfg.username or self.cfg.password:
            import base64

            raw = f"{self.cfg.username}:{self.cfg.password}".encode()
            h["Authorization"] = "Basic " + base64.b64encode(raw).decode()
        if self.cfg.impersonate:
            h["Impersonate-User"] = self.cfg.impersonate
        if self.cfg.impersonate_uid:
            h["Impersonate-Uid"] = self.cfg.impersonate_uid
        return h

    def url_path(self, path: str, query: dict | None = None) -> str:
        full = self.prefix + path
        if query:
            full += "?" + encode_query(query)
        if self.proxy and self.scheme == "http":
            full = f"http://{self.host}:{self.port}{full}"
        return full

    def full_url(self, target: str) -> str:
        """The absolute URL of a request target from :meth:`url_path`."""
        if "://" in target:
            return target
        netloc = self.cfg.server.partition("://")[2].partition("/")[0] or f"{self.host}:{self.port}"
        return f"{self.scheme}://{netloc}{target}"

    def _send(self, conn: http11.Connection, method: str, path: str, body: bytes | None,
              headers: dict[str, str], deadline: float | None = None) -> http11.Response:
        pairs = list(headers.items()) + [("Impersonate-Group", g) for g in self.cfg.impersonate_groups]
        return conn.request(method, path, pairs, body, deadline=deadline)

    # ---- the interface
    def request(self, method: str, path: str, *, query: dict | None = None, body: bytes | None = None,
                content_type: str | None = None, accept: str = "application/json",
                timeout: float | None = None) -> Response:
        headers = self.headers()
        headers["Accept"] = accept
        if content_type:
            headers["Content-Type"] = content_type
        target = self.url_path(path, query)
        timeout = timeout if timeout is not None else self.cfg.timeout
        deadline = _deadline(timeout)
        for attempt in (0, 1):
            conn = self._conn
            if conn is not None and conn.idle_closed():
                self.close()                # the server closed it while idle: dial, never resend
                conn = None
            reused = conn is not None
            if conn is None:
                conn = self._conn = self._new_connection(timeout)
            else:
                conn.settimeout(timeout)
            try:
                resp = self._send(conn, method, target, body, headers, deadline)
                data = resp.read()
            except OSError as e:
                self.close()
                if attempt == 0 and may_retry(method, headers, e, reused=reused, sent=conn.sent,
                                              answered=conn.answered):
                    continue
                failure = self._connection_error(e)
                # what Go's url.Error names (virtctl's messages quote it: Put "https://…/start": dial tcp …)
                failure.method, failure.url = method, self.full_url(target)  # type: ignore[attr-defined]
                raise failure from None
            if resp.will_close:
                self.close()
            return Response(resp.status, {k.lower(): v for k, v in resp.headers}, data)
        raise AssertionError("unreachable")

    def stream(self, path: str, *, query: dict | None = None,
               timeout: float | None = None) -> Iterator[bytes]:
        """A GET whose answer arrives line by line (watch). Errors arrive as a Response via
        :class:`StreamError`."""
        headers = self.headers()
        headers["Accept"] = "application/json"
        # --request-timeout bounds a watch too (kubectl -w ends then)
        timeout = timeout if timeout is not None else self.cfg.timeout
        conn = self._new_connection(timeout)
        try:
            try:
                resp = self._send(conn, "GET", self.url_path(path, query), None, headers, _deadline(timeout))
            except OSError as e:
                raise self._connection_error(e) from None
            if resp.status >= 300:
                raise StreamError(Response(resp.status, {k.lower(): v for k, v in resp.headers}, resp.read()))
            while True:
                try:
                    line = resp.readline()
                except TimeoutError:
                    return              # --request-timeout ran out: the watch ends, as kubectl's does
                except OSError as e:    # reset, or cut in the middle of the stream: say so
                    raise self._connection_error(e) from None
                if not line:
                    return
                if line.strip():
                    yield line
        finally:
            conn.close()

    def websocket_params(self, path: str, query: dict | None = None) -> WebSocketParams:
        scheme = "wss" if self.scheme == "https" else "ws"
        host = f"[{self.host}]" if ":" in self.host else self.host
        url = f"{scheme}://{host}:{self.port}{self.prefix}{path}"
        if query:
            url += "?" + encode_query(query)
        headers = self.headers()
        headers.pop("User-Agent", None)
        if self.cfg.impersonate_groups:
            headers["Impersonate-Group"] = ",".join(self.cfg.impersonate_groups)
        return WebSocketParams(url, self.ssl_context, headers, self.cfg.tls_server_name or None, self.proxy,
                               self.cfg.timeout)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # ---- errors
    def _connection_error(self, e: BaseException) -> ConnectionFailed:
        where = f"{self.host}:{self.port}"
        if isinstance(e, ConnectionRefusedError):
            return ConnectionFailed(f"The connection to the server {where} was refused - "
                                    "did you specify the right host or port?")
        if isinstance(e, ssl.SSLCertVerificationError):
            reason = e.verify_message or str(e)
            if "unable to get local issuer" in reason or "self-signed" in reason or "self signed" in reason:
                reason = "x509: certificate signed by unknown authority"
            elif "Hostname mismatch" in reason or "IP address mismatch" in reason:
                reason = f"x509: certificate is not valid for {self.cfg.tls_server_name or self.host}"
            return ConnectionFailed(f"Unable to connect to the server: tls: failed to verify certificate: {reason}")
        if isinstance(e, ssl.SSLError):
            return ConnectionFailed(f"Unable to connect to the server: tls: {e.reason or e}")
        if isinstance(e, socket.gaierror):
            return ConnectionFailed(f"Unable to connect to the server: dial tcp: lookup {self.host}: no such host")
        if isinstance(e, http11.ConnectTimeout):
            if e.by_request:
                return ConnectionFailed("Unable to connect to the server: net/http: request canceled while waiting "
                                        "for connection (Client.Timeout exceeded while awaiting headers)")
            if e.phase == "tls":
                return ConnectionFailed("Unable to connect to the server: net/http: TLS handshake timeout")
            return ConnectionFailed(f"Unable to connect to the server: dial tcp {where}: i/o timeout")
        if isinstance(e, (TimeoutError, socket.timeout)):
            return ConnectionFailed("Unable to connect to the server: net/http: request canceled "
                                    "(Client.Timeout exceeded while awaiting headers)")
        if isinstance(e, (ConnectionResetError, BrokenPipeError)):
            return ConnectionFailed(f"Unable to connect to the server: connection to {where} was closed "
                                    "by the server")
        text = getattr(e, "strerror", None) or str(e) or type(e).__name__
        return ConnectionFailed(f"Unable to connect to the server: dial tcp {where}: {text}")


class StreamError(Exception):
    def __init__(self, response: Response):
        super().__init__(response.status)
        self.response = response
