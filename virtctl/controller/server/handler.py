"""The HTTP/1.1 request handler: bearer-token authentication on every route (a connection that fails
it is closed), bounded request bodies (413 as kube-apiserver words it, the unwanted body drained),
one ``sendall`` per response (TCP_NODELAY too), and every failure answered as a ``Status``. The
connections themselves (TLS, deadlines, workers) are ``connections.ConnectionServer``'s job."""

from __future__ import annotations

import hmac
import io
import logging
import re
import ssl
from functools import partial
from http.server import BaseHTTPRequestHandler
from typing import Any, Callable, NoReturn, cast
from urllib.parse import unquote, urlsplit

from virtctl.controller.server import routes
from virtctl.controller.server.messages import (
    Request,
    Response,
    Streaming,
    error_response,
)
from virtctl.controller.server.query import Query
from virtctl.errors import APIError, BadRequest, InternalError, TooManyRequests, Unauthorized

log = logging.getLogger("virtctl.controller.server")

DRAIN_MAX = 64 * 1024 * 1024      # an oversized body up to this is read and dropped, so the client sees the 413
_CHUNK_SIZE = re.compile(rb"[0-9a-fA-F]{1,15}")


class TooLarge(APIError):
    code, reason = 413, "RequestEntityTooLarge"


class ApiHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "virtctl-local"
    sys_version = ""
    server: Any                   # app.ApiHTTPServer (a connections.ConnectionServer)
    _drain: Callable[[], object] | None = None      # drops an unwanted body after the answer
    _drained = 0                  # bytes of unwanted bodies dropped on this connection (at most DRAIN_MAX)
    conn: Any                     # connections.Conn

    @classmethod
    def serve_connection(cls, conn: Any, server: Any) -> None:
        """Serve the requests a worker was handed (the TLS handshake is done): one, and more while
        the client has sent them already; then hand the kept-alive connection back to the server."""
        handler = conn.handler
        if handler is None:
            handler = conn.handler = cls.__new__(cls)
            handler.request, handler.client_address, handler.server, handler.conn = \
                conn.sock, conn.address, server, conn
            handler.setup()
        while True:
            handler.connection.settimeout(server.limits.head_timeout)
            server.set_deadline(conn, server.limits.head_timeout)
            handler.close_connection = True
            handler.handle_one_request()
            if handler.close_connection or not handler._buffered_request():
                break
        if handler.close_connection:
            server.close_connection(conn)
        else:
            server.park(conn)

    def _buffered_request(self) -> bool:
        """Whether the next request is already here (read ahead, or pipelined): peek without blocking."""
        sock = self.connection
        previous = sock.gettimeout()
        sock.settimeout(0)
        try:
            return bool(cast(io.BufferedReader, self.rfile).peek(1))
        except (ssl.SSLWantReadError, BlockingIOError):
            return False
        except (OSError, ValueError):
            return True                  # let the next read meet the error and close the connection
        finally:
            try:
                sock.settimeout(previous)
            except OSError:
                pass

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            try:
                self.connection.close()
            except OSError:
                pass

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        log.debug('"%s" %s', self.requestline, code)

    # one entry point for every method (http.server calls ``do_<command>``)
    def _dispatch(self) -> None:
        self._handle(self.command)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch

    # ------------------------------------------------------------------
    def _authorized(self) -> bool:
        header = self.headers.get("Authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return False
        return hmac.compare_digest(token.strip().encode(), self.server.state.token.encode())

    def _read_body(self) -> bytes:
        limit = self.server.state.max_body
        encoding = (self.headers.get("Transfer-Encoding") or "").strip()
        if encoding.lower() == "chunked":
            return self._read_chunked(limit)
        if encoding:
            self.close_connection = True
            raise BadRequest(f'unsupported transfer encoding: "{encoding[:64]}"')
        lengths = self.headers.get_all("Content-Length") or []
        if len(set(lengths)) > 1:
            self.close_connection = True
            raise BadRequest("http: message cannot contain multiple Content-Length headers; got "
                             + "[" + " ".join(f'"{v[:20]}"' for v in lengths[:4]) + "]")
        length_text = lengths[0] if lengths else None
        if not length_text:
            return b""
        try:
            length = int(length_text)
        except ValueError:
            self.close_connection = True
            raise BadRequest("invalid Content-Length") from None
        if length < 0:
            self.close_connection = True
            raise BadRequest("invalid Content-Length")
        if length > limit:
            self._too_large(limit, partial(self._discard, length))
        return self._read_exactly(length, "unexpected EOF reading the request body")

    def _too_large(self, limit: int, drain: Callable[[], object]) -> NoReturn:
        """The 413, the unread rest of the body dropped by ``drain`` after it is sent."""
        self.close_connection = True
        self._drain = drain
        raise TooLarge(f"Request entity too large: limit is {limit}")

    def _read_exactly(self, size: int, eof_message: str) -> bytes:
        data = self.rfile.read(size)
        if len(data) < size:
            self.close_connection = True
            raise BadRequest(eof_message)
        return data

    def _drop_small_body(self) -> None:
        """Read an unwanted body of up to 256 KiB (as Go's net/http does) before answering, so closing
        the connection does not reset it under the client's feet before it reads the answer."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return
        if 0 < length <= 256 * 1024:
            self._discard(length)

    def _discard(self, length: int) -> int:
        """Read and drop up to ``length`` bytes of an unwanted body (at most DRAIN_MAX in all), so a
        client that sends its whole body before reading gets the answer instead of a reset."""
        budget = self._drained
        length = min(length, DRAIN_MAX - budget)
        dropped = 0
        while dropped < length:
            got = self.rfile.read(min(length - dropped, 1 << 16))
            if not got:
                break
            dropped += len(got)
        self._drained = budget + dropped
        return dropped

    def _chunk_size(self) -> int:
        line = self.rfile.readline(1024)
        size_text = line.split(b";")[0].strip()
        if not _CHUNK_SIZE.fullmatch(size_text):
            self.close_connection = True        # Go's net/http: the body cannot be framed
            raise BadRequest("invalid byte in chunk length" if size_text else "unexpected EOF in chunked body")
        return int(size_text, 16)

    def _read_chunked(self, limit: int) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            size = self._chunk_size()
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            if total + size > limit:
                self._too_large(limit, partial(self._drain_chunks, size))
            parts.append(self._read_exactly(size, "unexpected EOF in chunked body"))
            total += size
            self.rfile.readline(1024)

    def _drain_chunks(self, size: int) -> None:
        """Drop the rest of a chunked body, starting with a chunk of ``size`` bytes not yet read."""
        while size:
            if self._discard(size) < size:
                return                           # drained all we will: the connection closes
            self.rfile.readline(1024)
            try:
                size = self._chunk_size()
            except BadRequest:
                return

    def _drain_pending(self) -> None:
        drain, self._drain = self._drain, None
        if drain is not None:
            try:
                drain()
            except (OSError, ValueError):
                pass

    def _deadline(self, seconds: float | None) -> None:
        conn = getattr(self, "conn", None)
        if conn is not None:
            self.server.set_deadline(conn, seconds)

    def _handle(self, method: str) -> None:
        self.response_started = False
        self._drain = None
        try:
            if not self._authorized():
                self.close_connection = True            # no second try on this connection
                self._drop_small_body()
                raise Unauthorized("Unauthorized")
            if getattr(self, "conn", None) is not None:
                self.conn.served = True
            url = urlsplit(self.path)
            limits = getattr(self.server, "limits", None)
            if limits is not None:
                self._deadline(limits.body_timeout)
                self.connection.settimeout(limits.body_timeout)
            body = self._read_body()
            self._deadline(None)
            req = Request(method if method != "HEAD" else "GET", unquote(url.path), Query(url.query), self.headers,
                          body)
            result = routes.route(self.server.state, req)
            if isinstance(result, Streaming):
                conn = getattr(self, "conn", None)
                if conn is not None and not self.server.begin_stream(conn):
                    raise TooManyRequests("Too many requests, please try again later.")
                try:
                    result.run(self)
                finally:
                    if conn is not None:
                        self.server.end_stream()
            else:
                self._send(result, head_only=method == "HEAD")
        except APIError as e:
            self._send_error(e)
        except (TimeoutError, BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True
        except Exception as e:
            # one line in the log, the traceback only at debug level: a client must not be able to
            # fill the log with tracebacks (the request is answered 500 either way)
            log.error("unexpected error serving %s %s: %s: %s", method, urlsplit(self.path).path,
                      type(e).__name__, str(e)[:200])
            log.debug("traceback", exc_info=True)
            self._send_error(InternalError("an error on the server has prevented the request from succeeding"))
        finally:
            self._drain_pending()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The stdlib's own refusals (bad request line, unsupported method, oversized headers) as a
        Status too, never an HTML page."""
        self.close_connection = True
        reason = {400: "BadRequest", 404: "NotFound", 405: "MethodNotAllowed", 414: "RequestURITooLong",
                  431: "RequestHeaderFieldsTooLarge", 501: "MethodNotAllowed"}.get(code, "BadRequest")
        status = 405 if code == 501 else code
        err = APIError(message or self.responses.get(code, ("error",))[0], code=status, reason=reason)
        self.response_started = False
        self._send_error(err)

    def _send_error(self, err: APIError) -> None:
        if self.response_started:
            self.close_connection = True
            return
        try:
            self._send(error_response(err))
        except OSError:
            self.close_connection = True

    def _send(self, resp: Response, head_only: bool = False) -> None:
        self.response_started = True
        lines = [f"{self.protocol_version} {resp.code} {self.responses.get(resp.code, ('',))[0]}"]
        if resp.code != 304:                    # a 304 describes the cached body, it has none of its own
            lines += [f"Content-Type: {resp.content_type}", f"Content-Length: {len(resp.body)}"]
        if not any(k.lower() == "cache-control" for k, _ in resp.headers):
            lines.append("Cache-Control: no-cache, private")
        lines.append(f"Date: {self.date_time_string()}")
        lines += [f"{k}: {v}" for k, v in resp.headers]
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", errors="replace")
        self.wfile.write(head + (b"" if head_only else resp.body))
        self.wfile.flush()
        self.log_request(resp.code, len(resp.body))

