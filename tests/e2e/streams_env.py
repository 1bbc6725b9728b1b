"""A real API server + the real libvirt host + the console registry, and a busybox guest booted
as a VMI of that server (the test plays the controller: it starts the domain and sets the phase)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from tests.e2e.conftest import DOMAIN_PREFIX, Guest
from virtctl.controller.virt.hypervisor import domain_name
from virtctl.model.kinds import VMI

BOOT_TIMEOUT = 90.0
NS = DOMAIN_PREFIX


@dataclass
class StreamsEnv:
    api: Any
    host: Any
    registry: Any

    def cli_env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ, KUBECONFIG=str(self.api.kubeconfig_path), **extra)
        env.pop("VIRTCTL_STATE_DIR", None)
        return env

    def add_vmi(self, name: str, guest: Guest, phase: str) -> dict:
        from tests.e2e.test_boot import kernel_boot_vmi

        vmi = kernel_boot_vmi(name, guest)
        vmi["metadata"].pop("uid", None)
        created = self.api.store.create(VMI, NS, vmi)
        self.set_phase(name, phase)
        return created

    def set_phase(self, name: str, phase: str) -> None:
        def fn(o: dict) -> None:
            o["status"] = dict(o.get("status") or {}, phase=phase, nodeName=self.host.node_name)
        self.api.store.mutate(VMI, NS, name, fn, subresource="status")

    def start_domain(self, name: str, guest: Guest) -> str:
        from tests.e2e.test_boot import kernel_boot_vmi
        from virtctl.controller.virt.converter import vmi_to_domain
        from virtctl.controller.storage.sources import KernelBootFiles

        dom = vmi_to_domain(kernel_boot_vmi(name, guest), host=self.host.host_info(), disks={},
                            kernel_boot=KernelBootFiles(guest.kernel, guest.initrd, guest.cmdline))
        self.host.start(dom.to_xml())
        return dom.name

    def console(self, name: str, timeout: float = 10.0) -> Any:
        domain = domain_name(NS, name)
        deadline = time.monotonic() + timeout
        while (c := self.registry.get(domain)) is None:
            assert time.monotonic() < deadline, f"no console opened for {domain}"
            time.sleep(0.05)
        return c

    def boot(self, name: str, guest: Guest) -> Any:
        """A running VMI whose guest printed its marker and prompt; its SerialConsole."""
        self.add_vmi(name, guest, "Scheduled")
        self.start_domain(name, guest)
        self.set_phase(name, "Running")
        console = self.console(name)
        assert console.wait_for(b"GUEST-BOOT-OK", BOOT_TIMEOUT) is not None, console.output()[-500:]
        assert console.wait_for(b"guest# ", 20) is not None, console.output()[-500:]
        return console


def open_env(libvirt_host: Any, state_dir: Any) -> tuple[StreamsEnv, Any]:
    from tests.conftest import _start_server

    api, handles = _start_server(state_dir, hosts=[libvirt_host])
    return StreamsEnv(api, libvirt_host, api.runtime.consoles.start()), handles


def close_env(env: StreamsEnv, handles: Any) -> None:
    from tests.conftest import _stop_server

    env.registry.close()
    for name in list(env.host.list_domains()):
        if name.startswith(DOMAIN_PREFIX):
            env.host.destroy(name)
    _stop_server(handles)
