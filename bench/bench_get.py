"""``virtctl get vm NAME`` against ``kubectl get vm NAME`` on the same embedded API server (one
started here with virtctl.controller.daemon in a thread). Prints medians and the ratio (target <= 1.0)."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bytecode import compile_package

RUNS = int(os.environ.get("BENCH_RUNS", "21"))
KUBECTL = "/usr/lib/google-cloud-sdk/bin/kubectl.1.30"


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
    from virtctl.controller import daemon
    from virtctl.controller.local import write_context
    from virtctl.controller.settings import Settings

    state = Path(tempfile.mkdtemp(prefix="bench-get-"))
    settings = Settings(state_dir=state)
    ready = threading.Event()
    stop = threading.Event()
    urls: list[str] = []
    t = threading.Thread(target=daemon.serve, args=(settings,),
                         kwargs={"ready": lambda url: (urls.append(url), ready.set()), "stop": stop}, daemon=True)
    t.start()
    if not ready.wait(30):
        raise SystemExit("the embedded server did not start")
    kubeconfig = state / "kubeconfig"
    write_context(kubeconfig, server=urls[0], ca_pem=(settings.pki_dir / "ca.crt").read_bytes(),
                  token=settings.token_path.read_text().strip())
    env = dict(os.environ, KUBECONFIG=str(kubeconfig), HOME=str(state))
    virtctl = shutil.which("virtctl", path=str(Path(sys.executable).parent)) or "virtctl"
    manifest = subprocess.run([virtctl, "create", "vm", "--name", "bench", "--run-strategy", "Halted"],
                              capture_output=True, text=True, env=env).stdout
    applied = subprocess.run([virtctl, "apply", "-f", "-"], input=manifest, text=True, env=env,
                             capture_output=True)
    if applied.returncode != 0:
        raise SystemExit(f"virtctl apply failed: {applied.stderr.strip()}")
    try:
        ours = median_ms([virtctl, "get", "vm", "bench"], env)
        print(f"virtctl get vm bench        {ours:7.1f} ms")
        if Path(KUBECTL).exists():
            theirs = median_ms([KUBECTL, "get", "vm", "bench"], env)
            print(f"kubectl.1.30 get vm bench   {theirs:7.1f} ms")
            print(f"ratio virtctl/kubectl       {ours / theirs:7.2f}x (target <= 1.0x)")
    finally:
        stop.set()
        t.join(10)


if __name__ == "__main__":
    main()
