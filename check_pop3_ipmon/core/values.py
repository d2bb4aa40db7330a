"""Values from engines and files, read one way by every program: yes/no words,
whole numbers, and the engines' flags that may be a depth (a downtime depth,
Icinga 2's acknowledgement 0/1/2). Each caller turns the ValueError into its
own kind of error (a usage error, a refused file)."""

from __future__ import annotations

import re

TRUE = frozenset({"yes", "true", "on", "1"})
FALSE = frozenset({"no", "false", "off", "0"})


def boolean(text: str) -> bool:
    word = text.strip().lower()
    if word in TRUE:
        return True
    if word in FALSE:
        return False
    raise ValueError(f"expected yes or no, not {text!r}")


def count(text: str, low: int = 0) -> int:
    """A whole number, `low` or more (nine digits at most: nothing counts further)."""
    if not re.fullmatch(r"\d{1,9}", text.strip()) or int(text) < low:
        raise ValueError(f"expected a whole number >= {low}, not {text!r}")
    return int(text)


def engine_flag(text: str) -> bool:
    """An engine's flag or depth: above 0 is set; a yes/no word; empty (an unset
    macro) is not set. A downtime depth reads the same in every program."""
    word = text.strip()
    if not word:
        return False
    if word.isdigit():
        return int(word) > 0
    return boolean(word)
