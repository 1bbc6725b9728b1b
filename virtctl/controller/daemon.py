"""``virtctl local serve``: run the embedded controller in the foreground until SIGTERM/SIGINT.

Order: store → PKI + token → API server → runtime file (0600: pid, url, port, ca) → ``ready(url)``
→ controllers. Shutdown runs the other way round and removes the runtime file.
``python -m virtctl.controller.daemon --state-dir D [--port N]`` runs it without the CLI (this is
what ``local.up`` spawns)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

from virtctl.controller.pki import _write_private, ensure_pki, ensure_private_dir, ensure_token
from virtctl.controller.settings import Settings
from virtctl.controller.store import ObjectStore
from virtctl.errors import VirtctlError

log = logging.getLogger("virtctl.controller")


def setup_logging(settings: Settings) -> logging.Handler:
    ensure_private_dir(settings.state_dir)
    fd = os.open(settings.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.close(fd)
    handler = logging.FileHandler(settings.log_path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("virtctl")
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return handler


def write_runtime(settings: Settings, url: str, port: int, ca_path: Path) -> None:
    info = {"pid": os.getpid(), "url": url, "port": port, "ca": str(ca_path),
            "stateDir": str(settings.state_dir), "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    _write_private(settings.runtime_path, json.dumps(info).encode())


def remove_runtime(settings: Settings) -> None:
    try:
        info = json.loads(settings.runtime_path.read_text())
        if info.get("pid") == os.getpid():
            settings.runtime_path.unlink()
    except (OSError, ValueError):
        pass


def register_extensions() -> None:
    """Plug KubeVirt's subresources (lifecycle actions, console/VNC streams) into the API server."""
    import virtctl.controller.actions  # noqa: F401  (registers on import)
    import virtctl.controller.streams  # noqa: F401


def start_controllers(store: ObjectStore, settings: Settings, services: dict[str, Any]) -> Any:
    from virtctl.controller.reconcile import manager
    from virtctl.controller.streams import start_consoles
    handle = manager.start(store, settings, services)
    start_consoles(services)             # after the manager put the hosts in: records serial output from boot
    log.info("controllers started")
    return handle


def stop_controllers(handle: Any, services: dict[str, Any]) -> None:
    if handle is None:
        return
    consoles = services.get("consoles")
    if consoles is not None:
        consoles.close()
    stop = getattr(handle, "stop", None)
    if callable(stop):
        try:
            stop()
        except Exception:
            log.exception("stopping the controllers failed")


def serve(settings: Settings, ready: Callable[[str], None] | None = None,
          stop: threading.Event | None = None, controllers: bool = True) -> None:
    """Run until SIGTERM/SIGINT (or until ``stop`` is set, for callers running this in a thread).
    ``controllers=False`` serves the API only."""
    from virtctl.controller.server.app import ApiServer      # keeps `import daemon` light

    log_handler = setup_logging(settings)
    register_extensions()
    stop = stop or threading.Event()
    store = server = handle = None
    services: dict[str, Any] = {}
    previous: dict[int, Any] = {}
    try:
        store = ObjectStore(settings.db_path)
        pki = ensure_pki(settings.pki_dir)
        token = ensure_token(settings.token_path)
        server = ApiServer(store, settings, token=token, pki=pki, services=services, port=settings.port)
        server.start()
        write_runtime(settings, server.url, server.port, pki.ca_cert)
        log.info("API server listening on %s (pid %d, state %s)", server.url, os.getpid(), settings.state_dir)
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                previous[sig] = signal.signal(sig, lambda *_: stop.set())
        if ready is not None:
            ready(server.url)
        if controllers:
            handle = start_controllers(store, settings, services)
        else:
            log.info("controllers disabled: serving the API only")
        stop.wait()
        log.info("shutting down")
    finally:
        stop_controllers(handle, services)
        if server is not None:
            server.shutdown()
        if store is not None:
            store.close()
        remove_runtime(settings)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        logging.getLogger("virtctl").removeHandler(log_handler)
        log_handler.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="virtctl local serve")
    parser.add_argument("--state-dir", type=Path, default=None)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--no-controllers", action="store_true", help="serve the API only")
    args = parser.parse_args(argv)
    try:
        settings = Settings.load(args.state_dir)
        if args.port is not None:
            settings.port = args.port
        serve(settings, ready=lambda url: print(f"serving on {url}", flush=True),
              controllers=not args.no_controllers)
    except VirtctlError as e:
        print(e.message, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
