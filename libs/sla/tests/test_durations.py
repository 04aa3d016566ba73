"""Policy durations."""

import pytest

from casegold_sla import format_duration, parse_duration
from casegold_sla.durations import DAY, HOUR, MINUTE, SECOND


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", 30 * SECOND),
        ("15m", 15 * MINUTE),
        ("12h", 12 * HOUR),
        ("5d", 5 * DAY),
        ("1h30m", HOUR + 30 * MINUTE),
        ("1d12h", DAY + 12 * HOUR),
        ("2h0m5s", 2 * HOUR + 5 * SECOND),
        ("0s", 0),
        (" 4s ", 4 * SECOND),
    ],
)
def test_parse(text: str, expected: int) -> None:
    assert parse_duration(text) == expected
    assert parse_duration(format_duration(expected)) == expected


@pytest.mark.parametrize("text", ["", "5", "5x", "1m1h", "h", "-1h", "1.5h", "1 h", "P1D"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="bad duration"):
        parse_duration(text)


def test_format() -> None:
    assert format_duration(DAY + 90 * MINUTE) == "1d1h30m"
    assert format_duration(0) == "0s"
    assert format_duration(-HOUR) == "-1h"
