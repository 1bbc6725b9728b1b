"""Upload throughput: ``virtctl image-upload`` of a 1 GiB raw image into a real controller process
(its CDI upload endpoint over loopback TLS) against ``cp`` of the same file into the volume
directory (plus fsync, as the upload syncs its volume), same run. Also the controller's peak RSS
before and after (memory stays flat: the body streams to disk), and the CPU seconds each side of
the POST spends (steadier than wall time on a shared machine). Prints figures; asserts nothing.

    .venv/bin/python bench/bench_upload.py [--gib 1] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from virtctl.client import upload as transfer  # noqa: E402

VIRTCTL = [sys.executable, "-m", "virtctl"]
GiB = 1 << 30


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gib", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    size = int(args.gib * GiB)
    root = Path(tempfile.mkdtemp(prefix="bench-upload-"))
    env = dict(os.environ, VIRTCTL_STATE_DIR=str(root / "state"), KUBECONFIG=str(root / "kubeconfig"),
               HOME=str(root))

    def virtctl(*a: str) -> subprocess.CompletedProcess:
        r = subprocess.run([*VIRTCTL, *a], env=env, capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            raise SystemExit(f"virtctl {' '.join(a)} failed:\n{r.stdout}\n{r.stderr}")
        return r

    image = root / "image.raw"
    with open(image, "wb") as f:                  # incompressible, no holes: every byte travels
        for _ in range(size // (64 << 20)):
            f.write(os.urandom(64 << 20))
    virtctl("local", "up")
    try:
        pid = json.loads((root / "state" / "server.json").read_text())["pid"]
        vols = root / "state" / "volumes" / "default"
        vols.mkdir(parents=True, exist_ok=True)
        rss_before = peak_rss_mib(pid)
        cp_s, cli_s, post_s, server_cpu, client_cpu = [], [], [], [], []
        def cli_round(i: int) -> None:
            os.sync()
            t0 = time.perf_counter()
            virtctl("image-upload", "dv", f"cli-{i}", f"--size={size}", f"--image-path={image}")
            cli_s.append(time.perf_counter() - t0)
            (vols / f"cli-{i}.qcow2").unlink()

        def post_round(i: int) -> None:
            """The transfer alone: the same POST the CLI sends, timed around it."""
            name = f"post-{i}"
            dv = {"apiVersion": "cdi.kubevirt.io/v1beta1", "kind": "DataVolume", "metadata": {"name": name},
                  "spec": {"source": {"upload": {}}, "storage": {"resources": {"requests": {"storage": str(size)}}}}}
            (root / "dv.json").write_text(json.dumps(dv))
            virtctl("apply", "-f", str(root / "dv.json"))
            kube = json.loads(virtctl("get", "dv", name, "-o", "json").stdout)
            while (kube.get("status") or {}).get("phase") != "UploadReady":
                time.sleep(0.05)
                kube = json.loads(virtctl("get", "dv", name, "-o", "json").stdout)
            token = _token(env, name)
            url = json.loads(virtctl("get", "cdiconfig", "config", "-o", "json").stdout)["status"]["uploadProxyURL"]
            ctx = ssl._create_unverified_context()
            os.sync()
            with open(image, "rb") as src:
                c0, own0, t0 = cpu_s(pid), os.times(), time.perf_counter()
                status, text = transfer.post(transfer.join(url, transfer.ASYNC_PATH), token, src, size, ctx)
                post_s.append(time.perf_counter() - t0)
                own1 = os.times()
                server_cpu.append(cpu_s(pid) - c0)
                client_cpu.append(own1.user - own0.user + own1.system - own0.system)
            assert status == 200, text
            (vols / f"{name}.qcow2").unlink()

        for i in range(args.rounds):
            target = vols / f"cp-{i}.raw"
            os.sync()                               # no writeback of the previous round in this one
            t0 = time.perf_counter()
            subprocess.run(["cp", str(image), str(target)], check=True)
            with open(target, "rb+") as f:
                os.fsync(f.fileno())
            cp_s.append(time.perf_counter() - t0)
            target.unlink()

            # the CLI and the bare POST take turns going first: each follows the other's volume being
            # deleted (ext4 with online discard trims 1 GiB then), so neither always pays for it
            steps = [cli_round, post_round] if i % 2 == 0 else [post_round, cli_round]
            for step in steps:
                step(i)
        rss_after = peak_rss_mib(pid)
    finally:
        subprocess.run([*VIRTCTL, "local", "down"], env=env, capture_output=True, timeout=60)
        for line in (root / "state" / "controller.log").read_text().splitlines():
            if "upload to" in line:
                print("controller:", line.split(" - ")[-1] if " - " in line else line)
        shutil.rmtree(root, ignore_errors=True)

    mib = size / (1 << 20)
    cp, cli, post = statistics.median(cp_s), statistics.median(cli_s), statistics.median(post_s)
    # the machine is shared: each round's ratio is against the cp of the same round
    post_ratio = statistics.median(c / p for c, p in zip(cp_s, post_s, strict=True))
    cli_ratio = statistics.median(c / v for c, v in zip(cp_s, cli_s, strict=True))
    print(f"image {mib:.0f} MiB raw, {args.rounds} rounds (medians; ratios: median of same-round ratios)")
    print(f"cp + fsync                     {cp:6.2f} s   {mib / cp:7.1f} MiB/s")
    print(f"upload POST (TLS, to volume)   {post:6.2f} s   {mib / post:7.1f} MiB/s   "
          f"throughput vs cp {post_ratio:4.2f}x")
    print(f"virtctl image-upload (whole)   {cli:6.2f} s   {mib / cli:7.1f} MiB/s   throughput vs cp {cli_ratio:4.2f}x")
    # CPU seconds move less than wall time on a shared machine: the ratio's cause is in these
    print(f"POST CPU                       controller {statistics.median(server_cpu):.2f} s, client "
          f"{statistics.median(client_cpu):.2f} s   (load average {os.getloadavg()[0]:.2f})")
    print(f"controller peak RSS            {rss_before:6.1f} MiB before, {rss_after:6.1f} MiB after")


def _token(env: dict[str, str], claim: str) -> str:
    body = json.dumps({"apiVersion": "upload.cdi.kubevirt.io/v1beta1", "kind": "UploadTokenRequest",
                       "metadata": {"generateName": "token-for-bench-"}, "spec": {"pvcName": claim}})
    kubectl = shutil.which("kubectl") or "/usr/lib/google-cloud-sdk/bin/kubectl.1.30"
    r = subprocess.run([kubectl, "create", "-o", "json", "-f", "-"], env=env, input=body, capture_output=True,
                       text=True, check=True)
    return str(json.loads(r.stdout)["status"]["token"])


if __name__ == "__main__":
    main()
