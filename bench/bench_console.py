"""Console throughput and keystroke latency: ``virtctl console`` (non-TTY) vs a raw libvirt stream,
in the same run on the same guest. Prints figures; asserts nothing.

    .venv/bin/python -m bench.bench_console        (root, libvirt up, guest built by scripts/build-guest.sh)

* throughput: the guest prints 1 MiB (``yes … | head -c 1048576``); bytes/s until the end marker,
  read raw from the domain's libvirt console stream and through the API server's websocket and
  ``virtctl console``, in ROUNDS interleaved rounds (alternating which goes first, so both see the
  same machine load on a shared host); the ratio of the medians. Target: ratio ≥ 0.9 (the emulated
  UART under TCG is the ceiling).
* latency: one key typed at the guest prompt until its echo comes back; median of 30, raw vs
  through virtctl. Target: < 5 ms added.
"""

from __future__ import annotations

import os
import select
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.conftest import Guest  # noqa: E402
from tests.e2e.streams_env import NS, close_env, open_env  # noqa: E402
from tests.streams.cli import virtctl_argv  # noqa: E402

FLOOD = b"yes 0123456789abcdef0123456789abcde | head -c 1048576; echo END-$((40+2))\n"
END = b"END-42"
KEYS = 30
ROUNDS = 3


def raw_throughput(console) -> tuple[int, float]:
    mark = console.offset
    t0 = time.perf_counter()
    console.write(FLOOD)
    assert console.wait_for(END, 120, since=mark + len(FLOOD)) is not None
    return console.offset - mark, time.perf_counter() - t0


def read_until(fd: int, needle: bytes, timeout: float) -> bytes:
    buf = bytearray()
    deadline = time.monotonic() + timeout
    while True:
        r, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not r:
            raise TimeoutError(f"{needle!r} not seen")
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            raise EOFError("virtctl console ended")
        start = max(0, len(buf) - len(needle))          # search only the new tail: this process also serves
        buf += chunk
        if buf.find(needle, start) >= 0:
            return bytes(buf)


def start_client(env, name: str) -> subprocess.Popen:
    proc = subprocess.Popen([*virtctl_argv(), "-n", NS, "console", name], env=env.cli_env(),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    line = proc.stderr.readline()
    assert line.startswith(b"Successfully connected"), line
    return proc


def virtctl_throughput(proc: subprocess.Popen) -> tuple[int, float]:
    fd = proc.stdout.fileno()
    t0 = time.perf_counter()
    proc.stdin.write(FLOOD)
    # the typed line is echoed first; wait for the marker *after* the echoed command line
    data = read_until(fd, b"\n" + END, 180)
    return len(data), time.perf_counter() - t0


def raw_latency(console) -> list[float]:
    out = []
    for _ in range(KEYS):
        mark = console.offset
        t0 = time.perf_counter()
        console.write(b"x")
        assert console.wait_for(b"x", 10, since=mark) is not None
        out.append(time.perf_counter() - t0)
        console.write(b"\x7f")                         # erase it again
        console.wait_for(b"\x08", 10, since=mark + 1)
    return out


def virtctl_latency(proc: subprocess.Popen) -> list[float]:
    fd = proc.stdout.fileno()
    out = []
    for _ in range(KEYS):
        t0 = time.perf_counter()
        proc.stdin.write(b"x")
        read_until(fd, b"x", 10)
        out.append(time.perf_counter() - t0)
        proc.stdin.write(b"\x7f")
        read_until(fd, b"\x08", 10)
    return out


def main() -> int:
    from bench.bench_boot import default_guest_dir
    from virtctl.controller.virt.libvirt_host import LibvirtHost

    gdir = Path(default_guest_dir())
    if not (gdir / "vmlinuz").exists():
        print(f"no guest in {gdir}: run scripts/build-guest.sh {gdir}", file=sys.stderr)
        return 1
    guest = Guest(kernel=str(gdir / "vmlinuz"), initrd=str(gdir / "initramfs.cpio.gz"))
    # an owner id of its own: the registry opens (with FORCE) only this run's console, never that of
    # a controller sharing the libvirtd
    host = LibvirtHost(os.environ.get("VIRTCTL_TEST_LIBVIRT_URI", "qemu:///system"), "node01",
                       owner_id=f"bench-{os.getpid()}-{time.time_ns()}")
    with tempfile.TemporaryDirectory() as tmp:
        env, handles = open_env(host, Path(tmp) / "state")
        try:
            name = f"bench-{os.getpid()}"
            console = env.boot(name, guest)

            def through_virtctl() -> tuple[int, float]:
                proc = start_client(env, name)
                try:
                    return virtctl_throughput(proc)
                finally:
                    proc.stdin.close()
                    proc.wait(30)

            raw_rates, vc_rates = [], []
            for i in range(ROUNDS):
                order = [("raw", lambda: raw_throughput(console)), ("virtctl", through_virtctl)]
                for which, measure in (order if i % 2 == 0 else order[::-1]):
                    n, secs = measure()
                    (raw_rates if which == "raw" else vc_rates).append(n / secs)
                    print(f"round {i + 1} {which:<7}: {n:>8} B in {secs:6.2f} s = {n / secs / 1e3:7.1f} kB/s")
            raw_lat = raw_latency(console)
            proc = start_client(env, name)
            try:
                vc_lat = virtctl_latency(proc)
            finally:
                proc.stdin.close()
                proc.wait(30)
        finally:
            close_env(env, handles)
            host.close()
    raw_rate, vc_rate = statistics.median(raw_rates), statistics.median(vc_rates)
    raw_med, vc_med = statistics.median(raw_lat) * 1e3, statistics.median(vc_lat) * 1e3
    print(f"throughput raw libvirt stream : median {raw_rate / 1e3:7.1f} kB/s of {ROUNDS}")
    print(f"throughput virtctl console    : median {vc_rate / 1e3:7.1f} kB/s of {ROUNDS}")
    print(f"ratio virtctl / raw           : {vc_rate / raw_rate:.2f}  (target >= 0.9)")
    print(f"key echo raw (median of {KEYS})   : {raw_med:6.2f} ms")
    print(f"key echo virtctl (median)     : {vc_med:6.2f} ms")
    print(f"added latency                 : {vc_med - raw_med:6.2f} ms  (target < 5 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
