"""Dial a KubeVirt stream websocket (``plain.kubevirt.io``, binary frames) with the API credentials,
re-dialling while the VMI is not running yet (docs/compatibility.md#console, kubevirt#1001 and #1837)."""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from virtctl.errors import (
    APIError,
    ConnectionFailed,
    Timeout,
    VirtctlError,
    api_error_from_status,
)
from virtctl.streams import protocol

# websockets logs its own races (e.g. data arriving while the socket closes under it) with a
# traceback through logging's last-resort handler; the CLI reports failures once, through its
# error funnel, so the library's records go nowhere.
LIBRARY_LOGGER = logging.getLogger("virtctl.streams.websocket")
LIBRARY_LOGGER.addHandler(logging.NullHandler())
LIBRARY_LOGGER.propagate = False


class DialParams(Protocol):
    """What ``virtctl.client`` hands over (its ``WebSocketParams``)."""

    url: str
    ssl_context: Any
    headers: dict[str, str]
    server_hostname: str | None
    proxy_url: str
    timeout: float | None                 # --request-timeout (None: OPEN_TIMEOUT)


# the websocket's dial, TLS and upgrade together when --request-timeout does not bound them
OPEN_TIMEOUT = 15.0


def _connect_kwargs(connect: Callable[..., Any], params: DialParams) -> dict[str, Any]:
    wanted: dict[str, Any] = {
        "subprotocols": [protocol.SUBPROTOCOL],
        "additional_headers": dict(params.headers or {}),
        "compression": None,              # neither gorilla nor virt-api negotiate deflate
        "max_size": None,
        "open_timeout": getattr(params, "timeout", None) or OPEN_TIMEOUT,
        "close_timeout": 2,
        "server_hostname": params.server_hostname or None,
        # keep-alive: idle consoles behind proxies are cut after ~20 s without it (kubevirt#6493)
        "ping_interval": protocol.KEEPALIVE_INTERVAL,
        "ping_timeout": 3 * protocol.KEEPALIVE_INTERVAL,
        "proxy": params.proxy_url or None,
        "legacy": True,                   # websockets 17: a plain connection, not a context manager
        "logger": LIBRARY_LOGGER,
    }
    if params.url.startswith("wss:"):
        wanted["ssl"] = params.ssl_context
    accepted = inspect.signature(connect).parameters
    if "ssl" in wanted and "ssl" not in accepted and "ssl_context" in accepted:   # websockets 13
        wanted["ssl_context"] = wanted.pop("ssl")
    return {k: v for k, v in wanted.items() if k in accepted and (v is not None or k == "compression")}


def dial_once(params: DialParams) -> Any:
    """One handshake. Refusals raise the server's typed :class:`APIError` (from its Status body)."""
    from websockets.exceptions import InvalidHandshake, InvalidStatus
    from websockets.sync.client import connect

    try:
        return connect(params.url, **_connect_kwargs(connect, params))
    except InvalidStatus as e:
        raise api_error_from_status(e.response.status_code, bytes(e.response.body)) from None
    except InvalidHandshake as e:
        raise ConnectionFailed(f"websocket handshake with the server failed: {e}") from None
    except TimeoutError:
        if getattr(params, "timeout", None):
            raise ConnectionFailed("Unable to connect to the server: net/http: request canceled while waiting for "
                                   "connection (Client.Timeout exceeded while awaiting headers)") from None
        raise ConnectionFailed(f"Unable to connect to the server: websocket handshake timed out after "
                               f"{OPEN_TIMEOUT:g}s") from None
    except OSError as e:
        raise ConnectionFailed(f"unable to connect to the server: {e}") from None


def dial(params: DialParams, *, timeout: float, vm_exists: Callable[[], bool] | None = None,
         dial_fn: Callable[[DialParams], Any] = dial_once, clock: Callable[[], float] = time.monotonic,
         sleep: Callable[[float], None] = time.sleep) -> Any:
    """Dial, re-dialling every second while :func:`protocol.should_redial` says so, at most
    ``timeout`` seconds; then ``Timeout trying to connect to the virtual machine instance``."""
    deadline = clock() + timeout
    while True:
        try:
            return dial_fn(params)
        except APIError as e:
            remaining = deadline - clock()
            exists = e.code == 404 and vm_exists is not None and _safe(vm_exists)
            if protocol.should_redial(e.code, e.message, remaining, vm_exists=exists):
                sleep(min(protocol.REDIAL_INTERVAL, max(remaining, 0.0)))
                continue
            if (e.code == 400 and e.message not in (protocol.NO_SERIAL, protocol.NO_GRAPHICS)) or exists:
                raise Timeout(protocol.CONNECT_TIMEOUT_MESSAGE) from None
            raise


def _safe(check: Callable[[], bool]) -> bool:
    try:
        return bool(check())
    except VirtctlError:
        return False


def close_code(ws: Any) -> tuple[int | None, str]:
    """(code, reason) the peer closed with; 1006 when the connection just dropped."""
    code = getattr(ws, "close_code", None)
    reason = getattr(ws, "close_reason", None)
    if code is None and hasattr(ws, "protocol"):             # websockets 13: no .close_code
        code = ws.protocol.close_code
        reason = ws.protocol.close_reason
    return code, reason or ""
