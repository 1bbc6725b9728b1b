"""API latency of the embedded server over TLS: GET, LIST and CREATE (plus a kubectl GET when
kubectl is installed, for scale). Prints figures; asserts nothing.

    .venv/bin/python bench/bench_api.py [--n 200]
"""

from __future__ import annotations

import argparse
import copy
import http.client
import json
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from virtctl.controller.local import write_context  # noqa: E402
from virtctl.controller.pki import ensure_pki, ensure_token  # noqa: E402
from virtctl.controller.runtime import Runtime  # noqa: E402
from virtctl.controller.server.app import ApiServer  # noqa: E402
from virtctl.controller.settings import Settings  # noqa: E402
from virtctl.controller.store import ObjectStore  # noqa: E402

VMS = "/apis/kubevirt.io/v1/namespaces/default/virtualmachines"
KUBECTL = Path("/usr/lib/google-cloud-sdk/bin/kubectl.1.30")


def figures(name: str, samples: list[float]) -> None:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[int(len(ms) * 0.95) - 1] if len(ms) >= 20 else ms[-1]
    print(f"{name:<34} n={len(ms):<4} median {statistics.median(ms):7.2f} ms   p95 {p95:7.2f} ms   "
          f"min {ms[0]:6.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    n = parser.parse_args().n
    state = Path(tempfile.mkdtemp(prefix="bench-api-"))
    settings = Settings(state_dir=state)
    store = ObjectStore(settings.db_path)
    pki = ensure_pki(settings.pki_dir)
    token = ensure_token(settings.token_path)
    server = ApiServer(Runtime.create(store, settings), token=token, pki=pki).start()
    ctx = ssl.create_default_context(cafile=str(pki.ca_cert))
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    vm = yaml.safe_load((ROOT / "tests" / "data" / "examples" / "vm-cirros.yaml").read_text())
    try:
        conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=ctx)

        def call(method: str, path: str, body: bytes | None = None) -> float:
            t = time.perf_counter()
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            r.read()
            if r.status >= 300:
                raise SystemExit(f"{method} {path}: {r.status}")
            return time.perf_counter() - t

        creates = []
        for i in range(n):
            body = copy.deepcopy(vm)
            body["metadata"] = {"name": f"bench-{i}"}
            creates.append(call("POST", VMS, json.dumps(body).encode()))
        gets = [call("GET", f"{VMS}/bench-{i % n}") for i in range(n)]
        lists = [call("GET", f"{VMS}?limit=500") for _ in range(max(10, n // 10))]
        conn.close()

        def fresh_get() -> float:       # new connection each time: TCP + TLS handshake included
            t = time.perf_counter()
            c = http.client.HTTPSConnection("127.0.0.1", server.port, context=ctx)
            c.request("GET", f"{VMS}/bench-0", headers=headers)
            c.getresponse().read()
            c.close()
            return time.perf_counter() - t

        print(f"embedded API server, TLS + bearer token, {n} objects, keep-alive connection")
        figures("CREATE (POST, fsync'd)", creates)
        figures("GET one VM", gets)
        figures(f"LIST {n} VMs", lists)
        figures("GET one VM, new TLS connection", [fresh_get() for _ in range(max(10, n // 10))])
        if os.access(KUBECTL, os.X_OK):
            kubeconfig = state / "kubeconfig"
            write_context(kubeconfig, server=server.url, ca_pem=pki.ca_pem(), token=token)
            env = {"PATH": os.environ.get("PATH", ""), "HOME": str(state), "KUBECONFIG": str(kubeconfig)}
            runs = []
            for _ in range(15):
                t = time.perf_counter()
                subprocess.run([str(KUBECTL), "get", "vm", "bench-0"], env=env, capture_output=True, check=True)
                runs.append(time.perf_counter() - t)
            figures("kubectl 1.30 get vm (process)", runs[1:])      # first run fills the discovery cache
        else:
            print(f"(kubectl comparison skipped: {KUBECTL} not installed)")
    finally:
        server.shutdown()
        store.close()


if __name__ == "__main__":
    main()
