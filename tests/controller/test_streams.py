"""Console and VNC streams over the real embedded API server (TLS, token, websockets on 127.0.0.1),
dialled by the real client code (``virtctl.client`` → ``virtctl.streams``) and by ``virtctl`` itself.

The guest end is a stand-in: a socketpair "serial line" behind the real ``SerialConsole`` (libvirt's
test driver has no consoles) and a socketpair "VNC server". Real QEMU is in tests/e2e.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
import uuid

import pytest

from virtctl import errors
from virtctl.controller.virt.console import SerialConsole
from virtctl.controller.virt.hypervisor import domain_name
from virtctl.model.kinds import VMI
from virtctl.streams import protocol
from virtctl.streams.dial import close_code, dial, dial_once
from tests.streams.cli import virtctl_argv

VIRTCTL_CLI = virtctl_argv()
pytestmark = pytest.mark.timeout(90)


class LineStream:
    """A libvirt NONBLOCK stream look-alike over a socketpair: ``guest`` is the guest's end of the line."""

    def __init__(self) -> None:
        self.ours, self.guest = socket.socketpair()
        self.ours.setblocking(False)
        self._cb = None
        self._stop = threading.Event()

    def eventAddCallback(self, events, cb, opaque):
        self._cb = (cb, opaque)
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        import select

        while not self._stop.is_set():
            r, _, _ = select.select([self.ours], [], [], 0.2)
            if r and self._cb and not self._stop.is_set():
                cb, opaque = self._cb
                cb(self, 1, opaque)

    def recv(self, n):
        try:
            data = self.ours.recv(n)
        except BlockingIOError:
            return -2
        except OSError:
            return b""
        return data

    def send(self, data):
        try:
            return self.ours.send(data)
        except BlockingIOError:
            return -2

    def eventRemoveCallback(self):
        self._stop.set()

    def abort(self):
        self._stop.set()
        self.ours.close()


class StandInHost:
    """The hypervisor calls the streams use: consoles, graphics fds and screenshots."""

    node_name = "node01"

    def __init__(self):
        self.lines: dict[str, LineStream] = {}
        self.vnc_peers: list[socket.socket] = []

    def open_console(self, domain, force=True):
        def open_stream():
            line = LineStream()
            self.lines[domain] = line
            return line
        return SerialConsole(open_stream).start()

    def open_graphics_fd(self, domain):
        ours, peer = socket.socketpair()
        self.vnc_peers.append(peer)
        peer.sendall(b"RFB 003.008\n")
        return ours.detach()

    def screenshot(self, domain):
        return b"\x89PNG\r\n\x1a\nstand-in"

    def on_event(self, cb):
        pass

    def list_domains(self):
        return {}


def make_vmi(store, name, phase="Running", paused=False):
    vmi = {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
           "metadata": {"name": name, "namespace": "default"},
           "spec": {"domain": {"devices": {}, "resources": {"requests": {"memory": "64Mi"}}}}}
    store.create(VMI, "default", vmi)

    def set_status(o):
        o["status"] = {"phase": phase, "nodeName": "node01"}
        if paused:
            o["status"]["conditions"] = [{"type": "Paused", "status": "True"}]
    store.mutate(VMI, "default", name, set_status, subresource="status")


def set_phase(store, name, phase):
    def fn(o):
        o["status"]["phase"] = phase
    store.mutate(VMI, "default", name, fn, subresource="status")


@pytest.fixture
def env(tmp_path):
    from tests.conftest import _start_server, _stop_server
    from virtctl.client import KubeVirtClient
    from virtctl.client.kubeconfig import Overrides, resolve

    host = StandInHost()
    api_server, handles = _start_server(tmp_path / "state", hosts=[host])
    api_server.runtime.consoles.start()
    kv = KubeVirtClient.from_config(resolve(Overrides(kubeconfig=str(api_server.kubeconfig_path))))
    yield api_server, host, kv
    kv.close()
    api_server.runtime.consoles.close()
    _stop_server(handles)


def ws_params(kv, name, sub, query=None):
    return kv.transport.websocket_params(kv.subresource_path(VMI, "default", name, sub), query)


def cli_env(api_server):
    env = dict(os.environ, KUBECONFIG=str(api_server.kubeconfig_path))
    env.pop("VIRTCTL_STATE_DIR", None)
    return env


def recv_until(ws, needle, timeout=5.0):
    buf = b""
    deadline = time.monotonic() + timeout
    while needle not in buf:
        buf += ws.recv(timeout=max(0.01, deadline - time.monotonic()))
    return buf


def guest_line(host, domain, timeout=5.0):
    deadline = time.monotonic() + timeout
    while domain not in host.lines:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    return host.lines[domain].guest


# ------------------------------------------------------------------ console

def test_not_running_is_400_and_unknown_is_404(env):
    api, host, kv = env
    make_vmi(api.store, "pending", phase="Scheduled")
    with pytest.raises(errors.BadRequest, match="^VMI is not running$"):
        dial_once(ws_params(kv, "pending", "console"))
    with pytest.raises(errors.NotFound):
        dial_once(ws_params(kv, "ghost", "console"))
    make_vmi(api.store, "failed", phase="Failed")
    with pytest.raises(errors.Conflict, match="^VMI is in failed status$"):
        dial_once(ws_params(kv, "failed", "console"))


def test_console_round_trip_binary_and_close_1000(env):
    api, host, kv = env
    make_vmi(api.store, "vm1")
    ws = dial(ws_params(kv, "vm1", "console"), timeout=5)
    assert ws.subprotocol == "plain.kubevirt.io"
    guest = guest_line(host, domain_name("default", "vm1"))
    payload = bytes(range(256)) * 4
    ws.send(payload)
    got = b""
    guest.settimeout(5)
    while len(got) < len(payload):
        got += guest.recv(65536)
    assert got == payload
    guest.sendall(b"\x00\xff\x1b[A from the guest\r\n")
    assert recv_until(ws, b"from the guest\r\n") == b"\x00\xff\x1b[A from the guest\r\n"
    ws.close()
    assert close_code(ws) == (1000, "")


def test_show_log_replays_since_boot_without_gap(env):
    api, host, kv = env
    make_vmi(api.store, "logged")
    console = api.runtime.consoles.live(host, domain_name("default", "logged"))
    guest = guest_line(host, domain_name("default", "logged"))
    guest.sendall(b"GUEST-BOOT-OK\r\n")
    assert console.wait_for(b"GUEST-BOOT-OK", 5) is not None
    ws = dial(ws_params(kv, "logged", "console", {"showLog": "true"}), timeout=5)
    guest.sendall(b"live\r\n")
    assert recv_until(ws, b"live\r\n") == b"GUEST-BOOT-OK\r\nlive\r\n"
    ws.close()
    # without showLog only new output arrives
    ws = dial(ws_params(kv, "logged", "console"), timeout=5)
    ws.send(b"x")                 # once the guest reads it, the server has attached this client
    guest.settimeout(5)
    assert guest.recv(10) == b"x"
    guest.sendall(b"later\r\n")
    assert recv_until(ws, b"later\r\n") == b"later\r\n"
    ws.close()
    r = api.request("GET", "/apis/subresources.kubevirt.io/v1/namespaces/default/virtualmachineinstances/logged/consolelog")
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain")
    assert r.body == b"GUEST-BOOT-OK\r\nlive\r\nlater\r\n"


def test_second_client_takes_over_first_sees_1006(env):
    api, host, kv = env
    make_vmi(api.store, "shared")
    first = dial(ws_params(kv, "shared", "console"), timeout=5)
    second = dial(ws_params(kv, "shared", "console"), timeout=5)
    from websockets.exceptions import ConnectionClosed

    with pytest.raises(ConnectionClosed):
        first.recv(timeout=5)
    assert close_code(first)[0] == 1006
    assert protocol.close_outcome(*close_code(first)).error == \
        "websocket: close 1006 (abnormal closure): unexpected EOF"
    guest = guest_line(host, domain_name("default", "shared"))
    second.send(b"x")
    guest.settimeout(5)
    assert guest.recv(10) == b"x"
    guest.sendall(b"still here\r\n")
    assert recv_until(second, b"still here\r\n") == b"still here\r\n"
    second.close()


def test_vmi_stopping_drops_the_client(env):
    api, host, kv = env
    make_vmi(api.store, "stopping")
    ws = dial(ws_params(kv, "stopping", "console"), timeout=5)
    set_phase(api.store, "stopping", "Succeeded")
    from websockets.exceptions import ConnectionClosed

    with pytest.raises(ConnectionClosed):
        ws.recv(timeout=5)
    assert close_code(ws)[0] == 1006


def test_virtctl_console_waits_then_runs_a_script(env):
    """Non-TTY: stdin goes to the guest, output to stdout; EOF ends after the guest is quiet."""
    api, host, kv = env
    make_vmi(api.store, "later", phase="Scheduled")
    proc = subprocess.Popen([*VIRTCTL_CLI, "console", "later", "--timeout", "1"], env=cli_env(api),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(2.5)                      # a few re-dials on 400
    assert proc.poll() is None
    set_phase(api.store, "later", "Running")
    domain = domain_name("default", "later")

    def guest_echo():
        line = guest_line(host, domain, timeout=10)
        line.settimeout(10)
        data = line.recv(1024)
        line.sendall(b"echo " + data.replace(b"\n", b"\r\n") + b"hi-2\r\n")
    t = threading.Thread(target=guest_echo)
    t.start()
    out, err = proc.communicate(b"echo hi-$((1+1))\n", timeout=30)
    t.join()
    assert proc.returncode == 0, err
    assert b"hi-2\r\n" in out
    assert err.decode() == protocol.connected_message("later")


def test_virtctl_console_disconnect_message(env):
    api, host, kv = env
    make_vmi(api.store, "kicked")
    proc = subprocess.Popen([*VIRTCTL_CLI, "console", "kicked"], env=cli_env(api),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    guest_line(host, domain_name("default", "kicked"), timeout=10)
    deadline = time.monotonic() + 10
    console = api.runtime.consoles.get(domain_name("default", "kicked"))
    while console is None or console._client is None:     # opened (the registry stores it after the
        assert time.monotonic() < deadline                # guest line is up), and the client attached
        time.sleep(0.05)
        console = api.runtime.consoles.get(domain_name("default", "kicked"))
    other = dial(ws_params(kv, "kicked", "console"), timeout=5)
    out, err = proc.communicate(timeout=15)
    other.close()
    assert proc.returncode == 1
    assert err.decode() == protocol.connected_message("kicked") + protocol.DISCONNECT_TEXT + \
        "websocket: close 1006 (abnormal closure): unexpected EOF\n"


def test_virtctl_console_timeout_message(env):
    api, host, kv = env
    make_vmi(api.store, "never", phase="Pending")
    env_ = cli_env(api)
    # --timeout is in minutes; 0 means: one try
    r = subprocess.run([*VIRTCTL_CLI, "console", "never", "--timeout", "0"], env=env_,
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    assert r.returncode == 1
    assert r.stderr.decode() == "Timeout trying to connect to the virtual machine instance\n"
    r = subprocess.run([*VIRTCTL_CLI, "console", "nope"], env=env_, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=30)
    assert r.returncode == 1 and b"not found" in r.stderr and b"Traceback" not in r.stderr


# ------------------------------------------------------------------ VNC

def test_vnc_stream_and_preserve_session(env):
    api, host, kv = env
    make_vmi(api.store, "desk")
    first = dial(ws_params(kv, "desk", "vnc", {"preserveSession": "false"}), timeout=5)
    assert recv_until(first, b"RFB 003.008\n") == b"RFB 003.008\n"
    first.send(b"RFB 003.008\n")
    host.vnc_peers[0].settimeout(5)
    assert host.vnc_peers[0].recv(100) == b"RFB 003.008\n"
    with pytest.raises(errors.ServiceUnavailable, match=r"^Active VNC connection\. Request denied\.$"):
        dial(ws_params(kv, "desk", "vnc", {"preserveSession": "true"}), timeout=5)
    second = dial(ws_params(kv, "desk", "vnc", {"preserveSession": "false"}), timeout=5)   # kicks the first
    from websockets.exceptions import ConnectionClosed

    with pytest.raises(ConnectionClosed):
        first.recv(timeout=5)
    assert recv_until(second, b"RFB") == b"RFB 003.008\n"
    second.close()


def test_vnc_refusals(env):
    api, host, kv = env
    make_vmi(api.store, "off", phase="Scheduling")
    with pytest.raises(errors.BadRequest, match="^VMI is not running$"):
        dial_once(ws_params(kv, "off", "vnc"))
    r = subprocess.run([*VIRTCTL_CLI, "vnc", "off", "--proxy-only", "--timeout", "0"], env=cli_env(api),
                       capture_output=True, timeout=30)
    assert r.returncode == 1
    assert r.stderr.decode() == "can't access VMI off: Timeout trying to connect to the virtual machine instance\n"


def test_virtctl_vnc_proxy_only_pipes_one_client(env):
    api, host, kv = env
    make_vmi(api.store, "proxied", paused=True)
    proc = subprocess.Popen([*VIRTCTL_CLI, "vnc", "proxied", "--proxy-only"], env=cli_env(api),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = proc.stdout.readline().decode()
        import json

        port = json.loads(line)["port"]
        assert line == f'{{"port":{port}}}\n'
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            c.settimeout(5)
            assert c.recv(100) == b"RFB 003.008\n"
            c.sendall(b"hello")
            peer = host.vnc_peers[-1]
            peer.settimeout(5)
            assert peer.recv(100) == b"hello"
        assert proc.wait(10) == 0
        err = proc.stderr.read().decode()
        assert "\rWarning: proxied is paused. Console will be active after unpause.\n" in err
        assert '"msg":"connection timeout: 1m0s"' in err
    finally:
        if proc.poll() is None:
            proc.kill()


def test_screenshot_action_and_cli(env, tmp_path):
    api, host, kv = env
    make_vmi(api.store, "shot")
    out = tmp_path / "s.png"
    r = subprocess.run([*VIRTCTL_CLI, "vnc", "screenshot", "shot", "-f", str(out)], env=cli_env(api),
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == b"\x89PNG\r\n\x1a\nstand-in"
    r = subprocess.run([*VIRTCTL_CLI, "vnc", "screenshot", "shot", "-f", "-"], env=cli_env(api),
                       capture_output=True, timeout=30)
    assert r.stdout == b"\x89PNG\r\n\x1a\nstand-in"
    r = subprocess.run([*VIRTCTL_CLI, "vnc", "screenshot", "shot", "-f", str(tmp_path / "no" / "x.png")],
                       env=cli_env(api), capture_output=True, timeout=30)
    assert r.returncode == 1
    assert r.stderr.decode() == f"Can't write image to a file: open {tmp_path}/no/x.png: no such file or directory\n"
    make_vmi(api.store, "dark", phase="Pending")
    r = subprocess.run([*VIRTCTL_CLI, "vnc", "screenshot", "dark", "-f", "-"], env=cli_env(api),
                       capture_output=True, timeout=30)
    assert r.returncode == 1 and r.stderr.decode() == "Can't access VMI dark: VMI is not running\n"
