"""Decoding and validation of the self-review kinds, as plain functions (no server)."""

from __future__ import annotations

from virtctl.controller.server import auth_review_kinds


def test_metadata_must_be_empty_printed_as_go_prints_it():
    body = {"metadata": {"generateName": "g-", "labels": {"b": "2", "a": "1"}, "finalizers": ["f"]},
            "spec": {"nonResourceAttributes": {"path": "/x"}}}
    obj, _ = auth_review_kinds.decode(auth_review_kinds.SSAR, body, "Strict")
    [problem] = auth_review_kinds.access_problems(obj)
    assert problem.field == "metadata" and problem.reason == "FieldValueInvalid"
    assert problem.message == (
        'Invalid value: v1.ObjectMeta{Name:"", GenerateName:"g-", Namespace:"", SelfLink:"", UID:"", '
        'ResourceVersion:"", Generation:0, CreationTimestamp:time.Date(1, time.January, 1, 0, 0, 0, 0, time.UTC), '
        'DeletionTimestamp:(*v1.Time)(nil), DeletionGracePeriodSeconds:(*int64)(nil), '
        'Labels:map[string]string{"a":"1", "b":"2"}, Annotations:map[string]string(nil), '
        'OwnerReferences:[]v1.OwnerReference(nil), Finalizers:[]string{"f"}, '
        'ManagedFields:[]v1.ManagedFieldsEntry(nil)}: must be empty')


def test_decode_prunes_unknown_fields_and_drops_the_namespace():
    body = {"metadata": {"namespace": "x", "creationTimestamp": None}, "spec": {"namespace": "ns", "extra": 1},
            "status": {"resourceRules": []}}
    obj, warnings = auth_review_kinds.decode(auth_review_kinds.SSRR, body, "Ignore")
    assert obj["spec"] == {"namespace": "ns"} and obj["metadata"] == {} and warnings == []
    _, warnings = auth_review_kinds.decode(auth_review_kinds.SSRR, body, "Warn")
    assert warnings == ['unknown field "spec.extra"']
    assert auth_review_kinds.access_problems(auth_review_kinds.decode(
        auth_review_kinds.SSAR, {"spec": {"resourceAttributes": {}}}, "Strict")[0]) == []

