"""Report arithmetic (pure): duration buckets and percentiles, z-scores, compliance, trend.

Durations are kept in the rollups as a histogram of log-spaced buckets (each 2 % wide), so a
percentile over any period is read from summed bucket counts and is within 1 % of the exact
nearest-rank value (decision 0080).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

# Bucket 0 holds [0, 1 s); bucket i ≥ 1 holds [GROWTH^(i-1), GROWTH^i) seconds.
GROWTH: Final = 1.02
_LOG_GROWTH: Final = math.log(GROWTH)
# Relative error of a bucket's representative value (its geometric middle).
RELATIVE_ERROR: Final = math.sqrt(GROWTH) - 1
Direction = Literal["up", "down", "flat", "new"]


def bucket_of(seconds: float) -> int:
    """The histogram bucket of a duration (negative durations count as 0)."""
    if seconds < 1:
        return 0
    index = math.floor(math.log(seconds) / _LOG_GROWTH) + 1
    # Guard the edges against floating-point rounding of the logarithm.
    if GROWTH ** (index - 1) > seconds:
        index -= 1
    elif GROWTH**index <= seconds:
        index += 1
    return index


def bucket_value(index: int) -> float:
    """The representative duration of a bucket: the geometric middle of its bounds."""
    if index <= 0:
        return 0.5
    return float(GROWTH ** (index - 1) * math.sqrt(GROWTH))


def nearest_rank(values: Sequence[float], fraction: float) -> float | None:
    """The exact nearest-rank percentile: the ⌈fraction·n⌉-th smallest value (None if empty)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def histogram_percentile(counts: Mapping[int, int], fraction: float) -> float | None:
    """The nearest-rank percentile read from bucket counts (None if empty)."""
    total = sum(counts.values())
    if total <= 0:
        return None
    rank = max(1, math.ceil(fraction * total))
    seen = 0
    for index in sorted(counts):
        seen += counts[index]
        if seen >= rank:
            return bucket_value(index)
    return bucket_value(max(counts))  # unreachable: the counts sum to total


@dataclass(frozen=True, slots=True)
class Spread:
    """Mean and population standard deviation of a list of counts."""

    mean: float
    deviation: float

    def z(self, value: float) -> float:
        """How many deviations `value` lies above the mean (0 when all are equal)."""
        if self.deviation == 0:
            return 0.0
        return (value - self.mean) / self.deviation


def spread(values: Iterable[float]) -> Spread:
    """Mean and population standard deviation (0, 0 for no values)."""
    items = list(values)
    if not items:
        return Spread(0.0, 0.0)
    mean = math.fsum(items) / len(items)
    variance = math.fsum((value - mean) ** 2 for value in items) / len(items)
    return Spread(mean, math.sqrt(variance))


def percent(part: int, whole: int) -> float | None:
    """`part` of `whole` in percent, one decimal; None when nothing was counted."""
    if whole <= 0:
        return None
    return round(100.0 * part / whole, 1)


def share(part: int, whole: int) -> float:
    """`part` of `whole` as a fraction (0 when the whole is empty)."""
    return part / whole if whole > 0 else 0.0


def trend(current: float, previous: float | None) -> Direction:
    """The direction of a share against the previous period (1 percentage point is flat)."""
    if previous is None or previous == 0:
        return "new" if current > 0 else "flat"
    if abs(current - previous) < 0.01:
        return "flat"
    return "up" if current > previous else "down"
