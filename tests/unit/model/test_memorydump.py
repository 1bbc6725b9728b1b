"""Memory dump decisions: claim sizes as KubeVirt computes them and virt-api's request rules."""

from __future__ import annotations

import pytest

from virtctl.model import memorydump as md

MiB = 1 << 20
VMI = {"spec": {"domain": {"memory": {"guest": "192Mi"}}}}


def test_sizes():
    assert md.expected_dump_size(VMI) == 292 * MiB
    assert md.expected_dump_size({"spec": {"domain": {"resources": {"requests": {"memory": "1Gi"}},
                                                      "memory": {"guest": "64Mi"}}}}) == 1124 * MiB
    assert md.needed_claim_size(VMI) == -(-292 * MiB * 1000 // 945)


def test_claim_checks():
    need = md.needed_claim_size(VMI)
    md.check_claim(VMI, "c", {"spec": {}}, need)
    with pytest.raises(md.DumpRefused) as ei:
        md.check_claim(VMI, "c", {"spec": {}}, 100 * MiB)
    assert str(ei.value) == f"pvc size [104858k] should be bigger then [{need}]"
    assert ei.value.resource == "persistentvolumeclaim"
    with pytest.raises(md.DumpRefused, match="pvc should be filesystem pvc"):
        md.check_claim(VMI, "c", {"spec": {"volumeMode": "Block"}}, need)
    with pytest.raises(md.DumpRefused, match="pvc access mode can't be read only"):
        md.check_claim(VMI, "c", {"spec": {"accessModes": ["ReadOnlyMany"]}}, need)


def test_request_rules():
    with pytest.raises(md.DumpRefused, match="Memory dump requires claim name to be set"):
        md.claim_for(None, "")
    done = {"claimName": "a", "phase": md.COMPLETED}
    assert md.claim_for(done, "") == "a"
    with pytest.raises(md.DumpRefused, match=r"can't request memory dump for pvc \[b\] while pvc \[a\]"):
        md.claim_for(done, "b")
    assert md.add_request(done, "a") == {"claimName": "a", "phase": md.ASSOCIATING}
    with pytest.raises(md.DumpRefused, match=r"memory dump request for pvc \[a\] already in progress"):
        md.add_request({"claimName": "a", "phase": md.IN_PROGRESS}, "a")
    with pytest.raises(md.DumpRefused, match="a remove memory dump request is in progress"):
        md.add_request({"claimName": "a", "phase": md.DISSOCIATING}, "a")
    assert md.remove_request(done, "vm") == {"claimName": "a", "phase": md.DISSOCIATING, "remove": True}
    with pytest.raises(md.DumpRefused, match="no association found"):
        md.remove_request(None, "vm")
    with pytest.raises(md.DumpRefused, match=r"memory dump remove request for pvc \[a\] already exists"):
        md.remove_request({"claimName": "a", "remove": True}, "vm")
    assert md.dump_file_name("vm", "c", "20260101-120000") == "vm-c-20260101-120000.memory.dump"
