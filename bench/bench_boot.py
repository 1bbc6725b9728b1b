"""Boot benchmark: create → GUEST-BOOT-OK through converter + LibvirtHost + SerialConsole, against
raw libvirt (createXML of the same XML + an event-loop console stream), in the same run.

    .venv/bin/python -m bench.bench_boot [--runs 3] [--guest-dir guest]

Needs root, a running libvirtd (scripts/setup-libvirt.sh) and the test guest (scripts/build-guest.sh;
without ``--guest-dir``: $VIRTCTL_TEST_GUEST_DIR, /var/cache/virtctl-test-guest or the repository's
``guest/``, the first that holds one). Our host has an owner id of its own, so it sees only its
domains; the raw half's domains carry no metadata, so no controller on this libvirtd opens their
console (docs/standalone.md#domains).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import libvirt

from tests.e2e.raw_console import read_console
from virtctl.controller.storage.sources import KernelBootFiles
from virtctl.controller.virt.converter import vmi_to_domain
from virtctl.controller.virt.libvirt_host import LibvirtHost

MARKER = b"GUEST-BOOT-OK"
TIMEOUT = 20.0
REPO = Path(__file__).resolve().parents[1]


def default_guest_dir() -> str:
    candidates = [os.environ.get("VIRTCTL_TEST_GUEST_DIR", ""), "/var/cache/virtctl-test-guest", str(REPO / "guest")]
    return next((d for d in candidates if d and (Path(d) / "vmlinuz").is_file()), candidates[1])


def domain_xml(host: LibvirtHost, guest_dir: str, name: str) -> str:
    vmi = {"metadata": {"name": name, "namespace": "bench", "uid": str(uuid.uuid4())},
           "spec": {"domain": {"memory": {"guest": "128Mi"}, "devices": {},
                               "firmware": {"kernelBoot": {"kernelArgs": "console=ttyS0 panic=-1 quiet",
                                                           "container": {"image": "bench"}}}}}}
    files = KernelBootFiles(f"{guest_dir}/vmlinuz", f"{guest_dir}/initramfs.cpio.gz")
    return vmi_to_domain(vmi, host=host.host_info(), disks={}, kernel_boot=files).to_xml()


def without_metadata(xml: str) -> str:
    """The same domain, as a plain libvirt user would write it (no VMI owner metadata)."""
    root = ET.fromstring(xml)
    root.remove(root.find("metadata"))
    root.find("name").text = f"benchraw-{uuid.uuid4().hex[:8]}"   # not <namespace>_<name>: no controller claims it
    return ET.tostring(root, encoding="unicode")


def boot_ours(host: LibvirtHost, guest_dir: str) -> float:
    name = f"vm-{uuid.uuid4().hex[:8]}"
    t0 = time.monotonic()
    xml = domain_xml(host, guest_dir, name)
    dom_name = f"bench_{name}"
    host.start(xml)
    try:
        console = host.open_console(dom_name)
        ok = console.wait_for(MARKER, TIMEOUT)
        elapsed = time.monotonic() - t0
        console.close()
        if ok is None:
            raise RuntimeError(f"{dom_name}: no {MARKER!r} within {TIMEOUT} s")
        return elapsed
    finally:
        host.destroy(dom_name)


def boot_raw(conn: libvirt.virConnect, xml: str) -> float:
    """The same domain straight on libvirt-python, its console read as ``virsh console`` reads it
    (tests/e2e/raw_console.py); a stream that ends or fails ends the wait with its reason."""
    t0 = time.monotonic()
    dom = conn.createXML(xml, 0)
    try:
        out, ended = read_console(conn, dom, MARKER, TIMEOUT)
        elapsed = time.monotonic() - t0
        if MARKER not in out:
            why = ended[0] if ended else f"no {MARKER!r} within {TIMEOUT} s"
            raise RuntimeError(f"raw: {why}: {out[-300:]!r}")
        return elapsed
    finally:
        dom.destroy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--guest-dir", default=default_guest_dir())
    ap.add_argument("--uri", default="qemu:///system")
    args = ap.parse_args()
    args.guest_dir = str(Path(args.guest_dir).resolve())      # libvirt needs absolute paths
    if not (Path(args.guest_dir) / "vmlinuz").is_file():
        print(f"no test guest in {args.guest_dir}: run scripts/build-guest.sh {args.guest_dir}", file=sys.stderr)
        raise SystemExit(1)
    # registers the event loop for both paths; an owner id of its own, as a controller has
    host = LibvirtHost(args.uri, "bench", owner_id=f"bench-{uuid.uuid4().hex}")
    raw_conn = libvirt.open(args.uri)
    ours, raw = [], []
    for i in range(args.runs):                       # interleaved, so both see the same machine load
        raw_xml = without_metadata(domain_xml(host, args.guest_dir, f"raw-{uuid.uuid4().hex[:8]}"))
        raw.append(boot_raw(raw_conn, raw_xml))
        ours.append(boot_ours(host, args.guest_dir))
        print(f"run {i + 1}: raw libvirt {raw[-1]:.2f} s   converter+LibvirtHost {ours[-1]:.2f} s")
    r, o = statistics.median(raw), statistics.median(ours)
    print(f"median create→{MARKER.decode()}: raw {r:.2f} s, ours {o:.2f} s, ratio ours/raw {o / r:.2f}")
    raw_conn.close()
    host.close()


if __name__ == "__main__":
    main()
