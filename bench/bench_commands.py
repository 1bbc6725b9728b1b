"""Every scripted virtctl command against the kubectl call that does the same job, on the same
embedded API server (virtctl.controller.daemon in a thread, controllers off so nothing boots), in one
run. Prints a table of medians and ratios (target: every ratio <= 1.0); the two commands of a pair
run alternately, and the ratio is the median of the back-to-back pairs' ratios.

    python bench/bench_commands.py            # BENCH_RUNS=15 by default; BENCH_KUBECTL=/path/to/kubectl
    BENCH_ONLY=snapshot python bench/bench_commands.py                  # only the commands with that word

Write commands run with --dry-run where both tools have it; the kubectl side is the request kubectl
would make for the same change (a merge patch of the VM, a create of the object, …). Where a command
ends in an error on both sides (reset/soft-reboot of a VMI that no host runs), both exit codes are
shown: the time is still one start-up plus one request each.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bytecode import compile_package  # noqa: E402
from embedded import embedded_api, find_kubectl, virtctl_program  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "15"))
ONLY = os.environ.get("BENCH_ONLY", "")          # run only the commands whose virtctl words contain this


def medians_ms(a: list[str], b: list[str], env: dict[str, str]) -> tuple[float, int, float, int, float]:
    """Medians of ``a`` and ``b`` run alternately, their exit codes, and the median of the ratios of
    each back-to-back pair (what the machine's load does to both cancels out of it)."""
    for cmd in (a, b):
        subprocess.run(cmd, capture_output=True, env=env)          # warm caches (.pyc, kubectl discovery)
    samples: tuple[list[float], list[float]] = ([], [])
    codes = [0, 0]
    for _ in range(RUNS):
        for i, cmd in enumerate((a, b)):
            t = time.perf_counter()
            r = subprocess.run(cmd, capture_output=True, env=env)
            samples[i].append((time.perf_counter() - t) * 1000)
            codes[i] = r.returncode
    ratio = statistics.median(x / y for x, y in zip(*samples, strict=True))
    return statistics.median(samples[0]), codes[0], statistics.median(samples[1]), codes[1], ratio


def patch(kind: str, name: str, body: dict) -> list[str]:
    return ["patch", kind, name, "--type", "merge", "-p", json.dumps(body), "--dry-run=server"]


def cases(files: dict[str, str]) -> list[tuple[list[str], list[str]]]:
    """(virtctl argv, kubectl argv) pairs; each pair does the same job through the same server."""
    label = {"metadata": {"labels": {"bench": "x"}}}
    return [
        (["start", "bench-off", "--dry-run"], patch("vm", "bench-off", {"spec": {"runStrategy": "Always"}})),
        (["stop", "bench", "--dry-run"], patch("vm", "bench", {"spec": {"runStrategy": "Halted"}})),
        (["restart", "bench", "--dry-run"], patch("vm", "bench", {"spec": {"runStrategy": "Always"}})),
        (["migrate", "bench", "--dry-run"], ["create", "-f", files["vmim"], "--dry-run=server"]),
        (["migrate-cancel", "bench", "--dry-run"], ["delete", "vmim", "bench-mig", "--dry-run=server"]),
        (["pause", "vmi", "bench", "--dry-run"], patch("vmi", "bench", label)),
        (["unpause", "vmi", "bench-paused", "--dry-run"], patch("vmi", "bench-paused", label)),
        (["soft-reboot", "bench"], patch("vmi", "bench", label)),
        (["reset", "bench"], patch("vmi", "bench", label)),
        (["create", "vm", "--name", "x"], ["create", "configmap", "x", "--from-literal=a=b", "--dry-run=client",
                                           "-o", "yaml"]),
        (["create", "instancetype", "--cpu", "2", "--memory", "1Gi", "--name", "x"],
         ["create", "configmap", "x", "--from-literal=a=b", "--dry-run=client", "-o", "yaml"]),
        (["create", "preference", "--name", "x"],
         ["create", "configmap", "x", "--from-literal=a=b", "--dry-run=client", "-o", "yaml"]),
        (["apply", "-f", files["vm"]], ["apply", "-f", files["vm"]]),
        (["delete", "vm", "bench", "--dry-run"], ["delete", "vm", "bench", "--dry-run=server"]),
        (["snapshot", "create", "bench"], ["create", "-f", files["snapshot"]]),
        (["snapshot", "list"], ["get", "vmsnapshot"]),
        (["snapshot", "restore", "bench-snap"], ["create", "-f", files["restore"]]),
        (["snapshot", "delete", "no-such-snap"], ["delete", "vmsnapshot", "no-such-snap"]),
        (["get", "vm", "bench"], ["get", "vm", "bench"]),
        (["get", "vm", "bench", "-o", "yaml"], ["get", "vm", "bench", "-o", "yaml"]),
        (["version"], ["version"]),
    ]


def vmi(name: str) -> str:
    return json.dumps({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance", "metadata": {"name": name},
                       "spec": {"domain": {"devices": {}}}})


def write_files(state: Path, virtctl: str, env: dict[str, str]) -> dict[str, str]:
    def manifest(name: str, strategy: str) -> str:
        return subprocess.run([virtctl, "create", "vm", "--name", name, "--run-strategy", strategy],
                              capture_output=True, text=True, env=env, check=True).stdout

    docs = {
        "vm": manifest("bench", "Always"),
        "vm-off": manifest("bench-off", "Halted"),
        "vmi": vmi("bench"),
        "vmi-paused": vmi("bench-paused"),
        "vmim": json.dumps({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceMigration",
                            "metadata": {"generateName": "bench-"}, "spec": {"vmiName": "bench"}}),
        "mig": json.dumps({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceMigration",
                           "metadata": {"name": "bench-mig", "labels": {"kubevirt.io/vmi-name": "bench"}},
                           "spec": {"vmiName": "bench"}}),
        "snapshot": json.dumps({"apiVersion": "snapshot.kubevirt.io/v1beta1", "kind": "VirtualMachineSnapshot",
                                "metadata": {"generateName": "bench-snapshot-"},
                                "spec": {"source": {"apiGroup": "kubevirt.io", "kind": "VirtualMachine",
                                                    "name": "bench"}}}),
        "snap": json.dumps({"apiVersion": "snapshot.kubevirt.io/v1beta1", "kind": "VirtualMachineSnapshot",
                            "metadata": {"name": "bench-snap"},
                            "spec": {"source": {"apiGroup": "kubevirt.io", "kind": "VirtualMachine",
                                                "name": "bench"}}}),
        "restore": json.dumps({"apiVersion": "snapshot.kubevirt.io/v1beta1", "kind": "VirtualMachineRestore",
                               "metadata": {"generateName": "bench-snap-restore-"},
                               "spec": {"target": {"apiGroup": "kubevirt.io", "kind": "VirtualMachine",
                                                   "name": "bench"}, "virtualMachineSnapshotName": "bench-snap"}}),
    }
    files = {}
    for name, text in docs.items():
        path = state / f"{name}.yaml"
        path.write_text(text)
        files[name] = str(path)
    return files


def main() -> None:
    compile_package()
    kubectl = find_kubectl()
    if kubectl is None:
        print("no kubectl found (BENCH_KUBECTL, /usr/lib/google-cloud-sdk/bin/kubectl.1.30, PATH): nothing to "
              "compare with")
        return
    with embedded_api("bench-commands-", controllers=False) as (state, env):
        run(kubectl, state, env)


def run(kubectl: str, state: Path, env: dict[str, str]) -> None:
    virtctl = virtctl_program()
    files = write_files(state, virtctl, env)
    running = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    paused = {"phase": "Running", "conditions": [{"type": "Paused", "status": "True"}]}
    seed = [["create", "-f", files[name]] for name in ("vm", "vm-off", "vmi", "vmi-paused", "mig", "snap")]
    seed += [["patch", "vmi", name, "--subresource=status", "--type", "merge", "-p", json.dumps({"status": status})]
             for name, status in (("bench", running), ("bench-paused", paused))]
    for argv in seed:          # a VM that runs (as far as the API knows): no controller, no host, nothing boots
        r = subprocess.run([kubectl, *argv], capture_output=True, text=True, env=env)
        if r.returncode != 0:
            raise SystemExit(f"kubectl {' '.join(argv)} failed: {r.stderr.strip()}")
    rows = []
    worst = 0.0
    print(f"{'virtctl command':<52} {'ms':>6}  {'kubectl equivalent':<58} {'ms':>6}  ratio  rc")
    for ours, theirs in cases(files):
        if ONLY not in " ".join(ours):
            continue
        v_ms, v_rc, k_ms, k_rc, ratio = medians_ms([virtctl, *ours], [kubectl, *theirs], env)
        worst = max(worst, ratio)
        shown = " ".join(theirs).replace(str(state) + "/", "")
        rows.append(ratio)
        print(f"{' '.join(ours).replace(str(state) + '/', ''):<52} {v_ms:6.1f}  {shown[:58]:<58} {k_ms:6.1f}"
              f"  {ratio:4.2f}x {v_rc}/{k_rc}")
    print(f"median ratio {statistics.median(rows):.2f}x, worst {worst:.2f}x (target <= 1.0x), "
          f"{RUNS} runs each, kubectl {kubectl}")


if __name__ == "__main__":
    main()
