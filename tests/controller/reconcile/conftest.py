"""Controllers for real: a SQLite ObjectStore in a tmp dir and libvirt's test:///default driver.

test:///default state is shared by every connection in the process, so each test works in its own
namespace and destroys the domains of that namespace afterwards.
"""

from __future__ import annotations

import faulthandler
import itertools
import time
import uuid
from typing import Any, Callable

import pytest

from virtctl.controller.runtime import Runtime, no_reconcile
from virtctl.controller.settings import Settings
from virtctl.model import kinds

libvirt_host = pytest.importorskip("virtctl.controller.virt.libvirt_host", reason="libvirt-python is not installed")
from virtctl.controller.reconcile import manager as manager_mod  # noqa: E402
from virtctl.controller.store.objects import ObjectStore  # noqa: E402

_seq = itertools.count()


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except Exception as e:          # e.g. NotFound while an object is being replaced
            last = e
        if last and not isinstance(last, Exception):
            return last
        time.sleep(0.02)
    faulthandler.dump_traceback(all_threads=True)     # what the workers were doing, for a flake
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


class Env:
    def __init__(self, tmp_path):
        self.ns = f"t{next(_seq)}-{uuid.uuid4().hex[:6]}"
        self.settings = Settings(state_dir=tmp_path, libvirt_uris=["test:///default"])
        self.store = ObjectStore(tmp_path / "store.db")
        self.host = libvirt_host.LibvirtHost("test:///default", "node01")
        self.hosts: list[Any] = [self.host]
        self.manager = None

    def start(self, *hosts):
        self.hosts = list(hosts) or [self.host]
        self.manager = manager_mod.start(self.store, self.settings, self.hosts, resync_seconds=0.5)
        return self.manager

    @property
    def runtime(self) -> Runtime:
        """What the subresource actions get (their reconcile trigger reaches the manager once started)."""
        return Runtime.create(self.store, self.settings, self.hosts,
                              reconcile=self.manager.enqueue if self.manager is not None else no_reconcile)

    def stop_manager(self):
        if self.manager is not None:
            self.manager.stop()
            self.manager = None

    # --- objects ---
    def vm(self, name="vm1", strategy="Always", *, spec_extra=None, template_spec=None, running=None):
        tspec = template_spec or {"domain": {"devices": {}, "resources": {"requests": {"memory": "64Mi"}}}}
        spec: dict[str, Any] = {"template": {"metadata": {"labels": {"app": name}}, "spec": tspec}}
        if running is not None:
            spec["running"] = running
        else:
            spec["runStrategy"] = strategy
        spec.update(spec_extra or {})
        return self.store.create(kinds.VM, self.ns, {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
                                                     "metadata": {"name": name, "namespace": self.ns},
                                                     "spec": spec})

    def vmi_obj(self, name="vmi1", **spec_extra):
        spec = {"domain": {"devices": {}, "resources": {"requests": {"memory": "64Mi"}}}, **spec_extra}
        return self.store.create(kinds.VMI, self.ns, {"apiVersion": "kubevirt.io/v1",
                                                      "kind": "VirtualMachineInstance",
                                                      "metadata": {"name": name, "namespace": self.ns},
                                                      "spec": spec})

    def get(self, kind, name):
        from virtctl.errors import NotFound
        try:
            return self.store.get(kind, self.ns, name)
        except NotFound:
            return None

    def get_vm(self, name="vm1"):
        return self.get(kinds.VM, name)

    def get_vmi(self, name="vm1"):
        return self.get(kinds.VMI, name)

    def domain(self, name="vm1") -> str:
        return f"{self.ns}_{name}"

    def our_domains(self) -> dict:
        return {d: s for d, s in self.host.list_domains().items() if d.startswith(self.ns + "_")}

    # --- waits ---
    def wait_vm_status(self, printable, name="vm1", timeout=10.0):
        return wait_for(lambda: (self.get_vm(name) or {}).get("status", {}).get("printableStatus") == printable
                        and self.get_vm(name), timeout, f"VM {name} {printable}; have "
                        f"{(self.get_vm(name) or {}).get('status')}")

    def wait_vmi_phase(self, phase, name="vm1", timeout=10.0):
        return wait_for(lambda: (self.get_vmi(name) or {}).get("status", {}).get("phase") == phase
                        and self.get_vmi(name), timeout, f"VMI {name} {phase}")

    def cleanup(self):
        self.stop_manager()
        for d in list(self.our_domains()):
            try:
                self.host.destroy(d)
            except Exception:
                pass
        self.host.close()
        self.store.close()


@pytest.fixture
def env(tmp_path):
    e = Env(tmp_path)
    yield e
    e.cleanup()
