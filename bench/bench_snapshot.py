"""Online snapshot benchmark: copying a running guest's volume with ``LibvirtHost.backup_disks``
(libvirt push-mode backup, as a VirtualMachineSnapshot of a running VM does) against
``qemu-img convert`` of the same volume with the guest stopped (the stopped-VM snapshot), in the
same run. Also reports how long the guest's filesystems stayed frozen and whether the guest was
ever seen paused during the copy (sampled every 5 ms). Prints figures; asserts nothing.

    .venv/bin/python -m bench.bench_snapshot [--size-mib 256] [--runs 3] [--guest-dir guest]

Needs root, a running libvirtd and the test guest (see bench/bench_boot.py).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from bench.bench_boot import MARKER, TIMEOUT, default_guest_dir
from virtctl.controller.storage.sources import DiskSource, KernelBootFiles
from virtctl.controller.virt.converter import vmi_to_domain
from virtctl.controller.virt.hypervisor import DomainState
from virtctl.controller.virt.libvirt_host import LibvirtHost


def make_volume(path: Path, size_mib: int) -> None:
    """A qcow2 volume whose every block holds data (random bytes), as a well-used disk."""
    raw = path.with_suffix(".raw")
    with open(raw, "wb") as f:
        for _ in range(size_mib):
            f.write(os.urandom(1 << 20))
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(path)], check=True)
    raw.unlink()


def domain_xml(host: LibvirtHost, guest_dir: str, name: str, volume: Path) -> str:
    vmi = {"metadata": {"name": name, "namespace": "bench", "uid": str(uuid.uuid4())},
           "spec": {"domain": {"memory": {"guest": "128Mi"},
                               "devices": {"disks": [{"name": "data", "disk": {"bus": "virtio"}}]},
                               "firmware": {"kernelBoot": {"kernelArgs": "console=ttyS0 panic=-1 quiet",
                                                           "container": {"image": "bench"}}}},
                    "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]}}
    files = KernelBootFiles(f"{guest_dir}/vmlinuz", f"{guest_dir}/initramfs.cpio.gz")
    disks = {"data": DiskSource("data", str(volume), "qcow2")}
    return vmi_to_domain(vmi, host=host.host_info(), disks=disks, kernel_boot=files).to_xml()


def online_copy(host: LibvirtHost, dom: str, out: Path, quiesce: bool) -> tuple[float, float, bool, bool]:
    """(seconds, seconds frozen, frozen?, seen paused?) of one backup of vda to ``out``."""
    paused = threading.Event()
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            if host.status(dom).state == DomainState.PAUSED:
                paused.set()
            time.sleep(0.005)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        report = host.backup_disks(dom, {"vda": str(out)}, quiesce=quiesce)
    finally:
        done.set()
        watcher.join()
    return report.seconds, report.freeze_seconds, report.frozen, paused.is_set()


def stopped_copy(volume: Path, out: Path) -> float:
    t = time.monotonic()
    subprocess.run(["qemu-img", "convert", "-q", "-f", "qcow2", "-O", "qcow2", str(volume), str(out)], check=True)
    return time.monotonic() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mib", type=int, default=256)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--guest-dir", default=default_guest_dir())
    ap.add_argument("--uri", default="qemu:///system")
    args = ap.parse_args()
    args.guest_dir = str(Path(args.guest_dir).resolve())
    if not (Path(args.guest_dir) / "vmlinuz").is_file():
        print(f"no test guest in {args.guest_dir}: run scripts/build-guest.sh {args.guest_dir}", file=sys.stderr)
        raise SystemExit(1)
    work = Path(tempfile.mkdtemp(prefix="bench-snapshot-"))
    volume = work / "data.qcow2"
    make_volume(volume, args.size_mib)
    host = LibvirtHost(args.uri, "bench", owner_id=f"bench-{uuid.uuid4().hex}")
    name = f"snap-{uuid.uuid4().hex[:8]}"
    dom = f"bench_{name}"
    online, frozen_s, offline = [], [], []
    ever_paused = False
    try:
        host.start(domain_xml(host, args.guest_dir, name, volume))
        console = host.open_console(dom)
        if console.wait_for(MARKER, TIMEOUT) is None:
            raise SystemExit(f"{dom}: no {MARKER.decode()} within {TIMEOUT} s")
        time.sleep(2)                                 # let the guest agent come up
        for i in range(args.runs):
            out = work / f"online-{i}.qcow2"
            seconds, frozen_for, frozen, seen_paused = online_copy(host, dom, out, quiesce=True)
            online.append(seconds)
            ever_paused = ever_paused or seen_paused
            if frozen:
                frozen_s.append(frozen_for)
            how = f"frozen {frozen_for:.3f} s" if frozen else "not frozen"
            print(f"run {i + 1}: online backup {seconds:.2f} s (filesystems {how}; guest paused: "
                  f"{'yes' if seen_paused else 'never'})")
            out.unlink()
        console.close()
        host.destroy(dom)
        for i in range(args.runs):
            out = work / f"offline-{i}.qcow2"
            offline.append(stopped_copy(volume, out))
            print(f"run {i + 1}: qemu-img convert of the stopped volume {offline[-1]:.2f} s")
            out.unlink()
    finally:
        host.destroy(dom)
        host.close()
        for p in work.iterdir():
            p.unlink()
        work.rmdir()
    on, off = statistics.median(online), statistics.median(offline)
    print(f"{args.size_mib} MiB volume, median: online backup {on:.2f} s, qemu-img convert (stopped) {off:.2f} s, "
          f"ratio online/stopped {on / off:.2f}; guest "
          f"{'seen paused during a copy' if ever_paused else 'never seen paused (sampled every 5 ms)'}"
          + (f"; filesystems frozen {statistics.median(frozen_s) * 1000:.0f} ms" if frozen_s else ""))


if __name__ == "__main__":
    main()
