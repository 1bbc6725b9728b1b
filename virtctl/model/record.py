"""Small value objects declared like dataclasses, for the modules every command imports.

``dataclasses`` imports ``inspect`` and costs ≈ 9 ms per process here, a fifth of a whole
``virtctl get vm NAME``; this does the part we use (keyword/positional construction with defaults,
``==``, ``repr``, ``replace``, frozen + hashable) for the price of one class.

    class Point(Record):
        x: int
        y: int = 0
        tags: list[str] = Factory(list)
"""

from __future__ import annotations

_REQUIRED = object()


class _Factory:
    """A default made fresh for each instance (``dataclasses.field(default_factory=…)``)."""

    __slots__ = ("make",)

    def __init__(self, make):
        self.make = make


TYPE_CHECKING = False
if TYPE_CHECKING:                  # to a type checker, ``Factory(list)`` is the value it makes
    from typing import Callable, TypeVar

    _T = TypeVar("_T")

    def Factory(make: Callable[[], _T]) -> _T: ...
else:
    Factory = _Factory


class Record:
    __fields__: tuple[tuple[str, object], ...] = ()
    __frozen__ = False

    def __init_subclass__(cls, frozen: bool = False, **kwargs):
        super().__init_subclass__(**kwargs)
        fields: dict[str, object] = dict(cls.__fields__)
        for name in cls.__dict__.get("__annotations__", {}):
            if name.startswith("__") or name in ("ClassVar",):
                continue
            fields[name] = cls.__dict__.get(name, _REQUIRED)
            if name in cls.__dict__:
                delattr(cls, name)            # the instance holds the value; no shadowing default
        cls.__fields__ = tuple(fields.items())
        cls.__frozen__ = frozen or cls.__frozen__

    def __init__(self, *args, **kwargs):
        fields = self.__fields__
        if len(args) > len(fields):
            raise TypeError(f"{type(self).__name__}() takes {len(fields)} positional arguments")
        values = {}
        for (name, _), value in zip(fields, args, strict=False):
            values[name] = value
        for name, value in kwargs.items():
            if name in values:
                raise TypeError(f"{type(self).__name__}() got multiple values for {name!r}")
            values[name] = value
        setter = object.__setattr__
        for name, default in fields:
            if name in values:
                setter(self, name, values.pop(name))
            elif default is _REQUIRED:
                raise TypeError(f"{type(self).__name__}() missing required argument {name!r}")
            else:
                setter(self, name, default.make() if isinstance(default, _Factory) else default)
        if values:
            raise TypeError(f"{type(self).__name__}() got unexpected arguments {', '.join(values)}")
        post = getattr(self, "__post_init__", None)
        if post is not None:
            post()

    def _values(self) -> tuple:
        return tuple(getattr(self, name) for name, _ in self.__fields__)

    def __eq__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self):
        if not self.__frozen__:
            raise TypeError(f"unhashable type: {type(self).__name__!r}")
        return hash(self._values())

    def __setattr__(self, name, value):
        if self.__frozen__:
            raise AttributeError(f"cannot assign to field {name!r} of a frozen {type(self).__name__}")
        object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name, _ in self.__fields__)
        return f"{type(self).__name__}({inner})"

    def replace(self, **changes):
        """A copy with some fields changed (``dataclasses.replace``)."""
        values = {name: getattr(self, name) for name, _ in self.__fields__}
        values.update(changes)
        return type(self)(**values)
