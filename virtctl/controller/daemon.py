"""``virtctl local serve``: run the embedded controller in the foreground until SIGTERM/SIGINT.

This is the composition root: :func:`build_runtime` builds every part once (store, libvirt hosts,
reconcile manager, consoles) into a typed :class:`~virtctl.controller.runtime.Runtime` that is
handed to the API server and, through it, to the subresource handlers
(docs/architecture.md#the-composition-root).

Order: store → PKI + token → libvirt hosts → API server → runtime file (0600: pid, url, port, ca)
→ ``ready(url)`` → controllers. Shutdown runs the other way round and removes the runtime file.
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
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Callable, cast

from virtctl.controller.logfile import PrivateRotatingFileHandler
from virtctl.controller.pki import _write_private, ensure_pki, ensure_private_dir, ensure_token
from virtctl.controller.reconcile.credentials import CredentialsPropagator
from virtctl.controller.reconcile.guest_status import GuestStatusPoller
from virtctl.controller.reconcile.manager import Manager
from virtctl.controller.reconcile.services import ServicePublisher
from virtctl.controller.runtime import Runtime
from virtctl.controller.server.app import ApiServer, tls_context
from virtctl.controller.server.export import ExportServer
from virtctl.controller.server.upload import UploadServer
from virtctl.controller.settings import Settings
from virtctl.controller.store import ObjectStore, Store
from virtctl.controller.virt.hypervisor import Hypervisor
from virtctl.errors import VirtctlError

if TYPE_CHECKING:                  # libvirt loads only when controllers run (see open_hosts)
    from virtctl.controller.virt.libvirt_host import LibvirtHost

log = logging.getLogger("virtctl.controller")


def setup_logging(settings: Settings) -> logging.Handler:
    ensure_private_dir(settings.state_dir)
    handler = PrivateRotatingFileHandler(settings.log_path)
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


def open_hosts(settings: Settings) -> list[Hypervisor]:
    """One libvirt connection per configured URI, named node01, node02, …"""
    # late: libvirt loads only when controllers run (not for `--no-controllers` or `import daemon`)
    from virtctl.controller.virt.libvirt_host import LibvirtHost

    return [_hypervisor(LibvirtHost(uri, settings.node_name(i), owner_id=settings.controller_id))
            for i, uri in enumerate(settings.libvirt_uris)]


def _hypervisor(host: LibvirtHost) -> Hypervisor:
    # LibvirtHost.migrate takes another LibvirtHost (libvirt migrates between two of its own
    # connections), narrower than the protocol's Hypervisor; every host here is a LibvirtHost.
    return cast(Hypervisor, host)


@dataclass(frozen=True)
class Controllers:
    """What runs behind the API: the reconcile manager over the libvirt hosts, and their consoles."""

    manager: Manager
    hosts: tuple[Hypervisor, ...]
    guest_status: GuestStatusPoller | None = None    # AgentConnected, guestOSInfo, interfaces
    services: ServicePublisher | None = None         # NodePort/LoadBalancer Services on 127.0.0.1
    credentials: CredentialsPropagator | None = None  # accessCredentials through the guest agent

    def start(self, runtime: Runtime) -> None:
        self.manager.start()
        for part in (self.guest_status, self.services, self.credentials):
            if part is not None:
                part.start()
        runtime.consoles.start()          # after the manager: records serial output from boot
        log.info("controllers started")

    def stop(self, runtime: Runtime) -> None:
        """Also when ``start`` never ran (the API server could not listen): the hosts are ours to close."""
        runtime.consoles.close()
        for part in (self.services, self.credentials, self.guest_status):
            if part is not None:
                part.stop()
        try:
            self.manager.stop()
        except Exception:
            log.exception("stopping the controllers failed")
        for host in self.hosts:
            try:
                host.close()
            except Exception:
                pass


def build_runtime(store: Store, settings: Settings, *, controllers: bool = True) -> tuple[Runtime, Controllers | None]:
    """The composition root: every part of the controller, built once and wired explicitly.
    ``controllers=False``: no libvirt hosts, no reconcile manager (the API alone)."""
    if not controllers:
        return Runtime.create(store, settings), None
    hosts = open_hosts(settings)
    manager = Manager(store, settings, hosts)
    runtime = Runtime.create(store, settings, hosts, reconcile=manager.enqueue)
    return runtime, Controllers(manager, tuple(hosts), GuestStatusPoller(store, hosts), ServicePublisher(store, hosts),
                                CredentialsPropagator(store, hosts))


def serve(settings: Settings, ready: Callable[[str], None] | None = None,
          stop: threading.Event | None = None, controllers: bool = True) -> None:
    """Run until SIGTERM/SIGINT (or until ``stop`` is set, for callers running this in a thread).
    ``controllers=False`` serves the API only."""
    log_handler = setup_logging(settings)
    stopped = stop or threading.Event()
    store: ObjectStore | None = None
    server: ApiServer | None = None
    uploads: UploadServer | None = None
    exports: ExportServer | None = None
    runtime: Runtime | None = None
    workers: Controllers | None = None
    previous: dict[signal.Signals, signal.Handlers | int | Callable[[int, FrameType | None], Any] | None] = {}
    try:
        store = ObjectStore(settings.db_path)
        pki = ensure_pki(settings.pki_dir)
        token = ensure_token(settings.token_path)
        runtime, workers = build_runtime(store, settings, controllers=controllers)
        server = ApiServer(runtime, token=token, pki=pki, port=settings.port)
        server.start()
        uploads = UploadServer(runtime, tls_context(pki)).start()   # docs/standalone.md#image-upload
        exports = ExportServer(runtime, tls_context(pki), pki.ca_cert.read_text()) \
            .start(controllers=controllers)                         # docs/standalone.md#vm-export
        write_runtime(settings, server.url, server.port, pki.ca_cert)
        log.info("API server listening on %s (pid %d, state %s)", server.url, os.getpid(), settings.state_dir)
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                previous[sig] = signal.signal(sig, lambda *_: stopped.set())
        if ready is not None:
            ready(server.url)
        if workers is not None:
            workers.start(runtime)
        else:
            log.info("controllers disabled: serving the API only")
        # a timed wait: a SIGTERM delivered to another thread only sets a flag, which the main
        # thread acts on when it next runs Python code; an untimed wait could sleep through it
        while not stopped.wait(0.2):
            pass
        log.info("shutting down")
    finally:
        if workers is not None and runtime is not None:
            workers.stop(runtime)
        if uploads is not None:
            uploads.shutdown()
        if exports is not None:
            exports.shutdown()
        if server is not None:
            server.shutdown()
        if store is not None:
            store.close()
        remove_runtime(settings)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
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
