"""guestosinfo/userlist/fslist print JSON as Go's json.MarshalIndent does."""

from __future__ import annotations

from virtctl.cli.commands.guestinfo import go_indent


def test_go_indent():
    assert go_indent({"metadata": {}, "items": []}) == '{\n  "metadata": {},\n  "items": []\n}'
    assert go_indent({"a": "x<y>&z é \u2028"}) == '{\n  "a": "x\\u003cy\\u003e\\u0026z é \\u2028"\n}'
