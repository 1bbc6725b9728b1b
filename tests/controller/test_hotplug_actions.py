"""addvolume / removevolume on VMs and VMIs: virt-api's status codes and messages, the specs they
change (the VM's template; only the VMI for the VMI path), dry runs."""

from __future__ import annotations

import pytest

from virtctl.controller import actions
from virtctl.controller.server.subresource_routes import SUBRESOURCES
from virtctl.model import kinds

from .reconcile.conftest import Env, wait_for
from .test_actions import conflict, fails, vm_call, vmi_call

pytest.importorskip("libvirt", reason="libvirt-python is not installed")

TEMPLATE = {"domain": {"devices": {"disks": [{"name": "rootdisk", "disk": {"bus": "virtio"}}]},
                       "resources": {"requests": {"memory": "64Mi"}}},
            "volumes": [{"name": "rootdisk", "dataVolume": {"name": "root-dv"}}]}
ADD = {"name": "hp", "disk": {"name": "", "disk": {"bus": "scsi"}, "serial": "hp"},
       "volumeSource": {"persistentVolumeClaim": {"claimName": "hp", "hotpluggable": True}}}


@pytest.fixture
def env(tmp_path):
    e = Env(tmp_path)
    yield e
    e.cleanup()


def template(env):
    return env.get_vm()["spec"]["template"]["spec"]


def test_declared_with_the_routes():
    assert SUBRESOURCES.actions[("virtualmachines", "addvolume")] is actions.vm_addvolume
    assert SUBRESOURCES.actions[("virtualmachines", "removevolume")] is actions.vm_removevolume
    assert SUBRESOURCES.actions[("virtualmachineinstances", "addvolume")] is actions.vmi_addvolume
    assert SUBRESOURCES.actions[("virtualmachineinstances", "removevolume")] is actions.vmi_removevolume


def test_vm_add_then_remove_changes_the_template(env):
    env.vm(strategy="Halted", template_spec=TEMPLATE)
    assert vm_call(env, "addvolume", ADD).code == 202
    spec = template(env)
    assert spec["volumes"][-1] == {"name": "hp", "persistentVolumeClaim": {"claimName": "hp", "hotpluggable": True}}
    assert spec["domain"]["devices"]["disks"][-1] == {"name": "hp", "disk": {"bus": "scsi"}, "serial": "hp"}
    fails(lambda: vm_call(env, "addvolume", ADD), 409,
          conflict("vm1", "Unable to add volume [hp] because volume with that name already exists"))
    assert vm_call(env, "removevolume", {"name": "hp"}).code == 202
    assert template(env) == TEMPLATE


def test_vm_remove_refused(env):
    env.vm(strategy="Halted", template_spec=TEMPLATE)
    fails(lambda: vm_call(env, "removevolume", {"name": "rootdisk"}), 409,
          conflict("vm1", "Unable to remove volume [rootdisk] because it is not hotpluggable"))
    fails(lambda: vm_call(env, "removevolume", {"name": "nope"}), 409,
          conflict("vm1", "Unable to remove volume [nope] because it does not exist"))
    fails(lambda: vm_call(env, "removevolume", {}), 400,
          "Request with no body, a new name is expected as the request body")
    fails(lambda: vm_call(env, "addvolume", {"name": "x", "disk": {}}), 400,
          "AddVolumeOptions requires VolumeSource to not be nil")
    fails(lambda: vm_call(env, "addvolume", ADD, name="nope"), 404, 'virtualmachine.kubevirt.io "nope" not found')
    assert template(env) == TEMPLATE


def test_vm_add_dry_run_changes_nothing(env):
    env.vm(strategy="Halted", template_spec=TEMPLATE)
    assert vm_call(env, "addvolume", {**ADD, "dryRun": ["All"]}).code == 202
    assert template(env) == TEMPLATE


def test_vmi_path_needs_a_running_vmi(env):
    fails(lambda: vmi_call(env, "addvolume", ADD), 404, 'virtualmachineinstance.kubevirt.io "vm1" not found')
    env.store.create(kinds.VMI, env.ns, {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
                                         "metadata": {"name": "vm1", "namespace": env.ns}, "spec": TEMPLATE})
    fails(lambda: vmi_call(env, "addvolume", ADD), 409, conflict("vm1", "VMI is not running", "virtualmachineinstance"))


def test_a_hotplugged_claim_without_a_file_is_pending_with_the_reason(env):
    env.start()
    env.vm(strategy="Always")
    env.wait_vm_status("Running")
    add = {"name": "hp", "disk": {"name": "", "disk": {"bus": "virtio"}},
           "volumeSource": {"persistentVolumeClaim": {"claimName": "nofile", "hotpluggable": True}}}
    assert vm_call(env, "addvolume", add).code == 202

    def pending():
        vmi = env.store.get(kinds.VMI, env.ns, "vm1")
        entries = {v["name"]: v for v in (vmi.get("status") or {}).get("volumeStatus") or []}
        return entries.get("hp") if entries.get("hp", {}).get("phase") == "Pending" else None

    entry = wait_for(pending, what="the Pending volume status")
    assert entry == {"name": "hp", "target": "", "hotplugVolume": {}, "phase": "Pending", "reason": "VolumePending",
                     "message": f"PVC {env.ns}/nofile does not exist"}
