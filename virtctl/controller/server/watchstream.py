"""Chunked watch responses: one JSON event per line, flushed per event (docs/compatibility.md#watch)."""

from __future__ import annotations

import select
import ssl
import time
from typing import Any

from virtctl.controller.server import tables
from virtctl.controller.server.messages import ServerState, encode
from virtctl.controller.store.watch import Watch
from virtctl.errors import APIError
from virtctl.model.kinds import Kind

POLL = 1.0      # how often an idle watch checks for a closed client / shutdown


def _start(handler: Any) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.send_header("Cache-Control", "no-cache, private")
    handler.end_headers()
    handler.response_started = True
    handler.wfile.flush()


def _chunk(handler: Any, data: bytes) -> None:
    handler.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
    handler.wfile.flush()


def _end(handler: Any) -> None:
    try:
        handler.wfile.write(b"0\r\n\r\n")
        handler.wfile.flush()
    except OSError:
        pass


def client_gone(handler: Any) -> bool:
    """A watch client never sends anything while it waits, so a readable socket means it closed.
    The read is bounded: a TLS record that carries no data must not stall the stream."""
    sock = handler.connection
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        previous = sock.gettimeout()
        sock.settimeout(0.05)
        try:
            return sock.recv(1) == b""
        except (TimeoutError, ssl.SSLWantReadError):
            return False
        finally:
            sock.settimeout(previous)
    except (OSError, ValueError):
        return True


def send_error(handler: Any, err: APIError) -> None:
    _start(handler)
    _chunk(handler, encode({"type": "ERROR", "object": err.to_status()}) + b"\n")
    _end(handler)
    handler.close_connection = True


def stream(handler: Any, state: ServerState, kind: Kind, watch: Watch, deadline: float | None, as_table: bool,
           include_object: str | None) -> None:
    handler.close_connection = True
    first = True
    try:
        _start(handler)
        while not state.stopping.is_set():
            wait = POLL if deadline is None else min(POLL, deadline - time.monotonic())
            if wait <= 0:
                break
            event = watch.get(timeout=wait)
            if event is None:
                if watch.stopped or client_gone(handler):
                    break
                continue
            etype, obj = event
            if as_table and etype != "ERROR":
                if etype == "BOOKMARK":
                    obj = tables.table(kind, [], obj["metadata"]["resourceVersion"], include_columns=first)
                else:
                    obj = tables.table(kind, [obj], obj["metadata"].get("resourceVersion"), include_columns=first,
                                       include_object=include_object)
                first = False
            _chunk(handler, encode({"type": etype, "object": obj}) + b"\n")
        _end(handler)
    except (TimeoutError, OSError):
        pass
    finally:
        watch.stop()
