"""Every 422 about a field carries its cause with Kubernetes' keys (``reason``, ``message``, ``field``),
whichever layer refuses it: the storage checks, cloud-init sources, the domain converter, the schema."""

from __future__ import annotations

import pytest

from virtctl.controller.schema import Problem, invalid_error
from virtctl.controller.storage.checks import parse_size
from virtctl.controller.storage.cloudinit import read_cloud_init_source
from virtctl.errors import Invalid, field_invalid, status_cause
from virtctl.model import kinds

KEYS = {"reason", "message", "field"}


def only_cause(e: Invalid) -> dict:
    causes = e.to_status()["details"]["causes"]
    assert len(causes) == 1
    return causes[0]


def test_field_invalid_is_the_apiservers_field_error():
    e = field_invalid("spec.volumes[0].name", "Required value", "FieldValueRequired")
    assert e.code == 422 and e.message == "spec.volumes[0].name: Required value"
    assert only_cause(e) == {"reason": "FieldValueRequired", "field": "spec.volumes[0].name",
                             "message": "spec.volumes[0].name: Required value"}


def test_a_cause_without_field_leaves_the_key_out():
    assert status_cause("UnexpectedServerResponse", "boom") == {"reason": "UnexpectedServerResponse",
                                                                "message": "boom"}


def test_storage_and_cloud_init_refusals_use_kubernetes_keys():
    with pytest.raises(Invalid) as size:
        parse_size("ten gigs", "spec.dataVolumeTemplates[0].spec.storage.resources.requests.storage")
    with pytest.raises(Invalid) as cloud:
        read_cloud_init_source({"userDataBase64": "%%%"}, "spec.volumes[1].cloudInitNoCloud")
    for e in (size.value, cloud.value):
        cause = only_cause(e)
        assert set(cause) == KEYS and cause["reason"] == "FieldValueInvalid"
        assert e.message == cause["message"] and cause["message"].startswith(cause["field"] + ": ")


def test_schema_problems_use_the_same_keys():
    e = invalid_error(kinds.VM, "vm1", [Problem("spec.running", "FieldValueInvalid", "Invalid value: 1")])
    assert set(only_cause(e)) == KEYS


def test_a_status_without_a_reason_leaves_the_field_out():
    """metav1.Status's ``reason`` is omitempty: an error answered without one (the service proxy's
    500s) has no ``reason`` key, while the typed errors keep theirs."""
    from virtctl.errors import APIError, BadRequest

    assert "reason" not in APIError("error dialing backend: EOF", code=500, reason="").to_status()
    assert BadRequest("x").to_status()["reason"] == "BadRequest"
