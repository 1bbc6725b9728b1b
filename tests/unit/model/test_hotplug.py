"""Volume hot-plug decisions: virt-api's checks and messages, the spec after a request, a running
VMI following its VM, and volumeStatus."""

from __future__ import annotations

import pytest

from virtctl.controller.schema import validate
from virtctl.model import hotplug

BOOT = {"name": "rootdisk", "dataVolume": {"name": "root-dv"}}
HOT = {"name": "hp", "persistentVolumeClaim": {"claimName": "hp-pvc", "hotpluggable": True}}


def spec(*volumes, disks=None):
    return {"domain": {"devices": {"disks": disks if disks is not None else [{"name": v["name"]} for v in volumes]}},
            "volumes": list(volumes)}


def add_req(name="new", claim="new-pvc", key="persistentVolumeClaim"):
    src = {"claimName": claim} if key == "persistentVolumeClaim" else {"name": claim}
    return {"name": name, "disk": {"name": name, "disk": {"bus": "virtio"}, "serial": name},
            "volumeSource": {key: src}}


@pytest.mark.parametrize("request_, message", [
    (add_req(name="rootdisk"), "Unable to add volume [rootdisk] because volume with that name already exists"),
    (add_req(claim="root-dv", key="dataVolume"), "Unable to add volume source [root-dv] because it already exists"),
    (add_req(claim="hp-pvc"), "Unable to add volume source [hp-pvc] because it already exists"),
])
def test_add_refused(request_, message):
    with pytest.raises(hotplug.HotplugRefused, match=message.replace("[", r"\[").replace("]", r"\]")):
        hotplug.verify([BOOT, HOT], add=request_)


@pytest.mark.parametrize("name, message", [
    ("rootdisk", "Unable to remove volume [rootdisk] because it is not hotpluggable"),
    ("root-dv", "Unable to remove volume [rootdisk] because it is not hotpluggable"),
    ("nope", "Unable to remove volume [nope] because it does not exist"),
])
def test_remove_refused(name, message):
    with pytest.raises(hotplug.HotplugRefused) as ei:
        hotplug.verify([BOOT, HOT], remove={"name": name})
    assert str(ei.value) == message


def test_remove_by_name_or_claim_accepted():
    hotplug.verify([BOOT, HOT], remove={"name": "hp"})
    hotplug.verify([BOOT, HOT], remove={"name": "hp-pvc"})


def test_apply_add_marks_hotpluggable_and_adds_the_disk():
    before = spec(BOOT)
    after = hotplug.apply(before, add=add_req())
    assert after["volumes"][-1] == {"name": "new", "persistentVolumeClaim": {"claimName": "new-pvc",
                                                                             "hotpluggable": True}}
    assert after["domain"]["devices"]["disks"][-1] == {"name": "new", "disk": {"bus": "virtio"}, "serial": "new"}
    assert before == spec(BOOT)                       # the input is not changed


def test_apply_remove_drops_volume_and_disk():
    after = hotplug.apply(spec(BOOT, HOT), remove={"name": "hp-pvc"})
    assert after == spec(BOOT)


def test_follow_vm_adds_and_removes_hotpluggable_only():
    vmi = spec(BOOT, {"name": "cloudinit", "cloudInitNoCloud": {}})
    template = hotplug.apply(vmi, add=add_req())
    followed = hotplug.follow_vm(vmi, template)
    assert followed is not None and followed["volumes"][-1]["name"] == "new"
    assert followed["domain"]["devices"]["disks"][-1]["name"] == "new"
    assert hotplug.follow_vm(followed, template) is None          # nothing left to do
    assert hotplug.follow_vm(followed, vmi) == vmi                 # removed from the VM: removed from the VMI
    # a non-hotpluggable volume missing from the template is left alone (changes need a restart)
    assert hotplug.follow_vm(vmi, spec(BOOT)) is None


@pytest.mark.parametrize("body, message", [
    ({}, "Request with no body, a new name is expected as the request body"),
    ({"disk": {}}, "AddVolumeOptions requires name to be set"),
    ({"name": "x"}, "AddVolumeOptions requires disk to not be nil"),
    ({"name": "x", "disk": {}}, "AddVolumeOptions requires VolumeSource to not be nil"),
])
def test_add_body_errors(body, message):
    assert hotplug.add_options_errors(body) == message
    assert hotplug.add_options_errors(add_req()) is None


def test_remove_body_errors():
    assert hotplug.remove_options_errors({}) == "Request with no body, a new name is expected as the request body"
    assert hotplug.remove_options_errors({"dryRun": ["All"]}) == "RemoveVolumeOptions requires name to be set"
    assert hotplug.remove_options_errors({"name": "v"}) is None


def test_volume_status_phases():
    s = spec(BOOT, HOT, {"name": "late", "dataVolume": {"name": "late-dv", "hotpluggable": True}})
    out = hotplug.volume_status(s, {"rootdisk": "vda", "hp": "vdb"}, missing={"late": "DataVolume ns/late-dv does "
                                                                                     "not exist"},
                                detaching={"gone": "vdc"})
    assert out[0] == {"name": "rootdisk", "target": "vda"}
    assert out[1]["phase"] == hotplug.READY and out[1]["hotplugVolume"] == {} and out[1]["target"] == "vdb"
    assert out[2]["phase"] == hotplug.PENDING and "late-dv" in out[2]["message"] and out[2]["target"] == ""
    assert out[3] == {"name": "gone", "target": "vdc", "hotplugVolume": {}, "phase": hotplug.DETACHING,
                      "reason": "VolumeDetaching", "message": "Volume gone is being detached from the VM"}


def test_volume_status_attached_to_node():
    s = spec(BOOT, HOT)
    out = hotplug.volume_status(s, {"rootdisk": "vda"}, on_node=frozenset({"hp"}))
    assert out[1]["phase"] == hotplug.ATTACHED_TO_NODE and out[1]["target"] == ""
    assert validate("v1.VirtualMachineInstanceStatus", {"volumeStatus": out}) == []
