"""Reaching the guest end to end: the real CLI against a real controller process on real QEMU.

One busybox VM (dropbear, httpd, netcat, qemu-ga; its root key from cloud-init user-data written by
the test) is reached through ``virtctl port-forward`` (TCP, two ports, ``--address``, UDP),
``virtctl ssh``/``scp`` (real OpenSSH), the ssh ProxyCommand pattern of the user guide, and the
guest agent subresources. Faults: unknown/stopped VMI, bad ports and protocols, a refusing guest, a
client that vanishes mid-stream, 200 websockets in a loop: no forward left in QEMU (``info usernet``),
no thread or file descriptor leak in the controller process.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml

from tests.controller.storage.registry_fixture import local_registry  # noqa: F401  (fixture)
from tests.e2e.standalone_env import (
    VIRTCTL,
    Standalone,
    kernel_vm,
    libvirt_name,
    push_kernel_image,
    running_controller,
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

SSH_OPTS = ["-t", "-o StrictHostKeyChecking=no", "-t", "-o UserKnownHostsFile=/dev/null",
            "-t", "-o LogLevel=ERROR"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def env(libvirt_host, tmp_path_factory):
    yield from running_controller(libvirt_host, tmp_path_factory, "guest-access", tools=("ssh", "scp"))


@pytest.fixture(scope="module")
def key(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("key")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "id")], check=True)
    return d / "id"


@pytest.fixture(scope="module")
def vm(env, key, guest, local_registry) -> str:  # noqa: F811
    image = push_kernel_image(guest, local_registry, "guest-access")
    env.image = image
    name = f"ga-{uuid.uuid4().hex[:6]}"
    pub = key.with_suffix(".pub").read_text().strip()
    user_data = f"#!/bin/sh\nmkdir -p /root/.ssh\necho '{pub}' > /root/.ssh/authorized_keys\n"
    env.apply(kernel_vm(name, image, grace=5, devices={"disks": [{"name": "cloudinit", "disk": {"bus": "virtio"}}]},
                        volumes=[{"name": "cloudinit", "cloudInitNoCloud": {"userData": user_data}}]))
    env.wait_log(name, "GUEST-BOOT-OK", timeout=180)
    return name


def agent_connected(env: Standalone, vm: str) -> str | None:
    """The status of the VMI's AgentConnected condition (None without one)."""
    conds = env.obj("vmi", vm)["status"].get("conditions") or []
    return next((c["status"] for c in conds if c["type"] == "AgentConnected"), None)


def a_is_address(arg: str) -> bool:
    return arg.count(".") == 3


def ported_vm(env: Standalone, image: str, name: str, port: int, run_strategy: str = "Always") -> None:
    """A VM whose interface declares ``ports: [{port}]`` (forwarded from 127.0.0.1:<port> at start)."""
    env.apply(kernel_vm(name, image, run_strategy=run_strategy, memory="192Mi", grace=5,
                        devices={"interfaces": [{"name": "default", "masquerade": {},
                                                 "ports": [{"name": "http", "port": port}]}]},
                        networks=[{"name": "default", "pod": {}}]))


class Forward:
    """``virtctl port-forward`` in the background, until the test ends."""

    def __init__(self, env: Standalone, *args: str):
        self.proc = subprocess.Popen([*VIRTCTL, "port-forward", *args], env=env.env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ports = [a for a in args if a[:1].isdigit() or a.startswith(("tcp/", "udp/"))]
        ports = [a for a in ports if ":" in a or "/" in a or a.isdigit()]
        # one "forwarding …" log line per port once its listener is up
        self.lines = [self.proc.stderr.readline() for _ in ports if not a_is_address(_)]

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def http_get(port: int, address: str = "127.0.0.1", attempts: int = 60) -> str:
    last: Exception | None = None
    for _ in range(attempts):
        try:
            with urllib.request.urlopen(f"http://{address}:{port}/", timeout=10) as r:
                return r.read().decode()
        except Exception as e:            # the guest's services may still be starting
            last = e
            time.sleep(1)
    raise AssertionError(f"no HTTP answer through 127.0.0.1:{port}: {last}")


def ssh(env: Standalone, vm: str, key: Path, command: str, check: bool = True) -> subprocess.CompletedProcess:
    return env.run("ssh", f"root@vm/{vm}", "-i", str(key), *SSH_OPTS, "-c", command, check=check, timeout=120)


def wait_ssh(env: Standalone, vm: str, key: Path) -> None:
    for _ in range(60):
        if ssh(env, vm, key, "true", check=False).returncode == 0:
            return
        time.sleep(1)
    raise AssertionError("ssh never came up")


def controller_usage(env: Standalone) -> tuple[int, int]:
    pid = env.pid()
    return len(os.listdir(f"/proc/{pid}/task")), len(os.listdir(f"/proc/{pid}/fd"))


def usernet(env: Standalone, vm: str) -> str:
    import libvirt
    import libvirt_qemu
    conn = libvirt.open("qemu:///system")
    try:
        dom = conn.lookupByName(libvirt_name(env, f"default_{vm}"))
        return libvirt_qemu.qemuMonitorCommand(dom, "info usernet", libvirt_qemu.VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP)
    finally:
        conn.close()


def ws_url(env: Standalone, vm: str, sub: str) -> tuple[str, dict, ssl.SSLContext]:
    cfg = yaml.safe_load(Path(env.env["KUBECONFIG"]).read_text())
    ctx_name = cfg["current-context"]
    ctx = next(c["context"] for c in cfg["contexts"] if c["name"] == ctx_name)
    cluster = next(c["cluster"] for c in cfg["clusters"] if c["name"] == ctx["cluster"])
    user = next(u["user"] for u in cfg["users"] if u["name"] == ctx["user"])
    import base64
    sslctx = ssl.create_default_context(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
    server = cluster["server"].replace("https://", "wss://")
    url = f"{server}/apis/subresources.kubevirt.io/v1/namespaces/default/virtualmachineinstances/{vm}/{sub}"
    return url, {"Authorization": f"Bearer {user['token']}"}, sslctx


def open_ws(env: Standalone, vm: str, sub: str):
    from websockets.sync.client import connect
    url, headers, sslctx = ws_url(env, vm, sub)
    return connect(url, ssl=sslctx, additional_headers=headers, subprotocols=["plain.kubevirt.io"],
                   open_timeout=30, max_size=None, legacy=True)


# ---------------------------------------------------------------- port-forward

def test_port_forward_http_two_ports_and_address(env, vm):
    p1, p2 = free_port(), free_port()
    fwd = Forward(env, f"vm/{vm}", f"{p1}:80", f"tcp/{p2}:80")
    try:
        assert "GUEST-HTTP-OK" in http_get(p1)
        assert "GUEST-HTTP-OK" in http_get(p2)
    finally:
        fwd.close()
    # --address: only the given address listens
    p3 = free_port()
    fwd = Forward(env, "--address", "127.0.0.2", f"vmi/{vm}", f"{p3}:80")
    try:
        assert "GUEST-HTTP-OK" in http_get(p3, "127.0.0.2")
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", p3), timeout=2).close()
    finally:
        fwd.close()


def test_ssh_scp_and_exit_status(env, vm, key, tmp_path):
    wait_ssh(env, vm, key)
    out = ssh(env, vm, key, "echo ssh-$((40+2))")
    assert out.stdout.strip() == "ssh-42"
    failed = ssh(env, vm, key, "exit 7", check=False)
    assert failed.returncode == 7, failed.stderr
    # scp there and back, byte-identical
    src = tmp_path / "blob.bin"
    src.write_bytes(os.urandom(300_000))
    env.run("scp", "-i", str(key), *SSH_OPTS, str(src), f"root@vm/{vm}:/tmp/blob.bin", timeout=180)
    back = tmp_path / "back.bin"
    env.run("scp", "-i", str(key), *SSH_OPTS, f"root@vm/{vm}:/tmp/blob.bin", str(back), timeout=180)
    assert back.read_bytes() == src.read_bytes()
    # the user guide's pattern: ssh with port-forward --stdio as ProxyCommand
    proxy = " ".join([*VIRTCTL, "port-forward", "--stdio=true", "%h", "%p"])
    r = subprocess.run(["ssh", "-o", f"ProxyCommand={proxy}", "-o", "StrictHostKeyChecking=no",
                        "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-i", str(key),
                        "-p", "22", f"root@vm/{vm}", "echo guide-$((6*7))"],
                       env=env.env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "guide-42"


def test_udp_to_guest_nc(env, vm, key):
    wait_ssh(env, vm, key)
    # a UDP echo in the guest: netcat -u -l with cat as its program (/bin/nc: a bare "nc" is
    # busybox's own applet, which has no UDP)
    env.run("ssh", f"root@vm/{vm}", "-i", str(key), *SSH_OPTS, "-c",
            "setsid /bin/nc -u -l -p 5555 -e /bin/cat >/dev/null 2>&1 </dev/null & sleep 0.3", timeout=60)
    port = free_port()
    fwd = Forward(env, f"vm/{vm}", f"udp/{port}:5555")
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(2)
            got = b""
            for _ in range(20):
                s.sendto(b"udp-ping-42\n", ("127.0.0.1", port))
                try:
                    got = s.recv(100)
                    break
                except TimeoutError:
                    continue
            assert b"udp-ping-42" in got
    finally:
        fwd.close()


def test_interface_ports_are_forwarded_from_boot_and_a_taken_port_fails_the_vmi(env, vm):
    # the guest's httpd listens on 80: the declared port 80 is reachable on 127.0.0.1:80
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 80)) == 0:
            pytest.skip("127.0.0.1:80 is already taken on this machine")
    name = f"ports-{uuid.uuid4().hex[:4]}"
    ported_vm(env, env.image, name, 80)
    try:
        assert "GUEST-HTTP-OK" in http_get(80, attempts=120)
    finally:
        env.run("delete", "vm", name)
    # a host port in use: the VMI fails, saying which port
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        name = f"taken-{uuid.uuid4().hex[:4]}"
        ported_vm(env, env.image, name, port, run_strategy="Once")     # Once: a Failed VMI stays
        deadline = time.monotonic() + 120
        vmi: dict = {}
        while time.monotonic() < deadline:
            r = env.run("get", "vmi", name, "-o", "json", check=False)
            vmi = json.loads(r.stdout) if r.returncode == 0 else {}
            if (vmi.get("status") or {}).get("phase") == "Failed":
                break
            time.sleep(1)
        assert vmi["status"]["phase"] == "Failed", vmi.get("status")
        text = json.dumps(vmi["status"])
        assert f"127.0.0.1:{port}/tcp" in text and "already in use" in text
        env.run("delete", "vm", name)


# ---------------------------------------------------------------- guest agent and addresses

def test_guest_agent_and_addresses(env, vm, key):
    deadline = time.monotonic() + 120
    out = None
    while time.monotonic() < deadline:
        out = env.run("guestosinfo", vm, check=False)
        if out.returncode == 0:
            break
        time.sleep(2)
    assert out is not None and out.returncode == 0, out.stderr if out else ""
    info = json.loads(out.stdout)
    assert info["os"]["id"] == "virtctl-test-guest"
    assert info["os"]["prettyName"] == "virtctl test guest (Debian packages)"
    assert info["guestAgentVersion"]
    assert any(c["name"] == "guest-get-osinfo" for c in info["supportedCommands"])
    users = json.loads(env.run("userlist", vm).stdout)
    assert users["items"] == [] or all("userName" in u for u in users["items"])
    fs = json.loads(env.run("fslist", vm).stdout)
    assert isinstance(fs["items"], list)

    # status: AgentConnected and the guest's address; kubectl-style table shows the IP
    deadline = time.monotonic() + 120
    vmi: dict = {}
    while time.monotonic() < deadline:
        vmi = env.obj("vmi", vm)
        conds = {c["type"]: c["status"] for c in vmi["status"].get("conditions") or []}
        ifaces = vmi["status"].get("interfaces") or []
        if conds.get("AgentConnected") == "True" and ifaces and ifaces[0].get("ipAddress"):
            break
        time.sleep(2)
    iface = vmi["status"]["interfaces"][0]
    assert iface["ipAddress"] == "10.0.2.15"
    assert iface["interfaceName"] == "eth0"
    assert iface["infoSource"] == "domain, guest-agent"
    assert vmi["status"]["guestOSInfo"]["id"] == "virtctl-test-guest"
    table = env.run("get", "vmi", vm).stdout
    assert "10.0.2.15" in table
    if shutil.which("kubectl"):                       # real kubectl: the server's Table has the IP column
        r = subprocess.run(["kubectl", "--context", "virtctl-local", "get", "vmi", vm], env=env.env,
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        header, row = r.stdout.splitlines()[:2]
        assert "IP" in header.split() and "10.0.2.15" in row.split()

    # the agent goes away: AgentConnected goes, guestosinfo says so
    ssh(env, vm, key, "kill $(cat /run/qemu-ga.pid)")
    wait_until(lambda: agent_connected(env, vm) is None, 120, "AgentConnected to go", every=2)
    r = env.run("guestosinfo", vm, check=False)
    assert r.returncode == 1
    assert r.stderr.strip() == (f"Error getting guestosinfo of VirtualMachineInstance {vm}, an error on the server "
                                f'("Operation cannot be fulfilled on virtualmachineinstance.kubevirt.io \\"{vm}\\": '
                                f'VMI does not have guest agent connected") has prevented the request from succeeding')
    # and comes back
    ssh(env, vm, key, "for p in /sys/class/virtio-ports/*; do [ $(cat $p/name) = org.qemu.guest_agent.0 ] && "
                      "qemu-ga -d -m virtio-serial -p /dev/${p##*/} -t /run -f /run/qemu-ga.pid; done")
    wait_until(lambda: agent_connected(env, vm) == "True", 120, "AgentConnected=True", every=2)


# ---------------------------------------------------------------- bad input and faults

def test_bad_input(env, vm, tmp_path):
    r = env.run("port-forward", "vmi/nosuchvmi-x", "--stdio=true", "80", check=False)
    assert r.returncode == 1
    assert "not found" in r.stderr
    r = env.run("port-forward", "vmi/x", "tcp/99999:80", check=False)
    assert r.returncode == 1 and "out of range" in r.stderr
    r = env.run("port-forward", "vmi/x", "sctp/80", check=False)
    assert r.returncode == 1 and "unknown protocol: sctp" in r.stderr
    r = env.run("port-forward", "pod/x", "80", check=False)
    assert r.returncode == 1 and r.stderr.strip().endswith("unsupported resource type 'pod'")
    # server side: a port out of range and a protocol other than tcp/udp
    from websockets.exceptions import InvalidStatus
    with pytest.raises(InvalidStatus) as e:
        open_ws(env, vm, "portforward/70000/tcp")
    assert e.value.response.status_code == 500
    with pytest.raises(InvalidStatus) as e:
        open_ws(env, vm, "portforward/80/sctp")
    assert e.value.response.status_code == 404
    # a guest that refuses: 500 with the dial error, through the CLI too
    with pytest.raises(InvalidStatus) as e:
        open_ws(env, vm, "portforward/81/tcp")
    assert e.value.response.status_code == 500
    assert b"connection refused" in e.value.response.body
    r = subprocess.run([*VIRTCTL, "port-forward", "--stdio=true", f"vm/{vm}", "81"], env=env.env,
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "connection refused" in r.stderr
    # a stopped VMI
    name = f"stopped-{uuid.uuid4().hex[:4]}"
    (tmp_path / "s.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {"name": name},
        "spec": {"runStrategy": "Halted", "template": {"spec": {"domain": {"devices": {}}}}}}))
    env.run("apply", "-f", str(tmp_path / "s.yaml"))
    r = env.run("port-forward", "--stdio=true", f"vm/{name}", "22", check=False)
    assert r.returncode == 1 and "VMI is not running" in r.stderr
    r = env.run("guestosinfo", name, check=False)
    assert r.returncode == 1
    assert r.stderr.strip() == (f"Error getting guestosinfo of VirtualMachineInstance {name}, an error on the "
                                f'server ("virtualmachineinstance.kubevirt.io \\"{name}\\" not found") has '
                                f"prevented the request from succeeding")


def test_no_leaks_after_many_websockets_and_vanishing_clients(env, vm):
    http_get_once = b"GET / HTTP/1.0\r\n\r\n"
    # warm up (first use creates the per-host forwarder, lazy imports …)
    ws = open_ws(env, vm, "portforward/80/tcp")
    ws.send(http_get_once)
    ws.recv(timeout=30)
    ws.close()
    time.sleep(1)
    threads0, fds0 = controller_usage(env)
    for i in range(200):
        ws = open_ws(env, vm, "portforward/80/tcp" if i % 2 else "portforward/80")
        if i % 10 == 0:
            ws.send(http_get_once)
            assert b"HTTP/1" in ws.recv(timeout=30)
        if i % 7 == 0:
            ws.socket.close()              # the client vanishes without a close frame
        else:
            ws.close()
    # a client that vanishes mid-stream: a big upload and the socket just goes
    ws = open_ws(env, vm, "portforward/80/tcp")
    ws.send(b"POST / HTTP/1.0\r\nContent-Length: 100000000\r\n\r\n" + b"x" * 1_000_000)
    ws.socket.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        threads, fds = controller_usage(env)
        if threads <= threads0 and fds <= fds0:
            break
        time.sleep(0.5)
    assert threads <= threads0 and fds <= fds0, f"threads {threads0}→{threads}, fds {fds0}→{fds}"
    assert "HOST_FORWARD" not in usernet(env, vm)


def test_soft_reboot_goes_through_the_agent(env, vm):
    wait_until(lambda: agent_connected(env, vm) == "True", 120, "AgentConnected=True", every=2)
    env.run("soft-reboot", vm)
    log = env.wait_log(vm, "GUEST-AGENT-REBOOT", timeout=60)
    assert log.count("GUEST-BOOT-OK") >= 1
