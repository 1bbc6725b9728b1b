"""Kubernetes quantities: the one parser the CLI, the converter and the volume checks share."""

from __future__ import annotations

import pytest

from virtctl.model.quantity import QUANTITY_ERROR, canonical, parse_quantity, to_int


@pytest.mark.parametrize("text, value", [
    ("512Mi", 512 << 20), ("1G", 10 ** 9), ("1e3", 1000), ("1.5Gi", 3 << 29), ("0.5", 1), ("100m", 1),
    ("-1Gi", -(1 << 30)), ("0", 0),
])
def test_to_int_rounds_up_like_go_value(text: str, value: int) -> None:
    assert to_int(text) == value


@pytest.mark.parametrize("text", ["", "Mi", "1K", "1.2.3", "12Q", "1e", "+"])
def test_not_quantities(text: str) -> None:
    with pytest.raises(ValueError, match=f"^{QUANTITY_ERROR[:30]}"):
        to_int(text)
    with pytest.raises(ValueError):
        parse_quantity(text)


@pytest.mark.parametrize("text, expected", [("1024Mi", "1Gi"), ("1000M", "1G"), ("1e3", "1e3"), ("1500m", "1500m")])
def test_canonical(text: str, expected: str) -> None:
    assert canonical(text) == expected
