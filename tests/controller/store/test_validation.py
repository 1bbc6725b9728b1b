"""Schema validation against KubeVirt's OpenAPI (v1.9.0)."""

from __future__ import annotations

import glob
import os

import pytest
import yaml

from virtctl.controller.schema import admit, definition_for, unknown_fields, validate
from virtctl.errors import BadRequest, Invalid
from virtctl.model import kinds

EXAMPLES = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "..", "data", "examples", "*.yaml")))


def _served_examples():
    for path in EXAMPLES:
        for doc in yaml.safe_load_all(open(path)):
            if doc and kinds.by_kind(doc.get("apiVersion", ""), doc.get("kind", "")):
                yield pytest.param(doc, id=f"{os.path.basename(path)}:{doc['metadata']['name']}")


@pytest.mark.parametrize("doc", list(_served_examples()))
def test_every_served_example_is_valid_and_known(doc):
    kind = kinds.by_kind(doc["apiVersion"], doc["kind"])
    assert validate(definition_for(kind), doc) == []
    assert unknown_fields(definition_for(kind), doc) == []


def test_definitions_exist_for_every_kind():
    for k in kinds.ALL_KINDS:
        validate(definition_for(k), {})      # raises KeyError when the definition is missing


def test_problem_shapes():
    problems = validate("v1.VirtualMachineInstance", {
        "spec": {"domain": {"cpu": {"cores": "two"}, "devices": {"disks": [{"disk": {"bus": "virtio"}}]}},
                 "evictionStrategy": 5}})
    by_field = {p.field: p for p in problems}
    assert by_field["spec.domain.cpu.cores"].reason == "FieldValueTypeInvalid"
    assert by_field["spec.domain.cpu.cores"].message == (
        'Invalid value: "string": spec.domain.cpu.cores in body must be of type integer: "string"')
    assert by_field["spec.domain.devices.disks[0].name"].reason == "FieldValueRequired"
    assert "spec.evictionStrategy" in by_field


def test_request_bodies_validate():
    assert validate("v1.StartOptions", {"paused": True, "dryRun": ["All"]}) == []
    assert validate("v1.StartOptions", {"paused": "yes"})[0].field == "paused"
    with pytest.raises(KeyError):
        validate("v1.NoSuchThing", {})


def test_unknown_fields_walk():
    vm = {"spec": {"runStrategy": "Always", "template": {"spec": {"domain": {"devices": {}, "cpux": 1},
                                                                  "volumes": [{"name": "a", "foo": 1}]}}},
          "metadata": {"name": "x", "labelz": {}}}
    assert sorted(unknown_fields("v1.VirtualMachine", vm)) == [
        "metadata.labelz", "spec.template.spec.domain.cpux", "spec.template.spec.volumes[0].foo"]
    # labels/annotations are maps; free-form objects accept anything
    vm = {"metadata": {"labels": {"any": "thing"}}, "spec": {"runStrategy": "Always", "template": {"spec": {
        "domain": {"devices": {}}}}}}
    assert unknown_fields("v1.VirtualMachine", vm) == []


def test_admit_orders_errors_like_the_apiserver():
    vm = {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {"name": "x"},
          "spec": {"runStrategy": 1, "running": True, "unknown": 1, "template": {"spec": {"domain": {"devices": {}}}}}}
    with pytest.raises(BadRequest, match="strict decoding error"):
        admit(kinds.VM, vm, "Strict")
    with pytest.raises(Invalid) as e:
        admit(kinds.VM, vm, "Ignore")
    assert e.value.details["kind"] == "VirtualMachine" and e.value.details["name"] == "x"
    vm["spec"]["runStrategy"] = "Always"
    with pytest.raises(Invalid, match="admission webhook"):
        admit(kinds.VM, vm, "Ignore")
    with pytest.raises(BadRequest, match="fieldValidation"):
        admit(kinds.VM, vm, "Loose")
