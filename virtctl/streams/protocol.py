"""Pure decisions of the console and VNC streams: no sockets, no terminal, no clock.

Everything a user can see (messages, exit codes, viewer command lines) is decided here so that it
is unit-tested byte for byte against Go virtctl's (docs/compatibility.md#websocket-protocol,
docs/compatibility.md#console, docs/compatibility.md#vnc).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Callable, Sequence

from virtctl.errors import VirtctlError

SUBPROTOCOL = "plain.kubevirt.io"
ESCAPE_BYTE = 0x1D                  # Ctrl+] (Ctrl+5 sends the same byte)
STDIN_CHUNK = 1024                  # Go virtctl reads stdin in 1024-byte chunks; the escape test is per chunk
REDIAL_INTERVAL = 1.0               # seconds between dials while the VMI is not running yet
KEEPALIVE_INTERVAL = 10.0           # below the ~20 s idle cut of common proxies/LBs (kubevirt#6493)
QUIET_AFTER_EOF = 1.0               # non-TTY: after stdin EOF, stop once the guest is quiet this long
VNC_ACCEPT_TIMEOUT = 60.0           # Go's LISTEN_TIMEOUT when a viewer is launched

# Our extension (not in KubeVirt): GET …/virtualmachineinstances/{name}/consolelog returns the serial
# output kept since boot; the console websocket accepts ?showLog=true to replay it before live output.
CONSOLE_LOG_SUBRESOURCE = "consolelog"
SHOW_LOG_QUERY = "showLog"

NOT_RUNNING = "VMI is not running"
NO_SERIAL = "No serial consoles are present."
NO_GRAPHICS = "No graphics devices are present."
VNC_ACTIVE = "Active VNC connection. Request denied."
FAILED_STATUS = "VMI is in failed status"

CONNECT_TIMEOUT_MESSAGE = "Timeout trying to connect to the virtual machine instance"
DISCONNECT_TEXT = ("\nYou were disconnected from the console. This could be caused by one of the following:"
                   "\n - the target VM was powered off"
                   "\n - another user connected to the console of the target VM"
                   "\n - network issues\n")


def connected_message(vmi: str) -> str:
    return f"Successfully connected to {vmi} console. Press Ctrl+] or Ctrl+5 to exit console.\n"


def is_escape(chunk: bytes) -> bool:
    """The session ends when a stdin chunk *starts* with Ctrl+] (as in Go virtctl)."""
    return bool(chunk) and chunk[0] == ESCAPE_BYTE


# ---------------------------------------------------------------- close codes → outcome

# gorilla/websocket's names, which Go virtctl prints inside its error text
_CLOSE_NAMES = {
    1000: "normal", 1001: "going away", 1002: "protocol error", 1003: "unsupported data",
    1005: "no status", 1006: "abnormal closure", 1007: "invalid payload data", 1008: "policy violation",
    1009: "message too big", 1010: "mandatory extension missing", 1011: "internal server error",
    1012: "service restart", 1013: "try again later", 1015: "TLS handshake",
}


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    stderr: str = ""                # printed before the error (the disconnect explanation)
    error: str = ""                 # the one-line error, printed last; "" = success


def close_error_text(code: int, reason: str = "") -> str:
    """gorilla's ``CloseError.Error()``: ``websocket: close 1011 (internal server error): reason``."""
    if code == 1006 and not reason:
        reason = "unexpected EOF"
    name = _CLOSE_NAMES.get(code)
    text = f"websocket: close {code}" + (f" ({name})" if name else "")
    return text + (f": {reason}" if reason else "")


def close_outcome(code: int | None, reason: str = "") -> Outcome:
    """What the console prints and returns when the server side of the websocket ends.

    1000 (and 1005, a close frame without a code) is EOF: exit 0. A connection that drops without
    a close frame (1006) gets the three-reason explanation, like Go virtctl; other codes are errors.
    """
    if code in (1000, 1005):
        return Outcome(0)
    if code is None or code == 1006:
        return Outcome(1, DISCONNECT_TEXT, close_error_text(1006, ""))
    return Outcome(1, "", close_error_text(code, reason))


# ---------------------------------------------------------------- dial / retry

def should_redial(status: int, message: str, remaining: float, *, vm_exists: bool = False,
                  stream: str = "console") -> bool:
    """Re-dial after a refused handshake?

    Only a 400 while time remains (the VMI is not running yet, docs/compatibility.md#console). Beyond Go virtctl:
    a 404 is also waited out when the VirtualMachine exists (its VMI is about to be created), and a
    VMI without the device (no serial console / no graphics) fails at once instead of after the timeout.
    """
    if remaining <= 0:
        return False
    if status == 400:
        return message not in (NO_SERIAL, NO_GRAPHICS)
    if status == 404:
        return vm_exists
    return False


def timeout_minutes_to_seconds(minutes: float) -> float:
    return max(0.0, float(minutes)) * 60.0


def vnc_access_error(vmi: str, message: str) -> str:
    return f"can't access VMI {vmi}: {message}"


def screenshot_access_error(vmi: str, message: str) -> str:
    return f"Can't access VMI {vmi}: {message}"


def screenshot_write_error(message: str) -> str:
    return f"Can't write image to a file: {message}"


# ---------------------------------------------------------------- VNC local side

def vnc_listen_address(address: str, proxy_only: bool) -> str:
    """``--address`` is honoured only with ``--proxy-only``; a launched viewer always gets loopback."""
    return address if proxy_only else "127.0.0.1"


def proxy_only_line(port: int) -> str:
    return json.dumps({"port": port}, separators=(",", ":"))


def vnc_accept_timeout(proxy_only: bool) -> float | None:
    return None if proxy_only else VNC_ACCEPT_TIMEOUT


def paused_warning(vmi: str) -> str:
    return f"\rWarning: {vmi} is paused. Console will be active after unpause.\n"


def vmi_is_paused(vmi: dict) -> bool:
    for cond in (vmi.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Paused" and str(cond.get("status")) == "True":
            return True
    return False


# ---------------------------------------------------------------- VNC viewer selection

TIGER, CHICKEN, REAL, REMOTE_VIEWER = "tiger", "chicken", "real", "remote-viewer"
VNC_TYPES = (TIGER, CHICKEN, REAL, REMOTE_VIEWER)
REMOTE_VIEWER_BIN = "remote-viewer"
TIGER_BIN = "vncviewer"
MACOS_TIGER_VNC = "/Applications/TigerVNC.app/Contents/MacOS/vncviewer"          # TigerVNC >= 1.16
MACOS_TIGER_VNC_PATTERN = "/Applications/TigerVNC Viewer *.app/Contents/MacOS/TigerVNC Viewer"
MACOS_CHICKEN_VNC = "/Applications/Chicken.app/Contents/MacOS/Chicken"
MACOS_REAL_VNC = "/Applications/VNC Viewer.app/Contents/MacOS/vncviewer"
# what --vnc-type looks for on $PATH when no --vnc-path is given
_TYPE_BINARIES = {TIGER: TIGER_BIN, REMOTE_VIEWER: REMOTE_VIEWER_BIN, CHICKEN: "Chicken", REAL: TIGER_BIN}


_path_exists = os.path.exists          # (inside Host, ``os`` is the field below)


@dataclass(frozen=True)
class Host:
    """What the viewer choice looks at on this machine (injected so the choice stays pure)."""

    os: str                                           # "linux" | "darwin" | "windows" | …
    which: Callable[[str], str | None]                # shutil.which
    exists: Callable[[str], bool] = _path_exists
    glob: Callable[[str], Sequence[str]] = field(default=lambda pattern: [])


@dataclass(frozen=True)
class Viewer:
    binary: str
    args: tuple[str, ...]

    @property
    def argv(self) -> list[str]:
        return [self.binary, *self.args]


def _viewer_args(kind: str, address: str, port: int, verbosity: int) -> tuple[str, ...]:
    debug = verbosity >= 4
    if kind == REMOTE_VIEWER:
        # remote-viewer wants a URL; TigerVNC rejects the vnc:// form (kubevirt#3472)
        return (f"vnc://127.0.0.1:{port}",) + (("--debug",) if debug else ())
    if kind == REAL:
        return (f"{address}:{port}", "-WarnUnencrypted=0", "-Shared=0", "-ShareFiles=0") + \
            (("-log=*:stderr:100",) if debug else ())
    if kind == TIGER:
        return (f"{address}:{port}",) + (("Log=*:stderr:100",) if debug else ())
    return (f"{address}:{port}",)                     # chicken


def _os_name(os_name: str) -> str:
    return {"win32": "windows", "cygwin": "windows"}.get(os_name, os_name)


def select_viewer(host: Host, port: int, *, vnc_type: str = "", vnc_path: str = "",
                  address: str = "127.0.0.1", verbosity: int = 2) -> Viewer:
    """The viewer command line (docs/compatibility.md#vnc); raises :class:`VirtctlError` with Go's messages."""
    osn = _os_name(host.os)
    if vnc_type or vnc_path:
        if vnc_type and vnc_type not in VNC_TYPES:
            raise VirtctlError(f"unsupported vnc-type: {vnc_type}")
        if not vnc_type:
            # beyond Go: --vnc-path alone; its name tells remote-viewer (URL argument) from the rest
            vnc_type = REMOTE_VIEWER if os.path.basename(vnc_path).startswith(REMOTE_VIEWER_BIN) else TIGER
        if osn not in ("linux", "windows", "darwin"):
            raise VirtctlError(f"virtctl does not support VNC on {osn}")
        if osn != "darwin" and vnc_type in (CHICKEN, REAL):
            raise VirtctlError(f"unsupported vnc-type for {osn}: {vnc_type}")
        if vnc_path:
            if not host.exists(vnc_path):
                raise VirtctlError(f"specified VNC path does not exist: {vnc_path}")
            return Viewer(vnc_path, _viewer_args(vnc_type, address, port, verbosity))
        binary = _TYPE_BINARIES[vnc_type]
        found = host.which(binary)
        if not found:
            raise VirtctlError(f'could not find {binary} in $PATH: exec: "{binary}": executable file not found '
                               'in $PATH')
        return Viewer(binary, _viewer_args(vnc_type, address, port, verbosity))

    if osn in ("linux", "windows"):
        if host.which(REMOTE_VIEWER_BIN):
            return Viewer(REMOTE_VIEWER_BIN, _viewer_args(REMOTE_VIEWER, address, port, verbosity))
        if host.which(TIGER_BIN):
            return Viewer(TIGER_BIN, _viewer_args(TIGER, address, port, verbosity))
        raise VirtctlError(f"could not find {REMOTE_VIEWER_BIN} or {TIGER_BIN} binary in $PATH")
    if osn == "darwin":
        if host.exists(MACOS_TIGER_VNC):
            return Viewer(MACOS_TIGER_VNC, _viewer_args(TIGER, address, port, verbosity))
        matches = sorted(host.glob(MACOS_TIGER_VNC_PATTERN))
        if matches:
            return Viewer(matches[-1], _viewer_args(TIGER, address, port, verbosity))   # the newest
        if host.exists(MACOS_CHICKEN_VNC):
            return Viewer(MACOS_CHICKEN_VNC, _viewer_args(CHICKEN, address, port, verbosity))
        if host.exists(MACOS_REAL_VNC):
            return Viewer(MACOS_REAL_VNC, _viewer_args(REAL, address, port, verbosity))
        if host.which(REMOTE_VIEWER_BIN):
            return Viewer(REMOTE_VIEWER_BIN, _viewer_args(REMOTE_VIEWER, address, port, verbosity))
        raise VirtctlError(f"no supported VNC app found for {osn}")
    raise VirtctlError(f"virtctl does not support VNC on {osn}")
