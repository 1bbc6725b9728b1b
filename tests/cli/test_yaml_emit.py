"""virtctl.cli.yaml_emit writes what PyYAML writes (render.to_yaml's dumper), or steps aside."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from virtctl.cli import render, yaml_emit

WORDS = ["", "a", "vm-1", "512Mi", "1Gi", "2", "012", "1_0", "1:30", "2001-01-01", "1e3", "0x1f", ".5", "yes", "No",
         "null", "~", "true", "a: b", "a #b", "#x", "-", "- a", "-a", "a:", "a:b", " a", "a ", "it's", "x y",
         "kubevirt.io/v1", "src:my.registry/my-image:my-tag", "ssh-ed25519 AAAA+/= k@h", "a,b", "[x]", "{y}",
         "@a", "%a", "!a", "&a", "*a", "|", ">", "?a", "? a", "a\nb", "a\nb\n", "a\n\nb\n", "\na", " a\nb",
         "a \nb", "a\tb", "é", "a\n", "a\n\n", "=", "<<", "_a", "/p", "=a", "1e", "Infinity", ".inf", "on",
         "2026-11-29T23:00:00Z", "2026-11-29T23:00:00.123Z", "2026-11-29T23:00:00", "2026-11-29 23:00:00Z",
         "2026-1-29", "2026-11-29T23:00Z", "2026-11-29T23:00:00.Z", "2026-11-29T23:00:00+01:00", "12:30:00",
         "5", "0", "00", "019", "10", "1f6a5398-140d-412e-b0ae-90dad823bb3f", "1234-5678", "12-34", "1-2.5", "0-1",
         "1e-5", "1-2:3"]
TEXT = st.one_of(st.sampled_from(WORDS), st.text(alphabet="ab1:- #'\n\t.e_/", max_size=8))
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10 ** 12, 10 ** 12), TEXT, st.floats(allow_nan=False))
DOCS = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(TEXT, inner, max_size=4)), max_leaves=25)


def pyyaml(obj: object) -> str:
    return render.pyyaml_dump(obj)


@settings(max_examples=3000, deadline=None)
@given(st.one_of(st.dictionaries(TEXT, DOCS, min_size=1, max_size=5), st.lists(DOCS, min_size=1, max_size=4)))
def test_same_text_as_pyyaml_or_none(doc):
    ours = yaml_emit.dump(doc)
    if ours is not None:
        assert ours == pyyaml(doc)
        assert yaml.safe_load(ours) == doc


def test_a_create_vm_manifest_needs_no_pyyaml():
    from virtctl.model import vm_builder as vb

    vm, _ = vb.build_vm(vb.VMOptions(name="x", containerdisk_volumes=["src:reg.io/img:1"], user="fedora",
                                     ssh_keys=["ssh-ed25519 AAAA+k/= me@host"], changed={"user", "ssh-key"}))
    text = yaml_emit.dump(vm)
    assert text is not None and text == pyyaml(vm)


def test_kubernetes_timestamps_need_no_pyyaml():
    doc = {"metadata": {"creationTimestamp": "2026-11-29T23:00:00Z", "resourceVersion": "5",
                        "uid": "1f6a5398-140d-412e-b0ae-90dad823bb3f"}, "status": {"at": "2026-11-29"}}
    assert yaml_emit.dump(doc) == pyyaml(doc) == (
        "metadata:\n  creationTimestamp: '2026-11-29T23:00:00Z'\n  resourceVersion: '5'\n"
        "  uid: 1f6a5398-140d-412e-b0ae-90dad823bb3f\nstatus:\n  at: '2026-11-29'\n")


@pytest.mark.parametrize("doc", [{}, [], "x", 1.5, {"a": 1.5}, {"a": "é"}, {"a": "2001-1-01"}, {1: "a"}])
def test_steps_aside_when_unsure(doc):
    assert yaml_emit.dump(doc) is None
