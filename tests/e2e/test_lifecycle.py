"""VM lifecycle through the controllers on real QEMU (TCG) with the busybox guest.

Uses the e2e fixtures of tests/e2e/conftest.py (skipped, with the reason printed, when the machine
cannot boot guests). Volume preparation is replaced by the prebuilt kernel + initramfs, so these
tests exercise the controllers and libvirt, not image pulls.
"""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path

import pytest

from virtctl.controller.reconcile import manager as manager_mod
from virtctl.controller.runtime import Runtime
from virtctl.controller.server.subresource_routes import SUBRESOURCES
from virtctl.controller.subresource import ActionContext
from virtctl.controller.settings import Settings
from virtctl.controller.store.objects import ObjectStore
from virtctl.controller.virt.hypervisor import DomainState
from virtctl.controller.storage.sources import KernelBootFiles
from virtctl.errors import NotFound
from virtctl.model import kinds

try:
    from tests.e2e.conftest import DOMAIN_PREFIX
except ImportError:                                     # pragma: no cover
    print("\nSKIP e2e lifecycle: tests/e2e/conftest.py has no e2e fixtures", file=sys.stderr)
    pytest.skip("tests/e2e/conftest.py has no e2e fixtures", allow_module_level=True)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]
NS = DOMAIN_PREFIX
RUN_TIMEOUT = 60.0


class Lab:
    def __init__(self, host, guest, tmp: Path):
        from virtctl.controller.storage.plan import PreparedVolumes
        self.host = host
        self.store = ObjectStore(tmp / "store.db")
        self.settings = Settings(state_dir=tmp, libvirt_uris=[host.uri])
        kb = KernelBootFiles(guest.kernel, guest.initrd, guest.cmdline)
        self.prepare_volumes = lambda vmi, settings, namespace: PreparedVolumes(kernel_boot=kb)
        self.manager = None
        self.name = f"vm-{uuid.uuid4().hex[:8]}"

    def start(self):
        self.manager = manager_mod.start(self.store, self.settings, [self.host], prepare_volumes=self.prepare_volumes,
                                         resync_seconds=2)

    def stop(self):
        if self.manager:
            self.manager.stop()
            self.manager = None

    def create_vm(self, strategy):
        self.store.create(kinds.VM, NS, {
            "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {"name": self.name, "namespace": NS},
            "spec": {"runStrategy": strategy, "template": {"spec": {
                "terminationGracePeriodSeconds": 10,
                "domain": {"memory": {"guest": "128Mi"}, "devices": {},
                           "firmware": {"kernelBoot": {"kernelArgs": "console=ttyS0 panic=-1 quiet",
                                                       "container": {"image": "localhost/test-guest:latest"}}}}}}}})

    def vm(self):
        return self.store.get(kinds.VM, NS, self.name)

    def vmi(self):
        try:
            return self.store.get(kinds.VMI, NS, self.name)
        except NotFound:
            return None

    def wait(self, pred, what, timeout=RUN_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            v = pred()
            if v:
                return v
            time.sleep(0.1)
        raise AssertionError(f"timed out: {what}; VM status {self.vm().get('status')}")

    def wait_printable(self, value, timeout=RUN_TIMEOUT):
        return self.wait(lambda: self.vm().get("status", {}).get("printableStatus") == value, value, timeout)

    def action(self, plural, sub, body=None):
        runtime = Runtime.create(self.store, self.settings, [self.host],
                                 reconcile=self.manager.enqueue if self.manager else lambda *_: None)
        ctx = ActionContext(runtime, NS, self.name, sub, "PUT", body or {})
        return SUBRESOURCES.actions[(plural, sub)](ctx)

    def domains(self):
        return {d: s for d, s in self.host.list_domains().items() if d == f"{NS}_{self.name}"}

    def close(self):
        self.stop()
        for d in self.domains():
            self.host.destroy(d)
        self.store.close()


@pytest.fixture
def lab(libvirt_host, guest, tmp_path):
    lb = Lab(libvirt_host, guest, tmp_path)
    yield lb
    lb.close()


def poweroff(lab, until):
    """Press the ACPI power button until the guest reacts (its acpid starts a moment after boot)."""
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        try:
            lab.host.shutdown(f"{NS}_{lab.name}")
        except Exception:
            pass
        for _ in range(20):
            if until():
                return
            time.sleep(0.1)
    raise AssertionError(f"the guest never powered off; VM status {lab.vm().get('status')}")


def test_guest_poweroff_always_restarts(lab):
    lab.start()
    lab.create_vm("Halted")
    lab.wait_printable("Stopped")
    assert lab.action("virtualmachines", "start").code == 202
    lab.wait_printable("Running")
    first = lab.vmi()["metadata"]["uid"]
    poweroff(lab, lambda: (v := lab.vmi()) is None or v["metadata"]["uid"] != first)
    lab.wait(lambda: (v := lab.vmi()) and v["metadata"]["uid"] != first and v.get("status", {}).get("phase") == "Running",
             "restarted with a new VMI")


def test_rerun_on_failure_guest_poweroff_stays_off(lab):
    lab.start()
    lab.create_vm("RerunOnFailure")
    lab.wait_printable("Running")
    poweroff(lab, lambda: lab.vmi() is None or lab.vmi().get("status", {}).get("phase") == "Succeeded")
    lab.wait_printable("Stopped")
    lab.wait(lambda: lab.vmi() is None, "succeeded VMI removed")
    time.sleep(2)
    assert lab.vmi() is None and lab.domains() == {}


def test_stop_pause_restart_and_readoption(lab):
    lab.start()
    lab.create_vm("Always")
    lab.wait_printable("Running")
    assert lab.action("virtualmachineinstances", "pause").code == 200
    lab.wait_printable("Paused")
    assert lab.action("virtualmachineinstances", "unpause").code == 200
    lab.wait_printable("Running")
    first = lab.vmi()["metadata"]["uid"]
    assert lab.action("virtualmachines", "restart").code == 202
    lab.wait(lambda: (v := lab.vmi()) and v["metadata"]["uid"] != first and v.get("status", {}).get("phase") == "Running",
             "restart gives a new VMI")
    # a new controller re-adopts the running domain: same VMI, one domain
    uid = lab.vmi()["metadata"]["uid"]
    lab.stop()
    lab.start()
    time.sleep(3)
    assert lab.vmi()["metadata"]["uid"] == uid
    doms = lab.domains()
    assert len(doms) == 1 and list(doms.values())[0].vmi_uid == uid
    assert list(doms.values())[0].state == DomainState.RUNNING
    assert lab.action("virtualmachines", "stop").code == 202
    lab.wait_printable("Stopped")
    lab.wait(lambda: lab.domains() == {}, "domain gone")
