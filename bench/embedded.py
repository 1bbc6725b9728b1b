"""What the API benchmarks share: an embedded API server (``virtctl.controller.daemon.serve`` in a
thread of the benchmark) on a fresh state directory with a kubeconfig for it, and the kubectl and
virtctl programs to run against it."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

KUBECTL_DIR = Path("/usr/lib/google-cloud-sdk/bin")


def find_kubectl() -> str | None:
    """``$BENCH_KUBECTL``, kubectl 1.30 of the Cloud SDK, or kubectl on the PATH."""
    for candidate in (os.environ.get("BENCH_KUBECTL", ""), str(KUBECTL_DIR / "kubectl.1.30"),
                      shutil.which("kubectl") or ""):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def virtctl_program() -> str:
    """The ``virtctl`` entry point of this interpreter's environment."""
    return shutil.which("virtctl", path=str(Path(sys.executable).parent)) or "virtctl"


@contextlib.contextmanager
def embedded_api(prefix: str, *, controllers: bool = True) -> Iterator[tuple[Path, dict[str, str]]]:
    """The state directory and the environment (``KUBECONFIG``, ``HOME``) of a client of an API
    server that runs until the block ends (``controllers=False``: the API alone, nothing boots)."""
    from virtctl.controller import daemon
    from virtctl.controller.local import write_context
    from virtctl.controller.settings import Settings

    state = Path(tempfile.mkdtemp(prefix=prefix))
    settings = Settings(state_dir=state)
    ready, stop, urls = threading.Event(), threading.Event(), []
    t = threading.Thread(target=daemon.serve, args=(settings,), daemon=True,
                         kwargs={"ready": lambda url: (urls.append(url), ready.set()), "stop": stop,
                                 "controllers": controllers})
    t.start()
    if not ready.wait(30):
        raise SystemExit("the embedded server did not start")
    try:
        kubeconfig = state / "kubeconfig"
        write_context(kubeconfig, server=urls[0], ca_pem=(settings.pki_dir / "ca.crt").read_bytes(),
                      token=settings.token_path.read_text().strip())
        yield state, dict(os.environ, KUBECONFIG=str(kubeconfig), HOME=str(state))
    finally:
        stop.set()
        t.join(10)
