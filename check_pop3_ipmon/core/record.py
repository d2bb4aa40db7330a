"""Plain data classes without the `dataclasses` module.

`dataclasses` imports `inspect` (and with it `ast`, `dis`, `tokenize`) and
compiles each class's methods at import: several milliseconds of every
start-up. The check and the alerting handler (which Nagios runs after every
result) pay for every module they load, so their records spell out their
`__init__` and get equality, hashing, a readable repr and `replace` from
their `__slots__` here.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs start-up time, paid on every run
if TYPE_CHECKING:
    from typing import Any, TypeVar

    R = TypeVar("R", bound="Record")


class Record:
    __slots__: tuple[str, ...] = ()

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self) or not isinstance(other, Record):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"

    def as_dict(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__slots__}


def replace(record: R, **changes: object) -> R:
    """A copy with some fields changed, as dataclasses.replace (each __init__
    takes its fields by their names)."""
    values = record.as_dict()
    values.update(changes)
    make: Any = type(record)
    return make(**values)  # type: ignore[no-any-return]
