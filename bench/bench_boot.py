"""Boot benchmark: create → GUEST-BOOT-OK through converter + LibvirtHost + SerialConsole, against
raw libvirt (createXML of the same XML + an event-loop console stream), in the same run.

    .venv/bin/python bench/bench_boot.py [--runs 3] [--guest-dir /var/cache/virtctl-test-guest]

Needs root, a running libvirtd (scripts/setup-libvirt.sh) and the test guest (scripts/build-guest.sh).
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
import uuid
import xml.etree.ElementTree as ET

import libvirt

from virtctl.controller.virt.converter import vmi_to_domain
from virtctl.controller.virt.libvirt_host import LibvirtHost
from virtctl.controller.storage.sources import KernelBootFiles

MARKER = b"GUEST-BOOT-OK"
TIMEOUT = 20.0


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
    """The console pattern of docs/standalone.md#measured-libvirt-and-qemu-facts, straight on libvirt-python."""
    buf = bytearray()
    cond = threading.Condition()

    def on_readable(stream, _events, _opaque):
        with cond:
            while (d := stream.recv(65536)) not in (-2, b""):
                buf.extend(d)
            cond.notify_all()

    t0 = time.monotonic()
    dom = conn.createXML(xml, 0)
    try:
        st = conn.newStream(libvirt.VIR_STREAM_NONBLOCK)
        dom.openConsole(None, st, libvirt.VIR_DOMAIN_CONSOLE_FORCE)
        st.eventAddCallback(libvirt.VIR_STREAM_EVENT_READABLE, on_readable, None)
        with cond:
            ok = cond.wait_for(lambda: MARKER in buf[-4096:], TIMEOUT)
        elapsed = time.monotonic() - t0
        st.eventRemoveCallback()
        st.abort()
        if not ok:
            raise RuntimeError(f"raw: no {MARKER!r} within {TIMEOUT} s: {bytes(buf[-300:])!r}")
        return elapsed
    finally:
        dom.destroy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--guest-dir", default="/var/cache/virtctl-test-guest")
    ap.add_argument("--uri", default="qemu:///system")
    args = ap.parse_args()
    host = LibvirtHost(args.uri, "bench")            # registers the event loop for both paths
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
