"""``virtctl get vm NAME`` against ``kubectl get vm NAME`` on the same embedded API server (one
started here with virtctl.controller.daemon in a thread). Prints medians and the ratio (target <= 1.0)."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from pathlib import Path

from bytecode import compile_package
from embedded import embedded_api, find_kubectl, virtctl_program

RUNS = int(os.environ.get("BENCH_RUNS", "21"))


def median_ms(cmd: list[str], env: dict[str, str]) -> float:
    subprocess.run(cmd, capture_output=True, env=env)     # warm (kubectl discovery cache, .pyc)
    samples = []
    for _ in range(RUNS):
        t = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, env=env)
        samples.append((time.perf_counter() - t) * 1000)
        if r.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed: {r.stderr.decode()[:300]}")
    return statistics.median(samples)


def main() -> None:
    compile_package()
    with embedded_api("bench-get-") as (_state, env):
        run(env)


def run(env: dict[str, str]) -> None:
    virtctl, kubectl = virtctl_program(), find_kubectl()
    manifest = subprocess.run([virtctl, "create", "vm", "--name", "bench", "--run-strategy", "Halted"],
                              capture_output=True, text=True, env=env).stdout
    applied = subprocess.run([virtctl, "apply", "-f", "-"], input=manifest, text=True, env=env,
                             capture_output=True)
    if applied.returncode != 0:
        raise SystemExit(f"virtctl apply failed: {applied.stderr.strip()}")
    ours = median_ms([virtctl, "get", "vm", "bench"], env)
    print(f"virtctl get vm bench        {ours:7.1f} ms")
    if kubectl is not None:
        theirs = median_ms([kubectl, "get", "vm", "bench"], env)
        print(f"kubectl get vm bench        {theirs:7.1f} ms")
        print(f"ratio virtctl/kubectl       {ours / theirs:7.2f}x (target <= 1.0x)")


if __name__ == "__main__":
    main()
