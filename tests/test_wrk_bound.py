"""The wrk generator's figures (bench/wrk.py): quantiles of latency from the due time are bounds
that never under-state, made from two histograms that cannot be paired request by request."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bench.wrk import bounded_quantile, read_outcome

seconds = st.floats(min_value=0.0, max_value=5.0, allow_nan=False)
quantiles = st.sampled_from([0.0, 0.5, 0.9, 0.99, 0.999, 1.0])


@given(st.lists(st.tuples(seconds, seconds), min_size=1, max_size=300), quantiles)
def test_the_bound_is_never_below_the_true_quantile(
    pairs: list[tuple[float, float]], q: float
) -> None:
    lateness = sorted(late for late, _ in pairs)
    latencies = sorted(latency for _, latency in pairs)
    truth = sorted(late + latency for late, latency in pairs)
    exact = truth[min(len(truth) - 1, int(q * len(truth)))]
    assert bounded_quantile(latencies, lateness, q) >= exact - 1e-9


@given(st.lists(seconds, min_size=1, max_size=300), quantiles)
def test_with_every_send_on_time_the_bound_is_the_quantile(
    latencies: list[float], q: float
) -> None:
    ordered = sorted(latencies)
    exact = ordered[min(len(ordered) - 1, int(q * len(ordered)))]
    assert bounded_quantile(ordered, [0.0] * len(ordered), q) == exact


def test_one_late_send_moves_the_tail_not_the_median() -> None:
    latencies = [0.002] * 1000
    lateness = [0.0] * 999 + [0.080]
    assert bounded_quantile(latencies, lateness, 0.5) == 0.002
    assert bounded_quantile(latencies, lateness, 0.99) == 0.002
    assert bounded_quantile(latencies, lateness, 1.0) == 0.082


def test_the_script_output_is_read_with_its_probes_left_out() -> None:
    text = "\n".join([
        # duration, answered (3 probes included), status errors, timeouts, connect/read/write
        # errors, sent, worst lateness ms, over 1 ms, over 10 ms, probes, last answer ms
        "summary 2000000 7 1 0 0 0 0 4 12.5 1 1 3 1500.0",
        "late 0 3",
        "late 125 1",
        "150 3",  # the three probes: the fastest answers
        "2000 2",
        "9000 2",
    ])  # fmt: skip
    outcome = read_outcome(text)
    assert (outcome.sent, outcome.answered, outcome.status_errors) == (4, 4, 1)
    assert outcome.latencies == [0.002, 0.002, 0.009, 0.009]  # 7 answers less the 3 probes
    assert outcome.lateness == [0.0, 0.0, 0.0, 0.0125]
    assert outcome.elapsed == 1.5
