"""Exponential back-off with full jitter, the attempt limit, permanent failures, Retry-After."""

import pytest

from casegold_notifier.backoff import (
    GiveUp,
    RetryAt,
    RetryPolicy,
    after_failure,
    backoff_delay,
)

POLICY = RetryPolicy(base=2.0, cap=60.0, max_attempts=5)


@pytest.mark.parametrize(
    ("attempt", "ceiling"), [(1, 2), (2, 4), (3, 8), (5, 32), (6, 60), (99, 60)]
)
def test_the_ceiling_doubles_up_to_the_cap(attempt: int, ceiling: float) -> None:
    assert backoff_delay(POLICY, attempt, 0.0) == 0.0
    assert backoff_delay(POLICY, attempt, 0.5) == ceiling / 2
    assert backoff_delay(POLICY, attempt, 0.999999) == pytest.approx(ceiling, rel=1e-5)


def test_full_jitter_spreads_retries_uniformly_below_the_ceiling() -> None:
    delays = [backoff_delay(POLICY, 3, draw / 1000) for draw in range(1000)]
    assert min(delays) == 0 and max(delays) < 8
    assert sum(delays) / len(delays) == pytest.approx(4, rel=0.01)


def test_retry_until_the_last_attempt_then_give_up() -> None:
    for attempts in range(1, 5):
        outcome = after_failure(POLICY, attempts, permanent=False, draw=0.5)
        assert outcome == RetryAt(POLICY.base * 2 ** (attempts - 1) / 2)
    assert after_failure(POLICY, 5, permanent=False, draw=0.5) == GiveUp("5 attempts failed")


def test_a_permanent_failure_gives_up_at_once() -> None:
    assert after_failure(POLICY, 1, permanent=True, draw=0.5) == GiveUp("permanent failure")


def test_retry_after_is_a_floor_within_the_cap() -> None:
    assert after_failure(POLICY, 1, permanent=False, draw=0.5, retry_after=30) == RetryAt(30)
    assert after_failure(POLICY, 1, permanent=False, draw=0.5, retry_after=3600) == RetryAt(60)
    late = after_failure(POLICY, 3, permanent=False, draw=0.9, retry_after=1)
    assert isinstance(late, RetryAt) and late.delay == pytest.approx(7.2)
