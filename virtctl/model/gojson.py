"""Decode request bodies the way Go's encoding/json does where Python differs: a lone UTF-16
surrogate (``"\\ud800"``) becomes U+FFFD instead of a string that cannot be encoded as UTF-8
(and would fail later, when the object is stored or sent)."""

from __future__ import annotations

import json
import re
from typing import Any

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def without_lone_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {without_lone_surrogates(k): without_lone_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_lone_surrogates(v) for v in value]
    return value


def loads(data: bytes | str) -> Any:
    """``json.loads`` with Go's replacement of lone surrogates (the walk runs only when needed)."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    value = json.loads(text)
    if "\\u" in text and _LONE_SURROGATE.search(json.dumps(value, ensure_ascii=False, default=str)):
        value = without_lone_surrogates(value)
    return value
