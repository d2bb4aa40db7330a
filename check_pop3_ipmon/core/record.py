"""Plain data classes without the `dataclasses` module, for the check and the handler.

`dataclasses` imports `inspect` (and with it `ast`, `dis`, `tokenize`) and
compiles each class's methods at import: several milliseconds of every check's
start-up, which is the plugin's main cost (see bench/). A record here declares
each field once, as a class annotation (with its default, if any); the one
generic `__init__`, equality and repr read the fields from the annotations.
mypy sees the same fields through `dataclass_transform`, so a record's
constructor is type-checked as a dataclass's would be.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs start-up time; annotations are strings here
if TYPE_CHECKING:
    from typing import Callable, ClassVar, TypeVar

    from typing_extensions import dataclass_transform

    T = TypeVar("T")
    R = TypeVar("R", bound="Record")
else:

    def dataclass_transform(**_options: object) -> object:
        return lambda cls: cls


_MISSING = object()


class _Factory:
    __slots__ = ("make",)

    def __init__(self, make: Callable[[], object]) -> None:
        self.make = make


def field(*, default_factory: Callable[[], T]) -> T:
    """A default made anew for each record: `items: list[str] = field(default_factory=list)`."""
    return _Factory(default_factory)  # type: ignore[return-value]


@dataclass_transform(field_specifiers=(field,))
class Record:
    # Filled in for each subclass from its annotations (and its bases').
    _fields: ClassVar[tuple[str, ...]] = ()
    _defaults: ClassVar[dict[str, object]] = {}
    _kw_only: ClassVar[bool] = False

    def __init_subclass__(cls, *, kw_only: bool = False, **options: object) -> None:
        super().__init_subclass__(**options)
        names: list[str] = []
        defaults: dict[str, object] = {}
        for klass in reversed(cls.__mro__):
            for name, note in vars(klass).get("__annotations__", {}).items():
                if name.startswith("_") or "ClassVar" in str(note):
                    continue
                if name not in names:
                    names.append(name)
                if name in vars(klass):
                    defaults[name] = vars(klass)[name]
                else:
                    defaults.pop(name, None)
        if not names:
            # A record that spells out its own __init__ names its fields in
            # __slots__ instead (the alerting handler's, for now).
            for klass in reversed(cls.__mro__):
                for name in vars(klass).get("__slots__", ()):
                    if name not in names:
                        names.append(name)
        cls._fields = tuple(names)
        cls._defaults = defaults
        cls._kw_only = kw_only

    def __init__(self, *args: object, **values: object) -> None:
        cls = type(self)
        fields = cls._fields
        if args and cls._kw_only:
            raise TypeError(f"{cls.__name__}() takes keyword arguments only")
        if len(args) > len(fields):
            raise TypeError(f"{cls.__name__}() takes at most {len(fields)} arguments")
        for name, value in zip(fields, args):
            if name in values:
                raise TypeError(f"{cls.__name__}() got multiple values for {name!r}")
            values[name] = value
        for name in fields:
            if name in values:
                value = values.pop(name)
            else:
                value = cls._defaults.get(name, _MISSING)
                if value is _MISSING:
                    raise TypeError(f"{cls.__name__}() missing argument {name!r}")
                if isinstance(value, _Factory):
                    value = value.make()
            setattr(self, name, value)
        if values:
            raise TypeError(f"{cls.__name__}() got unexpected arguments {sorted(values)}")

    @classmethod
    def fields(cls) -> tuple[str, ...]:
        return cls._fields

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self) or not isinstance(other, Record):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__name__}({fields})"

    def as_dict(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self._fields}


def replace(record: R, **changes: object) -> R:
    """A copy with some fields changed, as dataclasses.replace (every record
    takes its fields by their names)."""
    values = record.as_dict()
    values.update(changes)
    make: Callable[..., R] = type(record)
    return make(**values)
