"""One reading of yes/no, counts and engine flags for every program."""

from __future__ import annotations

import pytest

from check_pop3_ipmon.core.values import boolean, count, engine_flag


@pytest.mark.parametrize(
    ("text", "expected"),
    [("yes", True), (" ON ", True), ("1", True), ("false", False), ("0", False), ("No", False)],
)
def test_yes_and_no_words(text: str, expected: bool) -> None:
    assert boolean(text) is expected


@pytest.mark.parametrize("text", ["", "2", "maybe", "y"])
def test_anything_else_is_no_boolean(text: str) -> None:
    with pytest.raises(ValueError, match="expected yes or no"):
        boolean(text)


def test_counts_are_whole_numbers_from_a_floor() -> None:
    assert (count("0"), count(" 7 "), count("3", 1)) == (0, 7, 3)
    for text, low in (("-1", 0), ("1.5", 0), ("0", 1), ("1234567890", 0), ("", 0)):
        with pytest.raises(ValueError, match=f"expected a whole number >= {low}"):
            count(text, low)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", False), ("0", False), ("1", True), ("2", True), ("yes", True), ("off", False)],
)
def test_a_depth_or_a_flag_reads_the_same_everywhere(text: str, expected: bool) -> None:
    # A downtime depth of 2 (nested downtimes) and Icinga 2's acknowledgement 2 are set.
    assert engine_flag(text) is expected
