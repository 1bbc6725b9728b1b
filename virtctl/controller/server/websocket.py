"""Websocket upgrade on the HTTP server's own socket (docs/compatibility.md#websocket-protocol): the
parsed request head is fed to ``websockets``' sans-I/O ServerProtocol, the handshake answered, and
the socket handed to a ``websockets.sync.connection.Connection``."""

from __future__ import annotations

import socket
from typing import Any

from websockets.http11 import Request as WsRequest
from websockets.server import ServerProtocol
from websockets.sync.connection import Connection
from websockets.typing import Subprotocol

SUBPROTOCOLS = ["plain.kubevirt.io", "base64.kubevirt.io"]


def is_upgrade(headers: Any) -> bool:
    return (headers.get("Upgrade") or "").strip().lower() == "websocket"


def accept(sock: socket.socket, request_line: str, headers: Any) -> Connection | None:
    """Answer the handshake; the open Connection on 101, None when the handshake was refused
    (the refusal, e.g. 400 for an unsupported subprotocol, has been sent)."""
    head = (request_line + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode()
    proto = ServerProtocol(subprotocols=[Subprotocol(p) for p in SUBPROTOCOLS], max_size=None)
    proto.receive_data(head)
    events = proto.events_received()
    if not events:
        return None
    request = events[0]
    if not isinstance(request, WsRequest):
        return None
    response = proto.accept(request)
    proto.send_response(response)
    sock.sendall(b"".join(proto.data_to_send()))
    if response.status_code != 101:
        return None
    sock.settimeout(None)            # frames may be minutes apart; keepalive pings watch the peer
    return Connection(sock, proto)
