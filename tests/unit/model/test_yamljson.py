"""YAML decoded as sigs.k8s.io/yaml decodes it: JSON values only, Go's refusals and messages."""

from __future__ import annotations

import json

import pytest

from virtctl.model import gojson, yamljson


@pytest.mark.parametrize("text,value", [
    ("x: 2001-01-01", {"x": "2001-01-01"}),                  # a timestamp stays the text
    ("x: 2001-13-45", {"x": "2001-13-45"}),
    ("x: !!timestamp 2001-01-01T10:00:00Z", {"x": "2001-01-01T10:00:00Z"}),
    ("x: !!binary aGVsbG8=", {"x": "hello"}),
    ("x: !!python/object:os.system {a: 1}", {"x": {"a": 1}}),  # unknown tags are ignored
    ("x: !custom 12", {"x": "12"}),
    ("1: a\ntrue: b\n1.5: c", {"1": "a", "true": "b", "1.5": "c"}),
    ("a: &a {k: 1}\nb: {<<: *a, j: 2}", {"a": {"k": 1}, "b": {"k": 1, "j": 2}}),
    # go-yaml v2 reads the key y as the boolean true: kubectl sends {"true": …} (checked with kubectl 1.3x)
    ("x: 0x1F\ny: 1_000\nz: 1:20", {"x": 31, "true": 1000, "z": "1:20"}),
    ("x: !!float 3\ny: !!str 12\nz: !!float '1.5'", {"x": 3.0, "true": "12", "z": 1.5}),
    ("a: 1e3\nb: y\nc: 0o17\nd: 017\ne: 08\nf: .5\n'on': 1", {"a": 1000, "b": True, "c": 15, "d": 15, "e": 8,
                                                                 "f": 0.5, "on": 1}),
    ("x: 123456789012345678901234567890", {"x": 1.2345678901234568e29}),
    ("a: 1\n---\nb: 2", {"a": 1}),                            # the first document, as yaml.Unmarshal
    ("", None),
])
def test_json_values_only(text, value):
    assert yamljson.loads(text) == value


@pytest.mark.parametrize("text,message", [
    ('x: !!float "abc"', "yaml: cannot decode !!str `abc` as a !!float"),
    ("x: !!int 1.5", "yaml: cannot decode !!float `1.5` as a !!int"),
    ("x: !!timestamp 2001-13-45", "yaml: cannot decode !!str `2001-13-45` as a !!timestamp"),
    ("x: !!binary '***'", "yaml: !!binary value contains invalid base64 data"),
    ("a: &a {x: *a}", "yaml: anchor 'a' value contains itself"),
    ("x: *nope", "yaml: unknown anchor 'nope' referenced"),
    ("x: .nan", "json: unsupported value: NaN"),
    ("x: [-.inf]", "json: unsupported value: -Inf"),
    ("a: [1, 2", "yaml: line 1: did not find expected ',' or ']'"),      # kubectl 1.3x prints line 1
    ("- " * 150 + "x", "yaml: line 1: exceeded max depth of 100"),
])
def test_go_refusals(text, message):
    with pytest.raises(yamljson.YAMLDecodeError) as err:
        yamljson.loads(text)
    assert str(err.value) == message


def test_an_alias_bomb_is_refused_before_it_expands():
    text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    prev = "a"
    for name in "bcdefghi":
        text += f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]\n"
        prev = name
    with pytest.raises(yamljson.YAMLDecodeError, match="excessive aliasing"):
        yamljson.loads(text)


def test_aliases_within_budget_are_expanded_as_copies():
    value = yamljson.loads("a: &a {k: [1]}\nb: *a\n")
    value["b"]["k"].append(2)
    assert value["a"] == {"k": [1]}


def test_load_all_reads_every_document():
    assert yamljson.load_all("a: 1\n---\nb: 2\n") == [{"a": 1}, {"b": 2}]


@pytest.mark.parametrize("text,message", [
    (b'{"a": NaN}', "invalid character 'N' looking for beginning of value"),
    (b"[-Infinity]", "invalid character 'I' in numeric literal"),
    (b"[1e400]", "json: cannot unmarshal number 1e400 into Go value of type float64"),
    (b"[" + b"9" * 4000 + b"]", "json: cannot unmarshal number " + "9" * 40 + "… into Go value of type float64"),
    (b"[" * 101 + b"]" * 101, "invalid character '[' exceeded max depth"),
    (b'{"a":' * 5000 + b"1" + b"}" * 5000, "invalid character '{' exceeded max depth"),
])
def test_json_refusals(text, message):
    with pytest.raises(gojson.DecodeError) as err:
        gojson.loads(text)
    assert str(err.value) == message


def test_json_numbers_as_go_decodes_them():
    assert gojson.loads(b"[1, -2, 1.5, 9223372036854775807, 9223372036854775808]") == \
        [1, -2, 1.5, 9223372036854775807, 9.223372036854776e18]
    assert gojson.loads(b'{"a": "[[[[[[", "b": [[1]]}') == {"a": "[[[[[[", "b": [[1]]}   # brackets in strings


@pytest.mark.parametrize("text,message", [
    ("x", "invalid character 'x' looking for beginning of value"),
    ('{"a" 1}', "invalid character '1' after object key"),
    ('{"a":1 "b":2}', "invalid character '\"' after object key:value pair"),
    ("[1 2]", "invalid character '2' after array element"),
    ("{a:1}", "invalid character 'a' looking for beginning of object key string"),
    ("1 2", "invalid character '2' after top-level value"),
    ('"a\nb"', "invalid character '\\n' in string literal"),
    ('"\\q"', "invalid character 'q' in string escape code"),
    ('"\\u12x4"', "invalid character 'x' in \\u hexadecimal character escape"),
    ('{"a":', "unexpected end of JSON input"),
])
def test_json_syntax_errors_in_go_words(text, message):
    with pytest.raises(gojson.DecodeError) as err:
        gojson.loads(text)
    assert str(err.value) == message


def _json_values():
    from hypothesis import strategies as st

    # YAML streams may not carry control characters (go-yaml refuses them too)
    text = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=20)
    scalars = (st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
               | st.floats(allow_nan=False, allow_infinity=False) | text)
    return st.recursive(scalars, lambda c: st.lists(c, max_size=4) | st.dictionaries(text, c, max_size=4),
                        max_leaves=20)


def test_json_text_decodes_the_same_as_yaml_and_as_json():
    """JSON is YAML: any JSON text gives the same values through either decoder (integral floats
    compare equal to the integers kubectl turns them into)."""
    from hypothesis import given, settings

    @settings(max_examples=300, deadline=None)
    @given(value=_json_values())
    def check(value):
        text = json.dumps(value, ensure_ascii=False)
        assert gojson.loads(text) == value
        assert yamljson.loads(text) == value

    check()
