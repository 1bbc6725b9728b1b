"""Server side of the console and VNC streams, and the read-only ``vnc/screenshot`` and
``consolelog`` actions (docs/compatibility.md#subresource-api, docs/compatibility.md#console,
docs/compatibility.md#vnc).

* ``console`` (websocket): 400 ``VMI is not running`` unless the VMI is Running. One client per VMI:
  a new one takes the console over and the old websocket is dropped without a close frame, so its
  client sees close 1006 and prints KubeVirt's disconnect explanation (as with virt-handler).
  Output is read from the console's ring by offset, so nothing is lost or doubled between the
  replay of ``?showLog=true`` (our extension) and live output, and bursts go out as one frame.
* ``consolelog`` (GET, our extension): the serial output kept since boot (``text/plain``).
* ``vnc`` (websocket): bridged to the domain's ``openGraphicsFD`` socket. With
  ``preserveSession=true`` and a viewer already connected: 503 ``Active VNC connection. Request
  denied.``; otherwise the new viewer kicks the old one.
* ``vnc/screenshot`` (GET): PNG from the hypervisor.

Runtime objects come from ``ctx.runtime``: ``hosts`` (the libvirt hosts) and ``consoles`` (the
:class:`~virtctl.controller.virt.consoles.ConsoleRegistry`, started with the controllers so that it
records serial output from boot). The paths are declared in ``server/subresource_routes.py``.
"""

from __future__ import annotations

import base64
import logging
import socket
import threading
import time
from typing import Any

from websockets.exceptions import ConnectionClosed

from virtctl import errors
from virtctl.controller.subresource import ActionContext, ActionResult
from virtctl.controller.virt.hypervisor import Hypervisor, domain_name
from virtctl.model.kinds import VMI
from virtctl.streams import protocol

log = logging.getLogger(__name__)

BASE64 = "base64.kubevirt.io"
WATCH_INTERVAL = 1.0          # how often a bridge re-checks that its VMI still runs
SEND_CHUNK = 64 * 1024
BURST_WINDOW = 0.010          # the previous frame went out less than this ago …
BURST_BYTES = 256             # … and was at least this big: output is streaming …
COALESCE_DELAY = 0.020        # … so gather this long before the next frame (fewer, larger frames)


# ---------------------------------------------------------------- lookups

def running_vmi(ctx: ActionContext) -> dict:
    vmi = ctx.store.get(VMI, ctx.namespace, ctx.name)          # NotFound → 404
    phase = (vmi.get("status") or {}).get("phase")
    if phase == "Failed":
        raise errors.Conflict(protocol.FAILED_STATUS)
    if phase != "Running":
        raise errors.BadRequest(protocol.NOT_RUNNING)
    return vmi


def _still_running(ctx: ActionContext, uid: str) -> bool:
    try:
        vmi = ctx.store.get(VMI, ctx.namespace, ctx.name)
    except errors.NotFound:
        return False
    return (vmi.get("metadata") or {}).get("uid") == uid and (vmi.get("status") or {}).get("phase") == "Running"


def find_host(ctx: ActionContext, vmi: dict) -> Hypervisor:
    """The VMI's host; with a single host, that one (a VMI recorded before the node was named)."""
    hosts = ctx.runtime.hosts
    node = (vmi.get("status") or {}).get("nodeName") or ""
    host = ctx.runtime.host_for(node) or (hosts[0] if len(hosts) == 1 else None)
    if host is None:
        raise errors.InternalError(f"no hypervisor for node {node!r}")
    return host


def find_console(ctx: ActionContext, vmi: dict, *, live: bool = True) -> Any:
    """The VMI's ``SerialConsole``: 400 ``No serial consoles are present.`` when it has none."""
    domain = domain_name(ctx.namespace, ctx.name)
    registry = ctx.runtime.consoles
    if not live:
        console = registry.get(domain)
        if console is not None:
            return console
    try:
        return registry.live(find_host(ctx, vmi), domain)
    except errors.NotFound:
        raise errors.BadRequest(protocol.NOT_RUNNING) from None
    except errors.APIError:
        raise
    except Exception as e:
        log.warning("console of %s: %s", domain, e)
        raise errors.BadRequest(protocol.NO_SERIAL) from None


def _drop(ws: Any) -> None:
    """End a websocket without a close frame: the peer sees 1006, as when virt-handler cuts it."""
    try:
        ws.socket.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _is_true(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1", "yes")


# ---------------------------------------------------------------- console

class _ConsoleBridge:
    """One client's websocket ↔ the domain's serial console."""

    def __init__(self, ctx: ActionContext, console: Any, ws: Any, uid: str, show_log: bool):
        self.ctx, self.console, self.ws, self.uid = ctx, console, ws, uid
        self.b64 = getattr(ws, "subprotocol", None) == BASE64
        self.cond = threading.Condition()
        self.wake = False
        self.done = False
        # position in the console's ring: everything from here on goes to this client
        self.pos = console.ring.start if show_log else console.offset

    def on_data(self, _chunk: bytes) -> None:           # libvirt event thread: only signal
        with self.cond:
            self.wake = True
            self.cond.notify()

    def on_detach(self, _reason: str) -> None:           # taken over, or the console closed
        self.stop()
        _drop(self.ws)

    def stop(self) -> None:
        with self.cond:
            self.done = True
            self.cond.notify()

    def send_loop(self) -> None:
        last_send, last_size = 0.0, 0
        try:
            while True:
                if last_size >= BURST_BYTES and time.monotonic() - last_send < BURST_WINDOW:
                    # output is streaming: let the UART's ~25-byte chunks pile up into one frame;
                    # a keystroke echo after a pause still goes out at once
                    time.sleep(COALESCE_DELAY)
                data, self.pos = self.console.read_from(self.pos)
                for i in range(0, len(data), SEND_CHUNK):
                    chunk = data[i:i + SEND_CHUNK]
                    self.ws.send(base64.b64encode(chunk).decode() if self.b64 else chunk)
                if data:
                    last_send, last_size = time.monotonic(), len(data)
                with self.cond:
                    if not self.wake and not self.done:
                        self.cond.wait(WATCH_INTERVAL)
                    woke, self.wake = self.wake, False
                    if self.done:
                        return
                if not woke and (self.console.closed or not _still_running(self.ctx, self.uid)):
                    _drop(self.ws)                       # VM powered off / VMI gone
                    return
        except Exception:                                # the websocket went away under us
            _drop(self.ws)

    def recv_loop(self) -> None:
        try:
            while True:
                msg = self.ws.recv()
                if isinstance(msg, str):
                    if not self.b64:
                        continue                         # plain.kubevirt.io: text frames are ignored
                    msg = base64.b64decode(msg)
                try:
                    self.console.write(msg)
                except (RuntimeError, TimeoutError) as e:
                    log.warning("console %s/%s: input dropped: %s", self.ctx.namespace, self.ctx.name, e)
        except ConnectionClosed:
            pass


class ConsoleStream:
    def check(self, ctx: ActionContext) -> None:
        find_console(ctx, running_vmi(ctx))

    def serve(self, ctx: ActionContext, ws: Any) -> None:
        try:
            vmi = running_vmi(ctx)
            console = find_console(ctx, vmi)
        except errors.APIError:
            _drop(ws)                            # stopped since the handshake: as if it powered off
            return
        bridge = _ConsoleBridge(ctx, console, ws, (vmi.get("metadata") or {}).get("uid", ""),
                                _is_true(ctx.query.get(protocol.SHOW_LOG_QUERY)))
        attachment = console.attach(bridge.on_data, bridge.on_detach)
        sender = threading.Thread(target=bridge.send_loop, name=f"console-send-{ctx.name}", daemon=True)
        sender.start()
        try:
            bridge.recv_loop()
        finally:
            bridge.stop()
            attachment.detach()
            sender.join(timeout=5)


def console_log(ctx: ActionContext) -> ActionResult:
    """GET …/consolelog: the output kept since boot, also after the VMI stopped."""
    ctx.store.get(VMI, ctx.namespace, ctx.name)            # 404 for an unknown VMI
    console = ctx.runtime.consoles.get(domain_name(ctx.namespace, ctx.name))
    if console is None:
        console = find_console(ctx, running_vmi(ctx))
    return ActionResult(200, console.output(), "text/plain; charset=utf-8")


# ---------------------------------------------------------------- VNC

def _graphics_enabled(vmi: dict) -> bool:
    devices = ((vmi.get("spec") or {}).get("domain") or {}).get("devices") or {}
    return devices.get("autoattachGraphicsDevice", True) is not False


class VNCStream:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active: dict[tuple[str, str], Any] = {}     # (ns, name) → the viewer's websocket

    def check(self, ctx: ActionContext) -> None:
        vmi = running_vmi(ctx)
        if not _graphics_enabled(vmi):
            raise errors.BadRequest(protocol.NO_GRAPHICS)
        if _is_true(ctx.query.get("preserveSession")):
            with self._lock:
                if (ctx.namespace, ctx.name) in self._active:
                    raise errors.ServiceUnavailable(protocol.VNC_ACTIVE)

    def serve(self, ctx: ActionContext, ws: Any) -> None:
        vmi = running_vmi(ctx)
        fd = find_host(ctx, vmi).open_graphics_fd(domain_name(ctx.namespace, ctx.name))
        vnc = socket.socket(fileno=fd)
        key = (ctx.namespace, ctx.name)
        with self._lock:
            old, self._active[key] = self._active.get(key), ws
        if old is not None:
            _drop(old)                                    # the new viewer kicks the old one
        pump = threading.Thread(target=_vnc_to_ws, args=(vnc, ws), name=f"vnc-{ctx.name}", daemon=True)
        pump.start()
        try:
            _ws_to_vnc(ws, vnc)
        finally:
            with self._lock:
                if self._active.get(key) is ws:
                    del self._active[key]
            try:
                vnc.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            pump.join(timeout=5)
            vnc.close()


def _vnc_to_ws(vnc: socket.socket, ws: Any) -> None:
    try:
        while True:
            data = vnc.recv(SEND_CHUNK)
            if not data:
                break
            ws.send(data)
    except Exception:                                      # either side gone: end the session
        pass
    _drop(ws)


def _ws_to_vnc(ws: Any, vnc: socket.socket) -> None:
    try:
        while True:
            msg = ws.recv()
            if isinstance(msg, bytes):
                vnc.sendall(msg)
    except (ConnectionClosed, OSError):
        pass


def screenshot(ctx: ActionContext) -> ActionResult:
    vmi = running_vmi(ctx)
    png = find_host(ctx, vmi).screenshot(domain_name(ctx.namespace, ctx.name))
    return ActionResult(200, png, "image/png")

