"""Retry timing: exponential back-off with full jitter, and when a delivery is dead (pure)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Attempt `n` (from 1) failing waits uniform(0, min(cap, base * 2**(n-1))) seconds."""

    base: float
    cap: float
    max_attempts: int


@dataclass(frozen=True, slots=True)
class RetryAt:
    """Try again after `delay` seconds."""

    delay: float


@dataclass(frozen=True, slots=True)
class GiveUp:
    """No more attempts: the delivery is dead."""

    reason: str


def backoff_delay(policy: RetryPolicy, attempt: int, draw: float) -> float:
    """Full jitter after the `attempt`-th failure; `draw` is uniform in [0, 1)."""
    # Full jitter spreads the retries of many notices that failed together (AWS architecture
    # blog, "Exponential Backoff And Jitter"); the exponent is capped before it overflows.
    ceiling = min(policy.cap, policy.base * 2.0 ** min(attempt - 1, 60))
    return draw * ceiling


def after_failure(
    policy: RetryPolicy,
    attempts: int,
    *,
    permanent: bool,
    draw: float,
    retry_after: float | None = None,
) -> RetryAt | GiveUp:
    """What follows the `attempts`-th failed attempt."""
    if permanent:
        return GiveUp("permanent failure")
    if attempts >= policy.max_attempts:
        return GiveUp(f"{attempts} attempts failed")
    delay = backoff_delay(policy, attempts, draw)
    if retry_after is not None:
        # The receiver asked for a pause (429 / 503 Retry-After): honour it, within the cap.
        delay = max(delay, min(retry_after, policy.cap))
    return RetryAt(delay)
