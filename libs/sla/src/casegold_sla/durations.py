"""Policy durations such as `30s`, `15m`, `12h`, `5d` or `1h30m`, as whole microseconds."""

import re
from typing import Final

MICROSECOND: Final = 1
SECOND: Final = 1_000_000
MINUTE: Final = 60 * SECOND
HOUR: Final = 60 * MINUTE
DAY: Final = 24 * HOUR

_UNITS: Final = (("d", DAY), ("h", HOUR), ("m", MINUTE), ("s", SECOND))
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")

DURATION_HINT: Final = "expected a duration such as 30s, 15m, 12h, 5d or 1h30m"


def parse_duration(text: str) -> int:
    """Parse `1d2h3m4s`-style text (units in that order, each optional) into microseconds."""
    match = _DURATION.fullmatch(text.strip())
    if not text.strip() or match is None:
        raise ValueError(f"bad duration {text!r}: {DURATION_HINT}")
    counts = zip(match.groups(), _UNITS, strict=True)
    return sum(int(count) * unit for count, (_, unit) in counts if count)


def format_duration(microseconds: int) -> str:
    """Render microseconds in the policy notation (`1h30m`); sub-second rests are dropped."""
    if microseconds < 0:
        return "-" + format_duration(-microseconds)
    rest = microseconds
    parts = []
    for name, unit in _UNITS:
        count, rest = divmod(rest, unit)
        if count:
            parts.append(f"{count}{name}")
    return "".join(parts) or "0s"
