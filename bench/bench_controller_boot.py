"""Boot through the whole controller vs raw libvirt, same run: create a kernelBoot VMI through the
embedded API (image from the local registry, already in the cache) until GUEST-BOOT-OK shows in
its console log, against raw `createXML` of the same guest until the same marker on a console
stream. Target: ≤ 1.2×.

    .venv/bin/python bench/bench_controller_boot.py [--runs 3] [--image localhost:5000/virtctl-test/kernel-boot:latest]

Needs root, libvirtd (scripts/setup-libvirt.sh), the guest and the local registry with the test
images (scripts/setup.sh does all of it).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))    # tests.e2e.raw_console, through bench_boot
from bench_boot import TIMEOUT, boot_raw, domain_xml, without_metadata  # noqa: E402

import libvirt  # noqa: E402

from virtctl.controller.settings import Settings  # noqa: E402
from virtctl.controller.storage.images import ImageCache  # noqa: E402
from virtctl.controller.virt.libvirt_host import LibvirtHost  # noqa: E402

MARKER = b"GUEST-BOOT-OK"


class Api:
    def __init__(self, settings: Settings):
        info = json.loads(settings.runtime_path.read_text())
        self.port = info["port"]
        self.token = settings.token_path.read_text().strip()
        self.ctx = ssl.create_default_context(cafile=info["ca"])

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=10)
        try:
            conn.request(method, path, body=json.dumps(body) if body is not None else None,
                         headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()


def vmi(name: str, image: str) -> dict:
    return {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance", "metadata": {"name": name},
            "spec": {"terminationGracePeriodSeconds": 0, "domain": {
                "memory": {"guest": "128Mi"}, "devices": {},
                "firmware": {"kernelBoot": {"kernelArgs": "console=ttyS0 panic=-1 quiet",
                                            "container": {"image": image, "imagePullPolicy": "IfNotPresent",
                                                          "kernelPath": "/boot/vmlinuz",
                                                          "initrdPath": "/boot/initramfs.cpio.gz"}}}}}}


def boot_controller(api: Api, image: str) -> float:
    name = f"bench-{uuid.uuid4().hex[:6]}"
    base = "/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstances"
    log = f"/apis/subresources.kubevirt.io/v1/namespaces/default/virtualmachineinstances/{name}/consolelog"
    t0 = time.monotonic()
    status, body = api.call("POST", base, vmi(name, image))
    assert status == 201, body
    try:
        while time.monotonic() - t0 < TIMEOUT:
            status, body = api.call("GET", log)
            if status == 200 and MARKER in body:
                return time.monotonic() - t0
            time.sleep(0.02)
        raise RuntimeError(f"{name}: no {MARKER!r} within {TIMEOUT} s")
    finally:
        api.call("DELETE", f"{base}/{name}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--image", default="localhost:5000/virtctl-test/kernel-boot:latest")
    args = ap.parse_args()

    state = Path(tempfile.mkdtemp(prefix="bench-controller-"))
    settings = Settings(state_dir=state)
    pulled = ImageCache(settings).pull(args.image)                 # the download is not what we measure
    guest_dir = str(pulled.rootfs / "boot")
    daemon = subprocess.Popen([sys.executable, "-m", "virtctl.controller.daemon", "--state-dir", str(state)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=dict(os.environ))
    try:
        while not settings.runtime_path.exists():
            if daemon.poll() is not None:
                raise SystemExit(f"controller exited: {daemon.stdout.read().decode()}")
            time.sleep(0.05)
        api = Api(settings)
        host = LibvirtHost("qemu:///system", "bench")
        conn = host.conn()
        ours, raw = [], []
        for _ in range(args.runs):
            ours.append(boot_controller(api, args.image))
            raw.append(boot_raw(conn, without_metadata(domain_xml(host, guest_dir, f"raw-{uuid.uuid4().hex[:6]}"))))
        host.close()
    finally:
        daemon.terminate()
        daemon.wait(30)
    o, r = statistics.median(ours), statistics.median(raw)
    print(f"create → {MARKER.decode()} (median of {args.runs}, TCG busybox guest)")
    print(f"  raw libvirt createXML + console stream : {r:.2f} s  {['%.2f' % x for x in raw]}")
    print(f"  virtctl controller (API → VMI → domain) : {o:.2f} s  {['%.2f' % x for x in ours]}")
    print(f"  ratio: {o / r:.2f}x   (target ≤ 1.2x)")


if __name__ == "__main__":
    main()
