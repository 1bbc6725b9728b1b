"""Start-up wall time: ``virtctl version --client`` and ``virtctl --help`` against Go
``kubectl version --client`` in the same run (medians; targets: ratio <= 1.5). Prints figures only."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bytecode import compile_package

RUNS = int(os.environ.get("BENCH_RUNS", "21"))
KUBECTL = "/usr/lib/google-cloud-sdk/bin/kubectl.1.30"


def median_ms(cmd: list[str]) -> float:
    subprocess.run(cmd, capture_output=True)          # warm caches (.pyc, page cache)
    samples = []
    for _ in range(RUNS):
        t = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=False)
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def main() -> None:
    compile_package()
    virtctl = shutil.which("virtctl", path=str(Path(sys.executable).parent)) or "virtctl"
    if not Path(KUBECTL).exists():
        print(f"{KUBECTL} not found; nothing to compare with")
        return
    go = median_ms([KUBECTL, "version", "--client"])
    print(f"kubectl.1.30 version --client   {go:7.1f} ms")
    for args in (["version", "--client"], ["--help"], ["create", "vm", "--name", "x"]):
        ms = median_ms([virtctl, *args])
        print(f"virtctl {' '.join(args):<24} {ms:7.1f} ms   ratio {ms / go:4.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
