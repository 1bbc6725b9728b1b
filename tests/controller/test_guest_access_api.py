"""The guest-access subresources through the real API server (TLS, token) on the libvirt test driver,
which has neither a guest agent nor a QEMU monitor: the answers virt-api gives then. The working
paths run on real QEMU in tests/e2e/test_guest_access.py."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import _start_server, _stop_server
from virtctl.controller.virt.converter import vmi_to_domain
from virtctl.controller.virt.libvirt_host import LibvirtHost
from virtctl.model.kinds import VMI

BASE = "/apis/subresources.kubevirt.io/v1/namespaces/default/virtualmachineinstances"


@pytest.fixture
def env(tmp_path):
    host = LibvirtHost("test:///default", "node01", owner_id=f"gaapi-{uuid.uuid4().hex}")
    api, handles = _start_server(tmp_path / "state", hosts=[host])
    yield api, host
    _stop_server(handles)
    for dom in host.list_domains():
        host.destroy(dom)
    host.close()


def running_vmi(api, host, name: str) -> None:
    vmi = {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
           "metadata": {"name": name, "namespace": "default"},
           "spec": {"domain": {"memory": {"guest": "128Mi"}, "devices": {}}}}
    created = api.store.create(VMI, "default", vmi)
    host.start(vmi_to_domain(created, host=host.host_info(), disks={}, kernel_boot=None).to_xml())
    api.store.mutate(VMI, "default", name, lambda o: o.update(status={"phase": "Running", "nodeName": "node01"}),
                     subresource="status")


@pytest.mark.parametrize("sub", ["guestosinfo", "userlist", "filesystemlist"])
def test_no_agent_is_virt_apis_500(env, sub):
    api, host = env
    running_vmi(api, host, "vm1")
    r = api.request("GET", f"{BASE}/vm1/{sub}")
    assert r.status == 500
    assert r.body.decode() == ('Operation cannot be fulfilled on virtualmachineinstance.kubevirt.io "vm1": '
                               'VMI does not have guest agent connected')
    missing = api.request("GET", f"{BASE}/nosuch/{sub}")
    assert (missing.status, missing.body.decode()) == (500, 'virtualmachineinstance.kubevirt.io "nosuch" not found')


def test_portforward_refusals_before_the_upgrade(env):
    api, host = env
    running_vmi(api, host, "vm1")
    upgrade = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol": "plain.kubevirt.io"}
    assert api.request("GET", f"{BASE}/vm1/portforward/80/sctp", headers=upgrade).status == 404
    assert api.request("GET", f"{BASE}/vm1/portforward/http", headers=upgrade).status == 404
    r = api.request("GET", f"{BASE}/vm1/portforward/70000", headers=upgrade)
    assert r.status == 500 and b"dial tcp: address 70000: invalid port" in r.body
    assert api.request("GET", f"{BASE}/nosuch/portforward/22", headers=upgrade).status == 404
    # the test driver has no QEMU monitor to add a forward with: a 500 Status, never a hang
    r = api.request("GET", f"{BASE}/vm1/portforward/22/tcp", headers=upgrade)
    assert r.status == 500
