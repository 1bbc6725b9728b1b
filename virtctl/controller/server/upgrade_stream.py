"""An upgrade request (websocket, SPDY, …) through the service proxy, as apimachinery's
UpgradeAwareHandler relays it (docs/standalone.md#services): the request goes to the guest with
its ``Connection``/``Upgrade`` headers (``Authorization`` dropped, ``X-Forwarded-For`` appended);
the guest's answer head is read; a 101 is passed on byte for byte and the two connections are
then joined until either side ends; an error answer (400 and up) is passed on and the connection
closed; any other answer is 500 ``invalid upgrade response: status code <n>``."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Sequence
from typing import Any

from virtctl import errors
from virtctl.controller.server.messages import Request

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
HEAD_LIMIT = 64 * 1024          # an answer head larger than this is not HTTP
ANSWER_TIMEOUT = 60.0           # the guest must answer the upgrade within this
ERROR_BODY_TIMEOUT = 10.0       # an error answer's body is passed on for this long at most


def request_head(method: str, target: str, headers: Sequence[tuple[str, str]], client_ip: str,
                 body_length: int) -> bytes:
    """The request as the guest gets it: every header but ``Authorization`` and the framing ones,
    ``X-Forwarded-For`` appended to."""
    drop = {"authorization", "content-length", "transfer-encoding", "x-forwarded-for"}
    kept = [(k, v) for k, v in headers if k.lower() not in drop]
    prior = [v for k, v in headers if k.lower() == "x-forwarded-for"]
    kept.append(("X-Forwarded-For", ", ".join([*prior, client_ip])))
    if body_length:
        kept.append(("Content-Length", str(body_length)))
    lines = [f"{method} {target} HTTP/1.1", *(f"{k}: {v}" for k, v in kept)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", errors="replace")


def answer_status(head: bytes) -> int:
    """The status code of an answer head; ValueError when it is not an HTTP answer."""
    line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit() or len(parts[1]) != 3:
        raise ValueError(f"malformed HTTP response {line[:100]!r}")
    return int(parts[1])


def read_answer_head(sock: socket.socket) -> bytes:
    """What the guest sent up to the end of its answer head (maybe more: the first bytes of the
    upgraded stream, which are passed on with the head)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(CHUNK)
        if not data:
            raise ValueError("unexpected EOF" if buf else "EOF")
        buf += data
        if len(buf) > HEAD_LIMIT and b"\r\n\r\n" not in buf:
            raise ValueError("net/http: answer headers too large")
    return buf


class _Joined:
    """Both ends of an upgraded connection; ``close`` (from the server's shutdown too) ends both."""

    def __init__(self, client: socket.socket, guest: socket.socket):
        self.client, self.guest = client, guest

    def close(self, code: int = 1001, reason: str = "") -> None:
        for s in (self.client, self.guest):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def body_left(answer: bytes) -> int | None:
    """How many body bytes of an answer are still to come after ``answer`` (its head and what
    followed it); None when only the end of the connection ends the body."""
    head, _, rest = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            return max(0, int(value.strip()) - len(rest))
    return None


def _copy(src: socket.socket, dst: socket.socket, limit: int | None = None) -> None:
    try:
        while limit is None or limit > 0:
            data = src.recv(CHUNK if limit is None else min(CHUNK, limit))
            if not data:
                break
            dst.sendall(data)
            if limit is not None:
                limit -= len(data)
    except (OSError, ValueError):
        pass


def _copy_then_close(src: socket.socket, dst: socket.socket, joined: _Joined) -> None:
    _copy(src, dst)
    joined.close()


def run(handler: Any, req: Request, guest: socket.socket, close: Callable[[], None], target: str) -> None:
    handler.close_connection = True
    try:
        head = request_head(handler.command, target, list(req.headers.items()), handler.client_address[0],
                            len(req.body))
        try:
            guest.settimeout(ANSWER_TIMEOUT)
            guest.sendall(head + req.body)
            answer = read_answer_head(guest)
            code = answer_status(answer)
        except (OSError, ValueError) as e:
            text = "i/o timeout" if isinstance(e, TimeoutError) else str(e) or type(e).__name__
            raise errors.APIError(text, code=500, reason="") from None
        if code != 101 and code < 400:
            raise errors.APIError(f"invalid upgrade response: status code {code}", code=500, reason="")
        handler.response_started = True
        client = handler.connection
        client.sendall(answer)
        handler.log_request(code)
        if code != 101:                      # the error answer's body, then the connection ends
            guest.settimeout(ERROR_BODY_TIMEOUT)
            _copy(guest, client, body_left(answer))
            return
        guest.settimeout(None)
        client.settimeout(None)
        joined = _Joined(client, guest)
        handler.server.track(joined)
        upstream = threading.Thread(target=_copy_then_close, args=(client, guest, joined), daemon=True,
                                    name="service-proxy-upgrade")
        upstream.start()
        try:
            _copy(guest, client)
        finally:
            joined.close()
            upstream.join(timeout=5)
            handler.server.untrack(joined)
    finally:
        close()
