"""``apply -f`` reads YAML and JSON as kubectl does: JSON values only (timestamps and ``!!binary``
as strings, no NaN, no Python types), bounded aliases and depth, and kubectl's own error lines
(the expected texts below are what kubectl 1.3x printed for the same files)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.cli.test_commands import halted_vm
from virtctl.cli.manifests import ManifestError, decode_stream
from virtctl.model import kinds


@pytest.mark.parametrize("text, message", [
    (b"a: b: c\n", "error converting YAML to JSON: yaml: mapping values are not allowed in this context"),
    (b"a:\n  b: 1\n c: 2\n", "error converting YAML to JSON: yaml: line 2: did not find expected key"),
    (b"a: \x01\n", "error converting YAML to JSON: yaml: control characters are not allowed"),
    (b'a: !!float "abc"\n', "error converting YAML to JSON: yaml: cannot decode !!str `abc` as a !!float"),
    (b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: .nan}\n",
     "error converting YAML to JSON: json: unsupported value: NaN"),
    (b"a: 1\n--- x\n", "invalid Yaml document separator: x"),
    (b'{"a": }', "json: offset 7: invalid character '}' looking for beginning of value"),
    (b'{"a": 1,\n "b" 2}', "json: offset 15: invalid character '2' after object key"),
    (b"a: &a {x: *a}\n", "error converting YAML to JSON: yaml: anchor 'a' value contains itself"),
    (b"a: [1, 2", "error converting YAML to JSON: yaml: line 1: did not find expected ',' or ']'"),
    (b"x: 1\ny: 2\nz: [a\nq: b: c\n", "error converting YAML to JSON: yaml: line 3: did not find expected ',' or ']'"),
    (b'x: 1\ny: 2\nz: "abc\n', "error converting YAML to JSON: yaml: line 4: found unexpected end of stream"),
])
def test_apply_bad_yaml_reads_as_kubectl(kcli, api_server, tmp_path: Path, text: bytes, message: str) -> None:
    f = tmp_path / "bad.yaml"
    f.write_bytes(text)
    r = kcli(["apply", "-f", str(f)])
    assert (r.code, r.out, r.err) == (1, "", f"error: error parsing {f}: {message}\n")
    assert api_server.store.list(kinds.VM, "default")[0] == []


def test_timestamps_and_binary_stay_strings(kcli, api_server, tmp_path: Path) -> None:
    vm = halted_vm("typed")
    vm["metadata"]["annotations"] = {"placeholder": "x"}
    doc = yaml.safe_dump(vm).replace("    placeholder: x\n", (
        "    date: 2001-01-01\n    bad-date: 2001-13-45\n    stamp: !!timestamp 2001-12-14t21:59:43.10-05:00\n"
        "    bin: !!binary aGVsbG8=\n    custom: !!python/object:os.system ls\n"))
    assert "bad-date" in doc
    f = tmp_path / "vm.yaml"
    f.write_text(doc)
    r = kcli(["apply", "-f", str(f)])
    assert r.code == 0, r
    ann = api_server.store.get(kinds.VM, "default", "typed")["metadata"]["annotations"]
    assert {k: ann[k] for k in ("date", "bad-date", "stamp", "bin", "custom")} == {
        "date": "2001-01-01", "bad-date": "2001-13-45", "stamp": "2001-12-14t21:59:43.10-05:00",
        "bin": "hello", "custom": "ls"}


def test_an_alias_bomb_and_deep_nesting_fail_in_one_line(kcli, api_server, tmp_path: Path) -> None:
    lol = "a0: &a0 [" + ",".join(['"lol"'] * 9) + "]\n" + "".join(
        f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]\n" for i in range(1, 10))
    for name, text, end in (("bomb.yaml", lol, "yaml: document contains excessive aliasing\n"),
                            ("deep.yaml", "x: " + "[" * 5000 + "]" * 5000 + "\n", "depth\n"),
                            ("deep.json", '{"x": ' + "[" * 5000 + "]" * 5000 + "}", "exceeded max depth of 100\n")):
        f = tmp_path / name
        f.write_text(text)
        r = kcli(["apply", "-f", str(f)])
        assert r.code == 1 and r.err.startswith(f"error: error parsing {f}: ") and r.err.endswith(end), r
        assert r.err.count("\n") == 1 and "Traceback" not in r.err


def test_not_an_object_reads_as_kubectl(kcli, tmp_path: Path) -> None:
    f = tmp_path / "l.yaml"
    f.write_text("- a\n- b\n")
    r = kcli(["apply", "-f", str(f)])
    assert (r.code, r.err) == (1, f'error: unable to decode "{f}": json: cannot unmarshal array into Go value of '
                                  "type unstructured.detector\n")


def test_stdin_bytes_that_are_not_utf8_give_kubectl_words(kcli) -> None:
    r = kcli(["apply", "-f", "-"], stdin="a: \x01\n")
    assert (r.code, r.err) == (1, "error: error parsing STDIN: error converting YAML to JSON: yaml: control "
                                  "characters are not allowed\n")


def test_json_streams_and_yaml_documents() -> None:
    assert decode_stream(b'{"a": 1}\n{"b": [1.5, "x"]}') == [{"a": 1}, {"b": [1.5, "x"]}]
    assert decode_stream(b"a: 1\n---\n# only a comment\n---\nnull\n--- # next\nb: yes\n") == [{"a": 1}, {"b": True}]
    assert decode_stream(b'{\n\t"tabs": "are fine in JSON"\n}') == [{"tabs": "are fine in JSON"}]


def test_scalars_resolve_as_kubectl_sends_them() -> None:
    # what `kubectl create --dry-run=client -o json` printed for this document (kubectl 1.3x)
    doc = (b"a: 1e3\nb: y\ny: 2\n'on': 3\non: 4\nc: 017\nd: 0o17\ne: 1_000\nf: 2001-01-01\n"
           b"g: !!binary aGVsbG8=\n")
    assert decode_stream(doc) == [{"a": 1000, "b": True, "c": 15, "d": 15, "e": 1000, "f": "2001-01-01",
                                   "g": "hello", "on": 3, "true": 4}]


# ---- any input: JSON values or a ManifestError, never anything else

SCALARS = ["1", "0x1F", "017", "1e3", ".5", "-.inf", ".nan", "~", "null", "y", "on", "2001-01-01", "2001-13-45",
           "!!binary aGVsbG8=", "!!binary '***'", "!!timestamp 2001-01-01", "!!timestamp x", '!!float "abc"',
           "!!int 1.5", "!!str 12", "!!null x", "!foo bar", "!!python/object:os.system ls", "'quoted'",
           '"\\x01"', '"\\ud800"', "9" * 400, "<<", "- x"]


def _node(depth: int) -> st.SearchStrategy[str]:
    scalar = st.one_of(st.sampled_from(SCALARS), st.text(max_size=8).map(json.dumps))
    if depth == 0:
        return scalar
    child = _node(depth - 1)
    anchored = st.tuples(st.sampled_from(["", "&a ", "&b "]), child).map("".join)
    alias = st.sampled_from(["*a", "*b", "*c"])
    items = st.lists(st.one_of(anchored, alias), max_size=4)
    return st.one_of(scalar, items.map(lambda xs: "[" + ", ".join(xs) + "]"),
                     st.lists(st.tuples(st.one_of(st.sampled_from(SCALARS[:14]), alias), st.one_of(anchored, alias)),
                              max_size=4).map(lambda kv: "{" + ", ".join(f"{k}: {v}" for k, v in kv) + "}"))


def _bomb(levels: int, fanout: int) -> str:
    text = "a0: &a0 [" + ",".join(["x"] * fanout) + "]\n"
    return text + "".join(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * fanout) + "]\n" for i in range(1, levels))


DOCUMENTS = st.one_of(
    _node(3).map(lambda t: "x: " + t + "\n"),
    st.tuples(_node(2), _node(2)).map(lambda ab: f"a: {ab[0]}\n---\nb: {ab[1]}\n"),
    st.integers(1, 400).map(lambda n: "x: " + "[" * n + "]" * n + "\n"),            # depth
    st.integers(1, 400).map(lambda n: "- " * n + "x\n"),
    st.tuples(st.integers(2, 9), st.integers(2, 12)).map(lambda lf: _bomb(*lf)),  # aliases and size
    st.integers(1, 3000).map(lambda n: "x: [" + ", ".join(["*a"] * n) + "]\na: &a {k: v}\n"),
    st.binary(max_size=64).map(lambda b: b.decode("latin-1")),
)


def _only_json(value: object) -> None:
    json.dumps(value, allow_nan=False)
    todo = [value]
    while todo:
        v = todo.pop()
        assert v is None or isinstance(v, (str, int, float, bool, list, dict)), type(v)
        if isinstance(v, float):
            assert math.isfinite(v)
        if isinstance(v, dict):
            assert all(isinstance(k, str) for k in v)
            todo.extend(v.values())
        elif isinstance(v, list):
            todo.extend(v)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCUMENTS)
def test_any_yaml_gives_json_values_or_a_manifest_error(text: str) -> None:
    try:
        docs = decode_stream(text.encode("utf-8", "surrogatepass"))
    except ManifestError as e:
        assert str(e) and "\n" not in str(e) and "Traceback" not in str(e)
        return
    for d in docs:
        _only_json(d)
