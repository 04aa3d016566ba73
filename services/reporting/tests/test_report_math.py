"""Report arithmetic: buckets, percentiles from the histogram, z-scores, compliance, trend."""

from __future__ import annotations

import math
import statistics
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casegold_reporting.report_math import (
    GROWTH,
    RELATIVE_ERROR,
    bucket_of,
    bucket_value,
    histogram_percentile,
    nearest_rank,
    percent,
    spread,
    trend,
)

durations = st.floats(min_value=0, max_value=90 * 86_400, allow_nan=False)


@given(durations)
def test_a_duration_falls_inside_its_bucket(seconds: float) -> None:
    index = bucket_of(seconds)
    if seconds < 1:
        assert index == 0
    else:
        assert GROWTH ** (index - 1) <= seconds < GROWTH**index


@given(st.lists(durations, min_size=1, max_size=300), st.sampled_from([0.5, 0.9, 0.99, 1.0]))
def test_the_histogram_percentile_is_within_one_percent_of_the_exact_one(
    values: list[float], fraction: float
) -> None:
    exact = nearest_rank(values, fraction)
    read = histogram_percentile(Counter(bucket_of(v) for v in values), fraction)
    assert exact is not None and read is not None
    if exact >= 1:
        assert abs(read - exact) <= exact * RELATIVE_ERROR * 1.0000001
    else:
        assert read == 0.5  # under a second: the first bucket


def test_nearest_rank_by_hand() -> None:
    values = [5.0, 1.0, 4.0, 2.0, 3.0, 10.0, 7.0, 6.0, 9.0, 8.0]
    assert nearest_rank(values, 0.5) == 5.0
    assert nearest_rank(values, 0.9) == 9.0
    assert nearest_rank(values, 0.91) == 10.0
    assert nearest_rank([], 0.5) is None and histogram_percentile({}, 0.5) is None


def test_bucket_values_lie_between_the_bounds() -> None:
    for index in (1, 2, 100, 700):
        assert GROWTH ** (index - 1) < bucket_value(index) < GROWTH**index
    assert math.isclose(RELATIVE_ERROR, math.sqrt(1.02) - 1)


@given(st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=50))
def test_spread_is_the_population_mean_and_deviation(counts: list[int]) -> None:
    result = spread(counts)
    assert math.isclose(result.mean, statistics.fmean(counts), abs_tol=1e-9)
    assert math.isclose(result.deviation, statistics.pstdev(counts), rel_tol=1e-9, abs_tol=1e-9)
    if result.deviation:
        zs = [result.z(c) for c in counts]
        assert math.isclose(statistics.fmean(zs), 0, abs_tol=1e-9)
        assert math.isclose(statistics.pstdev(zs), 1, rel_tol=1e-6)


def test_equal_counts_have_no_outlier() -> None:
    assert spread([3, 3, 3]).z(3) == 0 and spread([]).mean == 0


@pytest.mark.parametrize(
    ("current", "previous", "direction"),
    [(0.5, 0.25, "up"), (0.1, 0.5, "down"), (0.3, 0.305, "flat"), (0.2, None, "new"),
     (0.2, 0.0, "new"), (0.0, None, "flat")],
)  # fmt: skip
def test_trend(current: float, previous: float | None, direction: str) -> None:
    assert trend(current, previous) == direction


def test_percent() -> None:
    assert percent(2, 3) == 66.7 and percent(0, 0) is None and percent(5, 5) == 100.0
