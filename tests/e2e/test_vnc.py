"""``virtctl vnc`` on a real QEMU guest: a real VNC client (vncdotool) through ``--proxy-only``,
``vnc screenshot``, and ``--preserve-session`` refused while a viewer is connected."""

from __future__ import annotations

import json
import struct
import subprocess
import time

import pytest

from tests.e2e.streams_env import NS, close_env, open_env
from tests.streams.cli import virtctl_argv

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


@pytest.fixture
def env(libvirt_host, tmp_path):
    env, handles = open_env(libvirt_host, tmp_path / "state")
    yield env
    close_env(env, handles)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_vnc_client_screenshot_and_preserve_session(env, guest, tmp_path):
    vncdotool_api = pytest.importorskip("vncdotool.api")
    name = "vnc-" + str(int(time.time() * 1000))[-7:]
    env.boot(name, guest)
    proxy = subprocess.Popen([*virtctl_argv(), "-n", NS, "vnc", name, "--proxy-only"], env=env.cli_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    client = None
    try:
        line = proxy.stdout.readline()
        port = json.loads(line)["port"]
        assert line == f'{{"port":{port}}}\n'
        client = vncdotool_api.connect(f"127.0.0.1::{port}", password=None, timeout=30)
        captured = tmp_path / "captured.png"
        client.captureScreen(str(captured))               # RFB handshake + a full framebuffer update
        width, height = png_size(captured.read_bytes())
        assert width >= 320 and height >= 200

        refused = subprocess.run([*virtctl_argv(), "-n", NS, "vnc", name, "--proxy-only", "--preserve-session"],
                                 env=env.cli_env(), capture_output=True, text=True, timeout=60)
        assert refused.returncode == 1
        assert refused.stderr == f"can't access VMI {name}: Active VNC connection. Request denied.\n"

        shot = tmp_path / "shot.png"
        r = subprocess.run([*virtctl_argv(), "-n", NS, "vnc", "screenshot", name, "-f", str(shot)],
                           env=env.cli_env(), capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert png_size(shot.read_bytes()) == (width, height)

        client.disconnect()
        client = None
        assert proxy.wait(30) == 0                          # one viewer: the proxy ends with it
    finally:
        if client is not None:
            client.disconnect()
        vncdotool_api.shutdown()
        if proxy.poll() is None:
            proxy.kill()
