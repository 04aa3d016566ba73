"""The intake benchmark's verdicts (bench/bench_intake.py): which step is its best sustained
rate, and the machine's CPU split with the host's steal kept apart."""

from __future__ import annotations

from bench.bench_intake import Step, best, machine_seconds


def _step(rate: int, ok: int, elapsed: float, p99: float) -> Step:
    # One latency per answer: 1 % of them at `p99`'s level decides the step's p99.
    slow = max(1, ok // 100)
    step = Step("intake", rate, offered=ok, ok=ok, elapsed=elapsed)
    step.latencies = [0.001] * (ok - slow) + [p99] * slow
    return step


def test_the_best_step_is_the_highest_offered_rate_sustained_not_the_highest_served() -> None:
    steps = [
        _step(1200, ok=24_000, elapsed=20.0, p99=0.010),
        # Every request answered, but its last answers' latency makes it 1,599.4/s served.
        _step(1600, ok=32_000, elapsed=20.0075, p99=0.045),
        _step(2000, ok=40_000, elapsed=20.0, p99=0.080),  # over the p99 bar
    ]
    found = best(steps)
    assert found is not None
    assert found.rate == 1600
    assert found.throughput < 1600


def test_no_step_sustained_means_no_best() -> None:
    assert best([_step(2000, ok=40_000, elapsed=20.0, p99=0.300)]) is None


def test_steal_is_kept_apart_from_busy_and_guest_time_is_not_counted_twice() -> None:
    #        user nice system idle iowait irq softirq steal guest guest_nice
    line = "cpu  1000 100 300 9000 50 10 40 200 70 5\ncpu0 1 2 3 4 5 6 7 8 9 10\n"
    busy, steal = machine_seconds(line, ticks_per_second=100)
    assert busy == (1000 + 100 + 300 + 10 + 40) / 100
    assert steal == 200 / 100
