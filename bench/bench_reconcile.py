"""Reconcile latency: 100 VMs created 100 ms apart on libvirt's test driver; time from the create
call to the VM's printableStatus Running (seen through a store subscription). Prints P50/P95.

Run: .venv/bin/python bench/bench_reconcile.py [--vms N] [--interval S]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

from virtctl.controller.reconcile import manager
from virtctl.controller.settings import Settings
from virtctl.controller.store.objects import ObjectStore
from virtctl.controller.virt.libvirt_host import LibvirtHost
from virtctl.model import kinds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--vms", type=int, default=100)
    ap.add_argument("--interval", type=float, default=0.1)
    args = ap.parse_args()
    ns = f"bench-{uuid.uuid4().hex[:6]}"
    with tempfile.TemporaryDirectory() as d:
        store = ObjectStore(Path(d) / "store.db")
        settings = Settings(state_dir=Path(d), libvirt_uris=["test:///default"])
        host = LibvirtHost("test:///default", "node01")
        created: dict[str, float] = {}
        running: dict[str, float] = {}
        lock = threading.Lock()
        done = threading.Event()

        def seen(event_type: str, kind, obj: dict) -> None:
            if kind is not kinds.VM or (obj.get("status") or {}).get("printableStatus") != "Running":
                return
            name = obj["metadata"]["name"]
            with lock:
                if name not in running and obj["metadata"].get("namespace") == ns:
                    running[name] = time.monotonic()
                    if len(running) == args.vms:
                        done.set()

        store.subscribe(seen)
        m = manager.start(store, settings, [host])
        try:
            t0 = time.monotonic()
            for i in range(args.vms):
                name = f"vm{i:03d}"
                target = t0 + i * args.interval
                time.sleep(max(0.0, target - time.monotonic()))
                with lock:
                    created[name] = time.monotonic()
                store.create(kinds.VM, ns, {
                    "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
                    "metadata": {"name": name, "namespace": ns},
                    "spec": {"runStrategy": "Always", "template": {"spec": {"domain": {
                        "devices": {}, "resources": {"requests": {"memory": "64Mi"}}}}}}})
            done.wait(60)
            lat = sorted(running[n] - created[n] for n in running)
            if len(lat) < args.vms:
                print(f"only {len(lat)}/{args.vms} VMs reached Running")
            if lat:
                p50 = statistics.median(lat)
                p95 = lat[min(len(lat) - 1, int(round(0.95 * len(lat))) - 1)]
                print(f"{len(lat)} VMs, created {args.interval * 1000:.0f} ms apart: creation -> Running "
                      f"P50 {p50 * 1000:.1f} ms, P95 {p95 * 1000:.1f} ms, max {lat[-1] * 1000:.1f} ms "
                      f"(target P95 < 1000 ms: {'met' if p95 < 1.0 else 'NOT met'})")
        finally:
            m.stop()
            for dom in host.list_domains():
                if dom.startswith(ns + "_"):
                    host.destroy(dom)
            host.close()
            store.close()


if __name__ == "__main__":
    main()
