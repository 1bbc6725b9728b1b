"""The pure console/VNC decisions, byte for byte against Go virtctl's
(docs/compatibility.md#console, docs/compatibility.md#vnc)."""

from __future__ import annotations

import pytest

from virtctl.errors import VirtctlError
from virtctl.streams import protocol as p


def test_escape_only_at_chunk_start():
    assert p.is_escape(b"\x1d")
    assert p.is_escape(b"\x1dmore")
    assert not p.is_escape(b"a\x1d")
    assert not p.is_escape(b"")
    assert not p.is_escape(b"\x03")          # Ctrl+C goes to the guest


def test_connected_line():
    assert p.connected_message("testvmi") == (
        "Successfully connected to testvmi console. Press Ctrl+] or Ctrl+5 to exit console.\n")


@pytest.mark.parametrize("code", [1000, 1005])
def test_clean_close_is_eof(code):
    assert p.close_outcome(code) == p.Outcome(0)


@pytest.mark.parametrize("code", [1006, None])
def test_abnormal_close_explains(code):
    out = p.close_outcome(code)
    assert out.exit_code == 1
    assert out.stderr == (
        "\nYou were disconnected from the console. This could be caused by one of the following:\n"
        " - the target VM was powered off\n"
        " - another user connected to the console of the target VM\n"
        " - network issues\n")
    assert out.error == "websocket: close 1006 (abnormal closure): unexpected EOF"


def test_other_close_codes_are_plain_errors():
    out = p.close_outcome(1011, "keepalive ping timeout")
    assert out == p.Outcome(1, "", "websocket: close 1011 (internal server error): keepalive ping timeout")
    assert p.close_outcome(4001).error == "websocket: close 4001"


@pytest.mark.parametrize("status,message,remaining,vm_exists,expected", [
    (400, "VMI is not running", 10, False, True),
    (400, "VMI is not running", 0, False, False),          # out of time
    (400, "No serial consoles are present.", 10, False, False),
    (400, "No graphics devices are present.", 10, False, False),
    (404, 'virtualmachineinstance.kubevirt.io "x" not found', 10, False, False),
    (404, 'virtualmachineinstance.kubevirt.io "x" not found', 10, True, True),   # VM exists: VMI coming
    (409, "VMI is in failed status", 10, True, False),
    (503, "Active VNC connection. Request denied.", 10, False, False),
    (401, "Unauthorized", 10, False, False),
])
def test_redial_rule(status, message, remaining, vm_exists, expected):
    assert p.should_redial(status, message, remaining, vm_exists=vm_exists) is expected


def test_vnc_messages():
    assert p.vnc_access_error("v", "VMI is not running") == "can't access VMI v: VMI is not running"
    assert p.screenshot_access_error("v", "boom") == "Can't access VMI v: boom"
    assert p.screenshot_write_error("no space") == "Can't write image to a file: no space"
    assert p.proxy_only_line(12345) == '{"port":12345}'
    assert p.paused_warning("v") == "\rWarning: v is paused. Console will be active after unpause.\n"


def test_listen_address_only_with_proxy_only():
    assert p.vnc_listen_address("0.0.0.0", True) == "0.0.0.0"
    assert p.vnc_listen_address("0.0.0.0", False) == "127.0.0.1"
    assert p.vnc_accept_timeout(True) is None
    assert p.vnc_accept_timeout(False) == 60.0


def test_paused_condition():
    assert p.vmi_is_paused({"status": {"conditions": [{"type": "Paused", "status": "True"}]}})
    assert not p.vmi_is_paused({"status": {"conditions": [{"type": "Paused", "status": "False"}]}})
    assert not p.vmi_is_paused({})


# ------------------------------------------------------------------ viewer selection

def host(os_name="linux", on_path=(), files=(), globbed=()):
    return p.Host(os=os_name, which=lambda b: f"/usr/bin/{b}" if b in on_path else None,
                  exists=lambda f: f in files, glob=lambda pattern: list(globbed))


def test_linux_prefers_remote_viewer_with_url():
    v = p.select_viewer(host(on_path=("remote-viewer", "vncviewer")), 5901)
    assert v.argv == ["remote-viewer", "vnc://127.0.0.1:5901"]


def test_linux_falls_back_to_tiger_without_url():
    # TigerVNC rejects the vnc:// form (kubevirt#3472)
    assert p.select_viewer(host(on_path=("vncviewer",)), 5901).argv == ["vncviewer", "127.0.0.1:5901"]


def test_linux_nothing_found():
    with pytest.raises(VirtctlError, match=r"^could not find remote-viewer or vncviewer binary in \$PATH$"):
        p.select_viewer(host(), 1)


def test_debug_arguments_at_verbosity_4():
    assert p.select_viewer(host(on_path=("vncviewer",)), 7, verbosity=4).argv == \
        ["vncviewer", "127.0.0.1:7", "Log=*:stderr:100"]
    assert p.select_viewer(host(on_path=("remote-viewer",)), 7, verbosity=4).argv == \
        ["remote-viewer", "vnc://127.0.0.1:7", "--debug"]
    assert p.select_viewer(host(on_path=("remote-viewer",)), 7, verbosity=3).argv == \
        ["remote-viewer", "vnc://127.0.0.1:7"]


def test_darwin_order():
    tiger16 = p.MACOS_TIGER_VNC
    old = ["/Applications/TigerVNC Viewer 1.12.0.app/Contents/MacOS/TigerVNC Viewer",
           "/Applications/TigerVNC Viewer 1.13.1.app/Contents/MacOS/TigerVNC Viewer"]
    everything = (tiger16, p.MACOS_CHICKEN_VNC, p.MACOS_REAL_VNC)
    assert p.select_viewer(host("darwin", files=everything, globbed=old), 5).binary == tiger16
    assert p.select_viewer(host("darwin", files=everything[1:], globbed=old), 5).binary == old[1]   # newest
    assert p.select_viewer(host("darwin", files=everything[1:]), 5).argv == [p.MACOS_CHICKEN_VNC, "127.0.0.1:5"]
    assert p.select_viewer(host("darwin", files=everything[2:]), 5).argv == [
        p.MACOS_REAL_VNC, "127.0.0.1:5", "-WarnUnencrypted=0", "-Shared=0", "-ShareFiles=0"]
    assert p.select_viewer(host("darwin", on_path=("remote-viewer",)), 5).argv == [
        "remote-viewer", "vnc://127.0.0.1:5"]
    with pytest.raises(VirtctlError, match="^no supported VNC app found for darwin$"):
        p.select_viewer(host("darwin"), 5)


def test_unsupported_os():
    with pytest.raises(VirtctlError, match="^virtctl does not support VNC on freebsd$"):
        p.select_viewer(host("freebsd", on_path=("vncviewer",)), 5)


def test_vnc_type_errors():
    with pytest.raises(VirtctlError, match="^unsupported vnc-type: x$"):
        p.select_viewer(host(), 5, vnc_type="x")
    with pytest.raises(VirtctlError, match="^unsupported vnc-type for linux: chicken$"):
        p.select_viewer(host(), 5, vnc_type="chicken")
    with pytest.raises(VirtctlError, match="^unsupported vnc-type for linux: real$"):
        p.select_viewer(host(), 5, vnc_type="real", vnc_path="/x")
    with pytest.raises(VirtctlError, match="^specified VNC path does not exist: /nope$"):
        p.select_viewer(host(), 5, vnc_type="tiger", vnc_path="/nope")
    with pytest.raises(VirtctlError) as e:
        p.select_viewer(host(on_path=("remote-viewer",)), 5, vnc_type="tiger")
    assert str(e.value) == 'could not find vncviewer in $PATH: exec: "vncviewer": executable file not found in $PATH'


def test_vnc_type_forces_viewer():
    h = host(on_path=("remote-viewer", "vncviewer"), files=("/opt/tiger/vncviewer", "/opt/rv/remote-viewer"))
    assert p.select_viewer(h, 9, vnc_type="tiger").argv == ["vncviewer", "127.0.0.1:9"]
    assert p.select_viewer(h, 9, vnc_type="tiger", vnc_path="/opt/tiger/vncviewer").argv == [
        "/opt/tiger/vncviewer", "127.0.0.1:9"]
    assert p.select_viewer(h, 9, vnc_type="remote-viewer", vnc_path="/opt/rv/remote-viewer").argv == [
        "/opt/rv/remote-viewer", "vnc://127.0.0.1:9"]
    # --vnc-path alone: the binary's name decides the argument form
    assert p.select_viewer(h, 9, vnc_path="/opt/rv/remote-viewer").args == ("vnc://127.0.0.1:9",)
    assert p.select_viewer(h, 9, vnc_path="/opt/tiger/vncviewer").args == ("127.0.0.1:9",)
    darwin = host("darwin", files=("/x/Chicken",))
    assert p.select_viewer(darwin, 9, vnc_type="chicken", vnc_path="/x/Chicken").argv == ["/x/Chicken", "127.0.0.1:9"]
