"""casegold_consumer_lag: end − position per assigned partition, series only while assigned."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from faust.types import TP
from prometheus_client import CollectorRegistry, Gauge

from casegold_escalation.consumer_lag import LagGauge, faust_lags, lags


def test_lag_is_end_minus_position_and_never_negative() -> None:
    assert lags({("t", 0): 10, ("t", 1): 5}, {("t", 0): 4, ("t", 1): 9}) == {
        ("t", 0): 6,
        ("t", 1): 0,
    }
    assert lags({("t", 2): 3}, {}) == {("t", 2): 3}, "nothing read: the whole partition"


class FakeConsumer:
    """The three things faust_lags reads of a Faust consumer."""

    def __init__(self, ends: dict[TP, int | None]) -> None:
        self.ends = ends
        self._read_offset: defaultdict[TP, int | None] = defaultdict(lambda: None)
        self._committed_offset: defaultdict[TP, int | None] = defaultdict(lambda: None)

    def highwater(self, tp: TP) -> int | None:
        if tp not in self.ends:
            raise KeyError(tp)
        return self.ends[tp]


def test_faust_lags_prefer_what_the_agent_processed_then_read_then_committed() -> None:
    events, ticks, other = TP("events", 0), TP("ticks", 0), TP("ticks", 1)
    consumer: Any = FakeConsumer({events: 100, ticks: 50, other: 20, TP("gone", 0): None})
    consumer._read_offset[events] = 99  # read into the stream, not yet processed
    consumer._read_offset[ticks] = 44
    consumer._committed_offset[other] = 15
    assigned = {events, ticks, other, TP("gone", 0), TP("revoked", 0)}
    assert faust_lags(consumer, assigned, {("events", 0): 60}) == {
        ("events", 0): 40,
        ("ticks", 0): 5,
        ("ticks", 1): 5,
    }


def test_a_partition_no_longer_assigned_loses_its_series() -> None:
    registry = CollectorRegistry()
    gauge = LagGauge(Gauge("lag", "lag", ["topic", "partition"], registry=registry))
    gauge.update({("t", 0): 7, ("t", 1): 3})
    assert registry.get_sample_value("lag", {"topic": "t", "partition": "1"}) == 3
    gauge.update({("t", 0): 2})
    assert registry.get_sample_value("lag", {"topic": "t", "partition": "0"}) == 2
    assert registry.get_sample_value("lag", {"topic": "t", "partition": "1"}) is None
