"""Upload tokens: one claim each, expiring after CDI's lifetime, useless to another controller."""

from __future__ import annotations

import pytest

from virtctl.controller.upload_tokens import TOKEN_TTL, UploadTokens, bearer
from virtctl.errors import Unauthorized


def test_a_token_names_its_claim_until_it_expires():
    tokens = UploadTokens()
    t = tokens.issue("ns1", "disk", now=1000.0)
    assert tokens.verify(t, now=1000.0 + TOKEN_TTL - 1) == ("ns1", "disk")
    with pytest.raises(Unauthorized):
        tokens.verify(t, now=1000.0 + TOKEN_TTL + 1)


@pytest.mark.parametrize("mangle", [lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),
                                    lambda t: "x" + t, lambda t: t.split(".")[0], lambda t: "", lambda t: "a.b.c"])
def test_changed_or_malformed_tokens_are_refused(mangle):
    tokens = UploadTokens()
    with pytest.raises(Unauthorized):
        tokens.verify(mangle(tokens.issue("ns", "disk")))


def test_another_controllers_token_is_refused():
    with pytest.raises(Unauthorized):
        UploadTokens().verify(UploadTokens().issue("ns", "disk"))


def test_bearer_header():
    assert bearer("Bearer abc") == "abc"
    assert bearer("bearer  abc ") == "abc"
    assert bearer("Basic abc") == ""
    assert bearer(None) == ""
