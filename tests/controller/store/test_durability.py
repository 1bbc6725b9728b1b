"""An acknowledged write survives kill -9 of the process that made it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

from virtctl.controller.store import ObjectStore
from virtctl.model.kinds import VM

WRITER = textwrap.dedent("""
    import sys, yaml
    from virtctl.controller.store import ObjectStore
    from virtctl.model.kinds import VM
    store = ObjectStore(sys.argv[1])
    body = yaml.safe_load(open(sys.argv[2]))
    for i in range(int(sys.argv[3])):
        body["metadata"] = {"name": f"vm{i}"}
        obj = store.create(VM, "default", body)
        print(obj["metadata"]["resourceVersion"], flush=True)   # acknowledged
    print("done", flush=True)
    import time
    time.sleep(60)                                              # killed here, store never closed
""")


def test_acknowledged_writes_survive_sigkill(tmp_path):
    db = tmp_path / "store.db"
    example = os.path.join(os.path.dirname(__file__), "..", "..", "data", "examples", "vm-cirros.yaml")
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db), example, "20"], stdout=subprocess.PIPE,
                            text=True)
    acked = []
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip() == "done":
            break
        acked.append(line.strip())
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    assert len(acked) == 20
    store = ObjectStore(db)                 # the dead writer's lock is gone with it
    try:
        items, rv = store.list(VM, "default")
        assert sorted(o["metadata"]["name"] for o in items) == sorted(f"vm{i}" for i in range(20))
        assert rv == acked[-1]
        assert store.create(VM, "default", dict(items[0], metadata={"name": "after"}))["metadata"][
            "resourceVersion"] == str(int(rv) + 1)
    finally:
        store.close()
