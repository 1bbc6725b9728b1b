"""Kubernetes resource quantities (``512Mi``, ``1.5Gi``, ``100m``): parsing with apimachinery's
error message, and the canonical form a Go client serialises (``1024Mi`` → ``1Gi``)."""

from __future__ import annotations

import math
import re
from fractions import Fraction

QUANTITY_ERROR = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
_RE = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -3, "u": -2, "m": -1, "": 0, "k": 1, "M": 2, "G": 3, "T": 4, "P": 5, "E": 6}
_DEC_SUFFIX = {v: k for k, v in _DECIMAL.items()}
_BIN_SUFFIX = {0: "", **{v: k for k, v in _BINARY.items()}}


def parse_quantity(text: str) -> tuple[Fraction, str]:
    """(value, format) where format is "binary", "decimal" or "exponent"; ValueError otherwise."""
    m = _RE.match(text.strip()) if text else None
    if not m or m.group(1) in ("", ".", "+", "-") or m.group(1).count(".") > 1:
        raise ValueError(QUANTITY_ERROR)
    number, suffix = m.group(1), m.group(2)
    value = Fraction(number)
    if suffix in _BINARY:
        return value * 1024 ** _BINARY[suffix], "binary"
    if suffix in _DECIMAL:
        return value * Fraction(10) ** (3 * _DECIMAL[suffix]), "decimal"
    if suffix[:1] in ("e", "E"):
        try:
            exp = int(suffix[1:])
        except ValueError:
            raise ValueError(QUANTITY_ERROR) from None
        return value * Fraction(10) ** exp, "exponent"
    raise ValueError(QUANTITY_ERROR)


def to_int(text: str) -> int:
    """The quantity as a whole number, rounded up as Go's ``Quantity.Value()`` (``1.5`` → 2, ``100m`` → 1);
    ValueError if ``text`` is not a quantity."""
    value, _ = parse_quantity(text)
    return math.ceil(value)


def canonical(text: str) -> str:
    """How a Go ``resource.Quantity`` parsed from ``text`` marshals."""
    value, fmt = parse_quantity(text)
    sign = "-" if value < 0 else ""
    v = abs(value)
    if fmt == "binary" and v.denominator == 1 and v >= 1024:
        n, exp = v.numerator, 0
        while n % 1024 == 0 and exp < 6:
            n //= 1024
            exp += 1
        return f"{sign}{n}{_BIN_SUFFIX[exp]}"
    if v == 0:
        return "0"
    # decimal: the largest power of 1000 that leaves an integer mantissa (nano at least, rounded up)
    for k in range(6, -4, -1):
        mant = v / Fraction(10) ** (3 * k)
        if mant.denominator == 1:
            suffix = f"e{3 * k}" if fmt == "exponent" and k else _DEC_SUFFIX[k]
            return f"{sign}{mant.numerator}{suffix}"
    nanos = -(-v.numerator * 10 ** 9 // v.denominator)
    return f"{sign}{nanos}{'e-9' if fmt == 'exponent' else 'n'}"
