"""The guest-access parts of the libvirt host on the test driver (test:///default): the guest agent
channel is accepted and read back, soft reboot and shutdown fall back to what the driver has, and
the monitor and agent calls fail cleanly where there is no QEMU. Real QEMU: tests/e2e/test_guest_access.py."""

from __future__ import annotations

import uuid

import pytest

from virtctl.controller.virt import guest_agent as ga
from virtctl.controller.virt.converter import vmi_to_domain
from virtctl.controller.virt.domain import GUEST_AGENT_CHANNEL, parse_live
from virtctl.controller.virt.hypervisor import DomainState
from virtctl.controller.virt.libvirt_host import LibvirtHost
from virtctl.errors import InternalError


@pytest.fixture(scope="module")
def host():
    h = LibvirtHost("test:///default", "node01", owner_id=f"ga-{uuid.uuid4().hex}")
    yield h
    h.close()


@pytest.fixture
def domain(host):
    name = f"ga-{uuid.uuid4().hex[:8]}"
    vmi = {"metadata": {"name": name, "namespace": "test-ns", "uid": str(uuid.uuid4())},
           "spec": {"domain": {"memory": {"guest": "128Mi"}, "devices": {}}}}
    dom = vmi_to_domain(vmi, host=host.host_info(), disks={}, kernel_boot=None)
    host.start(dom.to_xml())
    yield dom
    host.destroy(dom.name)


def test_channel_and_nic_are_read_back(host, domain):
    xml = host.domain_xml(domain.name)
    assert f"name='{GUEST_AGENT_CHANNEL}'" in xml or f'name="{GUEST_AGENT_CHANNEL}"' in xml
    nics = parse_live(xml).nics
    assert [alias for alias, _mac in nics] == ["ua-default"]
    assert nics[0][1]                                  # libvirt picked a MAC


def test_no_agent_and_no_monitor_on_the_test_driver(host, domain):
    with pytest.raises(ga.AgentUnavailable):
        ga.GuestAgent(host.agent_command, domain.name).os_info()
    with pytest.raises(InternalError):
        host.monitor_command(domain.name, "info usernet")


def test_soft_reboot_and_shutdown_fall_back(host, domain):
    host.reboot(domain.name)                           # no agent: the plain reboot
    assert host.status(domain.name).state == DomainState.RUNNING
    host.shutdown(domain.name)                         # no ACPI flag on this driver: plain shutdown
    assert host.status(domain.name).state in (DomainState.SHUTOFF, DomainState.MISSING)
