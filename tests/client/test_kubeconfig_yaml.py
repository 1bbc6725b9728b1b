"""The kubeconfig YAML subset reader gives exactly what yaml.safe_load gives, or steps aside."""

from __future__ import annotations

import string

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from virtctl.client.kubeconfig_yaml import load

KEYS = ["apiVersion", "kind", "clusters", "cluster", "server", "name", "users", "user", "token", "contexts",
        "context", "namespace", "current-context", "certificate-authority-data", "insecure-skip-tls-verify",
        "exec", "args", "env", "preferences", "extensions", "my key", "yes", "1", "on", "null", "~x", "-k", "a:b"]
scalars = st.one_of(
    st.text(alphabet=string.printable, max_size=30),
    st.sampled_from(["0i8tUs86", "0", "012", "0x1F", "1e3", "1_000", "1:20", "2026-11-25", ".5", ".inf", "yes",
                     "No", "on", "~", "null", "", " ", "a #b", "a: b", "#x", "- x", "'q'", '"d"', "<<", "=",
                     "https://127.0.0.1:6443", "LS0tLS1CRUdJTi==", "v1", "true", "False", "+1", "-1", "é"]),
    st.booleans(), st.integers(), st.none())
documents = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS), inner, max_size=5)), max_leaves=25)


def dumped(doc: dict, style: int) -> str:
    if style == 0:
        return yaml.safe_dump(doc)
    if style == 1:
        return yaml.safe_dump(doc, indent=4, sort_keys=False, explicit_start=True)
    return yaml.safe_dump(doc, default_flow_style=None, width=40)


@settings(max_examples=600, deadline=None)
@given(st.dictionaries(st.sampled_from(KEYS), documents, max_size=6), st.integers(0, 2))
def test_same_as_pyyaml_or_steps_aside(doc, style):
    text = dumped(doc, style)
    ours = load(text)
    if ours is not None:
        assert ours == yaml.safe_load(text)


FRAGMENTS = ["a: b", "- x", "-", "  ", "k:", "  k: v", "    - y", "'q: r'", '"s\\n"', "k: 'a''b'", "k: \"\\u00e9\"",
             "k: [a]", "k: {}", "k: |", "  text", "k: &a x", "k: *a", "k: !!str 1", "--- ", "...", "# c", "k: v # c",
             "k: v#c", "? k", "k:v", "k: \"open", "k: 'open", "k: 0o17", "k: 1.5", "x: -", "- - z", "k: \t"]


@settings(max_examples=800, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=8))
def test_raw_text_same_as_pyyaml_or_steps_aside(lines):
    text = "\n".join(lines) + "\n"
    ours = load(text)
    if ours is None:
        return
    try:
        theirs = yaml.safe_load(text)
    except yaml.YAMLError:
        pytest.fail(f"read {text!r} which PyYAML rejects")
    assert ours == (theirs if theirs is not None else {})


KUBECTL_STYLE = """apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJU
    server: https://127.0.0.1:6443
  name: kind-kind
contexts:
- context:
    cluster: kind-kind
    namespace: "dev"
    user: kind-kind
  name: kind-kind
current-context: kind-kind
kind: Config
preferences: {}
users:
- name: kind-kind
  user:
    client-certificate-data: LS0tLS1
    client-key-data: LS0tLS1
- name: oidc
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      args:
        - oidc-login
        - get-token
      command: kubectl
      env: null
      provideClusterInfo: false
    token: 0123abc
"""


def test_kubectl_written_config_is_read_without_pyyaml():
    ours = load(KUBECTL_STYLE)
    assert ours is not None and ours == yaml.safe_load(KUBECTL_STYLE)
    assert ours["users"][1]["user"]["exec"]["args"] == ["oidc-login", "get-token"]
    assert ours["users"][1]["user"]["token"] == "0123abc"


@pytest.mark.parametrize("text", ["a: &x 1\nb: *x\n", "k: |\n  block\n", "k: 0755\n", "k: yes\n", "- a\n- b\n",
                                  "a: 1\n---\nb: 2\n", "k: é\n", "k:\tv\n"])
def test_outside_the_subset_steps_aside(text):
    assert load(text) is None


def test_empty_is_an_empty_config():
    assert load("") == {} and load("\n\n") == {}
