"""A real libvirt + QEMU (TCG) environment with the tiny busybox guest, for boot tests.

Skipped, with the reason printed, when the machine cannot boot guests: no qemu-system-x86_64, or
libvirt's qemu:///system does not answer (run scripts/setup-libvirt.sh as root). The guest is built
once by scripts/build-guest.sh into $VIRTCTL_TEST_GUEST_DIR (default /var/cache/virtctl-test-guest);
the script does nothing when the cache is current.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
URI = os.environ.get("VIRTCTL_TEST_LIBVIRT_URI", "qemu:///system")
DOMAIN_PREFIX = "test-e2e"            # every domain these tests start; cleaned up by prefix


@dataclass(frozen=True)
class Guest:
    kernel: str
    initrd: str
    cmdline: str = "console=ttyS0 panic=-1 quiet"


def _skip(reason: str):
    print(f"\nSKIP e2e: {reason}", file=sys.stderr)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def libvirt_host():
    if shutil.which("qemu-system-x86_64") is None:
        _skip("qemu-system-x86_64 is not installed (scripts/setup-libvirt.sh installs it)")
    import libvirt
    from virtctl.controller.virt.libvirt_host import LibvirtHost
    from virtctl.errors import VirtctlError
    try:
        # an owner id of its own: this host sees only the domains these tests start, never those of
        # a controller (a user's, another test run's) sharing the libvirtd, and they never see ours
        host = LibvirtHost(URI, "node01", owner_id=f"e2e-{uuid.uuid4().hex}")
    except (VirtctlError, libvirt.libvirtError) as e:
        _skip(f"libvirt at {URI} is not reachable: {e} (run scripts/setup-libvirt.sh as root)")
    yield host
    for name in list(host.list_domains()):
        if name.startswith(DOMAIN_PREFIX):
            host.destroy(name)
    host.close()


@pytest.fixture(scope="session")
def guest(libvirt_host) -> Guest:
    out = Path(os.environ.get("VIRTCTL_TEST_GUEST_DIR", "/var/cache/virtctl-test-guest"))
    proc = subprocess.run(["sh", str(REPO / "scripts" / "build-guest.sh"), str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"build-guest.sh failed:\n{proc.stdout}\n{proc.stderr}"
    return Guest(kernel=str(out / "vmlinuz"), initrd=str(out / "initramfs.cpio.gz"))


@pytest.fixture
def vmi_name() -> str:
    """A unique VMI name; its domain is ``test-e2e_<name>`` (namespace test-e2e)."""
    return f"vm-{uuid.uuid4().hex[:8]}"
