"""Record: the dataclass subset the hot-path modules use, without importing dataclasses."""

from __future__ import annotations

import subprocess
import sys

import pytest

from virtctl.model.record import Factory, Record


class Point(Record):
    x: int
    y: int = 0
    tags: list[str] = Factory(list)


class Frozen(Record, frozen=True):
    name: str
    size: int = 1


class Child(Point):
    z: int = 9


def test_construction_defaults_and_factories():
    a, b = Point(1), Point(x=1)
    assert (a.x, a.y, a.tags) == (1, 0, [])
    a.tags.append("t")
    assert b.tags == []                      # a fresh list each
    assert Point(1, 2, ["q"]).tags == ["q"]
    assert Child(1, z=3) == Child(1, 0, [], 3)


@pytest.mark.parametrize("make, message", [
    (lambda: Point(), "missing required argument 'x'"),
    (lambda: Point(1, x=2), "multiple values for 'x'"),
    (lambda: Point(1, w=2), "unexpected arguments w"),
    (lambda: Point(1, 2, [], 4), "takes 3 positional arguments"),
])
def test_bad_construction(make, message):
    with pytest.raises(TypeError, match=message):
        make()


def test_equality_repr_replace():
    p = Point(1, 2)
    assert p == Point(1, 2) and p != Point(1, 3) and p != Child(1, 2)
    assert repr(p) == "Point(x=1, y=2, tags=[])"
    q = p.replace(y=5)
    assert (q.x, q.y, p.y) == (1, 5, 2) and type(q) is Point
    with pytest.raises(TypeError, match="unhashable"):
        hash(p)


def test_frozen_is_hashable_and_immutable():
    f = Frozen("a")
    assert {f, Frozen("a")} == {f}
    with pytest.raises(AttributeError, match="frozen"):
        f.size = 2
    assert f.replace(size=3).size == 3


def test_the_hot_path_does_not_import_dataclasses():
    code = ("import sys\nimport virtctl.cli.state, virtctl.client.kubeconfig, virtctl.client.transport, "
            "virtctl.model.kinds\nprint('dataclasses' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout == "False\n", done.stderr
