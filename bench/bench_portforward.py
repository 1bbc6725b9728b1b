"""Port-forward throughput and ssh time to first byte: through ``virtctl`` vs a direct loopback host
forward to the same guest port, in the same run on the same guest. Prints figures; asserts nothing.

    .venv/bin/python bench/bench_portforward.py [--mib 256] [--rounds 2]

Needs root, libvirtd (scripts/setup-libvirt.sh), the Debian docker-registry program and OpenSSH.
A controller (``virtctl local up`` in a temporary state dir) runs the test guest (scripts/build-guest.sh)
from a temporary local registry; its root key is generated here.

* throughput: the guest streams zeros (``/bin/nc -l -p 9000 < /dev/zero``); the host reads MiB
  bytes through ``virtctl port-forward`` (websocket through the controller) and through a forward
  added straight on the guest's NIC with QEMU's ``hostfwd_add`` (what the controller itself uses
  underneath). Interleaved rounds, medians; target ratio ≥ 0.8. Under TCG the guest's emulated NIC
  and slirp are usually the ceiling for both paths.
* ssh: wall time of ``virtctl ssh … -c true`` vs ``ssh -p <direct forward> … true`` (median of 7);
  target < 150 ms added.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import yaml  # noqa: E402

from tests.controller.storage.registry_fixture import LocalRegistry, registry_binary  # noqa: E402
from tests.e2e.standalone_env import VIRTCTL, Standalone, libvirt_name, tar_layer  # noqa: E402

PORT = 9000
SSH_OPTS = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def monitor(env: Standalone, vm: str, command: str) -> str:
    import libvirt
    import libvirt_qemu
    conn = libvirt.open("qemu:///system")
    try:
        dom = conn.lookupByName(libvirt_name(env, f"default_{vm}"))
        return str(libvirt_qemu.qemuMonitorCommand(dom, command, libvirt_qemu.VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP))
    finally:
        conn.close()


def read_bytes(port: int, total: int) -> float:
    """Seconds to read ``total`` bytes from 127.0.0.1:port (connect included). The guest's nc
    restarts after each connection: a connection that ends at once is retried."""
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    for _ in range(100):
        t0 = time.perf_counter()
        got = 0
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
                while got < total:
                    n = sock.recv_into(view, min(len(buf), total - got))
                    if not n:
                        break
                    got += n
        except OSError:
            pass
        if got == total:
            return time.perf_counter() - t0
        if got:
            raise EOFError(f"stream ended after {got} bytes")
        time.sleep(0.2)
    raise EOFError("the guest never sent anything")


def boot(env: Standalone, image: str, key: Path) -> str:
    name = f"bench-{uuid.uuid4().hex[:6]}"
    pub = key.with_suffix(".pub").read_text().strip()
    manifest = {
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {"name": name},
        "spec": {"runStrategy": "Always", "template": {"spec": {
            "terminationGracePeriodSeconds": 5,
            "domain": {"memory": {"guest": "256Mi"},
                       "firmware": {"kernelBoot": {"kernelArgs": "console=ttyS0 panic=-1 quiet",
                                                   "container": {"image": image, "kernelPath": "/boot/vmlinuz",
                                                                 "initrdPath": "/boot/initramfs.cpio.gz"}}},
                       "devices": {"disks": [{"name": "cloudinit", "disk": {"bus": "virtio"}}]}},
            "volumes": [{"name": "cloudinit", "cloudInitNoCloud": {"userData": (
                "#!/bin/sh\nmkdir -p /root/.ssh\n"
                f"echo '{pub}' > /root/.ssh/authorized_keys\n"
                f"(while true; do /bin/nc -l -p {PORT} < /dev/zero >/dev/null 2>&1; done) &\n")}}],
        }}},
    }
    path = env.state_dir.parent / f"{name}.yaml"
    path.write_text(yaml.safe_dump(manifest))
    env.run("apply", "-f", str(path))
    env.wait_log(name, "GUEST-BOOT-OK", timeout=180)
    return name


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    total = args.mib << 20
    binary = registry_binary()
    if binary is None or shutil.which("ssh") is None:
        sys.exit("needs the docker-registry program and OpenSSH (scripts/setup.sh installs them)")
    guest = Path(os.environ.get("VIRTCTL_TEST_GUEST_DIR", REPO / "guest"))
    subprocess.run(["sh", str(REPO / "scripts" / "build-guest.sh"), str(guest)], check=True, capture_output=True)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        registry = LocalRegistry(root / "registry")
        registry.start(binary)
        env = Standalone(root / "ctl")
        env.run("local", "up", timeout=60)
        try:
            layer = tar_layer({"boot/vmlinuz": (guest / "vmlinuz").read_bytes(),
                          "boot/initramfs.cpio.gz": (guest / "initramfs.cpio.gz").read_bytes()})
            registry.push_image("virtctl-test/kernel-boot", "bench", [layer])
            key = root / "id"
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
            vm = boot(env, f"{registry.host}/virtctl-test/kernel-boot:bench", key)

            direct_data, direct_ssh = free_port(), free_port()
            for hp, gp in ((direct_data, PORT), (direct_ssh, 22)):
                answer = monitor(env, vm, f"hostfwd_add hostua-default tcp:127.0.0.1:{hp}-:{gp}")
                assert not answer.strip(), answer
            local = free_port()
            fwd = subprocess.Popen([*VIRTCTL, "port-forward", f"vm/{vm}", f"{local}:{PORT}"], env=env.env,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            fwd.stderr.readline()                        # listening
            for _ in range(60):                          # wait for the guest's services
                r = subprocess.run(["ssh", *SSH_OPTS, "-i", str(key), "-p", str(direct_ssh), "root@127.0.0.1",
                                    "true"], capture_output=True)
                if r.returncode == 0:
                    break
                time.sleep(1)
            read_bytes(direct_data, 1 << 20)             # warm-up, both paths
            read_bytes(local, 1 << 20)

            direct, through = [], []
            for i in range(args.rounds):
                order = [("direct", direct_data, direct), ("virtctl", local, through)]
                for _label, port, out in (order if i % 2 == 0 else order[::-1]):
                    out.append(total / read_bytes(port, total) / (1 << 20))
            fwd.terminate()
            fwd.wait(timeout=10)
            d, t = statistics.median(direct), statistics.median(through)
            print(f"throughput {args.mib} MiB: direct hostfwd {d:.1f} MiB/s, virtctl port-forward {t:.1f} MiB/s, "
                  f"ratio {t / d:.2f} (target >= 0.8)   rounds direct={[f'{x:.1f}' for x in direct]} "
                  f"virtctl={[f'{x:.1f}' for x in through]}")

            def timed(argv: list[str], env_: dict[str, str] | None = None) -> float:
                t0 = time.perf_counter()
                r = subprocess.run(argv, capture_output=True, text=True, env=env_)
                if r.returncode != 0:
                    raise SystemExit(f"{' '.join(argv)} -> {r.returncode}: {r.stderr}")
                return time.perf_counter() - t0

            raw, via = [], []
            for _ in range(7):
                raw.append(timed(["ssh", *SSH_OPTS, "-i", str(key), "-p", str(direct_ssh), "root@127.0.0.1", "true"]))
                via.append(timed([*VIRTCTL, "ssh", f"root@vm/{vm}", "-i", str(key), "-t", "-o StrictHostKeyChecking=no",
                                  "-t", "-o UserKnownHostsFile=/dev/null", "-t", "-o LogLevel=ERROR", "-c", "true"],
                                 env.env))
            r, v = statistics.median(raw) * 1000, statistics.median(via) * 1000
            print(f"ssh -c true: direct {r:.0f} ms, virtctl ssh {v:.0f} ms, added {v - r:.0f} ms (target < 150 ms)")
        finally:
            env.run("local", "down", check=False, timeout=60)
            from virtctl.controller.settings import Settings
            from virtctl.controller.virt.libvirt_host import LibvirtHost
            host = LibvirtHost("qemu:///system", "node01", owner_id=Settings(state_dir=env.state_dir).controller_id)
            try:
                for dom in host.list_domains():
                    host.destroy(dom)
            finally:
                host.close()
            registry.stop()


if __name__ == "__main__":
    main()
