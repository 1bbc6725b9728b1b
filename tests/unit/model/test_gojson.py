from virtctl.model import gojson


def test_lone_surrogates_become_replacement_characters_as_in_go():
    value = gojson.loads(b'{"a\\ud800": ["x\\udfffy", {"k": "\\ud800"}], "n": 1}')
    assert value == {"a\ufffd": ["x\ufffdy", {"k": "\ufffd"}], "n": 1}
    # and the result can be encoded as UTF-8 (what storing and answering need)
    assert "\ufffd" in str(value).encode("utf-8").decode()


def test_valid_surrogate_pairs_and_plain_text_are_untouched():
    assert gojson.loads('{"e": "\\ud83d\\ude00", "t": "plain"}') == {"e": "\U0001F600", "t": "plain"}


def test_invalid_utf8_bytes_are_replaced_too():
    assert gojson.loads(b'{"b": "\xff"}') == {"b": "\ufffd"}
