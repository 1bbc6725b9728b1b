"""Guest-agent answers (recorded from the test guest's qemu-ga 7.2) in KubeVirt's shapes."""

from __future__ import annotations

import json

import pytest

from virtctl.controller.virt import guest_agent as ga

OSINFO = {"name": "virtctl test guest", "kernel-release": "6.1.0-57-cloud-amd64", "version": "1",
          "pretty-name": "virtctl test guest (Debian packages)", "version-id": "1",
          "kernel-version": "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-3 (2026-11-26)", "machine": "x86_64",
          "id": "virtctl-test-guest"}
IFACES = [{"name": "lo", "hardware-address": "00:00:00:00:00:00",
           "ip-addresses": [{"ip-address-type": "ipv4", "ip-address": "127.0.0.1", "prefix": 8}]},
          {"name": "eth0", "hardware-address": "52:54:00:12:34:56",
           "ip-addresses": [{"ip-address-type": "ipv4", "ip-address": "10.0.2.15", "prefix": 24},
                            {"ip-address-type": "ipv6", "ip-address": "fe80::5054:ff:fe12:3456", "prefix": 64}]}]


def test_os_info_keys():
    assert ga.os_info(OSINFO) == {
        "name": "virtctl test guest", "kernelRelease": "6.1.0-57-cloud-amd64", "version": "1",
        "prettyName": "virtctl test guest (Debian packages)", "versionId": "1",
        "kernelVersion": "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-3 (2026-11-26)", "machine": "x86_64",
        "id": "virtctl-test-guest"}


def test_users_and_filesystems():
    assert ga.users([{"user": "root", "login-time": 1700000000.5}]) == [{"userName": "root", "loginTime": 1700000000.5}]
    fs = ga.filesystems([{"name": "vda1", "mountpoint": "/", "type": "ext4", "used-bytes": 10, "total-bytes": 20,
                          "disk": [{"serial": "s1", "bus-type": "virtio", "bus": 0}]}])
    assert fs == [{"diskName": "vda1", "mountPoint": "/", "fileSystemType": "ext4", "usedBytes": 10,
                   "totalBytes": 20, "disk": [{"serial": "s1", "busType": "virtio"}]}]
    assert ga.item_list([]) == {"metadata": {}, "items": []}


def test_guest_agent_info():
    info = ga.guest_agent_info({"version": "7.2.22", "supported_commands": [{"name": "guest-ping", "enabled": True}]},
                               OSINFO, "guest", {"zone": "UTC", "offset": 0}, [], [], "thawed")
    assert info["guestAgentVersion"] == "7.2.22"
    assert info["supportedCommands"] == [{"name": "guest-ping", "enabled": True}]
    assert info["timezone"] == "UTC, 0"
    assert info["fsInfo"] == {"disks": []}
    assert info["fsFreezeStatus"] == "thawed"
    assert "userList" not in info


def test_status_interfaces_from_agent_and_without():
    nics = [("default", "52:54:00:12:34:56")]
    from_agent = ga.status_interfaces(nics, IFACES, "10.0.2.15")
    assert from_agent == [{"name": "default", "mac": "52:54:00:12:34:56", "ipAddress": "10.0.2.15",
                           "ipAddresses": ["10.0.2.15"], "interfaceName": "eth0",
                           "infoSource": "domain, guest-agent", "queueCount": 1}]
    without = ga.status_interfaces(nics, None, "10.0.2.15")
    assert without == [{"name": "default", "mac": "52:54:00:12:34:56", "ipAddress": "10.0.2.15",
                        "ipAddresses": ["10.0.2.15"], "infoSource": "domain", "queueCount": 1}]


def test_agent_calls_and_unavailable():
    def agent(domain: str, command: str) -> str:
        msg = json.loads(command)
        if msg["execute"] == "guest-get-osinfo":
            return json.dumps({"return": OSINFO})
        raise ga.AgentUnavailable("Guest agent is not responding")

    a = ga.GuestAgent(agent, "ns_vm")
    assert a.os_info()["id"] == "virtctl-test-guest"
    with pytest.raises(ga.AgentUnavailable):
        a.users()
