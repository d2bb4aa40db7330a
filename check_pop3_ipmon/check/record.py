"""Plain data classes without the `dataclasses` module.

`dataclasses` imports `inspect` (and with it `ast`, `dis`, `tokenize`) and
compiles each class's methods at import: several milliseconds of every check's
start-up, which is the plugin's main cost (see bench/). The records on the
plaintext path are few and small, so they spell out their `__init__` and get
equality and a readable repr from their `__slots__` here.
"""

from __future__ import annotations


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
